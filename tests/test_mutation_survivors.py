"""Behaviour that a one-line change to the analysis or a rule once broke without any test noticing.

Each test states one verdict; the comment above it names the change it catches (found by
mutation testing, see docs/mutation.md).
"""

from __future__ import annotations

import textwrap

import pytest
from conftest import FIXTURES

from lint_train.engine import lint_source
from lint_train.fix import fix_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


# -- TRN004: a helper with no caller in view ----------------------------------------------------
# Catches TRN004's `_training()` answering True for every path: with no caller in view, a model
# that arrives as a parameter may already be in eval mode, so a single forward is no evidence.

DROPOUT_NET = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))

        def forward(self, x):
            return self.body(x)
"""


def test_predict_helper_under_no_grad_with_no_caller_in_view_is_quiet() -> None:
    source = (
        DROPOUT_NET
        + """

    @torch.no_grad()
    def predict(model, x):
        return model(x)
    """
    )
    assert _codes(source) == []


def test_predict_helper_called_on_a_fresh_model_is_flagged() -> None:
    # The same helper, once a caller in view hands it a model still in training mode.
    source = (
        DROPOUT_NET
        + """

    @torch.no_grad()
    def predict(model, x):
        return model(x)


    net = Net()
    print(predict(net, torch.randn(2, 4)))
    """
    )
    assert _codes(source) == [(17, "TRN004")]


def test_helper_looping_over_batches_with_no_caller_in_view_is_flagged() -> None:
    # A loop over data is evidence enough of evaluation, even with no caller in view.
    source = """
        import torch


        @torch.no_grad()
        def evaluate(model, loader):
            total = 0.0
            for x, y in loader:
                total += (model(x) - y).abs().sum().item()
            return total
    """
    assert [code for _, code in _codes(source)] == ["TRN004"]


# -- enable_grad inside a no_grad region turns grad back on ------------------------------------
# Catches `torch.enable_grad()` being read as turning grad off (or as not changing it).

VALIDATE = """
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
    val_loader = [(torch.randn(2, 4), torch.randn(2, 1))]


    def validate(model, loader):
        model.eval()
        for x, y in loader:
            print((model(x) - y).abs().mean().item())


    with torch.no_grad():
{call}
"""


def test_validation_called_under_enable_grad_inside_no_grad_is_flagged() -> None:
    source = VALIDATE.format(
        call="        with torch.enable_grad():\n            validate(model, val_loader)"
    )
    assert _codes(source) == [(12, "TRN003")]


def test_validation_called_under_no_grad_alone_is_quiet() -> None:
    source = VALIDATE.format(call="        validate(model, val_loader)")
    assert _codes(source) == []


def test_set_grad_enabled_true_inside_no_grad_also_turns_grad_back_on() -> None:
    call = "        with torch.set_grad_enabled(True):\n            validate(model, val_loader)"
    assert _codes(VALIDATE.format(call=call)) == [(12, "TRN003")]


def test_evaluation_forward_under_inner_enable_grad_is_flagged() -> None:
    # The loop is under no_grad, but its forward pass runs where grad was switched back on, and
    # nothing differentiates the output: the graph is built for nothing.
    source = """
        import torch
        from torch import nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        val_loader = [(torch.randn(2, 4), torch.randn(2, 1))]
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                with torch.enable_grad():
                    out = model(x)
                print((out - y).abs().mean().item())
    """
    assert _codes(source) == [(11, "TRN003")]


def test_input_gradients_under_inner_enable_grad_are_quiet() -> None:
    # Grad is turned back on because the output is differentiated (an input-gradient map).
    source = """
        import torch
        from torch import nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        val_loader = [(torch.randn(2, 4), torch.randn(2, 1))]
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                with torch.enable_grad():
                    x = x.clone().requires_grad_(True)
                    saliency, = torch.autograd.grad(model(x).sum(), x)
                print(saliency.abs().mean().item())
    """
    assert _codes(source) == []


# -- the file's own helpers that turn grad off ----------------------------------------------------
# Catches a helper being taken for a grad-off decorator or context when it is not (or missed when
# it is): the verdict on the evaluation it wraps depends on it.

HELPER_VALIDATION = """
    import contextlib
    import functools

    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
    val_loader = [(torch.randn(2, 4), torch.randn(2, 1))]

{helper}

{use}
    def validate(model, loader):
        model.eval()
        for x, y in loader:
            print((model(x) - y).abs().mean().item())
"""


def _validate_codes(helper: str, use: str = "@checked") -> list[str]:
    helper = textwrap.indent(textwrap.dedent(helper), "    ")
    source = HELPER_VALIDATION.format(helper=helper, use=f"    {use}\n" if use else "")
    return [code for _, code in _codes(source)]


def test_a_decorator_helper_whose_wrapper_runs_under_no_grad_turns_grad_off() -> None:
    helper = """
        def checked(fn):
            @torch.no_grad()
            def wrapper(*args):
                return fn(*args)
            return wrapper
    """
    assert _validate_codes(helper) == []


def test_a_decorator_helper_whose_wrapper_only_keeps_the_name_leaves_grad_on() -> None:
    helper = """
        def checked(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                return fn(*args)
            return wrapper
    """
    assert _validate_codes(helper) == ["TRN003"]


def test_a_decorator_helper_built_from_no_grad_turns_grad_off() -> None:
    helper = """
        def checked(fn):
            return torch.no_grad()(fn)
    """
    assert _validate_codes(helper) == []


def test_a_decorator_helper_built_from_enable_grad_leaves_grad_on() -> None:
    helper = """
        def checked(fn):
            return torch.enable_grad()(fn)
    """
    assert _validate_codes(helper) == ["TRN003"]


def test_a_decorator_helper_that_sets_grad_on_inside_leaves_grad_on() -> None:
    helper = """
        def checked(fn):
            def wrapper(*args):
                torch.set_grad_enabled(True)
                return fn(*args)
            return wrapper
    """
    assert _validate_codes(helper) == ["TRN003"]


def test_a_context_helper_that_enters_no_grad_turns_grad_off() -> None:
    helper = """
        @contextlib.contextmanager
        def quietly():
            with torch.no_grad():
                yield
    """
    use = "with quietly():\n        validate(model, val_loader)\n"
    source = HELPER_VALIDATION.format(
        helper=textwrap.indent(textwrap.dedent(helper), "    "), use=""
    ) + textwrap.indent(use, "    ")
    assert _codes(source) == []


def test_a_recursive_context_helper_that_never_disables_grad_leaves_grad_on() -> None:
    helper = """
        @contextlib.contextmanager
        def section(depth=0):
            if depth < 1:
                with section(depth + 1):
                    yield
            else:
                yield
    """
    use = "with section():\n        validate(model, val_loader)\n"
    source = HELPER_VALIDATION.format(
        helper=textwrap.indent(textwrap.dedent(helper), "    "), use=""
    ) + textwrap.indent(use, "    ")
    assert [code for _, code in _codes(source)] == ["TRN003"]


def test_inference_mode_false_is_no_grad_context() -> None:
    # `inference_mode(False)` leaves grad as it was: on, here.
    call = (
        "        pass\n    with torch.inference_mode(False):\n        validate(model, val_loader)"
    )
    assert _codes(VALIDATE.format(call=call)) == [(12, "TRN003")]


def test_inference_mode_true_turns_grad_off() -> None:
    call = "        pass\n    with torch.inference_mode(True):\n        validate(model, val_loader)"
    assert _codes(VALIDATE.format(call=call)) == []


# -- TRN002: the words of the message, and the LBFGS fix ---------------------------------------

ONE_WAY_LOOP = """
    import torch
    from torch import nn

    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler()
    batches = [(torch.randn(2, 4), torch.randn(2, 1))]
    use_amp = False
    for x, y in batches:
        optimizer.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        if {condition}:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
"""


def test_a_step_on_one_branch_only_names_the_condition_and_both_truths() -> None:
    (finding,) = lint_source(textwrap.dedent(ONE_WAY_LOOP.format(condition="use_amp")))
    assert finding.code == "TRN002"
    assert finding.message == (
        "`optimizer` is stepped only when `use_amp` is true: when `use_amp` is false, every "
        "iteration computes gradients and steps no optimizer, so the model never trains in that "
        "configuration; call `optimizer.step()` after the backward pass on that path too"
    )


def test_a_step_on_the_negated_branch_says_false_then_true() -> None:
    (finding,) = lint_source(textwrap.dedent(ONE_WAY_LOOP.format(condition="not use_amp")))
    assert finding.message.startswith(
        "`optimizer` is stepped only when `use_amp` is false: when `use_amp` is true, every "
        "iteration"
    )


LBFGS = """
    import torch
    from torch import nn

    model = nn.Linear(4, 1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=5)


    def closure():
        optimizer.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        return loss


    for outer in range(3):
        {call}
"""


def _lbfgs(call: str):
    (finding,) = lint_source(textwrap.dedent(LBFGS.format(call=call)))
    assert finding.code == "TRN002"
    return finding


def test_lbfgs_closure_called_alone_is_fixed_by_stepping_with_it() -> None:
    finding = _lbfgs("closure()")
    assert finding.fix_message == "replace `closure()` with `optimizer.step(closure)`"
    fixed = fix_source(textwrap.dedent(LBFGS.format(call="closure()")), unsafe=True).after
    assert fixed == textwrap.dedent(LBFGS.format(call="optimizer.step(closure)"))


@pytest.mark.parametrize("call", ["loss = closure()", "closure(); print(outer)", "closure(1)"])
def test_lbfgs_closure_called_any_other_way_has_no_fix(call: str) -> None:
    finding = _lbfgs(call.replace("closure(1)", "closure() if outer else None"))
    assert not finding.fixable
    assert finding.fix_message == "`optimizer` is an LBFGS optimizer, which needs a closure to step"


# -- code defined in a loop runs only when called -----------------------------------------------
# Catches the events of a statement including the bodies of functions and classes it defines.


def test_a_helper_defined_in_the_loop_but_never_called_does_not_clear() -> None:
    source = """
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data:
            def reset():
                opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    """
    assert _codes(source) == [(9, "TRN001")]


def test_a_class_defined_in_the_loop_but_never_used_does_not_clear() -> None:
    source = """
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data:
            class Reset:
                opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    """
    assert _codes(source) == [(9, "TRN001")]


# -- TRN005's fix: where training starts again ----------------------------------------------------
# Catches `_related` no longer seeing that `model.eval()` also switches `model.encoder`.

EVERY_N = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2))
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            return self.head(self.encoder(x))


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.randn(2, 4), torch.randn(2, 1))]
    val_batches = batches
    step = 0
    for x, y in batches:
        opt.zero_grad()
        loss = ({trained}(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
        step += 1
        if step % 10 == 0:
            model.eval()
            with torch.no_grad():
                for xv, yv in val_batches:
                    print({trained}(xv).mean().item())
"""


def _train_fix(trained: str) -> tuple[int, str, str | None]:
    (finding,) = lint_source(textwrap.dedent(EVERY_N.format(trained=trained)))
    return finding.line, finding.code, finding.fix_message


def test_evaluating_in_the_loop_puts_train_before_the_training_forward() -> None:
    assert _train_fix("model") == (
        23,  # the training forward
        "TRN005",
        "insert `model.train()` before `loss = (model(x) - y).pow(2).mean()`",
    )


def test_evaluating_the_whole_model_also_counts_for_its_trained_part() -> None:
    assert _train_fix("model.encoder") == (
        23,
        "TRN005",
        "insert `model.encoder.train()` before `loss = (model.encoder(x) - y).pow(2).mean()`",
    )


# -- TRN002's fix: where the missing step goes ----------------------------------------------------
# Catches `_fix` stepping after every backward pass of a loop (or after none), and `_place`
# stepping inside the micro-batch loop, or before another optimizer's clear.

STEPLESS = """
    import torch
    from torch import nn

    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(2, 4), torch.randn(2, 1))]

    for x, y in loader:
{body}
"""


def _fixed_body(template: str, body: str) -> str:
    """The loop body after `--fix --unsafe-fixes`, for a loop body given as it is indented."""
    source = textwrap.dedent(template.format(body=body))
    fixed = fix_source(source, unsafe=True).after
    assert fixed is not None
    return fixed[fixed.index("for x, y in loader:") :]


def test_two_backward_passes_feeding_one_optimizer_get_one_step_after_the_second() -> None:
    body = """\
        optimizer.zero_grad()
        loss_a = nn.functional.mse_loss(model(x), y)
        loss_a.backward()
        loss_b = model(x).abs().mean()
        loss_b.backward()"""
    assert _fixed_body(STEPLESS, body) == textwrap.dedent(
        """\
        for x, y in loader:
            optimizer.zero_grad()
            loss_a = nn.functional.mse_loss(model(x), y)
            loss_a.backward()
            loss_b = model(x).abs().mean()
            loss_b.backward()
            optimizer.step()
        """
    )


def test_accumulation_over_micro_batches_steps_before_the_outer_clear() -> None:
    body = """\
        for xs, ys in zip(x.split(1), y.split(1)):
            loss = nn.functional.mse_loss(model(xs), ys)
            loss.backward()
        optimizer.zero_grad()"""
    assert _fixed_body(STEPLESS, body) == textwrap.dedent(
        """\
        for x, y in loader:
            for xs, ys in zip(x.split(1), y.split(1)):
                loss = nn.functional.mse_loss(model(xs), ys)
                loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        """
    )


TWO_OPTIMIZERS = """
    import torch
    from torch import nn

    body = nn.Linear(4, 4)
    head = nn.Linear(4, 1)
    opt_body = torch.optim.SGD(body.parameters(), lr=0.1)
    opt_head = torch.optim.SGD(head.parameters(), lr=0.1)
    loader = [(torch.randn(2, 4), torch.randn(2, 1))]

    for x, y in loader:
{body}
"""


def test_an_unstepped_optimizer_is_stepped_before_its_own_clear_not_another() -> None:
    body = """\
        for xs, ys in zip(x.split(1), y.split(1)):
            loss = nn.functional.mse_loss(head(body(xs)), ys)
            loss.backward()
        opt_body.step()
        opt_body.zero_grad()
        opt_head.zero_grad()"""
    assert _fixed_body(TWO_OPTIMIZERS, body).splitlines()[-4:] == [
        "    opt_body.step()",
        "    opt_body.zero_grad()",
        "    opt_head.step()",
        "    opt_head.zero_grad()",
    ]


# -- TRN002: an optimizer must be in view of the function that runs backward ---------------------
# Catches `_optimizer_in_scope` no longer reading the names of the function (it then fails on
# the first name that is not spelled like an optimizer).

IN_FUNCTION = """
    import torch
    from torch import nn

    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


    def {signature}:
        for x, y in loader:
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
"""


def test_backward_in_a_function_that_sees_no_optimizer_is_quiet() -> None:
    # The optimizer of the module may belong to other code: the gradients may be read elsewhere.
    assert _codes(IN_FUNCTION.format(signature="accumulate(model, loader)")) == []


def test_backward_in_a_function_given_the_optimizer_is_flagged() -> None:
    source = IN_FUNCTION.format(signature="train(model, loader, optimizer)")
    assert _codes(source) == [(12, "TRN002")]


# -- TRN003's fix for an evaluation function: decorate it -----------------------------------------
# Catches `_fix` wrapping the function's forward statement in `with torch.no_grad():` (what
# it does for a loop) instead of decorating the function, as the message says.

PREDICT = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
x = torch.randn(2, 4)

{decorator}
def predict(model, x):
    model.eval()
    return model(x)


print(predict(model, x))
"""


def test_an_evaluation_function_called_with_grad_on_is_fixed_by_decorating_it() -> None:
    source = PREDICT.format(decorator="")
    (finding,) = lint_source(source)
    assert (finding.code, finding.fix_message) == (
        "TRN003",
        "decorate `predict` with `@torch.no_grad()`",
    )
    assert fix_source(source).after == PREDICT.format(decorator="\n@torch.no_grad()")


# -- moving a model keeps its mode ----------------------------------------------------------------
# Catches `_creates_new_object` comparing whole dotted names instead of their roots: then
# `self.model = self.model.to(device)` counts as a new model, fresh and of unknown mode.

TRAINER = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))

    def forward(self, x):
        return self.body(x)


class Trainer:
    def __init__(self):
        self.model = Net()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def fit(self, loader, epochs):
        for epoch in range(epochs):
            self.model = self.model.to("cpu")
            for x, y in loader:
                self.optimizer.zero_grad()
                nn.functional.mse_loss(self.model(x), y).backward()
                self.optimizer.step()
            self.model.eval()
            with torch.no_grad():
                print(sum(nn.functional.mse_loss(self.model(x), y).item() for x, y in loader))
"""


def test_an_attribute_model_moved_to_a_device_stays_in_eval_mode() -> None:
    assert [(f.line, f.code) for f in lint_source(TRAINER)] == [(24, "TRN005")]


# -- a model builder imported by its own name -----------------------------------------------------
# Catches `_fresh_mode` looking the builder up as written (`create_model`) instead of by its
# qualified name (`timm.create_model`): the model would be of unknown mode, not training.

ZOO = """\
import torch
{import_line}

model = {builder}("resnet18")


@torch.no_grad()
def evaluate(model, loader):
    for x in loader:
        print(model(x).argmax(1))


evaluate(model, [torch.randn(2, 3, 8, 8)])
"""


@pytest.mark.parametrize(
    ("import_line", "builder"),
    [("import timm", "timm.create_model"), ("from timm import create_model", "create_model")],
)
def test_a_zoo_model_evaluated_without_eval_is_flagged_however_imported(
    import_line: str, builder: str
) -> None:
    source = ZOO.format(import_line=import_line, builder=builder)
    assert [(f.line, f.code) for f in lint_source(source)] == [(10, "TRN004")]


# -- a known call that restores a checkpoint does not hide a missing step -------------------------
# Catches `_opaque` handing the optimizer to a known call that only reads it (`or` for `and`):
# TRN002 then stays quiet, as for code not in view that might step it.

RELOADS_BEST = """\
import torch
from torch import nn

from helpers import {helper}

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train(loader, best_path):
    best = float("inf")
    for epoch in range(10):
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = model(x).sum()
            loss.backward()
            total += loss.item()
        if total > best:
            {helper}(best_path, model, optimizer)
        best = min(best, total)
"""


def test_reloading_a_checkpoint_does_not_step_the_optimizer() -> None:
    # The knowledge table's `*.load_checkpoint` restores states and leaves gradients alone.
    assert _codes(RELOADS_BEST.format(helper="load_checkpoint")) == [(17, "TRN002")]


def test_an_unknown_helper_given_the_optimizer_may_step_it() -> None:
    assert _codes(RELOADS_BEST.format(helper="restore_best")) == []


# -- TRN007's fix on a statement ended by a semicolon -------------------------------------------
# Catches `_fix` keeping the `;` of `losses.append(loss);` in the code it writes back.

KEEPS_LOSSES = """\
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
losses = []
for x, y in [(torch.randn(2, 4), torch.randn(2, 1))]:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    losses.append({kept}){end}
print(losses)
"""


def test_a_kept_loss_ended_by_a_semicolon_is_detached_without_it() -> None:
    source = KEEPS_LOSSES.format(kept="loss", end=";")
    assert [(f.line, f.code) for f in lint_source(source)] == [(12, "TRN007")]
    assert fix_source(source).after == KEEPS_LOSSES.format(kept="loss.detach()", end="")


# -- TRN008: a scheduler known by its construction or by its name --------------------------------
# Catches `_role` asking for both (`and` for `or`): a scheduler named `decay`, or one handed in
# as `lr_schedule`, would then be no scheduler, and its bare `.step` would go unreported.

BARE_SCHEDULER_STEP = """\
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
decay = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)


def train(loader, lr_schedule):
    for epoch in range(30):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        decay.step
        lr_schedule.step
"""


def test_a_bare_scheduler_step_is_reported_whether_built_in_view_or_named_so() -> None:
    findings = lint_source(BARE_SCHEDULER_STEP)
    assert [(f.line, f.code) for f in findings] == [(15, "TRN008"), (16, "TRN008")]
    assert all("the learning rate of" in f.message for f in findings)


# -- pre-0.4 `volatile=True` in a nested function -----------------------------------------------
# Catches the search for `volatile=True` descending into nested functions: their bodies do not
# run where they are defined, so they do not turn autograd off for the code around them.

NESTED_VOLATILE = """\
import torch
from torch import nn
from torch.autograd import Variable

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))


def evaluate(loader):
    def legacy_inputs(batches):
        # for callers still on torch 0.3; this function does not use it
        return [Variable(x, volatile=True) for x, _ in batches]

    model.eval()
    total = 0.0
    for x, y in loader:
        total += nn.functional.mse_loss(model(x), y).item()
    return total
"""


def test_volatile_inputs_built_in_an_unused_nested_function_do_not_turn_grad_off() -> None:
    assert _codes(NESTED_VOLATILE) == [(16, "TRN003")]


# -- TRN001's fix under gradient accumulation says what it does ----------------------------------
# Catches `_fix` returning the clear after an accumulation step without its description: the
# finding would then offer a fix and not say which.

ACCUMULATES = """\
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train(loader, accum_steps):
    for i, (x, y) in enumerate(loader):
        loss = nn.functional.mse_loss(model(x), y) / accum_steps
        loss.backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
{clear}"""


def test_accumulation_without_a_clear_is_fixed_by_clearing_after_the_step() -> None:
    source = ACCUMULATES.format(clear="")
    (finding,) = lint_source(source)
    assert (finding.line, finding.code, finding.fix_message) == (
        13,
        "TRN001",
        "insert `optimizer.zero_grad()` after `optimizer.step()`",
    )
    assert fix_source(source).after == ACCUMULATES.format(
        clear="            optimizer.zero_grad()\n"
    )


# -- a `.step()` of an object of unknown kind may step the optimizer ------------------------------
# Catches `_step` dropping the unknown step of `trainer.step()` (a receiver that is no optimizer,
# scheduler, scaler or engine by name or construction): TRN002 would then say nothing steps.

UNKNOWN_STEPPER = """\
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train(loader, trainer):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
{update}"""


def test_a_step_of_an_object_of_unknown_kind_may_be_the_optimizers() -> None:
    assert _codes(UNKNOWN_STEPPER.format(update="        trainer.step()\n")) == []


def test_without_that_step_nothing_steps_the_optimizer() -> None:
    assert _codes(UNKNOWN_STEPPER.format(update="")) == [(11, "TRN002")]


# -- TRN011's message names the parameter and the file's own torch -------------------------------
# Catches `check` yielding the finding without its message.

INPLACE_INIT = """\
import torch as T
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.fc.weight.normal_(0, 0.02)

    def forward(self, x):
        return self.fc(x)


block = Block()
"""


def test_an_in_place_initialisation_says_what_it_changes_and_how_to_wrap_it() -> None:
    (finding,) = lint_source(INPLACE_INIT)
    assert (finding.line, finding.code) == (9, "TRN011")
    assert finding.message == (
        "`self.fc.weight` is a parameter changed in place with autograd enabled, which raises "
        '"a leaf Variable that requires grad is being used in an in-place operation"; wrap it '
        "in `with T.no_grad():`"
    )


def test_trn003_tells_a_file_that_imports_torch_as_t_to_write_t_no_grad() -> None:
    # Killing the survivor above showed the messages spelling `torch` where the file binds only
    # `T`: an unbound name qualifies as itself, so `torch` was taken as the file's own name.
    path = FIXTURES / "buggy" / "trn003_alias_torch_as_t.py"
    (finding,) = lint_source(path.read_text(encoding="utf-8"))
    assert (finding.line, finding.code) == (46, "TRN003")
    assert finding.message.endswith("wrap it in `with T.no_grad():`")


# -- a function passed in as a parameter gets the caller's arguments -----------------------------
# Catches `_classify` calling `validate(model, val_loader)` (a parameter naming a function in
# view) without its arguments: the mode `evaluate` leaves the model in would then not reach it.

PASSED_IN = """\
import torch
from torch import nn


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    return sum(nn.functional.mse_loss(model(x), y).item() for x, y in loader)


def fit(model, optimizer, train_loader, val_loader, validate):
    for epoch in range(3):
{train}        for x, y in train_loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        print(validate(model, val_loader))


net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
fit(net, torch.optim.SGD(net.parameters(), lr=0.1), [], [], evaluate)
"""


def test_an_evaluation_function_passed_in_leaves_the_callers_model_in_eval_mode() -> None:
    assert _codes(PASSED_IN.format(train="")) == [(15, "TRN005")]


def test_switching_back_to_train_mode_each_epoch_is_quiet() -> None:
    assert _codes(PASSED_IN.format(train="        model.train()\n")) == []


# -- TRN002 goes on after a loop that hands its optimizer to unseen code --------------------------
# Catches `check` stopping at the first backward pass whose loop may be stepped by code not in
# view (`break` for `continue`): a later loop that never steps would go unreported.

HANDED_THEN_FORGOTTEN = """\
import torch
from torch import nn

from helpers import apply_update

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def warm_up(loader):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        apply_update(optimizer)


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
"""


def test_a_loop_that_never_steps_is_reported_after_one_that_hands_the_optimizer_on() -> None:
    assert _codes(HANDED_THEN_FORGOTTEN) == [(20, "TRN002")]


# -- TRN001 on parameters updated by hand: reported at their loop ---------------------------------
# Catches `check` giving that finding no node: it would lose its place in the file.

BY_HAND = """\
import torch
from torch import nn

model = nn.Linear(4, 1)


def train(loader, lr):
    for x, y in loader:
        nn.functional.mse_loss(model(x), y).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
"""


def test_parameters_updated_by_hand_from_uncleared_gradients_are_reported_at_the_loop() -> None:
    (finding,) = lint_source(BY_HAND)
    assert (finding.line, finding.column, finding.code) == (8, 5, "TRN001")
    assert finding.message.startswith("the parameters are updated by hand")


# -- TRN002's message mentions a scheduler only when the file has one ------------------------------
# Catches `check` formatting the message with `None` for the scheduler's clause.

NEVER_STEPS = """\
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
{scheduler}

def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
{schedule}"""
WITH_SCHEDULER = {
    "scheduler": "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)\n",
    "schedule": "        scheduler.step()\n",
}


@pytest.mark.parametrize(
    ("parts", "clause"),
    [
        ({"scheduler": "", "schedule": ""}, ""),
        (WITH_SCHEDULER, " (a scheduler step only changes the learning rate)"),
    ],
)
def test_a_loop_that_never_steps_says_so_and_whether_a_scheduler_steps(
    parts: dict[str, str], clause: str
) -> None:
    (finding,) = lint_source(NEVER_STEPS.format(**parts))
    assert (finding.line, finding.code) == (12 if clause else 11, "TRN002")
    assert finding.message == (
        "`backward()` computes gradients in this loop but no optimizer is ever stepped, so the "
        f"weights never change{clause}; call `optimizer.step()` after the backward pass"
    )

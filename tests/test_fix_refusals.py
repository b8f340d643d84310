"""Every reason a rule gives for offering no fix, shown on a script that leads to it, next to the
same script written so that the fix is offered.

Each rule's fix refuses to edit when it cannot do so safely (the statement shares its line, the
step happens inside another function, no `torch` name to write...), and says why in the
finding. Mutation testing showed those guards could be dropped or inverted with no test
noticing: the fixtures exercise the fixable shape of each rule, rarely the refused one. Here each
guard is exercised both ways: the refused shape gets exactly its reason and no edit; its twin,
one line different, gets a fix.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from lint_train.engine import lint_source
from lint_train.fix import fix_source
from lint_train.rules import fixes, trn009_double_softmax


@dataclass(frozen=True)
class Refusal:
    code: str
    at: str  # the code on the line the finding points at
    reason: str
    refused: str  # the script whose finding offers no fix, for `reason`
    fixable: str  # the same script, changed so that the fix is offered


TRAIN_HEAD = """
        import torch
        from torch import nn

        model = nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
        loader = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
"""

# An accuracy helper whose two branches (`{test}`) both run `net`; it scores `{given}` before
# training and `model` after it.
EVAL_HELPER = """
        import torch
        from torch import nn


        def linear_net(x):
            return x @ torch.ones(4, 2)


        def accuracy(batches, net):
            right = 0.0
            with torch.no_grad():
                for x, y in batches:
                    if {test}:
                        right += (net(x).argmax(1) == y).sum().item()
                    else:
                        right += (net(x).argmax(1) == y).sum().item()
            return right


        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(4)]
        print(accuracy(loader, {given}))
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        print(accuracy(loader, model))
"""

CASES = {
    "trn001_parameters_updated_by_hand": Refusal(
        "TRN001",
        "for x, y in loader:",
        "which parameters to clear, and how, is for the author to say",
        """
        import torch
        from torch import nn

        model = nn.Linear(4, 1)
        loader = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
        for x, y in loader:
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
        """,
        """
        import torch
        from torch import nn

        model = nn.Linear(4, 1)
        loader = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        """,
    ),
    "trn002_two_optimizers_cleared_none_stepped": Refusal(
        "TRN002",
        "loss.backward()",
        "several optimizers are cleared in this loop (`opt_dec`, `opt_enc`), so which of them "
        "own these gradients, and so which to step, is for the author to say",
        """
        import torch
        from torch import nn

        enc = nn.Linear(4, 4)
        dec = nn.Linear(4, 1)
        opt_enc = torch.optim.SGD(enc.parameters(), lr=0.1)
        opt_dec = torch.optim.SGD(dec.parameters(), lr=0.1)
        loader = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
        for x, y in loader:
            opt_enc.zero_grad()
            opt_dec.zero_grad()
            loss = nn.functional.mse_loss(dec(enc(x)), y)
            loss.backward()
        """,
        """
        import torch
        from torch import nn

        enc = nn.Linear(4, 4)
        dec = nn.Linear(4, 1)
        opt_enc = torch.optim.SGD(enc.parameters(), lr=0.1)
        opt_dec = torch.optim.SGD(dec.parameters(), lr=0.1)
        loader = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
        for x, y in loader:
            opt_enc.zero_grad()
            loss = nn.functional.mse_loss(dec(enc(x)), y)
            loss.backward()
        """,
    ),
    "trn002_scaled_backward_inside_a_helper": Refusal(
        "TRN002",
        "backward_scaled(loss)",
        "`scaler` scales the backward pass inside another function",
        TRAIN_HEAD
        + """
        scaler = torch.cuda.amp.GradScaler()


        def backward_scaled(loss):
            scaler.scale(loss).backward()


        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            backward_scaled(loss)
            scaler.update()
        """,
        TRAIN_HEAD
        + """
        scaler = torch.cuda.amp.GradScaler()
        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            scaler.scale(loss).backward()
            scaler.update()
        """,
    ),
    "trn003_no_torch_name_to_write": Refusal(
        "TRN003",
        "total += nn.functional.cross_entropy(model(x), y).item()",
        "this file imports neither `torch` nor `no_grad` under a name to use",
        """
        import torch.nn as nn


        def evaluate(model, val_loader):
            total = 0.0
            for x, y in val_loader:
                total += nn.functional.cross_entropy(model(x), y).item()
            return total
        """,
        """
        import torch
        import torch.nn as nn


        def evaluate(model, val_loader):
            total = 0.0
            for x, y in val_loader:
                total += nn.functional.cross_entropy(model(x), y).item()
            return total
        """,
    ),
    "trn003_async_evaluation_function": Refusal(
        "TRN003",
        "return model(x).argmax(dim=1)",
        "`no_grad()` cannot decorate an async function",
        """
        import torch
        from torch import nn


        async def predict(model, x):
            model.eval()
            return model(x).argmax(dim=1)


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                opt.step()
            predict(model, x)
        """,
        """
        import torch
        from torch import nn


        def predict(model, x):
            model.eval()
            return model(x).argmax(dim=1)


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                opt.step()
            predict(model, x)
        """,
    ),
    "trn007_kept_loss_shares_its_line": Refusal(
        "TRN007",
        "opt.step(); losses.append(loss)",
        "the statement shares its line with other statements",
        """
        import torch


        def train(model, opt, loader):
            losses = []
            for x, y in loader:
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step(); losses.append(loss)
            return losses
        """,
        """
        import torch


        def train(model, opt, loader):
            losses = []
            for x, y in loader:
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
                losses.append(loss)
            return losses
        """,
    ),
    "trn008_bare_attribute_shares_its_line": Refusal(
        "TRN008",
        "opt.zero_grad; loss = torch.nn.functional.mse_loss(model(x), y)",
        "the statement shares its line with other statements",
        """
        import torch


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad; loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
        """,
        """
        import torch


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
        """,
    ),
    "trn008_bare_attribute_after_a_colon": Refusal(
        "TRN008",
        "if x is not None: opt.zero_grad",
        "the statement shares its line with a compound statement",
        """
        import torch


        def train(model, opt, loader):
            for x, y in loader:
                if x is not None: opt.zero_grad
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
        """,
        """
        import torch


        def train(model, opt, loader):
            for x, y in loader:
                if x is not None:
                    opt.zero_grad
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
        """,
    ),
    "trn009_loss_call_shares_its_line": Refusal(
        "TRN009",
        "loss = F.cross_entropy(F.softmax(model(x), dim=1), y); loss.backward()",
        "the loss call shares its line with other statements",
        """
        import torch
        import torch.nn.functional as F


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad()
                loss = F.cross_entropy(F.softmax(model(x), dim=1), y); loss.backward()
                opt.step()
        """,
        """
        import torch
        import torch.nn.functional as F


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad()
                loss = F.cross_entropy(F.softmax(model(x), dim=1), y)
                loss.backward()
                opt.step()
        """,
    ),
    "trn009_softmax_into_nll_loss": Refusal(
        "TRN009",
        "loss = F.nll_loss(F.softmax(model(x), dim=1), y)",
        # nll_loss needs log_softmax, not the bare logits: another edit, left to the author
        "the probabilities come from a variable, a layer or a model whose output other code "
        "may use; removing the activation there changes what they get",
        """
        import torch
        import torch.nn.functional as F


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad()
                loss = F.nll_loss(F.softmax(model(x), dim=1), y)
                loss.backward()
                opt.step()
        """,
        """
        import torch
        import torch.nn.functional as F


        def train(model, opt, loader):
            for x, y in loader:
                opt.zero_grad()
                loss = F.cross_entropy(F.softmax(model(x), dim=1), y)
                loss.backward()
                opt.step()
        """,
    ),
    "trn010_scheduler_stepped_in_a_helper": Refusal(
        "TRN010",
        "sched.step()",
        "the scheduler steps inside a function called from the loop",
        TRAIN_HEAD
        + """

        def advance():
            sched.step()


        for epoch in range(3):
            advance()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                opt.step()
        """,
        TRAIN_HEAD
        + """
        for epoch in range(3):
            sched.step()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                opt.step()
        """,
    ),
    "trn010_scheduler_step_shares_its_line": Refusal(
        "TRN010",
        "sched.step(); opt.zero_grad()",
        "the scheduler step shares its line with other statements",
        TRAIN_HEAD
        + """
        for x, y in loader:
            sched.step(); opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        """,
        TRAIN_HEAD
        + """
        for x, y in loader:
            sched.step()
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        """,
    ),
    "trn010_scheduler_stepped_inside_a_with_block": Refusal(
        "TRN010",
        "sched.step()",
        "the optimizer step is not in the statement list of the scheduler step",
        TRAIN_HEAD
        + """
        for x, y in loader:
            with torch.autocast("cpu"):
                sched.step()
                loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        """,
        TRAIN_HEAD
        + """
        for x, y in loader:
            sched.step()
            with torch.autocast("cpu"):
                loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        """,
    ),
    # `net.eval()` before the loop would raise when `net` is a plain function: the code's own
    # test says it may be one (`isinstance(net, nn.Module)`), or a caller gives it one.
    "trn004_evaluated_object_tested_for_a_module": Refusal(
        "TRN004",
        "right += (net(x).argmax(1) == y).sum().item()",
        "the code tests `isinstance(net, ...)` on the way to this forward pass, so `net` may be "
        "no module there and `net.eval()` would raise for it; switch it in the branch where "
        "it is one",
        EVAL_HELPER.format(test="isinstance(net, nn.Module)", given="model"),
        EVAL_HELPER.format(test="isinstance(x, torch.Tensor)", given="model"),
    ),
    "trn004_helper_given_a_plain_function_too": Refusal(
        "TRN004",
        "right += (net(x).argmax(1) == y).sum().item()",
        "a caller in view gives `accuracy` a plain function as `net`, which has no `eval()`; "
        "switch the module to eval mode where a caller passes it",
        EVAL_HELPER.format(test="isinstance(x, torch.Tensor)", given="linear_net"),
        EVAL_HELPER.format(test="isinstance(x, torch.Tensor)", given="model"),
    ),
    "trn011_no_torch_name_to_write": Refusal(
        "TRN011",
        "m.weight.normal_(0.0, 0.02)",
        "this file imports neither `torch` nor `no_grad` under a name to use",
        """
        import torch.nn as nn


        def init(model):
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.normal_(0.0, 0.02)


        init(nn.Sequential(nn.Linear(4, 4)))
        """,
        """
        import torch
        import torch.nn as nn


        def init(model):
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.normal_(0.0, 0.02)


        init(nn.Sequential(nn.Linear(4, 4)))
        """,
    ),
    "trn011_change_after_a_colon": Refusal(
        "TRN011",
        "if isinstance(m, nn.Linear): m.weight.normal_(0.0, 0.02)",
        "the change shares its line with a compound statement",
        """
        import torch
        from torch import nn


        def init(model):
            for m in model.modules():
                if isinstance(m, nn.Linear): m.weight.normal_(0.0, 0.02)


        init(nn.Sequential(nn.Linear(4, 4)))
        """,
        """
        import torch
        from torch import nn


        def init(model):
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.normal_(0.0, 0.02)


        init(nn.Sequential(nn.Linear(4, 4)))
        """,
    ),
}


def _the_finding(source: str, code: str):  # type: ignore[no-untyped-def]
    (finding,) = [f for f in lint_source(textwrap.dedent(source)) if f.code == code]
    return finding


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_fix_refused_says_exactly_why_and_edits_nothing(case: Refusal) -> None:
    source = textwrap.dedent(case.refused)
    finding = _the_finding(source, case.code)
    assert source.splitlines()[finding.line - 1].strip() == case.at
    assert not finding.fixable
    assert finding.fix_applicability is None
    assert finding.fix_message == case.reason
    outcome = fix_source(source, unsafe=True)
    assert case.code not in {f.code for f in outcome.fixed}
    assert case.code in {f.code for f in outcome.remaining}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_same_script_written_otherwise_is_offered_its_fix(case: Refusal) -> None:
    source = textwrap.dedent(case.fixable)
    finding = _the_finding(source, case.code)
    assert finding.fixable
    assert finding.fix_applicability in ("safe", "unsafe")
    outcome = fix_source(source, unsafe=True)
    assert case.code in {f.code for f in outcome.fixed}
    assert case.code not in {f.code for f in outcome.remaining}


# -- How a fix names the code it edits -------------------------------------------------------
# The fix's one-line account quotes the statement it edits: its first line of code, without
# comment lines or a trailing comment, cut to 60 characters (57 and "...") when longer.
@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("x" * 60, "x" * 60),
        ("x" * 61, "x" * 57 + "..."),
        ("# a note\n\nloss.backward()\nopt.step()", "loss.backward()"),
        ("loss.backward()  # expect: TRN002", "loss.backward()"),
        ("", ""),
    ],
    ids=["sixty", "sixty-one", "comment-lines", "trailing-comment", "empty"],
)
def test_a_fix_quotes_the_first_line_of_code_it_edits_cut_to_sixty_characters(
    code: str, shown: str
) -> None:
    assert fixes._short(code) == shown


# TRN009's message quotes the loss's argument, cut to 40 characters (37 and "...").
@pytest.mark.parametrize(
    ("code", "shown"),
    [("a" * 40, "a" * 40), ("a" * 41, "a" * 37 + "...")],
    ids=["forty", "forty-one"],
)
def test_trn009_quotes_the_argument_cut_to_forty_characters(code: str, shown: str) -> None:
    assert trn009_double_softmax._short(code) == shown


# -- With several optimizers, the message asks for no single step the fix would not add -------
SEVERAL_OPTIMIZERS = """
        import torch
        from torch import nn

        enc = nn.Linear(4, 4)
        dec = nn.Linear(4, 1)
        opt_enc = torch.optim.SGD(enc.parameters(), lr=0.1)
        opt_dec = torch.optim.Adam(dec.parameters(), lr=0.01)
        loader = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
        for x, y in loader:
{clears}            loss = nn.functional.mse_loss(dec(enc(x)), y)
            loss.backward()
"""
NEVER_STEPPED = (
    "`loss.backward()` computes gradients in this loop but no optimizer is ever stepped, so the "
    "weights never change; "
)


@pytest.mark.parametrize(
    ("clears", "advice"),
    [
        (
            "            opt_enc.zero_grad()\n            opt_dec.zero_grad()\n",
            "after the backward pass, call `step()` on each optimizer this loop clears that owns "
            "these gradients (`opt_dec`, `opt_enc`)",
        ),
        (
            "",
            "after the backward pass, call `step()` on the optimizer that owns these gradients "
            "(`opt_dec` or `opt_enc`)",
        ),
    ],
    ids=["both-cleared", "none-cleared"],
)
def test_a_refused_step_with_several_optimizers_is_not_suggested_as_one_step(
    clears: str, advice: str
) -> None:
    finding = _the_finding(SEVERAL_OPTIMIZERS.format(clears=clears), "TRN002")
    assert not finding.fixable
    assert "which" in (finding.fix_message or "")
    assert finding.message == NEVER_STEPPED + advice

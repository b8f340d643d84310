"""Library calls with a known meaning (issue 11, family C), written inline: a call that only
reads an optimizer leaves its gradient state known, a step makes it known, a context that takes
the model leaves its mode alone, `generate` is an evaluation forward, and optimizers built by
`getattr` or by a factory in view are optimizers. Each flagged shape has a quiet twin, one
change away."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


UNSCALE = """
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    {before}
    for x in data:
        {clear}
        scaler.scale(model(x).sum()).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
"""


def test_unscaling_before_clipping_keeps_the_missing_clear_in_view() -> None:
    source = UNSCALE.format(before="opt.zero_grad()", clear="pass")
    assert _codes(source) == [(12, "TRN001")]


def test_unscaling_in_a_loop_that_clears_is_quiet() -> None:
    assert _codes(UNSCALE.format(before="pass", clear="opt.zero_grad()")) == []


FABRIC = """
    import torch
    from lightning.fabric import Fabric
    fabric = Fabric()
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt = fabric.setup(model, opt)
    for x in data:
        {clear}
        fabric.backward(model(x).sum())
        fabric.clip_gradients(model, opt, max_norm=1.0)
        opt.step()
"""


def test_fabric_clipping_after_setup_leaves_a_loop_that_never_clears_flagged() -> None:
    # Unknown after `fabric.setup`; the first step makes the gradients used ones.
    assert _codes(FABRIC.format(clear="pass")) == [(12, "TRN001")]


def test_fabric_loop_that_clears_is_quiet() -> None:
    assert _codes(FABRIC.format(clear="opt.zero_grad()")) == []


ACCELERATE = """
    import torch
    from accelerate import Accelerator
    accelerator = Accelerator(gradient_accumulation_steps=4)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    for x in data:
        with accelerator.accumulate(model):
            accelerator.backward(model(x).sum())
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            {clear}
"""


def test_accelerate_accumulate_loop_that_never_clears_is_flagged() -> None:
    assert _codes(ACCELERATE.format(clear="pass")) == [(12, "TRN001")]


def test_accelerate_accumulate_loop_that_clears_is_quiet() -> None:
    # Accelerate's prepared optimizer skips step and zero_grad between accumulation steps.
    assert _codes(ACCELERATE.format(clear="optimizer.zero_grad()")) == []


CHECKPOINT = """
    import torch
    from utils import save_checkpoint
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    for step, x in enumerate(data):
        {clear}
        model(x).sum().backward()
        opt.step()
        if step % 100 == 0:
            save_checkpoint(model, opt, step)
"""


def test_saving_a_checkpoint_does_not_hide_a_missing_clear() -> None:
    assert _codes(CHECKPOINT.format(clear="pass")) == [(10, "TRN001")]


def test_saving_a_checkpoint_in_a_loop_that_clears_is_quiet() -> None:
    assert _codes(CHECKPOINT.format(clear="opt.zero_grad()")) == []


def test_an_unknown_helper_given_the_optimizer_each_iteration_still_silences() -> None:
    # Anything not in the knowledge table may clear, here before every backward: no finding.
    source = CHECKPOINT.format(clear="maybe_reset(model, opt)")
    assert _codes(source) == []


def test_an_unknown_helper_run_now_and_then_does_not_clear_the_other_iterations() -> None:
    # Whatever it does every 100 steps, the steps in between run on accumulated gradients.
    source = CHECKPOINT.format(clear="pass").replace("save_checkpoint", "maybe_reset")
    assert _codes(source) == [(10, "TRN001")]


MODE_CONTEXT = """
    import torch
    from accelerate import Accelerator
    accelerator = Accelerator()
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        {train}
        for x in data:
            with accelerator.accumulate(model):
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            for x in val_data:
                model(x)
"""


def test_accumulate_context_keeps_the_eval_mode_left_by_evaluation() -> None:
    assert _codes(MODE_CONTEXT.format(train="pass")) == [(12, "TRN005")]


def test_accumulate_context_after_train_is_quiet() -> None:
    assert _codes(MODE_CONTEXT.format(train="model.train()")) == []


GENERATE = """
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained("gpt2")
    opt = torch.optim.AdamW(model.parameters())

    def train(loader):
        model.train()
        for batch in loader:
            opt.zero_grad()
            model(**batch).loss.backward()
            opt.step()

    def evaluate(prompts):
        {mode}
        for ids in prompts:
            print(model.generate(ids, max_new_tokens=20))

    train(data)
    evaluate(prompts)
"""


def test_generate_in_training_mode_is_evaluation_with_dropout_on() -> None:
    # generate runs under no_grad of its own: TRN004, never TRN003.
    assert _codes(GENERATE.format(mode="pass")) == [(17, "TRN004")]


def test_generate_after_eval_is_quiet() -> None:
    assert _codes(GENERATE.format(mode="model.eval()")) == []


PICKED = """
    import torch
    model = torch.nn.Linear(2, 1)
    solver = {build}
    solver.zero_grad()
    for x in data:
        {clear}
        model(x).sum().backward()
        solver.step()
"""


def test_optimizer_class_picked_by_getattr_is_an_optimizer() -> None:
    build = "getattr(torch.optim, args.optim)(model.parameters(), lr=0.1)"
    assert _codes(PICKED.format(build=build, clear="pass")) == [(9, "TRN001")]
    assert _codes(PICKED.format(build=build, clear="solver.zero_grad()")) == []


FACTORY = """
    import torch

    def build_solver(net, lr):
        solver = torch.optim.Adam(net.parameters(), lr=lr)
        return solver

    model = torch.nn.Linear(2, 1)
    solver = build_solver(model, 0.1)
    solver.zero_grad()
    for x in data:
        {clear}
        model(x).sum().backward()
        solver.step()
"""


def test_optimizer_built_by_a_factory_in_view_is_an_optimizer() -> None:
    assert _codes(FACTORY.format(clear="pass")) == [(14, "TRN001")]
    assert _codes(FACTORY.format(clear="solver.zero_grad()")) == []


def test_a_factory_that_returns_no_optimizer_is_not_one() -> None:
    source = FACTORY.format(clear="pass").replace(
        "torch.optim.Adam(net.parameters(), lr=lr)", "Plan(net, lr)"
    )
    assert _codes(source) == []


REBUILT = """
    import torch
    model = torch.nn.Linear(2, 1)
    for phase in range(2):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data:
            opt.zero_grad()
            model(x).sum().backward()
            {step}
"""


def test_building_an_optimizer_is_no_method_call_that_may_step() -> None:
    assert _codes(REBUILT.format(step="pass")) == [(8, "TRN002")]
    assert _codes(REBUILT.format(step="opt.step()")) == []


PENALTY = """
    import torch
    disc = torch.nn.Linear(2, 1)
    opt_d = torch.optim.Adam(disc.parameters())
    for x in data:
        opt_d.zero_grad()
        x.requires_grad_(True)
        out = disc(x)
        g = torch.autograd.grad(out.sum(), x, create_graph=True)[0]
        (out.mean() + ((g.norm(2, dim=1) - 1) ** 2).mean()).backward()
        {step}
"""


def test_autograd_grad_is_no_read_of_a_parameters_gradient() -> None:
    assert _codes(PENALTY.format(step="pass")) == [(10, "TRN002")]
    assert _codes(PENALTY.format(step="opt_d.step()")) == []


def test_reading_a_parameters_gradient_still_silences() -> None:
    # `p.grad` read by hand may be applied by hand: no finding.
    source = PENALTY.format(step="log(disc.weight.grad)")
    assert _codes(source) == []


PARTS = """
    import torch
    encoder = torch.nn.Linear(2, 2)
    decoder = torch.nn.Linear(2, 2)
    head = torch.nn.Linear(2, 1)
    params = list(encoder.parameters()) + list(decoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params)
    for x in data:
        {clear}
        head(decoder(encoder(x))).sum().backward()
        opt.step()
"""


def test_clearing_one_module_of_a_wider_optimizer_is_flagged() -> None:
    assert _codes(PARTS.format(clear="encoder.zero_grad()")) == [(11, "TRN001")]


def test_clearing_every_module_of_the_optimizer_is_quiet() -> None:
    clear = "encoder.zero_grad(); decoder.zero_grad(); head.zero_grad()"
    assert _codes(PARTS.format(clear=clear)) == []
    assert _codes(PARTS.format(clear="opt.zero_grad()")) == []


def test_clearing_a_module_that_may_hold_the_others_is_quiet() -> None:
    # `model` is not one of the modules the optimizer was built from: it may contain them all.
    source = PARTS.format(clear="model.zero_grad()")
    assert _codes(source) == []


def test_clearing_the_module_an_optimizer_is_built_over_is_quiet() -> None:
    source = PARTS.format(clear="encoder.zero_grad()").replace(
        "torch.optim.Adam(params)", "torch.optim.Adam(encoder.parameters())"
    )
    assert _codes(source) == []


ZEROS = """
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    for x in data:
        {clear}
        model(x).sum().backward()
        opt.step()
"""


def test_assigning_fresh_zeros_to_each_gradient_clears() -> None:
    assert _codes(ZEROS.format(clear="pass")) == [(9, "TRN001")]
    loop = "for p in model.parameters():\n            p.grad = torch.zeros_like(p)"
    assert _codes(ZEROS.format(clear=loop)) == []
    loop = "for p in model.parameters():\n            p.grad = p.grad.new_zeros(p.shape)"
    assert _codes(ZEROS.format(clear=loop)) == []


def test_assigning_zeros_in_a_helper_of_the_file_clears() -> None:
    source = ZEROS.format(clear="reset(model)") + textwrap.indent(
        textwrap.dedent("""
        def reset(net):
            for p in net.parameters():
                p.grad.data.zero_()
        """),
        "    ",
    )
    assert _codes(source) == []


BY_HAND = """
    import torch
    model = torch.nn.Linear(2, 1)
    lr = 0.1
    for x in data:
        {clear}
        model(x).sum().backward()
        with torch.no_grad():
            for p in model.parameters():
                {update}
"""


def test_an_update_by_hand_without_a_clear_is_flagged() -> None:
    for update in ("p.data.add_(p.grad, alpha=-lr)", "p -= lr * p.grad", "p.sub_(lr * p.grad)"):
        found = lint_source(textwrap.dedent(BY_HAND.format(clear="pass", update=update)))
        assert [(f.line, f.code) for f in found] == [(5, "TRN001")], update
        assert "updated by hand" in found[0].message


def test_an_update_by_hand_with_a_clear_is_quiet() -> None:
    for clear in ("model.zero_grad()", "opt.zero_grad()"):
        source = BY_HAND.format(clear=clear, update="p.data.add_(p.grad, alpha=-lr)")
        assert _codes(source) == [], clear
    update = "p -= lr * p.grad\n                p.grad = None"
    assert _codes(BY_HAND.format(clear="pass", update=update)) == []


def test_an_update_from_another_tensors_gradient_is_no_step_by_hand() -> None:
    update = "p.data.add_(other.grad, alpha=-lr)"
    assert _codes(BY_HAND.format(clear="pass", update=update)) == []


STAND_IN = """
    import torch

    class NoScaler:
        def scale(self, loss):
            return loss

        def step(self, optimizer):
            {body}

        def update(self):
            pass

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = NoScaler()
    for x in data:
        opt.zero_grad()
        scaler.scale(model(x).sum()).backward()
        scaler.step(opt)
        scaler.update()
"""


def test_a_stand_in_scaler_in_view_is_followed_not_assumed() -> None:
    # Its step does nothing: the optimizer never steps.
    assert _codes(STAND_IN.format(body="pass")) == [(19, "TRN002")]
    assert _codes(STAND_IN.format(body="optimizer.step()")) == []

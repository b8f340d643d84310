"""Reading `.grad` in a training loop: what the read is decides whether the loop still needs
its optimizer step (TRN002).

A read that only looks at a gradient (its norm logged, `is not None` tested), changes it where
it stays (clipped by hand) or moves it onto another parameter's gradient (A3C's workers) applies
nothing to the weights: a loop that clears its optimizer and steps none is still missing its
step. A read that ships the gradient elsewhere, or a loop that clears no optimizer of its own
(a study of gradients), stays quiet."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source
from lint_train.fix import fix_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


# A worker computes gradients on its local copy, clips them by hand and moves them onto the
# shared model, whose optimizer it clears: `{step}` is where the shared optimizer steps.
WORKER = """
    import torch
    from torch import nn

    shared = nn.Linear(4, 2)
    shared_opt = torch.optim.Adam(shared.parameters(), lr=1e-3)

    def work(loader):
        local = nn.Linear(4, 2)
        for x, y in loader:
            local.load_state_dict(shared.state_dict())
            loss = nn.functional.mse_loss(local(x), y)
            shared_opt.zero_grad()
            loss.backward()
            for shared_param, local_param in zip(shared.parameters(), local.parameters()):
                if shared_param.grad is not None and local_param.grad is None:
                    continue
                local_param.grad.data.clamp_(-1.0, 1.0)
                shared_param._grad = local_param.grad
            {step}
"""


def test_gradients_moved_onto_a_shared_model_still_need_its_step() -> None:
    assert _codes(WORKER.format(step="pass")) == [(14, "TRN002")]
    assert _codes(WORKER.format(step="shared_opt.step()")) == []


def test_the_step_is_inserted_after_the_gradients_are_moved() -> None:
    before = textwrap.dedent(WORKER.format(step="pass"))
    outcome = fix_source(before, unsafe=True)
    assert outcome.after is not None
    lines = outcome.after.splitlines()
    moved = lines.index("            shared_param._grad = local_param.grad")
    assert lines[moved + 1] == "        shared_opt.step()"


# The same loop, the gradients read in `{read}`.
LOGGED = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    norms, shipped = [], []
    for epoch in range(10):
        for x, y in loader:
            {clear}
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            for p in model.parameters():
                {read}
"""


def test_logging_gradient_norms_does_not_hide_a_missing_step() -> None:
    source = LOGGED.format(clear="opt.zero_grad()", read="norms.append(p.grad.norm().item())")
    assert _codes(source) == [(12, "TRN002")]


def test_gradients_shipped_elsewhere_may_be_applied_there() -> None:
    # A copy of the gradient leaves the loop: whoever receives it may step with it.
    source = LOGGED.format(clear="opt.zero_grad()", read="shipped.append(p.grad.clone())")
    assert _codes(source) == []


def test_a_study_of_gradients_cleared_through_the_model_is_not_training() -> None:
    # `model.zero_grad()`, backward, norms read: measuring gradients, not training, though an
    # optimizer over the same model exists.
    source = LOGGED.format(clear="model.zero_grad()", read="norms.append(p.grad.norm().item())")
    assert _codes(source) == []

"""TRN006 zero-grad-before-step: gradients are cleared between the backward pass and the step.

`backward()` fills `.grad`; `zero_grad()` right after it throws those gradients away, and the
`step()` that follows applies nothing (only momentum and weight decay move the weights). The
clear belongs before the backward pass or after the step. Tracked per optimizer along paths:
reported only when every way that reaches the step comes from a clear of that optimizer with no
backward pass since, so clearing at the start of the iteration, right after the step, under
gradient accumulation, or clearing one GAN optimizer after the other's backward once its own
step ran, are all left alone. A clear on one way only (`if not finite: opt.zero_grad()`, which
skips a bad batch on purpose) is not reported either, nor a clear made by a call that also
steps (DeepSpeed's `engine.step()`), which may not reach this optimizer.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.events import ALL_OPTIMIZERS
from ..analysis.model import LoopModel, Trace, TrainingLoop
from ..types import RuleInfo
from . import Report
from .fixes import Layout

INFO = RuleInfo(
    "TRN006",
    "zero-grad-before-step",
    "Gradients are cleared between `backward()` and the `step()` that needs them.",
    preview=True,
)

MESSAGE = (
    "`{clear}` throws away the gradients of the backward pass before `{opt}.step()` uses "
    "them, so the step applies none; clear before the backward pass or after the step"
)
NO_FIX = (
    "where the clear belongs depends on what else runs between the backward pass and the "
    "step (gradient accumulation, a second optimizer), which is for the author to say"
)
LOOP = "the loop whose step runs on cleared gradients"


def check(model: LoopModel) -> Iterator[Report]:
    for loop in model.loops.values():
        for key, node in loop.discarded_steps.items():
            if key in loop.kept_steps:
                continue  # some way reaches this step with gradients to apply
            step = next((t for t in loop.trace if t.kind == "step" and t.node is node), None)
            if step is None:
                continue
            clear = _clear_before(Layout.of(model), loop, step)
            if clear is None or any(t.kind == "step" and t.node is clear.node for t in loop.trace):
                # Which clear it was is not known, or it is a call that steps and clears
                # (DeepSpeed's `engine.step()`), whose clear may not reach this optimizer.
                continue
            opt = loop.display.get(step.root or "", step.root or "?")
            written = Layout.of(model).code(clear.node)
            message = MESSAGE.format(clear=written, opt=opt)
            related = ((step.site, f"the `{opt}.step()` it empties"), (loop.node, LOOP))
            yield Report.with_fix(clear.site, message, NO_FIX, related)


def _clear_before(layout: Layout, loop: TrainingLoop, step: Trace) -> Trace | None:
    """The last clear of the step's optimizer (or of every optimizer) before the step in one
    pass through the loop; None when the code does not say which one."""
    clears = [
        t
        for t in loop.trace
        if t.kind == "clear" and t.root in (step.root, ALL_OPTIMIZERS) and layout.precedes(t, step)
    ]
    return layout.latest(clears)

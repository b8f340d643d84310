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

Under gradient accumulation (the step under `if (i + 1) % k == 0:`, or past `if ... % k != 0:
continue`), a clear inside the window, between backward passes meant to add up, is reported
too: at every micro-batch (`zero_grad()` at the top of each iteration, or after the `if` that
steps), it leaves each step only the micro-batches since it. A clear under a boundary
condition itself (right after the step inside the `if`, or `if i % k == 0:` at the window's
start) is where it belongs. With Accelerate's `accelerator.accumulate`, the prepared optimizer's
step and clear both wait for the window's last micro-batch (see the knowledge table), so a
clear that does not wait (`model.zero_grad()`, `p.grad = None`) is inside the window wherever
it stands in the iteration.
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
WINDOW = (
    "`{clear}` clears the gradients inside the accumulation window, between backward passes "
    "that `{opt}.step()` should apply together, so each step applies only the micro-batches "
    "after the last clear; clear right after the step, or at the start of the window"
)
SYNCED = (
    "`{clear}` clears the gradients at every micro-batch of the accumulation window, while "
    "`{opt}.step()` waits for its last one (`{flag}`), so each step applies only the "
    "micro-batches after the last clear; clear through the prepared `{opt}.zero_grad()` after "
    "the step, which waits too"
)
LAST = (
    "`{clear}` waits for the accumulation window's last micro-batch (`{flag}`) as "
    "`{opt}.step()` does, but there it runs before the backward pass and throws away the "
    "micro-batches before it, so each step applies only the last one; clear after the step"
)
LOOP = "the loop whose step runs on cleared gradients"
WINDOW_LOOP = "the accumulation loop"


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
        yield from _window_clears(model, loop)


def _window_clears(model: LoopModel, loop: TrainingLoop) -> Iterator[Report]:
    """Clears inside an accumulation window: each once, with the first step it cuts short."""
    if len(loop.stepped) != 1:
        # Which optimizers a backward pass reaches is not known: with two (a GAN whose
        # generator steps every n-th iteration), one's clear may drop nothing the other needs.
        return
    reported: set[int] = set()
    layout = Layout.of(model)
    for node, root in loop.window_steps.values():
        if id(node) in loop.discarded_steps and id(node) not in loop.kept_steps:
            continue  # reported above: a clear right before this step
        step = next((t for t in loop.trace if t.kind == "step" and t.node is node), None)
        clears = loop.window_clears.get(root, {}) | loop.window_clears.get(ALL_OPTIMIZERS, {})
        opt = loop.display.get(root, root)
        for clear in clears.values():
            trace = next((t for t in loop.trace if t.kind == "clear" and t.node is clear), None)
            if step is None or trace is None or id(trace.site) in reported:
                continue
            if any(t.kind == "step" and t.node is clear for t in loop.trace):
                continue  # a call that steps and clears (DeepSpeed's `engine.step()`)
            reported.add(id(trace.site))
            flag = loop.synced_steps.get(id(node))
            written = layout.code(trace.node)
            if flag is None:
                message = WINDOW.format(clear=written, opt=opt)
            elif id(clear) in loop.unsynced_clears:
                message = SYNCED.format(clear=written, opt=opt, flag=flag)
            else:
                message = LAST.format(clear=written, opt=opt, flag=flag)
            related = ((step.site, f"the `{opt}.step()` it cuts short"), (loop.node, WINDOW_LOOP))
            yield Report.with_fix(trace.site, message, NO_FIX, related)


def _clear_before(layout: Layout, loop: TrainingLoop, step: Trace) -> Trace | None:
    """The last clear of the step's optimizer (or of every optimizer) before the step in one
    pass through the loop; None when the code does not say which one."""
    clears = [
        t
        for t in loop.trace
        if t.kind == "clear" and t.root in (step.root, ALL_OPTIMIZERS) and layout.precedes(t, step)
    ]
    return layout.latest(clears)

"""TRN001 missing-zero-grad: a loop steps an optimizer on gradients it never clears.

`backward()` adds into `.grad`. If nothing clears the gradients between one step and the next
backward, every step applies the sum of all earlier iterations' gradients and training drifts
or diverges. Clearing once before the loop is this bug; clearing on only one branch of the
loop is this bug too. Gradient accumulation (clearing next to a conditional step) is not.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.events import ALL_OPTIMIZERS, BY_HAND
from ..analysis.model import LoopModel, TrainingLoop
from ..types import RuleInfo
from . import Report, site_of
from .conditions import path_phrase
from .fixes import AFTER, BEFORE, Edit, Fix, Layout, describe, step_code

INFO = RuleInfo(
    "TRN001",
    "missing-zero-grad",
    "A training loop steps an optimizer without clearing its gradients each iteration.",
)

MESSAGE = (
    "`{step}` runs on gradients that are not cleared each time around this loop, so "
    "they accumulate across iterations; call `{opt}.zero_grad()` in the loop, before the "
    "backward pass"
)

# A step another module's function takes, replayed at the call (see analysis/steps.py).
ELSEWHERE = " (`{function}` steps it at {where})"

ONE_PATH = (
    "when {path}, `{step}` runs on gradients that are never cleared on that path, so "
    "they accumulate across iterations; call `{opt}.zero_grad()` on that path too, before the "
    "backward pass"
)

STALE_ON_ENTRY = (
    "`{opt}` enters this loop with gradients an earlier step already used, and the loop "
    "accumulates onto them before its first `{step}`; call `{opt}.zero_grad()` just "
    "before the loop"
)

BY_HAND_MESSAGE = (
    "the parameters are updated by hand from gradients that are not cleared each time around "
    "this loop, so they accumulate across iterations; clear them in the loop, before the "
    "backward pass (`p.grad = None` for each parameter, or `model.zero_grad()`)"
)
BY_HAND_NO_FIX = "which parameters to clear, and how, is for the author to say"


# A method that a loop of another module calls once per iteration (see analysis/repeated.py).
REPEATED = (
    "`{step}` runs on gradients that nothing clears between calls of `{method}`, which the "
    "loop at {where} makes once per iteration, so they accumulate across iterations; call "
    "`{opt}.zero_grad()` in `{method}`, before the backward pass"
)
METHOD = "`{method}`, which the loop at {where} calls once per iteration"

LOOP = "the loop whose iterations do not clear `{opt}` before this step"
LOOP_STALE = "the loop that `{opt}` enters with gradients already used"


def check(model: LoopModel) -> Iterator[Report]:
    repeated = {id(r.loop): r for r in model.repeated.values()}
    for loop in [*model.loops.values(), *(r.loop for r in model.repeated.values())]:
        again = repeated.get(id(loop))
        for opt in sorted(loop.polluted_steps):
            if opt == BY_HAND:
                yield Report.with_fix(loop.node, BY_HAND_MESSAGE, BY_HAND_NO_FIX)
                continue
            root = loop.polluted_roots.get(opt, opt)
            # Stale on entry only: the loop does clear, just not before its first step. A loop
            # that never clears this optimizer needs the clear in the loop instead.
            stale = (
                again is None
                and root in loop.entry_stepped
                and root not in loop.iteration_leaves_stepped
                and bool(loop.cleared & {root, ALL_OPTIMIZERS})
            )
            # Cleared on some way through the iteration but not on the way to this step: the
            # message names that way ("when `scaler` is None").
            clean = loop.clean_step_ways.get(opt, set())
            ways = tuple((c, v) for c, v in loop.polluted_paths.get(opt, ()) if (c, not v) in clean)
            step = loop.polluted_steps[opt]
            written = step_code(step, opt)
            if stale:
                message = STALE_ON_ENTRY.format(opt=opt, step=written)
            elif ways and loop.cleared & {root, ALL_OPTIMIZERS}:
                message = ONE_PATH.format(opt=opt, step=written, path=path_phrase(ways))
            else:
                message = MESSAGE.format(opt=opt, step=written)
            elsewhere = model.stepped_elsewhere.get(id(step))
            if elsewhere is not None:
                message += ELSEWHERE.format(function=elsewhere[0], where=elsewhere[1])
            anchor = site_of(loop.trace, lambda t, step=step: t.kind == "step" and t.node is step)
            fix = _fix(Layout.of(model), loop, opt, stale)
            related = (loop.node, (LOOP_STALE if stale else LOOP).format(opt=opt))
            if again is not None:
                method = again.info.name
                message = REPEATED.format(step=written, opt=opt, method=method, where=again.where)
                related = (again.info.node, METHOD.format(method=method, where=again.where))
            yield Report.with_fix(anchor or loop.node, message, fix, (related,))


def _fix(layout: Layout, loop: TrainingLoop, opt: str, stale: bool) -> Fix | str:
    """Clear the stepped optimizer where each step needs clean gradients: before the loop when
    it enters with stale ones; before the backward passes that feed the step when the step runs
    on every pass; right after the step when it runs only now and then (accumulation)."""
    node = loop.polluted_steps[opt]
    steps = [t for t in loop.trace if t.kind == "step" and t.node is node]
    name = layout.spelled(steps)
    if not steps or name is None:
        return f"`{opt}` has no single name in the function of this loop"
    code = f"{name}.zero_grad()"
    if stale:
        edits = (Edit(BEFORE, layout.statement(loop.node), code),)
        return Fix(describe(edits, layout), True, edits)
    step = steps[0]
    backwards = [t for t in loop.trace if t.kind == "backward"]
    closure = [b for b in backwards if b.site is step.node]
    if closure:
        # `opt.step(closure)` runs the closure, maybe several times a step (LBFGS): clear
        # inside it, before its backward pass.
        name = layout.spelled(closure, root=step.root, level=-1)
        if name is None:
            return f"`{opt}` has no single name in the closure that runs the backward pass"
        code = f"{name}.zero_grad()"
        edits = tuple(dict.fromkeys(Edit(BEFORE, layout.statement(b.node), code) for b in closure))
        return Fix(describe(edits, layout), True, edits)
    # The backward passes since the last step or clear of this optimizer feed this step.
    marks = [t for t in loop.trace if t.kind in ("step", "clear") and t.root == step.root]
    last = layout.latest(m for m in marks if m is not step and layout.precedes(m, step))
    feeding = [
        b
        for b in backwards
        if layout.precedes(b, step) and not (last is not None and layout.precedes(b, last))
    ]
    first = layout.earliest(feeding)
    if first is not None:
        found = layout.common(first.site, step.site)
        if found is not None:
            container, i, _ = found
            if layout.unconditional(step.site, container):
                anchor = list(container.body)[i]  # type: ignore[attr-defined]
                edits = (Edit(BEFORE, anchor, code),)
                return Fix(describe(edits, layout), True, edits)
    # The step runs under a condition (gradient accumulation) or before the backward pass:
    # clear right after it.
    edits = (Edit(AFTER, layout.statement(step.site), code),)
    return Fix(describe(edits, layout), True, edits)

"""TRN010 scheduler-before-optimizer: `scheduler.step()` runs before `optimizer.step()`.

Since PyTorch 1.1 a learning-rate scheduler is stepped after the optimizer. Stepped before it,
in the same iteration, the scheduler moves on before the first update has used its first value:
the whole schedule is shifted by one step, its first learning rate is never used, and PyTorch
only warns. Reported when, on every pass through a training loop, the scheduler steps with no
optimizer step before it and the optimizer steps after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ..analysis.model import LoopModel, Trace, TrainingLoop
from ..types import RuleInfo
from . import Report
from .fixes import AFTER, DELETE, Edit, Fix, Layout, describe, step_code

INFO = RuleInfo(
    "TRN010",
    "scheduler-before-optimizer",
    "`scheduler.step()` runs before `optimizer.step()` in the same iteration.",
    preview=True,
)

MESSAGE = (
    "`{scheduler}.step()` runs before `{step}` in each iteration of this loop, so "
    "the schedule's first learning rate is skipped and every later one comes a step early; "
    "call `{scheduler}.step()` after `{step}`"
)
LOOP = "the loop in which the scheduler steps before `{optimizer}.step()`"


def check(model: LoopModel) -> Iterator[Report]:
    reported: set[int] = set()
    for loop in model.loops.values():
        schedules = [t for t in loop.trace if t.kind == "scheduler_step"]
        steps = [t for t in loop.trace if t.kind == "step"]
        # One optimizer stepped: the scheduler can only be driving that one.
        if not schedules or len({t.root for t in steps}) != 1:
            continue
        layout = Layout.of(model)
        for schedule in schedules:
            if id(schedule.node) in reported:
                continue
            if not all(layout.precedes(schedule, step) for step in steps):
                continue  # some step comes first, or the order is not known
            if not _every_iteration(model, layout, loop, schedule):
                continue  # `if epoch > 0: scheduler.step()` may be meant to skip the first
            reported.add(id(schedule.node))
            scheduler = _written(model, schedule)
            optimizer = _written(model, steps[0])
            step = step_code(steps[0].node, optimizer)
            message = MESSAGE.format(scheduler=scheduler, step=step)
            related = (loop.node, LOOP.format(optimizer=optimizer))
            yield Report.with_fix(schedule.node, message, _fix(layout, schedule, steps), (related,))


def _written(model: LoopModel, trace: Trace) -> str:
    scope = trace.path[-1][1]  # the function that holds the call names it
    return model.spell(scope, trace.root or "?") or (trace.root or "?").rpartition(":")[2]


def _every_iteration(model: LoopModel, layout: Layout, loop: TrainingLoop, trace: Trace) -> bool:
    """Whether the traced event runs on every pass through the loop: only `with` and `try`
    blocks lie between it and the loop's body, in the loop's function and in every function
    called on the way."""
    within: cst.CSTNode = loop.node.body
    for node, scope in trace.path:
        if not layout.unconditional(node, within):
            return False
        info = model.program.functions.get(scope.function) if scope.function else None
        if info is None:
            return True
        within = info.node.body
    return True


def _fix(layout: Layout, schedule: Trace, steps: list[Trace]) -> Fix | str:
    """Move the scheduler step to right after the statement of the loop body that holds the
    last optimizer step. Unsafe: it shifts every learning rate the training uses by one step
    (as intended, but the results change), and a script that compensated for the early step
    (a schedule built one step longer) would now be off the other way."""
    if len(schedule.path) != 1:
        return "the scheduler steps inside a function called from the loop"
    stmt = layout.statement(schedule.node)
    container = layout.container(stmt)
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
        return "the scheduler step shares its line with other statements"
    holders = set()
    for step in steps:
        found = layout.common(schedule.node, step.site)
        if found is None or found[0] is not container:
            return "the optimizer step is not in the statement list of the scheduler step"
        holders.add(found[2])
    anchor = list(container.body)[max(holders)]  # type: ignore[union-attr]
    code = layout.code(stmt.body[0])
    edits = (Edit(DELETE, stmt, ""), Edit(AFTER, anchor, code))
    return Fix(describe(edits, layout), False, edits)

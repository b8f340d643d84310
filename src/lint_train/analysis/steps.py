"""Training steps other modules can follow: a top-level function that is one straight-line
step on the optimizers it is given (`loss.backward(); opt.step()`, nothing around either; or
only a backward pass, or only a clear), summarised as its backward passes, steps and clears in
order. A caller in another module
replays them at its call, in its own loop, as a call within a file is followed: so a loop that
calls `train_step(model, opt, x, y)` and never clears `opt` is reported where the clear
belongs, in that loop. A function that trains in any other way (a loop, a branch, a closure,
code out of view handed the optimizer) stays out of view, as unseen code.

A function that does nothing to the optimizers it is given (it neither steps nor clears them,
runs no backward pass, reads no `.grad` and hands them to no code out of view: a warm-up that
writes the learning rate into `opt.param_groups`, a checkpoint writer) is summarised as
sparing them: a caller in another module that hands it its optimizer still knows the state of
that optimizer's gradients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from . import events as ev
from .vocab import is_optimizer_name

if TYPE_CHECKING:
    from .interpret import Interpreter
    from .program import FunctionInfo

# What a step function may do; anything else that trains (grad mode set, unknown steps,
# gradients read) keeps it out of view.
_REPLAYED = frozenset({ev.BACKWARD, ev.STEP, ev.CLEAR})
ALL = "*"  # a clear of every optimizer (`model.zero_grad()`)


def step_sequence(
    interp: Interpreter, info: FunctionInfo
) -> tuple[tuple[str, str, cst.CSTNode], ...]:
    """The (kind, parameter, node) of each backward pass, step and clear of the top-level
    function `info`, in order, when it is one straight-line step on optimizers it is given
    (each step and clear acts on a parameter, or clears all); else empty."""
    from .interpret import _NOT_SUMMARISED, _TRAINING, _statements, _Wrap

    body = info.node.body
    kinds = interp.static_kinds(body, info) & _NOT_SUMMARISED
    if not kinds or not kinds <= _REPLAYED:
        return ()
    out: list[tuple[str, str, cst.CSTNode]] = []
    for stmt in _statements(body):
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        if not isinstance(stmt, cst.SimpleStatementLine):
            events = interp.static_events(_Wrap([stmt]), info)  # type: ignore[arg-type]
            if _trains(interp, events, _TRAINING):
                return ()  # under a branch, a loop or a context: not one straight line
            continue
        for part in stmt.body:
            for event in interp.table.of(part, info):
                if event.kind == ev.CALL and _trains(interp, [event], _TRAINING):
                    return ()  # the file's own code trains too: not followed here
                if event.kind == ev.OPAQUE and event.names:
                    return ()  # the optimizer or model handed to code not in view
                if event.kind == ev.BACKWARD:
                    out.append((ev.BACKWARD, "", event.node))
                elif event.kind in (ev.STEP, ev.CLEAR):
                    if event.kind == ev.CLEAR and event.name == ev.ALL_OPTIMIZERS:
                        out.append((ev.CLEAR, ALL, event.node))
                    elif event.name in info.params:
                        out.append((event.kind, event.name, event.node))
                    else:
                        return ()  # an optimizer of its own, or an attribute of one
    return tuple(out)


def _trains(interp: Interpreter, events: list[ev.Event], kinds: frozenset[str]) -> bool:
    for event in events:
        if event.kind in kinds:
            return True
        if event.kind == ev.CALL and event.key:
            callee = interp.program.functions[event.key]
            if interp.static_kinds(callee.node.body, callee) & kinds:
                return True
    return False


# Events by which a function may act on an optimizer it is given, or on its gradients.
_ACTS = _REPLAYED | frozenset({ev.UNKNOWN_STEP, ev.GRAD_USE, ev.GRAD_SET})


def spares_optimizers(interp: Interpreter, info: FunctionInfo) -> bool:
    """Whether the top-level function `info` leaves alone any optimizer it
    is given: no backward, step, clear or `.grad` read in it or in the file's own functions it
    calls, and no optimizer handed on to code out of view (a call of another module counts as
    such unless its own summary spares them too)."""
    # Only a function with a parameter named for an optimizer (`optimizer`, `opt`) is asked:
    # the summary grows by the functions that take one, not by every function of the module.
    return any(is_optimizer_name(p) for p in info.params) and _spares(
        interp, info.node.body, info, set()
    )


def _spares(
    interp: Interpreter, node: cst.CSTNode, info: FunctionInfo | None, seen: set[int]
) -> bool:
    if id(node) in seen:
        return True
    seen.add(id(node))
    for event in interp.static_events(node, info):
        if event.kind in _ACTS:
            return False
        if event.kind in (ev.OPAQUE, ev.CALL) and event.names:
            return False
        if event.kind == ev.PROJECT_CALL and event.callee is not None:
            facts = event.callee.facts
            if facts.trains or (event.names and not facts.spares_optimizers):
                return False
        if event.kind == ev.CALL and event.key:
            callee = interp.program.functions[event.key]
            if not _spares(interp, callee.node.body, callee, seen):
                return False
    return True

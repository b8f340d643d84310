"""Training-step methods whose loop is in another module: an agent's `learn()` or a trainer's
`train_step()` runs backward and steps (or clears) an optimizer its object holds, with no loop
around either; a driver in another project file calls it once per iteration of its loop.

Alone, such a method is one step and says nothing about the next. Its module asks the project
for the loops that call it (see callers.py): where one does, and that loop neither clears nor
steps anything itself nor calls another method of the object that does, the method is run
here as if that loop ran it, again and again. A clear or a step it lacks is then reported in
the method, where the fix belongs, naming the caller's loop. The method's own analysis is not
changed: the repeated run has a model of its own, and only its training loop is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from . import events as ev
from .model import BackwardSite, TrainingLoop

if TYPE_CHECKING:
    from .interpret import Frame, Interpreter
    from .program import FunctionInfo

# What lets a caller's loop decide the gradients itself: then the method is not judged.
_DECIDING = frozenset({ev.STEP, ev.CLEAR, ev.BACKWARD, ev.OPAQUE, ev.GRAD_USE})


@dataclass(frozen=True)
class LoopCaller:
    """A loop of another project file that calls a method on an object of its class."""

    where: str  # the loop's header, `main.py:146`
    # The other methods of the same object that the loop calls (`agent.update_target()`).
    calls: frozenset[str] = frozenset()


@dataclass
class Repeated:
    """A method run as its callers' loop runs it: the stand-in loop (kept alive, so that its id
    stays unique), the training loop it gave and the backward passes it ran."""

    info: FunctionInfo
    where: str
    node: cst.While
    loop: TrainingLoop
    sites: list[BackwardSite]


def candidates(interp: Interpreter) -> list[FunctionInfo]:
    """Methods of objects their callers hold (not models, or modules that step an optimizer
    they hold: a trainer) that run a backward pass outside any loop of their own and step or
    clear an optimizer: one training step each time called."""
    out = []
    for info in interp.program.functions.values():
        if (
            not info.is_method
            or info.name.startswith(("_", "forward"))
            or ".<locals>." in info.key
            or interp._library_managed(info)
            or not (interp._held_by_callers(info) or _steps_own(interp, info))
            or ev.BACKWARD not in _outside_loops(interp, info.node.body, info)
        ):
            continue
        kinds = interp.static_kinds(info.node.body, info)
        if kinds & {ev.STEP, ev.CLEAR}:
            out.append(info)
    return out


def repeat(interp: Interpreter, info: FunctionInfo, where: str) -> Repeated | None:
    """`info` run in a stand-in loop (`while True:` around its body), in the state its
    object's `__init__` leaves; None when the analysis gives up on it."""
    from .interpret import Frame, Interpreter, State, _Budget

    other = Interpreter(interp.program)
    node = cst.While(test=cst.Name("True"), body=info.node.body)
    owner = f"{info.class_name}#self"
    rename = {"self": owner}
    paths = [State(frozenset({"init"}), {}, frozenset({"init"}), {}, frozenset({"init"}))]
    init_key = interp.program.method(info.class_name or "", "__init__")
    try:
        if init_key is not None:
            paths = other._init_state(init_key, paths)
        frame = Frame(info, rename)
        # A return ends one call: the next iteration of the callers' loop makes the next.
        frame.returns = _NextCall(frame)
        other.call_stack.append(info.key)
        other.frames.append(frame)
        other.via.append(None)
        other.loop(node, paths, frame)
    except (_Budget, RecursionError):
        return None
    loop = other.model.loops.get(id(node))
    if loop is None:
        return None
    sites = [s for s in other.model.backward_sites if id(node) in s.loops]
    return Repeated(info, where, node, loop, sites)


def could_report(found: Repeated) -> bool:
    """Whether the repeated run shows what TRN001 or TRN002 reports: a step on gradients never
    cleared, or a backward pass that no step follows (or an optimizer cleared, not stepped)."""
    loop = found.loop
    if loop.polluted_steps:
        return True
    if loop.unknown_step or loop.opaque:
        return False
    return not loop.stepped or bool(loop.cleared - loop.stepped - {ev.ALL_OPTIMIZERS})


def quiet_caller(interp: Interpreter, info: FunctionInfo, caller: LoopCaller) -> bool:
    """Whether the caller's loop may decide the gradients of the method's optimizers itself,
    through another method of the object it calls there (`agent.clear()`, `agent.apply()`)."""
    for name in caller.calls:
        key = interp.program.method(info.class_name or "", name)
        if key is None:
            return True  # inherited or unknown: it may clear or step
        other = interp.program.functions[key]
        if interp.static_kinds(other.node.body, other) & _DECIDING:
            return True
        # A `.step()` it cannot classify, on the object's own attributes or on no name: maybe
        # its optimizer's (a global config named `opt` is no optimizer of the object).
        if any(
            e.kind == ev.UNKNOWN_STEP and (e.name is None or e.name.startswith("self."))
            for e in interp.static_events(other.node.body, other)
        ):
            return True
    return False


def run_all(interp: Interpreter) -> None:
    """Each candidate method: run as its callers' loop runs it where the view names such a
    loop (its training loop kept in the model); else asked about, when the run would show
    something to report."""
    view = interp.program.view
    callers = view.looped_elsewhere if view is not None else {}
    for info in candidates(interp):
        caller = callers.get(info.key)
        if caller is None:
            found = repeat(interp, info, "")
            if found is not None and could_report(found):
                interp.model.repeat_asks.add(info.key)
            continue
        if quiet_caller(interp, info, caller):
            continue
        found = repeat(interp, info, caller.where)
        if found is not None:
            interp.model.repeated[id(found.node)] = found


def _steps_own(interp: Interpreter, info: FunctionInfo) -> bool:
    """Whether the method steps or clears an optimizer of its object's (`self.optimizer`): a
    trainer's method, even when the trainer is a module itself (it holds the losses)."""
    return any(
        e.kind in (ev.STEP, ev.CLEAR) and (e.name or "").startswith("self.")
        for e in interp.static_events(info.node.body, info)
    )


def _outside_loops(interp: Interpreter, node: cst.CSTNode, fn: FunctionInfo) -> set[str]:
    """Kinds of the events of `node`'s statements that no loop of its own holds (calls not
    followed)."""
    from .interpret import _child_blocks, _event_parts, _statements

    kinds: set[str] = set()
    for stmt in _statements(node):
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef, cst.For, cst.While)):
            continue
        for part in _event_parts(stmt):
            kinds.update(e.kind for e in interp.table.of(part, fn))
        for child in _child_blocks(stmt):
            kinds |= _outside_loops(interp, child, fn)
    return kinds


class _NextCall(list):  # type: ignore[type-arg]
    """The returns of a method run in a stand-in loop: each goes on to the stand-in's next
    pass (the first loop of the frame, whatever loop of the method returns), as a `continue`
    of it would."""

    def __init__(self, frame: Frame) -> None:
        super().__init__()
        self.frame = frame

    def extend(self, paths: Iterable[object]) -> None:  # type: ignore[override]
        self.frame.continues[0].extend(paths)  # type: ignore[arg-type]

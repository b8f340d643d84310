"""Replays a file's statements with an abstract state to build the LoopModel.

The state is a small set of paths; each path says what can be true at a point: whether
grad is enabled, each model's train/eval mode, and for each optimizer where its gradients stand
(clean, fresh from a backward, already stepped, or polluted by a second backward after a step).
Paths remember the branch conditions they took (`if need_update:`), so a later test of the same
condition follows the same way: a step and a zero_grad guarded by one flag stay together.
Calls into the file's own functions are followed (inlined) with arguments bound to parameters,
so a helper sees its caller's state. Facts are recorded as unions over every visit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from . import events as ev
from . import frozen, results, training_flag
from . import knowledge as kn
from .absent import NONE
from .model import (
    BackwardSite,
    BareMethod,
    EvalSite,
    InplaceChange,
    LoopModel,
    Scope,
    Trace,
    TracePath,
    TrainingLoop,
)
from .names import dotted
from .outputs import only_outputs
from .program import FunctionInfo, Program
from .retained import kept_losses
from .twins import flag_defaults, other_names, twins
from .untouched import untouched_models
from .vocab import is_eval_function_name, is_optimizer_name, names_eval_data, tokens
from .walk import walk
from .windows import Windows, steady_counters, windows

MAX_CALL_DEPTH = 8
MAX_LOOP_PASSES = 4
MAX_PATHS = 12  # beyond this, paths are merged into one and lose their branch conditions
EVENT_BUDGET = 400_000  # replayed events per file before we give up (and stay quiet)

# Gradient phases: "init" (nothing yet), "fresh" (a backward since the last clear or step),
# "stepped" (a step used them), "polluted" (a backward on top of stepped-on gradients), and,
# after a clear, "discarded" (they were thrown away unused) or "clean"; "unk" after code not in
# view. Only "discarded" is told apart from "clean": each distinction multiplies the paths.
# Under gradient accumulation (a step under `if (i + 1) % k == 0:`), a clear of unused
# gradients that is not itself at a window's boundary leaves them "dropped": thrown away inside
# the window. A backward on dropped gradients makes them "partial": fresh, but missing what the
# window's earlier backward passes computed, so a step at the window's end applies only part of
# it (TRN006). Outside accumulation, "dropped" behaves as "discarded" and "partial" as "fresh".
_CLEARED = ("clean", "discarded", "dropped")
_AFTER_BACKWARD = {
    "init": "fresh",
    "fresh": "fresh",
    "stepped": "polluted",
    "clean": "fresh",
    "discarded": "fresh",
    "dropped": "partial",
    "partial": "partial",
}
# A step leaves gradients it used, whatever state they were in before: even after code not in
# view ("unk"), the next backward accumulates onto used gradients unless something clears them.
_AFTER_STEP = dict.fromkeys(("init", "fresh", "polluted", "unk", "partial", *_CLEARED), "stepped")
# A clear after a backward pass throws its gradients away unused, whether or not they were
# added onto ones a step had used; every other phase -> clean.
_AFTER_CLEAR = {"fresh": "discarded", "polluted": "discarded", "partial": "discarded"}
# The same, for a clear inside an accumulation window.
_DROPPED = {"fresh": "dropped", "polluted": "dropped", "partial": "dropped"}
_THROWN_AWAY = frozenset({"discarded", "dropped"})
# The way of a condition that marks an accumulation window's boundary: `i % k == 0` taken,
# `i % k != 0` or `not i % k` not taken (`_condition` strips the `not`).
_BOUNDARY_TRUE = re.compile(r"%[^=!<>]*==\s*0\b")
_BOUNDARY_FALSE = re.compile(r"%[^=!<>]*!=\s*0\b|^[^=!<>]*%[^=!<>]*$")
_GRAD_USERS = frozenset({ev.BACKWARD, ev.GRAD_USE})
# What the arms of a test decided by a constant outside evaluation code may do (see `if_`).
_MODES_ONLY = frozenset({ev.MODE, ev.ASSIGN, ev.COPY, ev.FREEZE})
# What trains: a function that does any of it runs no smoke check (see untouched.py).
_TRAINING = frozenset({ev.BACKWARD, ev.GRAD_USE, ev.STEP, ev.UNKNOWN_STEP, ev.CLEAR})
_NOT_SUMMARISED = frozenset(
    {ev.BACKWARD, ev.GRAD_USE, ev.STEP, ev.UNKNOWN_STEP, ev.CLEAR, ev.GRAD_SET}
)


class _Budget(Exception):
    pass


@dataclass
class State:
    grad: frozenset[str]
    modes: dict[str, frozenset[str]]
    mode_default: frozenset[str]
    phases: dict[str, frozenset[str]]
    phase_default: frozenset[str]
    saved: dict[str, frozenset[str]] = field(default_factory=dict)
    facts: dict[str, bool] = field(default_factory=dict)  # branch conditions taken

    def copy(self) -> State:
        return State(
            self.grad,
            dict(self.modes),
            self.mode_default,
            dict(self.phases),
            self.phase_default,
            dict(self.saved),
            dict(self.facts),
        )

    def signature(self) -> tuple[object, ...]:
        # Compared and hashed only, never ordered: frozensets of items spare a sort per call.
        return (
            self.grad,
            frozenset(self.modes.items()),
            self.mode_default,
            frozenset(self.phases.items()),
            self.phase_default,
            frozenset(self.saved.items()),
        )

    def mode(self, name: str) -> frozenset[str]:
        probe = name
        while True:
            if probe in self.modes:
                return self.modes[probe]
            if "." not in probe:
                return self.mode_default
            probe = probe.rpartition(".")[0]

    def set_mode(self, name: str, value: frozenset[str]) -> None:
        prefix = name + "."
        for key in [k for k in self.modes if k.startswith(prefix)]:
            del self.modes[key]
        self.modes[name] = value

    def phase(self, name: str) -> frozenset[str]:
        return self.phases.get(name, self.phase_default)


Paths = list[State]


def join(*groups: Paths) -> Paths:
    """All the paths of several groups. Paths that agree on everything but their branch
    conditions become one when that loses no combination of conditions (see `_combined`): a
    condition only matters while the paths it separates differ."""
    by_state: dict[tuple[object, ...], list[State]] = {}
    for group in groups:
        for path in group:
            alike = by_state.setdefault(path.signature(), [])
            _add(alike, path)
    out = [path for alike in by_state.values() for path in alike]
    if len(out) > MAX_PATHS:
        # Too many to keep apart: first merge paths that differ only in models' modes, so that
        # where the gradients stand (and the branch conditions that decide it) stays exact.
        out = _merge_by(out, lambda p: (p.grad, frozenset(p.phases.items()), p.phase_default))
    if len(out) > MAX_PATHS:
        out = _merge_by(out, lambda p: None)
    return out


def _add(alike: Paths, path: State) -> None:
    """Put `path` among paths in the same state, combined with one where that is exact (and the
    result with the next, since a combination can make another one exact)."""
    while True:
        for i, known in enumerate(alike):
            facts = _combined(known.facts, path.facts)
            if facts is not None:
                del alike[i]
                if facts is known.facts:
                    path = known
                elif facts is not path.facts:
                    path = known.copy()
                    path.facts = facts
                break
        else:
            alike.append(path)
            return


def _combined(a: dict[str, bool], b: dict[str, bool]) -> dict[str, bool] | None:
    """The branch conditions of one path standing for two in the same state, or None when no
    set of conditions stands for exactly both. One whose conditions are a part of the other's
    already allows all the other does; two that differ only in the way one condition went
    allow both ways of it. Keeping only the conditions two paths share would otherwise allow
    ways neither took: {a: True, b: True} and {a: False, b: False} joined as {} would let a
    later `if a:` and `if b:` go different ways on that state."""
    if a.items() <= b.items():
        return a
    if b.items() <= a.items():
        return b
    if a.keys() != b.keys():
        return None
    differing = [k for k, v in a.items() if b[k] != v]
    if len(differing) != 1:
        return None
    return {k: v for k, v in a.items() if k != differing[0]}


def _merge_by(paths: Paths, key: Callable[[State], object]) -> Paths:
    groups: dict[object, State] = {}
    for path in paths:
        k = key(path)
        groups[k] = merge(groups[k], path) if k in groups else path
    return list(groups.values())


def merge(a: State, b: State) -> State:
    modes = {k: a.mode(k) | b.mode(k) for k in a.modes.keys() | b.modes.keys()}
    phases = {k: a.phase(k) | b.phase(k) for k in a.phases.keys() | b.phases.keys()}
    none: frozenset[str] = frozenset()
    saved = {
        k: a.saved.get(k, none) | b.saved.get(k, none) for k in a.saved.keys() | b.saved.keys()
    }
    facts = {k: v for k, v in a.facts.items() if b.facts.get(k) == v}
    return State(
        a.grad | b.grad,
        modes,
        a.mode_default | b.mode_default,
        phases,
        a.phase_default | b.phase_default,
        saved,
        facts,
    )


def same(a: Paths, b: Paths) -> bool:
    return {p.signature() for p in a} == {p.signature() for p in b} and len(a) == len(b)


@dataclass
class Frame:
    fn: FunctionInfo | None
    rename: dict[str, str]
    returns: list[State] = field(default_factory=list)
    breaks: list[list[State]] = field(default_factory=list)
    continues: list[list[State]] = field(default_factory=list)
    # Parameters that hold a constant in this call (`train=False`): tests of them are decided.
    constants: dict[str, object] = field(default_factory=dict)
    # A function run with its callers out of view: its flags' literal defaults (or a variant's
    # value), which decide only tests whose arms set modes (see `if_` and `_run_root`).
    defaults: dict[str, object] = field(default_factory=dict)
    _scope: Scope | None = None

    def scope(self) -> Scope:
        if self._scope is None:
            key = self.fn.key if self.fn is not None else None
            self._scope = Scope(key, tuple(sorted(self.rename.items())))
        return self._scope

    def translate(self, name: str) -> str:
        head, dot, rest = name.partition(".")
        if head in self.rename:
            return self.rename[head] + dot + rest
        fn = self.fn
        if fn is not None and (
            head in fn.params or head in fn.local_names or results.is_slot(head)
        ):
            return f"{fn.key}:{name}"
        return name


@dataclass
class _Region:
    loop_depth: int
    is_loop: bool
    function: str | None
    needs_loop: bool = False  # `def test():` is evaluation only if it loops over data
    level: int = 0  # the frame that runs the evaluation code (an index into `frames`)
    forwarded: bool = False  # a forward pass ran in it already
    # Evaluation by what a top-level function does with its model's results, run with its
    # callers out of view: not judged here, only summarised for callers in other modules.
    for_callers: bool = False
    # A policy's forward its caller acts on: autograd still matters, the mode does not.
    acting: bool = False


class Interpreter:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.table = ev.EventTable(program)
        self.model = LoopModel(program)
        self.loop_stack: list[cst.For | cst.While] = []
        # The frames of the calls being followed (the module's or a root function's first),
        # the call node that entered each one, and the frame each running loop belongs to.
        self.frames: list[Frame] = []
        self.via: list[cst.CSTNode | None] = []
        self.loop_levels: list[int] = []
        self._traced: set[tuple[object, ...]] = set()
        self._scopes: dict[Scope, Scope] = {}  # one object for equal scopes: cheap trace keys
        self.call_stack: list[str] = []
        self.regions: list[_Region] = []
        self.reached: set[str] = set()
        self.spent = 0
        self._static: dict[int, frozenset[str]] = {}
        self._init_states: dict[tuple[object, ...], Paths] = {}
        self._texts: dict[int, tuple[str, bool]] = {}
        self._toggled: set[str] | None = None  # flags the program sets to True and to False
        self._assigned: dict[int, frozenset[str]] = {}
        self._retested: dict[int, frozenset[str]] = {}
        self._changed: dict[int, frozenset[str]] = {}
        self._feeds: dict[tuple[int, int, bool], bool] = {}
        self._outputs: dict[tuple[int, bool], bool] = {}
        self._calls: dict[tuple[object, ...], Paths] = {}
        self._branches: dict[int, frozenset[str]] = {}  # loop id -> its own `if` conditions
        self._mode_nodes: dict[str, cst.CSTNode] = {}  # object -> the last mode change of it
        self._window_plans: dict[int, Windows | None] = {}  # loop id -> its window tests
        self._untouched: dict[str, frozenset[str]] = {}  # function -> models it smoke-checks
        self._pairs: dict[str, dict[str, str]] = {}  # function -> its names of one object

    # Entry points ---------------------------------------------------------------------------
    def run(self) -> LoopModel:
        try:
            self._run_all()
        except (_Budget, RecursionError):
            self.model.complete = False
        return self.model

    def _run_all(self) -> None:
        module_state = State(frozenset({"on"}), {}, frozenset({"default"}), {}, frozenset({"init"}))
        frame = Frame(None, {})
        self.frames.append(frame)
        self.via.append(None)
        try:
            self.block(self.program.module.body, [module_state], frame)
        finally:
            self.frames.pop()
            self.via.pop()
        called = self._statically_called()
        for key, info in self.program.functions.items():
            if key in self.reached or (key in called and key not in self.program.escaped):
                continue
            if key in self.program.launched:
                # `fabric.launch(main)`, `Thread(target=train)`: an entry point, grad on.
                self._run_root(info, "init", grad=ev.GRAD_ON)
            else:
                self._run_root(info, "unk" if key in self.program.escaped else "init")
        # What a caller elsewhere can apply as a whole: functions that leave gradients, steps
        # and grad mode alone (a training helper stays out of view, as any unseen code).
        self.model.roots = {
            key
            for key in self.model.roots
            if (
                key in self.program.module_functions.values()
                or self._held_by_callers(self.program.functions[key])
            )
            and not self.static_kinds(
                self.program.functions[key].node.body, self.program.functions[key]
            )
            & _NOT_SUMMARISED
        }
        from .steps import spares_optimizers, step_sequence

        for key in self.program.module_functions.values():
            if key not in self.model.roots and (
                found := step_sequence(self, self.program.functions[key])
            ):
                self.model.steps[key] = found
            elif spares_optimizers(self, self.program.functions[key]):
                self.model.spares.add(key)
        from .repeated import run_all

        run_all(self)

    def _run_root(self, info: FunctionInfo, unknown: str, grad: str | None = None) -> None:
        rename: dict[str, str] = {}
        entry = frozenset({grad or unknown})
        paths = [State(entry, {}, frozenset({unknown}), {}, frozenset({"init"}))]
        if info.is_method:
            owner = f"{info.class_name}#self"
            rename["self"] = owner
            init_key = self.program.method(info.class_name or "", "__init__")
            if init_key is not None and init_key != info.key:
                paths = self._init_state(init_key, paths)
            if self._held_by_callers(info):
                # The object's models are in the modes its callers left them in, not
                # necessarily those its constructor gave them: as a function's parameters.
                paths = _copies(paths)
                for path in paths:
                    for name in [k for k in path.modes if k == owner or k.startswith(owner + ".")]:
                        del path.modes[name]
        self.reached.add(info.key)
        self.model.roots.add(info.key)
        defaults = self._mode_flags(info)
        self.invoke(info, _copies(paths), rename, defaults=defaults)
        if not defaults or info.key not in self.model.exits:
            return
        # A builder whose flags pick the modes it leaves (`is_eval=False`): what it leaves
        # with each flag turned the other way, for callers elsewhere that pass it.
        told = self.model.exits[info.key]
        for param, value in defaults.items():
            self.invoke(info, _copies(paths), rename, defaults={**defaults, param: not value})
            self.model.variants.setdefault(info.key, {})[(param, not value)] = self.model.exits[
                info.key
            ]
        self.model.exits[info.key] = told

    def _mode_flags(self, info: FunctionInfo) -> dict[str, bool]:
        """The flags with a literal default (`is_eval=False`) that a test whose arms set modes
        reads (`if is_eval: encoder = encoder.eval()`), in a function that neither runs nor
        trains a model (its other runs would judge that code twice)."""
        defaults = flag_defaults(info.node)
        if not defaults:
            return {}
        tests = _IfTests(with_nodes=True)
        walk(info.node.body, tests)
        read = {
            name
            for node in tests.nodes
            if ev.MODE in self.static_kinds(node.body, info) and self._sets_modes_only(node, info)
            for name in defaults
            if _word(name).search(self._condition(node.test)[0])
        }
        if not read or self.static_kinds(info.node.body, info) & (_TRAINING | {ev.FORWARD}):
            return {}
        return {name: value for name, value in defaults.items() if name in read}

    def _init_state(self, init_key: str, paths: Paths) -> Paths:
        """What a class's `__init__` leaves on `self`: the state its other methods start from.
        Remembered per entry state: a method run with unknown grad mode (a `@property`, which
        is referenced, not called) must not leave that unknown to the methods run after it."""
        key = (init_key, tuple(p.signature() for p in paths))
        if key not in self._init_states:
            info = self.program.functions[init_key]
            rename = {"self": f"{info.class_name}#self"}
            out = self.invoke(info, [p.copy() for p in paths], rename)
            self._init_states[key] = out or paths
        return [p.copy() for p in self._init_states[key]]

    def _statically_called(self) -> set[str]:
        called: set[str] = set()
        for key, info in self.program.functions.items():
            for event in self.static_events(info.node.body, info):
                if event.kind == ev.CALL and event.key and event.key != key:
                    called.add(event.key)
        for event in self.static_events(self.program.module, None):
            if event.kind == ev.CALL and event.key:
                called.add(event.key)
        return called

    # Static summaries -----------------------------------------------------------------------
    def static_events(self, node: cst.CSTNode, fn: FunctionInfo | None) -> list[ev.Event]:
        """Events of every statement under node, not following calls."""
        out: list[ev.Event] = []
        for stmt in _statements(node):
            if stmt.__class__ in _DEFINITIONS:
                continue
            for part in _event_parts(stmt):
                out.extend(self.table.of(part, fn))
            for child in _child_blocks(stmt):
                out.extend(self.static_events(child, fn))
        return out

    def static_kinds(self, node: cst.CSTNode, fn: FunctionInfo | None) -> frozenset[str]:
        """Event kinds under node, following calls into the file's own functions (and the
        training steps of other modules' functions it replays: see steps.py)."""
        cached = self._static.get(id(node))
        if cached is not None:
            return cached
        self._static[id(node)] = frozenset()  # recursion guard
        kinds: set[str] = set()
        for event in self.static_events(node, fn):
            kinds.add(event.kind)
            if event.kind == ev.CALL and event.key:
                callee = self.program.functions[event.key]
                kinds |= self.static_kinds(callee.node.body, callee)
            elif event.kind == ev.PROJECT_CALL and event.callee and event.callee.facts.trains:
                kinds.update(kind for kind, _, _ in event.callee.facts.trains)
        result = frozenset(kinds)
        self._static[id(node)] = result
        return result

    # Statements -----------------------------------------------------------------------------
    def block(self, node: cst.CSTNode, paths: Paths, frame: Frame) -> Paths:
        body = getattr(node, "body", node)
        if isinstance(body, cst.CSTNode):
            body = getattr(body, "body", [body])
        for stmt in body:
            if not paths:
                return paths
            paths = self.statement(stmt, paths, frame)
        return paths

    def statement(self, stmt: cst.CSTNode, paths: Paths, frame: Frame) -> Paths:
        if stmt.__class__ in _LINES:  # class identity: libcst's isinstance checks are slow
            for small in stmt.body:
                paths = self.small(small, paths, frame)
                if not paths:
                    return paths
            return paths
        if isinstance(stmt, cst.BaseSmallStatement):
            return self.small(stmt, paths, frame)
        if isinstance(stmt, cst.If):
            return self.if_(stmt, paths, frame)
        if isinstance(stmt, cst.For | cst.While):
            paths = self.loop(stmt, paths, frame)
            owner = frozen.frozen_by_loop(stmt) if isinstance(stmt, cst.For) else None
            if owner is not None and paths:
                # `for p in model.parameters(): p.requires_grad = False`, however many times
                # it ran: every parameter of `model` is frozen after it.
                freeze = ev.Event(ev.FREEZE, stmt, name=owner, value=ev.GRAD_OFF)
                paths = self.apply([freeze], paths, frame)
            return paths
        if isinstance(stmt, cst.With):
            return self.with_(stmt, paths, frame)
        if isinstance(stmt, cst.Try | cst.TryStar):
            return self.try_(stmt, paths, frame)
        if isinstance(stmt, cst.Match):
            out: Paths = []
            for case in stmt.cases:
                out = join(out, self.block(case.body, _copies(paths), frame))
            return join(out, paths)
        return paths  # function and class definitions run when called

    def small(self, stmt: cst.BaseSmallStatement, paths: Paths, frame: Frame) -> Paths:
        paths = self.apply(self.table.of(stmt, frame.fn), paths, frame)
        kind = stmt.__class__  # class identity: libcst's isinstance checks are slow
        if kind in _ASSIGNMENTS:
            advanced = self._advanced(stmt, paths)
            _forget_facts(paths, stmt)
            for path, facts in zip(paths, advanced, strict=True):
                path.facts.update(facts)
            flag = self._flag_set(stmt)
            if flag is not None:
                for path in paths:
                    path.facts[flag[0]] = flag[1]
        if kind is cst.Return:
            if isinstance(stmt.value, cst.Name):
                # `return ready` after `if ready:`: the caller's `if helper():` is known too.
                for path in paths:
                    known = path.facts.get(stmt.value.value)
                    if known is not None:
                        path.facts[_RETURNED] = known
            frame.returns.extend(paths)
            return []
        if kind is cst.Raise or self.table.ends(stmt, frame.fn):
            return []  # an error, `sys.exit(1)` or `assert False`: no path goes on from here
        if kind is cst.Assert:
            return self._assert(stmt.test, paths)  # type: ignore[attr-defined]
        if kind is cst.Break and frame.breaks:
            frame.breaks[-1].extend(paths)
            return []
        if kind is cst.Continue and frame.continues:
            frame.continues[-1].extend(paths)
            return []
        return paths

    def _assert(self, test: cst.BaseExpression, paths: Paths) -> Paths:
        """Past `assert condition`, the condition holds: a path that took the other way at an
        `if` of the same condition ends here, and later tests of it follow the way it holds."""
        condition, polarity = self._condition(test)
        out = []
        for path in paths:
            known = path.facts.get(condition)
            if known is None:
                path = path.copy()
                path.facts[condition] = polarity
            elif known != polarity:
                continue
            out.append(path)
        return out

    def if_(self, stmt: cst.If, paths: Paths, frame: Frame) -> Paths:
        paths = self.apply(self.table.of(stmt.test, frame.fn), paths, frame)
        condition, polarity = self._condition(stmt.test)
        taken: Paths = []
        skipped: Paths = []
        # In evaluation code, a test of constants the caller passed (`evaluate(model, loader,
        # set_eval=True)`, or the default) takes one way whatever the path's facts (they may
        # be of another call's `train`). Training code keeps both ways: a bug on the way one
        # call in view does not take is still a bug of the script's other configurations.
        # So does a test whose arms only set modes (`if is_eval: encoder = encoder.eval()` in
        # a constructor given `is_eval=True`): no bug can hide on the way not taken.
        decided = None
        if self.regions:
            decided = _decided(stmt.test, frame.constants)
        elif (frame.constants or frame.defaults) and self._sets_modes_only(stmt, frame.fn):
            decided = _decided(stmt.test, {**frame.defaults, **frame.constants})
        for path in paths:
            known = polarity == decided if decided is not None else path.facts.get(condition)
            flagged = training_flag.value(stmt.test, lambda m, p=path: p.mode(frame.translate(m)))
            if known is None and flagged is not None:
                # `if model.training:` where this path knows the model's mode.
                (taken if flagged else skipped).append(path)
                continue
            if known is None:
                yes, no = path.copy(), path.copy()
                yes.facts[condition] = polarity
                no.facts[condition] = not polarity
                taken.append(yes)
                skipped.append(no)
            elif known == polarity:
                taken.append(path)
            else:
                skipped.append(path)
        guard = _grad_none_guard(stmt.test)
        if guard is not None:
            # `if p.grad is not None: p.grad.zero_()`: where the test fails, nothing was there.
            clear = [ev.Event(ev.CLEAR, stmt.test, name=ev.ALL_OPTIMIZERS)]
            if guard:
                skipped = self.apply(clear, skipped, frame)
            else:
                taken = self.apply(clear, taken, frame)
        plain = self._module_guard(stmt.test, frame)
        if plain is not None:
            # `if isinstance(net, nn.Module): ... else: net(x)`: where the test fails, `net` is
            # no torch module (a plain function); it has no train/eval mode to be wrong.
            name, when = plain
            plain_paths = [path.copy() for path in (taken if when else skipped)]
            for path in plain_paths:
                path.set_mode(name, frozenset({"unk"}))
            taken, skipped = (plain_paths, skipped) if when else (taken, plain_paths)
        out = self.block(stmt.body, taken, frame) if taken else []
        if isinstance(stmt.orelse, cst.If):
            other = self.if_(stmt.orelse, skipped, frame) if skipped else []
        elif isinstance(stmt.orelse, cst.Else):
            other = self.block(stmt.orelse.body, skipped, frame) if skipped else []
        else:
            other = skipped
        if decided is None and out and other and self._asks_caller(condition, frame):
            _caller_chooses(out, other)
        return join(out, other)

    def _sets_modes_only(self, stmt: cst.If, fn: FunctionInfo | None) -> bool:
        """Whether the arms of an `if` do nothing but set modes and bind names."""
        kinds = self.static_kinds(stmt.body, fn)
        if stmt.orelse is not None:
            kinds |= self.static_kinds(stmt.orelse, fn)
        return kinds <= _MODES_ONLY

    def _module_guard(self, test: cst.BaseExpression, frame: Frame) -> tuple[str, bool] | None:
        """`isinstance(net, torch.nn.Module)` (or its negation): the object tested, as the
        interpreter names it, and whether the branch taken is where it is no module."""
        test, polarity = _unnegated(test)
        if not (
            isinstance(test, cst.Call)
            and dotted(test.func) == "isinstance"
            and len(test.args) == 2
            and self.program.qualify(dotted(test.args[1].value)) == "torch.nn.Module"
        ):
            return None
        name = dotted(test.args[0].value)
        return (frame.translate(name), not polarity) if name is not None else None

    def _asks_caller(self, condition: str, frame: Frame) -> bool:
        """Whether a condition reads a parameter whose value the caller gives and this call
        does not know (no constant was passed): the way taken is the caller's choice."""
        fn = frame.fn
        if fn is None:
            return False
        params = frozenset(fn.params) - frame.constants.keys() - {"self", "cls"}
        return _mentions(condition, params)

    def _flag_set(self, stmt: cst.BaseSmallStatement) -> tuple[str, bool] | None:
        """`self.is_test = False`: a flag the program itself turns on and off answers later
        tests of it on the same path (`if self.is_test: model.eval()` in a method the loop
        calls), as a test does. A flag set to one value only is configuration (`use_amp =
        False`): both ways stay open, since a bug on the other is a bug of another run."""
        flag = _literal_flag(stmt)
        if flag is None:
            return None
        if self._toggled is None:
            finder = _Toggles()
            walk(self.program.module, finder)
            self._toggled = {text for text, values in finder.values.items() if len(values) == 2}
        text = self._condition(flag[0])[0]
        return (text, flag[1]) if text in self._toggled else None

    def _condition(self, test: cst.BaseExpression) -> tuple[str, bool]:
        test, polarity = _unnegated(test)
        known = self._texts.get(id(test))
        if known is None:
            # `x is not None` is `x is None` taken the other way: one fact, not two.
            positive = _positive(test)
            shown = self.program.module.code_for_node(positive or test)
            known = self._texts[id(test)] = (shown, positive is not None)
        text, flipped = known
        return text, polarity != flipped

    def loop(self, stmt: cst.For | cst.While, paths: Paths, frame: Frame) -> Paths:
        header = stmt.iter if isinstance(stmt, cst.For) else stmt.test
        paths = self.apply(self.table.of(header, frame.fn), paths, frame)
        kinds = self.static_kinds(stmt.body, frame.fn)
        if ev.BACKWARD in kinds:
            self._training_loop(stmt, frame)
        region = None
        if (
            isinstance(stmt, cst.For)
            and not kinds & _GRAD_USERS
            and ev.FORWARD in kinds
            and _mentions_eval_data(stmt.iter)
            and not self._library_managed(frame.fn)
        ):
            region = _Region(len(self.loop_stack), True, _key(frame.fn))
        entry = _merged(paths)
        training = self.model.loops.get(id(stmt))
        if training is not None:
            for name, phase in entry.phases.items():
                if phase & {"stepped", "polluted"}:
                    training.entry_stepped.add(name)
        changing = self._retested_in(stmt)
        # What a new iteration tests afresh: conditions on names it assigns, and whether it ran
        # a backward pass yet.
        afresh = changing | {_ran_backward(stmt)}
        plan = self._windows(stmt)
        tag = f"<entry {id(stmt)}>"
        head = join(_entering(_without_facts(_tag_entry(paths, tag), afresh), plan))
        if training is not None:
            # Autograd on at the loop's entry, seen so, not only proven by its backward pass
            # (which proves nothing on a way that skips it): see shared_loops.py.
            head = _grad_seen_on(head, stmt)
        if ev.BACKWARD in kinds and self._backward_proves_grad(stmt, kinds, frame.fn):
            head = _grad_proven_on(head)
        outer_grad = None
        if region is not None and self.table.volatile(stmt):
            # Pre-0.4 evaluation: volatile inputs run the loop without autograd.
            outer_grad = frozenset().union(*(p.grad for p in head))
            head = _copies(head)
            for path in head:
                path.grad = frozenset({ev.GRAD_OFF})
        breaks: Paths = []
        at_least_once = _runs_at_least_once(kinds)
        looped: Paths = []  # the iterations' ends, as the loop's exit sees them
        self.loop_stack.append(stmt)
        self.loop_levels.append(len(self.frames) - 1)
        if region is not None:
            self.regions.append(region)
        try:
            for _ in range(MAX_LOOP_PASSES):
                frame.breaks.append([])
                frame.continues.append([])
                out = self.block(stmt.body, _copies(head), frame)
                breaks = join(breaks, frame.breaks.pop())
                back = join(out, frame.continues.pop())
                if training is not None:
                    for path in back:
                        for name, phase in path.phases.items():
                            if "stepped" in phase:
                                training.iteration_leaves_stepped.add(name)
                    self._record_unstepped_branches(training, back)
                stale = [_stale(p, entry, tag) for p in back]
                ended = _without_facts(stale, afresh)
                looped = join(looped, ended)
                new_head = join(head, _carry(stale, ended, plan))
                if same(new_head, head):
                    break
                head = new_head
        finally:
            self.loop_stack.pop()
            self.loop_levels.pop()
            if region is not None:
                self.regions.pop()
        exit_paths: Paths = looped if at_least_once else head
        if plan is not None:
            # What the window tests say of a next iteration that does not run.
            exit_paths = _without_facts(exit_paths, changing)
        if isinstance(stmt, cst.While) and _is_true(stmt.test):
            exit_paths = []
        if stmt.orelse is not None and exit_paths:
            exit_paths = self.block(stmt.orelse.body, exit_paths, frame)
        out = _untag(join(exit_paths, breaks), tag)
        if outer_grad is not None:
            out = _copies(out)
            for path in out:
                path.grad = outer_grad
        return join(out)

    def _backward_proves_grad(
        self, stmt: cst.For | cst.While, kinds: frozenset[str], fn: FunctionInfo | None
    ) -> bool:
        """A loop that runs backward proves autograd is on in it, unless the loop itself turns
        it on around the backward (`with torch.enable_grad():`, `set_grad_enabled(...)`)."""
        if ev.GRAD_SET in kinds:
            return False
        contexts = _WithItems()
        walk(stmt.body, contexts)
        return all(
            self.table.grad_context(item, fn) in (None, ev.GRAD_OFF) for item in contexts.items
        )

    def _record_unstepped_branches(self, training: TrainingLoop, back: Paths) -> None:
        """Note each optimizer that an iteration steps one way and not the other, where the way
        is chosen by a condition no loop in view changes (`if use_amp:`): the same way is taken
        every time, so in that configuration the gradients are never applied. A condition the
        loops change (`if (i + 1) % k == 0:`) is gradient accumulation, not this."""
        unstepped = [p for p in back if not _steps_any(p)]
        if not unstepped or len(unstepped) == len(back):
            return
        changing = self._changing_names()
        ran = _ran_backward(training.node)
        for path in unstepped:
            if not path.facts.get(ran):
                continue
            for name, phase in path.phases.items():
                # Its gradients computed and left, or thrown away, and the other way stepped on
                # (after a backward of the same iteration: not a step carried from before).
                if phase not in _UNUSED or name in training.branch_unstepped:
                    continue
                for other in back:
                    if other.phases.get(name) not in _USED or not other.facts.get(ran):
                        continue
                    condition = _deciding_condition(path, other, changing)
                    if condition is not None and not _steps_when(back, name, ran, condition, path):
                        training.branch_unstepped[name] = (condition, path.facts[condition])
                        break

    def _advanced(self, stmt: cst.BaseSmallStatement, paths: Paths) -> list[dict[str, bool]]:
        """For each path, what the window tests say after `stmt` when it is the `c += 1` that
        advances the innermost loop's counter (the tests of the old value no longer hold)."""
        plan = self._window_plans.get(id(self.loop_stack[-1])) if self.loop_stack else None
        counter = plan.increments.get(id(stmt)) if plan is not None else None
        if plan is None or counter is None:
            return [{} for _ in paths]
        return [plan.shifted(p.facts, frozenset({counter}), 1) for p in paths]

    def _windows(self, stmt: cst.For | cst.While) -> Windows | None:
        """The loop's accumulation window tests on counters that advance by one each
        iteration (see `windows`), keyed by the fact text its `if` statements give."""
        if id(stmt) not in self._window_plans:
            tests = _IfTests()
            walk(stmt.body, tests)
            pairs = [(self._condition(t)[0], _unnegated(t)[0]) for t in tests.tests]
            assigned = set(self._assigned_in(stmt))
            self._window_plans[id(stmt)] = windows(stmt, pairs, assigned)
        return self._window_plans[id(stmt)]

    def _in_loop_function(self) -> bool:
        """Whether the event being handled is in the innermost loop's own function (not in a
        helper it calls, nor in an inner loop that trains nothing), where branch conditions are
        spelled as that function spells them."""
        return (
            bool(self.loop_levels)
            and self.loop_levels[-1] == len(self.frames) - 1
            and id(self.loop_stack[-1]) in self.model.loops
        )

    def _ways(self, state: State) -> tuple[tuple[str, bool], ...]:
        """The ways this path took at the innermost loop's own `if` statements: plain
        conditions (see `_deciding_condition`) on names its iterations do not change. Empty
        when the event is in a helper, whose conditions the loop's code does not show."""
        if not self._in_loop_function():
            return ()
        stmt = self.loop_stack[-1]
        own = self._branches.get(id(stmt))
        if own is None:
            tests = _IfTests()
            walk(stmt.body, tests)
            own = self._branches[id(stmt)] = frozenset(self._condition(t)[0] for t in tests.tests)
        changing = self._changing_names()
        return tuple(
            (condition, value)
            for condition, value in state.facts.items()
            if condition in own
            and _PLAIN_CONDITION.fullmatch(condition)
            and not _mentions(condition, changing)
            and not _is_sync(condition)
        )

    def _changing_names(self) -> frozenset[str]:
        """Names (as the innermost loop's function spells them) that may differ from one
        iteration of the innermost loop to the next: what its function's loops change, and
        the parameters that the callers' loops may bind to something new at each call."""
        level = self.loop_levels[-1]
        frame = self.frames[level]
        stack = list(zip(self.loop_stack, self.loop_levels, strict=True))
        names = set().union(
            *(self._changed_in(loop, frame.fn) for loop, lv in stack if lv == level)
        )
        outer = frozenset().union(*(self._assigned_in(loop) for loop, lv in stack if lv < level))
        if outer and frame.fn is not None:
            for param in frame.fn.params:
                bound = frame.rename.get(param, "")
                caller_name = bound.rpartition(":")[2]
                # Bound to an expression (worked out at each call), or to a name the caller's
                # loops assign.
                unbound = bound == f"{frame.fn.key}:{param}" or not caller_name
                if unbound or _mentions(caller_name, outer):
                    names.add(param)
        return frozenset(names)

    def _changed_in(self, stmt: cst.For | cst.While, fn: FunctionInfo | None) -> frozenset[str]:
        """Names an iteration may give a new value: those the loop assigns, and those every
        function of the file it calls, directly or not, assigns or takes as a parameter (a
        helper's `if sync:` may test what the helper worked out, or was passed, this time)."""
        cached = self._changed.get(id(stmt))
        if cached is not None:
            return cached
        names = set(self._assigned_in(stmt))
        todo = [e.key for e in self.static_events(stmt.body, fn) if e.kind == ev.CALL and e.key]
        seen: set[str] = set()
        while todo:
            key = todo.pop()
            if key in seen or key not in self.program.functions:
                continue
            seen.add(key)
            info = self.program.functions[key]
            finder = _AssignedNames()
            walk(info.node.body, finder)
            names |= finder.names | set(info.params)
            events = self.static_events(info.node.body, info)
            todo.extend(e.key for e in events if e.kind == ev.CALL and e.key)
        cached = self._changed[id(stmt)] = frozenset(names)
        return cached

    def _library_managed(self, fn: FunctionInfo | None) -> bool:
        """A method of a class whose library runs its evaluation (a LightningModule, a subclass
        of an imported trainer) and sets grad and mode around it."""
        cls = self.program.classes.get(fn.class_name) if fn and fn.class_name else None
        return cls is not None and (
            cls.is_lightning or cls.is_library_trainer or self._framework_hook(fn) is not None
        )

    def _framework_hook(self, fn: FunctionInfo | None) -> kn.Effect | None:
        """What the framework that calls this method does around it (Lightning's
        `validation_step`, a callback's `on_validation_epoch_end`), from the knowledge table."""
        cls = self.program.classes.get(fn.class_name) if fn and fn.class_name else None
        if cls is None or not cls.from_lightning:
            return None
        return kn.hook("lightning", fn.name)

    def _is_model_class(self, name: str) -> bool:
        """A module class: a torch.nn.Module in view, or a class with `forward` or a
        `forward_*` variant (its base may be imported: `BaseSegmentor`, `ModelMixin`)."""
        cls = self.program.classes.get(name)
        if cls is None:
            return False
        if cls.is_module or self.program.method(name, "forward") is not None:
            return True
        return any(method.startswith("forward_") for method in cls.methods)

    def _is_model_method(self, fn: FunctionInfo | None) -> bool:
        return fn is not None and fn.class_name is not None and self._is_model_class(fn.class_name)

    def _held_by_callers(self, info: FunctionInfo) -> bool:
        """A method of a class that is not a module (an agent, a trainer holding networks) and
        whose library does not call it: its callers hold the object and set its models'
        modes (`agent.eval()`), as callers give a function its parameters. Its `__init__`
        says the modes a new object's networks start in (`self.model.eval()` there), which
        the callers that construct it apply."""
        return (
            info.class_name is not None
            and ".<locals>." not in info.key
            and not self._is_model_class(info.class_name)
            and not self._library_managed(info)
        )

    def _inside_forward(self, info: FunctionInfo) -> bool:
        """Whether a module's method is a private helper, a variant of `forward`
        (`forward_features`, `forward_jit_test`), or is called by its class's own `forward`:
        then it is part of a forward pass, run in whatever mode its caller chose."""
        if info.name.startswith(("_", "forward")):
            return True
        forward = self.program.method(info.class_name or "", "forward")
        if forward is None:
            return False
        body = self.program.functions[forward]
        return any(
            e.kind == ev.CALL and e.key == info.key
            for e in self.static_events(body.node.body, body)
        )

    def _assigned_in(self, stmt: cst.For | cst.While) -> frozenset[str]:
        cached = self._assigned.get(id(stmt))
        if cached is None:
            finder = _AssignedNames()
            walk(stmt, finder)
            cached = frozenset(finder.names)
            self._assigned[id(stmt)] = cached
        return cached

    def _retested_in(self, stmt: cst.For | cst.While) -> frozenset[str]:
        """The names a loop assigns whose conditions are tested afresh at its boundaries: all
        but counters it changes only by `c += 1` statements (a global step kept across epochs),
        whose tests each such statement carries along every path (`small`), so what a path
        knows of them stays true into the loop, from one iteration to the next, and out."""
        cached = self._retested.get(id(stmt))
        if cached is None:
            cached = self._assigned_in(stmt) - steady_counters(stmt)
            self._retested[id(stmt)] = cached
        return cached

    def with_(self, stmt: cst.With, paths: Paths, frame: Frame) -> Paths:
        grad = None
        flag = None
        for item in stmt.items:
            context = self.table.grad_context(item.item, frame.fn)
            if context is not None:
                grad = context
            else:
                paths = self.apply(self.table.of(item.item, frame.fn), paths, frame)
                flag = self.table.window_flag(item.item) or flag
        if flag is not None:
            # One micro-batch of Accelerate's window: its last one, and the others, each run
            # apart (joined paths that agree on all else would forget which one they are).
            return join(
                *(self._with_body(stmt, ways, frame, grad) for ways in _micro_batch(paths, flag))
            )
        return self._with_body(stmt, paths, frame, grad)

    def _with_body(self, stmt: cst.With, paths: Paths, frame: Frame, grad: str | None) -> Paths:
        if grad is None:
            return self.block(stmt.body, paths, frame)
        outer = frozenset().union(*(p.grad for p in paths))
        inner = _copies(paths)
        for path in inner:
            path.grad = frozenset({grad})
        # Ways out of the block other than its end (`return` inside `with torch.no_grad():`,
        # `break`, `continue`) leave the context too: the grad mode is restored on them.
        exits = [frame.returns, *frame.breaks[-1:], *frame.continues[-1:]]
        before = [len(paths_out) for paths_out in exits]
        out = self.block(stmt.body, inner, frame)
        for paths_out, start in zip(exits, before, strict=True):
            for index in range(start, len(paths_out)):
                left = paths_out[index].copy()
                left.grad = outer
                paths_out[index] = left
        for path in out:
            path.grad = outer
        return join(out)

    def try_(self, stmt: cst.Try | cst.TryStar, paths: Paths, frame: Frame) -> Paths:
        out = self.block(stmt.body, _copies(paths), frame)
        if stmt.orelse is not None and out:
            out = self.block(stmt.orelse.body, out, frame)
        failed = join(paths, out)
        for handler in stmt.handlers:
            out = join(out, self.block(handler.body, _copies(failed), frame))
        if stmt.finalbody is not None and out:
            out = self.block(stmt.finalbody.body, out, frame)
        return out

    # Events ---------------------------------------------------------------------------------
    def apply(self, events: list[ev.Event], paths: Paths, frame: Frame) -> Paths:
        if not events:
            return paths
        self.spent += len(events) * len(paths)
        if self.spent > EVENT_BUDGET:
            raise _Budget
        out: Paths = []
        for state in paths:
            current = [state]
            for event in events:
                if event.kind == ev.CALL:
                    current = join(*(self.on_call(event, p, frame) for p in current))
                    continue
                if event.kind == ev.FORWARD:
                    current = join(*(self.on_forward(event, p, frame) for p in current))
                    continue
                handler = _HANDLERS.get(event.kind)
                if handler is not None:
                    current = [handler(self, event, p, frame) for p in current]
            out.extend(current)
        return join(out)

    def _loops(self) -> list[TrainingLoop]:
        return [self.model.loops[id(n)] for n in self.loop_stack if id(n) in self.model.loops]

    def _trace_loops(
        self, kind: str, node: cst.CSTNode, root: str | None, value: str | None = None
    ) -> None:
        path: TracePath | None = None
        for index, stmt in enumerate(self.loop_stack):
            loop = self.model.loops.get(id(stmt))
            if loop is not None:
                path = path or self._path(node)
                self._trace(loop.trace, path[self.loop_levels[index] :], kind, node, root, value)

    def _path(self, node: cst.CSTNode) -> TracePath:
        """From the first frame down to `node`: each frame's call into the next (the event's
        own node in the last frame), with the frame's scope."""
        top = len(self.frames) - 1
        out: list[tuple[cst.CSTNode, Scope]] = []
        for j, frame in enumerate(self.frames):
            site = self.via[j + 1] if j < top else node
            scope = frame.scope()
            out.append((site or node, self._scopes.setdefault(scope, scope)))
        return tuple(out)

    def _trace(
        self,
        into: list[Trace],
        path: TracePath,
        kind: str,
        node: cst.CSTNode,
        root: str | None,
        value: str | None = None,
    ) -> None:
        """Record an event in a loop's (or an evaluation site's) trace, once."""
        key = (id(into), kind, id(node), root, value, *(id(x) for pair in path for x in pair))
        if key not in self._traced:
            self._traced.add(key)
            into.append(Trace(kind, node, root, path, value))

    def _training_loop(self, stmt: cst.For | cst.While, frame: Frame) -> None:
        if id(stmt) not in self.model.loops:
            self.model.loops[id(stmt)] = TrainingLoop(stmt, _key(frame.fn))

    def on_backward(self, event: ev.Event, state: State, frame: Frame) -> State:
        loops = self._loops()
        for loop in loops:
            if not loop.backward_nodes or loop.backward_nodes[-1] is not event.node:
                loop.backward_nodes.append(event.node)
        self.model.backward_sites.append(
            BackwardSite(event.node, tuple(id(n) for n in self.loop_stack))
        )
        self._trace_loops("backward", event.node, None)
        if loops and self._in_loop_function():
            ways = loops[-1].backward_ways.setdefault(id(event.node), set())
            ways.update(state.facts.items())
        state = state.copy()
        for loop in self.loop_stack:
            state.facts[_ran_backward(loop)] = True
        state.phases = {k: _map(v, _AFTER_BACKWARD) for k, v in state.phases.items()}
        state.phase_default = _map(state.phase_default, _AFTER_BACKWARD)
        return state

    def on_step(self, event: ev.Event, state: State, frame: Frame) -> State:
        if self._deferred(event, state, frame):
            return state
        written = event.name or "?"
        name = frame.translate(written)
        if is_optimizer_name(written) or written in self.program.optimizers:
            self.model.optimizers_seen.add(written)
        loops = self._loops()
        for loop in loops:
            loop.stepped.add(name)
            loop.display.setdefault(name, written)
        self._trace_loops("step", event.node, name)
        # Surely polluted on this path: a set of phases comes from merging paths (too many to
        # keep apart), and a maybe is no finding.
        if state.phase(name) == {"polluted"} and loops:
            innermost = loops[-1]
            innermost.polluted_steps.setdefault(written, event.node)
            innermost.polluted_roots.setdefault(written, name)
            ways = self._ways(state)
            known = innermost.polluted_paths.get(written, ways)
            innermost.polluted_paths[written] = tuple(w for w in known if w in ways)
        elif loops and "polluted" not in state.phase(name):
            loops[-1].clean_step_ways.setdefault(written, set()).update(self._ways(state))
        phase = state.phase(name)
        if loops and phase and phase <= _THROWN_AWAY:
            loops[-1].discarded_steps.setdefault(id(event.node), event.node)
        elif loops:
            loops[-1].kept_steps.add(id(event.node))
        if loops and "partial" in phase and _at_boundary(state):
            # A step at the end of an accumulation window on gradients a clear inside the
            # window cut short (on some path: which iteration steps is not known here).
            loops[-1].window_steps.setdefault(id(event.node), (event.node, name))
            for key, value in state.facts.items():
                if value and _is_sync(key):
                    loops[-1].synced_steps.setdefault(id(event.node), key)
        state = state.copy()
        state.phases[name] = _map(state.phase(name), _AFTER_STEP)
        return state

    def on_unknown_step(self, event: ev.Event, state: State, frame: Frame) -> State:
        for loop in self._loops():
            if event.value == ev.INSPECTED:
                loop.grads_inspected = True
            else:
                loop.unknown_step = True
        node = event.node
        if isinstance(node, cst.Attribute) and node.attr.value == "grad":
            # Gradients read after a loop that only ran backward (no step, no clear): a test
            # of the gradients it accumulated, or an update done by hand; not a training loop.
            running = {id(n) for n in self.loop_stack}
            for loop in self.model.loops.values():
                if (
                    loop.function == _key(frame.fn)
                    and id(loop.node) not in running
                    and not loop.stepped
                    and not loop.cleared
                ):
                    loop.unknown_step = True
        return state

    def on_clear(self, event: ev.Event, state: State, frame: Frame) -> State:
        if self._deferred(event, state, frame):
            return state
        before = state
        state = state.copy()
        inside = self._inside_window(state)
        if event.name == ev.ALL_OPTIMIZERS:
            state.phases = {k: _cleared(v, inside) for k, v in state.phases.items()}
            state.phase_default = _cleared(state.phase_default, inside)
            name = ev.ALL_OPTIMIZERS
        else:
            written = event.name or "?"
            name = frame.translate(written)
            state.phases[name] = _cleared(state.phase(name), inside)
            self.model.optimizers_seen.add(written)
            if ev.BY_HAND in state.phases:
                # Which parameters an optimizer holds is not known: any clear may be theirs.
                state.phases[ev.BY_HAND] = _cleared(state.phases[ev.BY_HAND], inside)
        for loop in self._loops():
            loop.cleared.add(name)
            loop.display.setdefault(name, event.name or "?")
        loops = self._loops()
        if loops and inside:
            # The clears that threw a window's gradients away, for TRN006 to name.
            roots = [*state.phases, name] if name == ev.ALL_OPTIMIZERS else [name]
            for root in roots:
                after, earlier = state.phase(root), before.phase(root)
                if root == ev.ALL_OPTIMIZERS:
                    after, earlier = state.phase_default, before.phase_default
                if "dropped" in after and "dropped" not in earlier:
                    loops[-1].window_clears.setdefault(root, {})[id(event.node)] = event.node
                    if any(not v and _is_sync(k) for k, v in state.facts.items()):
                        loops[-1].unsynced_clears.add(id(event.node))
        self._trace_loops("clear", event.node, name)
        return state

    def _deferred(self, event: ev.Event, state: State, frame: Frame) -> bool:
        """Whether this is the `step()` or `zero_grad()` of an optimizer that Accelerate
        prepared, on a path where `accelerator.sync_gradients` is false: it does nothing."""
        if not any(not value and _is_sync(key) for key, value in state.facts.items()):
            return False
        node = event.node
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return False
        receiver = dotted(node.func.value)
        if receiver is None:
            return False
        return self.table.deferred(receiver) or self.table.deferred(
            frame.translate(receiver).rpartition(":")[2]
        )

    def _inside_window(self, state: State) -> bool:
        """Whether a clear on this path throws away gradients that an accumulation window
        carries from one iteration to the next: not at a window's boundary, and either before
        this iteration's first backward pass (what the earlier iterations left) or on the way
        that skipped the step (what this iteration leaves for the next). A clear after a
        backward pass of the same iteration, with no accumulation in sight, only throws away
        that pass (a second backward follows, or another optimizer's loss)."""
        if not self.loop_stack or _at_boundary(state, modular_only=True):
            return False
        ran = state.facts.get(_ran_backward(self.loop_stack[-1]))
        if ran and any(value and _is_sync(key) for key, value in state.facts.items()):
            return False  # the window's last micro-batch, after its backward pass
        return not ran or any(
            (_BOUNDARY_FALSE if value else _BOUNDARY_TRUE).search(condition)
            or (not value and _is_sync(condition))
            for condition, value in state.facts.items()
        )

    def on_mode(self, event: ev.Event, state: State, frame: Frame) -> State:
        value = event.value or "unk"
        if value.startswith("restore:"):
            saved = state.saved.get(frame.translate(value.partition(":")[2]))
            modes = saved if saved is not None else frozenset({"unk"})
        elif value == "eval" and self.regions:
            # Set by evaluation code: left behind for whatever runs next, training included.
            modes = frozenset({EVALUATED})
        else:
            modes = frozenset({value})
        before_forward = bool(self.regions) and not self.regions[-1].forwarded
        if value == "train" and (before_forward or state.grad == {ev.GRAD_OFF}):
            # `model.train()` under no_grad, or at the start of evaluation code, is deliberate:
            # batch-norm recalibration re-estimates statistics in train mode; no evaluation.
            modes = frozenset({"recalibrate"})
        state = state.copy()
        root = frame.translate(event.name or "?")
        state.set_mode(root, modes)
        self._trace_loops("mode", event.node, root, value)
        self._mode_nodes[root] = event.node
        for other in self._twins(frame, event.name or "?"):
            # `self.net.eval()` after `self.net = net`: the caller's `net` too (see twins.py).
            state.set_mode(frame.translate(other), modes)
            self._mode_nodes.setdefault(frame.translate(other), event.node)
        return state

    def _twins(self, frame: Frame, name: str) -> list[str]:
        fn = frame.fn
        if fn is None:
            return []
        pairs = self._pairs.get(fn.key)
        if pairs is None:
            pairs = self._pairs[fn.key] = twins(fn.node.body, fn.params)
        return other_names(pairs, name) if pairs else []

    def on_save_mode(self, event: ev.Event, state: State, frame: Frame) -> State:
        state = state.copy()
        model = frame.translate(event.name or "?")
        state.saved[frame.translate(event.value or "?")] = state.mode(model)
        return state

    def on_grad_set(self, event: ev.Event, state: State, frame: Frame) -> State:
        state = state.copy()
        state.grad = frozenset({event.value or "unk"})
        return state

    def on_assign(self, event: ev.Event, state: State, frame: Frame) -> State:
        written = event.name or "?"
        name = frame.translate(written)
        prefix = name + "."
        if not (
            name in state.modes
            or name in state.phases
            or written in self.program.models
            or any(k.startswith(prefix) for k in state.modes)
        ):
            return state  # not an object whose mode or gradients we follow
        state = state.copy()
        state.set_mode(name, frozenset({event.value or "default"}))
        if name in state.phases:
            state.phases[name] = frozenset({"init"})
        return state

    def on_copy(self, event: ev.Event, state: State, frame: Frame) -> State:
        """`name = source`: the object `name` now holds is the one `source` holds, in its
        modes (its parts' too); what either name does to it afterwards is not followed."""
        name = frame.translate(event.name or "?")
        source = frame.translate(event.value or "?")
        prefix = source + "."
        parts = {k[len(source) :]: v for k, v in state.modes.items() if k.startswith(prefix)}
        owners = {source.rsplit(".", n)[0] for n in range(source.count(".") + 1)}
        if not parts and not owners & state.modes.keys() and not _holds_modes(state, name):
            return state  # neither name has a mode this path follows (`self.lr = lr`)
        state = state.copy()
        state.set_mode(name, state.mode(source))
        for rest, modes in parts.items():
            state.modes[name + rest] = modes
        return state

    def on_freeze(self, event: ev.Event, state: State, frame: Frame) -> State:
        state = state.copy()
        root = frame.translate(event.name or "?")
        if event.value == ev.GRAD_OFF:
            state.facts[frozen.fact(root)] = True
        else:
            frozen.unfreeze(state.facts, root)
        return state

    def on_scheduler_step(self, event: ev.Event, state: State, frame: Frame) -> State:
        # Only its place among the loops' events matters (TRN010): it changes no state.
        self._trace_loops("scheduler_step", event.node, frame.translate(event.name or "?"))
        return state

    def on_inplace(self, event: ev.Event, state: State, frame: Frame) -> State:
        # Recorded for TRN011 when the target is evidently a parameter here: everywhere, or
        # as the target of an enclosing loop over `.parameters()` / `.modules()`.
        where = event.role or ""
        if where != "param" and not self._loop_over(where, frame):
            return state
        change = self.model.inplace_changes.get(id(event.node))
        if change is None:
            change = InplaceChange(
                event.node, event.name or "?", event.value or "?", _key(frame.fn)
            )
            self.model.inplace_changes[id(event.node)] = change
        change.grads.add(state.grad)
        return state

    def _loop_over(self, where: str, frame: Frame) -> bool:
        """Whether an enclosing loop of this function binds `name` of "params:name" to the
        items of `x.parameters()` (or `x.named_parameters()`), or of "modules:name" to those
        of `x.modules()` / `x.children()` (or their named forms)."""
        kind, _, name = where.partition(":")
        methods = _ITERATORS.get(kind)
        if methods is None:
            return False
        level = len(self.frames) - 1
        for loop, loop_level in zip(self.loop_stack, self.loop_levels, strict=True):
            if loop_level != level or not isinstance(loop, cst.For):
                continue
            call = loop.iter
            if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
                continue
            method = call.func.attr.value
            if method not in methods:
                continue
            target = loop.target
            if method.startswith("named_") and isinstance(target, cst.Tuple):
                target = target.elements[-1].value
            if isinstance(target, cst.Name) and target.value == name:
                return True
        return False

    def on_bare_method(self, event: ev.Event, state: State, frame: Frame) -> State:
        # Recorded for TRN008; the state is untouched: the method was never called.
        if id(event.node) not in self.model.bare_methods and isinstance(event.node, cst.Expr):
            self.model.bare_methods[id(event.node)] = BareMethod(
                event.node, event.name or "?", event.value or "?", event.role or "?"
            )
        return state

    def on_opaque(self, event: ev.Event, state: State, frame: Frame) -> State:
        state = state.copy()
        unknown = frozenset({"unk"})
        for written in event.names:
            name = frame.translate(written)
            if written in self.program.optimizers or is_optimizer_name(written):
                state.phases[name] = unknown
                for loop in self._loops():
                    loop.opaque = True
            else:
                state.set_mode(name, unknown)
        return state

    def on_forward(self, event: ev.Event, state: State, frame: Frame) -> Paths:
        written = event.name or "?"
        root = frame.translate(written)
        if self.program.is_factory(root):
            return [state]  # `module(...)` where `module` is `partial(KnnModule, ...)`: it builds
        if not self.program.is_model_candidate(root):
            # A Keras, Flax or scikit-learn model, or a plain function (`net` given `linreg`
            # or a lambda): no torch model runs here. The file's own function runs its code.
            key = self.program.function_key(root)
            if key is None or not isinstance(event.node, cst.Call):
                return [state]
            params = self.program.functions[key].params
            bindings = ev.bind_raw(params, ev.raw_arguments(event.node))
            call = ev.Event(ev.CALL, event.node, key=key, bindings=bindings)
            return self.on_call(call, state, frame)
        if self.regions and self._smoke_check(frame, written, root):
            return [state]  # a model built here and never trained or loaded: no evaluation
        return [self._forward(event, state, written, root)]

    def _smoke_check(self, frame: Frame, written: str, root: str) -> bool:
        """Whether `written` is a model that the running function builds itself and neither
        trains, loads nor hands on (see untouched.py): running it checks shapes."""
        fn = frame.fn
        head = written.partition(".")[0]
        if fn is None or head in frame.rename or root != f"{fn.key}:{written}":
            return False
        models = self._untouched.get(fn.key)
        if models is None:
            trains = self.static_kinds(fn.node.body, fn) & _TRAINING
            models = frozenset() if trains else untouched_models(self.program, fn, self._harmless)
            self._untouched[fn.key] = models
        return head in models

    def _harmless(self, key: str) -> bool:
        """Whether the file's function `key` trains nothing, as far as its calls are in view."""
        info = self.program.functions[key]
        return not self.static_kinds(info.node.body, info) & _TRAINING

    def _forward(self, event: ev.Event, state: State, written: str, root: str) -> State:
        modes = state.mode(root)
        if NONE in modes:
            # Where the name still holds `None`, no model runs (the call would fail): the
            # code is not meant to run on that path.
            modes -= {NONE}
            if not modes:
                return state
        if self.regions:
            region = self.regions[-1]
            region.forwarded = True
            if len(self.loop_stack) > region.loop_depth:
                where: cst.CSTNode = self.loop_stack[region.loop_depth]
                is_loop, level = True, self.loop_levels[region.loop_depth]
            elif region.needs_loop:
                return state
            else:
                where, is_loop, level = event.node, False, region.level
            site = self.model.eval_sites.get(id(where))
            if site is None:
                site = EvalSite(where, is_loop, region.function)
                self.model.eval_sites[id(where)] = site
            # `model.generate(...)` runs its forward passes under a no_grad of its own; a
            # frozen model records no graph (see frozen.py).
            quiet = event.value == ev.GRAD_OFF or frozen.is_frozen(state.facts, root)
            grads = frozenset({ev.GRAD_OFF}) if quiet else state.grad
            site.grads.add(self._entry_said(grads, region))
            said = _ACTING if region.acting else self._entry_said(modes, region, root)
            site.modes.setdefault(written, set()).add(said)
            site.model_roots.setdefault(written, root)
            if event.node not in site.forwards:
                site.forwards.append(event.node)
            first = self.frames[0].fn if self.frames else None
            if first is not None:
                self.model.root_sites.setdefault(first.key, set()).add(id(where))
            self._trace(site.trace, self._path(event.node)[level:], "forward", event.node, root)
        inside = bool(self.regions) and self.regions[-1].loop_depth >= len(self.loop_stack)
        if (
            self.loop_stack
            and not inside  # evaluation code entered in the loop (`predict(model, x)`) trains not
            and "off" not in state.grad
            and event.value != ev.GRAD_OFF
        ):
            innermost = self.model.loops.get(id(self.loop_stack[-1]))
            if innermost is not None:
                innermost.train_modes.setdefault(written, set()).add(modes)
                if (
                    modes == {"eval"}
                    and state.grad == {ev.GRAD_ON}
                    and state.facts.get(_seen_on(self.loop_stack[-1]))
                    and self._in_loop_function()
                ):
                    _, _, ways = innermost.eval_forwards.setdefault(
                        id(event.node), (event.node, written, set())
                    )
                    ways.add(frozenset(state.facts.items()))
                innermost.model_roots.setdefault(written, root)
                path = self._path(event.node)[self.loop_levels[-1] :]
                self._trace(innermost.trace, path, "forward", event.node, root)
        return state

    def _entry_said(
        self, values: frozenset[str], region: _Region | None, model: str | None = None
    ) -> frozenset[str]:
        """Values seen in evaluation code, with "init" (set by callers not in view) said as
        "elsewhere" where the function run is one that other project files call, or one that
        only its callers can tell is evaluation: they judge it, each with its own state (see
        on_project_call)."""
        root = self.frames[0].fn if self.frames else None
        if "init" not in values or root is None:
            return values
        if root.key != root.name and not self._held_by_callers(root):
            return values  # not a function (or method) run with its callers out of view
        if region is not None and region.for_callers:
            return (values - {"init"}) | {ELSEWHERE}
        self.model.asks.add(root.key)
        view = self.program.view
        if view is not None and root.key in view.called_elsewhere:
            return (values - {"init"}) | {ELSEWHERE}
        if (
            view is not None
            and model is not None
            and root.key in view.fixed_here
            and model.startswith(f"{root.class_name}#self.")
        ):
            # Callers elsewhere hold the object but its class gives them no way to set this
            # network's mode, and none of its methods sets eval: it is in training mode here.
            return (values - {"init"}) | {"train"}
        return values

    def on_call(self, event: ev.Event, state: State, frame: Frame) -> Paths:
        key = event.key
        if key is None and event.name is not None:
            return self._passed_in(event, state, frame)
        if key is None or key not in self.program.functions:
            return [state]
        if key in self.call_stack or len(self.call_stack) >= MAX_CALL_DEPTH:
            return [_havoc(state)]
        info = self.program.functions[key]
        rename: dict[str, str] = {}
        for param, arg in event.bindings:
            rename[param] = frame.translate(arg) if arg else f"{key}:{param}"
            if arg and self.program.is_function(rename[param]):
                self.model.given_functions.add(f"{key}:{param}")
        if ".<locals>." in key:
            # A closure reads its enclosing function's names.
            for name, target in frame.rename.items():
                rename.setdefault(name, target)
            if frame.fn is not None:
                for local in frame.fn.local_names | set(frame.fn.params):
                    rename.setdefault(local, frame.translate(local))
        memo = (key, id(event.node), tuple(rename.items()), state.signature())
        memo += (tuple(state.facts.items()), self._context())
        known = self._calls.get(memo)
        if known is not None:
            return _copies(known)
        self.reached.add(key)
        feeds = bool(self.loop_stack) and self._feeds_backward(event.node, self.loop_stack[-1])
        out = self.invoke(
            info,
            [state],
            rename,
            evaluation=not feeds,
            via=event.node,
            constants=dict(event.constants),
        )
        out = out or [state.copy()]
        for path in out:
            returned = path.facts.pop(_RETURNED, None)
            if returned is not None:
                path.facts[self._condition(event.node)[0]] = returned
        self._calls[memo] = _copies(out)
        return out

    def _passed_in(self, event: ev.Event, state: State, frame: Frame) -> Paths:
        """`evaluate_fn(model)` where `evaluate_fn` is a parameter: the function the caller
        passed, when it is one of the file's own or a project function in view; else the
        arguments are handed to code not in view."""
        value = frame.translate(event.name or "?")
        key = self.program.module_functions.get(value)
        if key is not None:
            params = self.program.functions[key].params
            bindings = ev.bind_raw(params, event.bindings)
            return self.on_call(
                ev.Event(ev.CALL, event.node, key=key, bindings=bindings), state, frame
            )
        callee = self.table.callee(value) if ":" not in value else None
        if callee is not None:
            bindings = ev.bind_raw(callee.facts.params, event.bindings)
            call = ev.Event(ev.PROJECT_CALL, event.node, bindings=bindings, callee=callee)
            return [self.on_project_call(call, state, frame)]
        return [self.on_opaque(event, state, frame)] if event.names else [state]

    def on_project_call(self, event: ev.Event, state: State, frame: Frame) -> State:
        """A function of another project module, as its summary says it runs: it evaluates the
        models it is given in this caller's grad and modes (where it does not set them itself),
        and leaves them in the modes it leaves them in. Optimizers handed on are out of view."""
        callee = event.callee
        if callee is None:
            return state
        node = event.node
        written = {param: text for param, text in event.bindings if text}
        scope = frame.fn.node if frame.fn is not None else self.program.module
        # What this caller trains on is no evaluation (features for a probe's loss), nor is a
        # policy's single forward that the caller acts on (an action for `env.step`), unless
        # the function is named as evaluation.
        evaluations = () if self._feeds_backward(node, scope) else callee.facts.evaluations
        acting = not is_eval_function_name(callee.name.rpartition(".")[2]) and self._feeds_backward(
            node, scope, acting=True
        )
        for item in evaluations:
            if item.param not in written:
                continue
            name = written[item.param] + item.attr
            root = frame.translate(written[item.param]) + item.attr
            if not self.program.is_model_candidate(root):
                continue
            held = state.mode(root)
            if held == {NONE}:
                continue  # no model there on this path: `None` cannot run (see absent.py)
            held -= {NONE}
            site = self.model.eval_sites.get(id(node))
            if site is None:
                site = EvalSite(node, item.loop, f"{callee.where}:{callee.name}")
                self.model.eval_sites[id(node)] = site
            self.model.elsewhere.setdefault(id(node), (callee.name, callee.at(item.line)))
            switch = _switch(callee.switches, item.attr) if item.param == "self" else None
            if switch is not None:
                self.model.switches.setdefault(name, (item.attr, switch))
            # What this function's own callers give it, where they are elsewhere, is theirs
            # to judge (a model handed on through two modules): as for its own forwards.
            grads = _from_entry(item.grads, state.grad)
            if frozen.is_frozen(state.facts, root):
                grads = frozenset({ev.GRAD_OFF})  # the caller froze it: no graph is recorded
            site.grads.add(self._entry_said(grads, None))
            modes = self._entry_said(_from_entry(item.modes, held), None, root)
            site.modes.setdefault(name, set()).add(_ACTING if acting and not item.loop else modes)
            site.model_roots.setdefault(name, root)
            if node not in site.forwards:
                site.forwards.append(node)
            path = self._path(node)[len(self.frames) - 1 :]
            self._trace(site.trace, path, "forward", node, root)
        replayed = self._replay_steps(event, state, frame, written)
        if replayed is not None:
            state = replayed
        elif event.names and not callee.facts.spares_optimizers:
            state = self.on_opaque(event, state, frame)
        leaves = callee.facts.leaves_for(written)
        if not leaves:
            return state
        state = state.copy()
        for left in leaves:
            if left.param not in written:
                continue
            root = frame.translate(written[left.param]) + left.attr
            modes = _from_entry(left.modes, state.mode(root))
            if NONE in modes and written[left.param] + left.attr in self.table.absent()[1]:
                continue  # this file binds it too, in a way not followed (see absent.py)
            state.set_mode(root, modes)
            if modes == {NONE}:
                continue  # set to `None`: no mode change of a model
            value = next(iter(modes)) if len(modes) == 1 else "unk"
            self._trace_loops("mode", node, root, value)
            if modes & {"eval", EVALUATED}:
                place = (callee.name, callee.at(left.line))
                self.model.left_elsewhere.setdefault(root, place)
        return state

    def _replay_steps(
        self, event: ev.Event, state: State, frame: Frame, written: dict[str, str]
    ) -> State | None:
        """A straight-line training step of another module (see steps.py), replayed at the
        call on the optimizers the caller gives it; None when it is no such step, or an
        optimizer it steps is not one the call names."""
        callee = event.callee
        if callee is None or not callee.facts.trains:
            return None
        if any(
            param and param != "*" and param not in written for _, param, _ in callee.facts.trains
        ):
            return None
        node = event.node
        for kind, param, line in callee.facts.trains:
            name = ev.ALL_OPTIMIZERS if param == "*" else (written[param] if param else None)
            replay = ev.Event(kind, node, name=name)
            if kind == ev.BACKWARD:
                state = self.on_backward(replay, state, frame)
            elif kind == ev.STEP:
                self.model.stepped_elsewhere.setdefault(id(node), (callee.name, callee.at(line)))
                state = self.on_step(replay, state, frame)
            else:
                state = self.on_clear(replay, state, frame)
        return state

    def _context(self) -> tuple[object, ...]:
        """Where a call runs, besides its state and arguments: the frames above it and the calls
        that entered them, and the loops and evaluation regions open around it. A call replayed
        in the same place from the same state does nothing new (every record is a set or
        deduplicated), so its paths out are remembered: loops in constructors that build
        layers of layers would otherwise replay their callees once per pass per level."""
        return (
            tuple(f.scope() for f in self.frames),
            tuple(map(id, self.via)),
            tuple(map(id, self.loop_stack)),
            tuple(self.loop_levels),
            tuple(
                (r.loop_depth, r.is_loop, r.function, r.needs_loop, r.level) for r in self.regions
            ),
        )

    def _feeds_backward(self, call: cst.CSTNode, loop: cst.CSTNode, acting: bool = False) -> bool:
        """Whether a call's result flows into a backward pass in the same loop (or function)
        (`values, logp = policy.evaluate_actions(obs)` in a PPO update is training); with
        `acting`, into an environment's step (`action = agent.act(state)` then
        `env.step(action)`: a policy acting in a rollout, in the mode its training chose)."""
        key = (id(call), id(loop), acting)
        cached = self._feeds.get(key)
        if cached is None:
            flow = _Dataflow(call, acting)
            walk(loop.body if isinstance(loop, (cst.For, cst.While)) else loop, flow)
            cached = flow.feeds_backward()
            self._feeds[key] = cached
        return cached

    def invoke(
        self,
        info: FunctionInfo,
        paths: Paths,
        rename: dict[str, str],
        evaluation: bool = True,
        via: cst.CSTNode | None = None,
        constants: dict[str, object] | None = None,
        defaults: dict[str, object] | None = None,
    ) -> Paths:
        frame = Frame(info, rename, constants=constants or {}, defaults=defaults or {})
        entry = _copies(paths)
        decorated = None
        for decorator in info.node.decorators:
            decorated = self.table.grad_context(decorator.decorator, info) or decorated
        outer = frozenset().union(*(p.grad for p in paths))
        hook = self._framework_hook(info) if not self.call_stack else None
        if hook is not None and hook.grad_mode in (ev.GRAD_OFF, ev.GRAD_ON):
            decorated = hook.grad_mode
        if hook is not None and hook.model_mode == "eval":
            for path in entry:
                path.modes = dict.fromkeys(path.modes, frozenset({"eval"}))
                path.mode_default = frozenset({"eval"})
        if decorated is not None:
            for path in entry:
                path.grad = frozenset({decorated})
        region = None
        for_callers = False
        if evaluation and not self._is_eval_function(info, via):
            for_callers = via is None and not self.frames and self._by_outputs_alone(info)
        if for_callers or (evaluation and self._is_eval_function(info, via)):
            if decorated is None and self.table.volatile(info.node.body):
                decorated = ev.GRAD_OFF  # pre-0.4 evaluation: volatile inputs, no autograd
                for path in entry:
                    path.grad = frozenset({decorated})
            region = _Region(
                len(self.loop_stack),
                False,
                info.key,
                # `test(model, features, adj)` of a graph net evaluates without a data loop:
                # its forward's result only becomes accuracy and loss figures.
                needs_loop=tokens(info.name)[0] == "test"
                and not self._only_outputs(info, named=True),
                level=len(self.frames),
                for_callers=for_callers,
                acting=self._acted_on(info, via),
            )
            self.regions.append(region)
        self.call_stack.append(info.key)
        self.frames.append(frame)
        self.via.append(via)
        try:
            out = self.block(info.node.body, entry, frame)
        finally:
            self.call_stack.pop()
            self.frames.pop()
            self.via.pop()
            if region is not None:
                self.regions.pop()
        out = join(out, frame.returns)
        local = info.key + ":"
        if not self.frames and info.key == info.name:
            # A top-level function run with its callers out of view: the modes it leaves its
            # parameters in, for callers in other modules (see summary.py).
            # What it returns is named by its result slots (see results.py).
            slot = local + results.RESULT
            slots = {k[len(local) :] for p in out for k in p.modes if k.startswith(slot)}
            self.model.exits[info.key] = {
                param: (
                    frozenset().union(*(p.mode(local + param) for p in out)),
                    self._mode_nodes.get(local + param),
                )
                for param in [*info.params, *sorted(slots)]
            }
        elif not self.frames and info.is_method and self._held_by_callers(info):
            # The same for the models a method sets on its object (`self.net.eval()`): named
            # `self.net`, as the callers' `agent.net`.
            owner = rename.get("self", "")
            changed = {k for p in out for k in p.modes if k.startswith(owner + ".")}
            self.model.exits[info.key] = {
                "self" + name[len(owner) :]: (
                    frozenset().union(*(p.mode(name) for p in out)),
                    self._mode_nodes.get(name),
                )
                for name in sorted(changed)
            }
            # And the models its callers give it (`Predictor(net)` whose `__init__` calls
            # `self.net.eval()` after `self.net = net` leaves the caller's `net` in eval).
            for param in info.params[1:]:
                modes = frozenset().union(*(p.mode(local + param) for p in out))
                self.model.exits[info.key][param] = (modes, self._mode_nodes.get(local + param))
        for path in out:
            _forget_locals(path, local)
            if decorated is not None:
                path.grad = outer
        return join(out)

    def _is_eval_function(self, info: FunctionInfo, via: cst.CSTNode | None = None) -> bool:
        if not is_eval_function_name(info.name) and not self._evaluates_by_outputs(info, via):
            return False
        if info.class_name is not None:
            if self._library_managed(info):
                return False
            if self._is_model_class(info.class_name):
                if self._inside_forward(info):
                    return False  # `_forward_inference`: a part of the module's forward pass
                if all(self._is_model_method(frame.fn) for frame in self.frames):
                    # `simple_test` -> `inference` -> `slide_inference` with no caller in view:
                    # the model's own inference API; whoever calls it sets grad and mode.
                    return False
        kinds = self.static_kinds(info.node.body, info)
        return ev.FORWARD in kinds and not kinds & _GRAD_USERS

    def _by_outputs_alone(self, info: FunctionInfo) -> bool:
        """A top-level function given models whose forward results only become metrics and
        outputs: evaluation if its callers say so (they train on nothing it returns)."""
        return info.key == info.name and bool(info.params) and self._only_outputs(info, False)

    def _evaluates_by_outputs(self, info: FunctionInfo, via: cst.CSTNode | None) -> bool:
        """Evaluation whatever its name (`collect_scores`, `stylize`): a function called in view
        whose forward results only become metrics and outputs, and whose caller trains on
        nothing it returns (features extracted for a probe's loss are no evaluation)."""
        if via is None or (info.class_name is not None and self._is_model_class(info.class_name)):
            return False
        if not self._only_outputs(info, named=False):
            return False
        caller = self.frames[-1].fn if self.frames else None
        scope = caller.node if caller is not None else self.program.module
        return not self._feeds_backward(via, scope)

    def _acted_on(self, info: FunctionInfo, via: cst.CSTNode | None) -> bool:
        """Whether the caller acts on what a function not named as evaluation returns
        (`action = choose(obs)` then `env.step(action)`): a policy in a rollout, which runs
        in the mode its training chose (exploration may rely on training mode)."""
        if via is None or is_eval_function_name(info.name):
            return False
        caller = self.frames[-1].fn if self.frames else None
        scope = caller.node if caller is not None else self.program.module
        return self._feeds_backward(via, scope, acting=True)

    def _only_outputs(self, info: FunctionInfo, named: bool) -> bool:
        key = (id(info.node), named)
        cached = self._outputs.get(key)
        if cached is None:
            kinds = self.static_kinds(info.node.body, info)
            forwards = [
                e.node for e in self.static_events(info.node.body, info) if e.kind == ev.FORWARD
            ]
            cached = (
                not kinds & _GRAD_USERS
                and ev.FORWARD in kinds
                and only_outputs(info.node.body, forwards, self.program, named)
            )
            self._outputs[key] = cached
        return cached


_HANDLERS = {
    ev.PROJECT_CALL: Interpreter.on_project_call,
    ev.BACKWARD: Interpreter.on_backward,
    ev.STEP: Interpreter.on_step,
    ev.UNKNOWN_STEP: Interpreter.on_unknown_step,
    ev.CLEAR: Interpreter.on_clear,
    ev.MODE: Interpreter.on_mode,
    ev.SAVE_MODE: Interpreter.on_save_mode,
    ev.GRAD_SET: Interpreter.on_grad_set,
    ev.ASSIGN: Interpreter.on_assign,
    ev.OPAQUE: Interpreter.on_opaque,
    ev.BARE_METHOD: Interpreter.on_bare_method,
    ev.SCHEDULER_STEP: Interpreter.on_scheduler_step,
    ev.INPLACE: Interpreter.on_inplace,
    ev.FREEZE: Interpreter.on_freeze,
    ev.COPY: Interpreter.on_copy,
    ev.CALL: Interpreter.on_call,
}


# What an in-place change's target must be the loop variable of ("params:p", "modules:m").
_ITERATORS = {
    "params": ("parameters", "named_parameters"),
    "modules": ("modules", "children", "named_modules", "named_children"),
}


def _holds_modes(state: State, name: str) -> bool:
    """Whether the path follows the mode of `name` or of a part of it."""
    prefix = name + "."
    return name in state.modes or any(k.startswith(prefix) for k in state.modes)


def _map(values: frozenset[str], table: dict[str, str]) -> frozenset[str]:
    return frozenset(table.get(v, v) for v in values)


def _cleared(values: frozenset[str], inside: bool = False) -> frozenset[str]:
    """After a clear; `inside`: not at an accumulation window's boundary (see `_DROPPED`)."""
    table = _DROPPED if inside else _AFTER_CLEAR
    return frozenset(table.get(v, "clean") for v in values)


def _at_boundary(state: State, modular_only: bool = False) -> bool:
    """Whether this path is at an accumulation window's boundary: inside `if (i + 1) % k ==
    0:`, or past `if (i + 1) % k != 0: continue`; or (unless `modular_only`) in the last
    micro-batch of Accelerate's window, where `accelerator.sync_gradients` is true."""
    return any(
        (_BOUNDARY_TRUE if value else _BOUNDARY_FALSE).search(condition)
        or (value and not modular_only and _is_sync(condition))
        for condition, value in state.facts.items()
    )


# The mode evaluation code leaves a model in when it calls `model.eval()` (an evaluation
# function, a validation loop): eval mode that training run after it did not choose.
EVALUATED = "evaluated"


def _is_sync(condition: str) -> bool:
    """`accelerator.sync_gradients`: true in an accumulation window's last micro-batch."""
    return condition.rpartition(".")[2] == ev.SYNC_FLAG


def _micro_batch(paths: Paths, flag: str) -> tuple[Paths, Paths]:
    """Paths into one micro-batch of Accelerate's accumulation window: the last one (`flag`
    true), and the others, whatever an earlier micro-batch said."""
    ways: tuple[Paths, Paths] = ([], [])
    for path in paths:
        for value, into in zip((True, False), ways, strict=True):
            way = path.copy()
            way.facts[flag] = value
            into.append(way)
    return ways


# Said of evaluation code where a function's callers are in other project files: it is judged
# there, with their state (see Interpreter._entry_said).
ELSEWHERE = "elsewhere"
# The mode said of a policy's forward in a rollout: whatever it is, TRN004 has nothing to say.
_ACTING = frozenset({"acting"})
ENTRY = frozenset({"init", ELSEWHERE})


def _switch(switches: tuple[tuple[str, str], ...], attr: str) -> str | None:
    """The method of a held object's class that puts its network `attr` in eval mode: one
    named `eval` first, else the only other switch that reaches it."""
    found = sorted(
        {method for on, method in switches if attr == on or attr.startswith(on + ".")},
        key=lambda method: method != "eval",
    )
    return found[0] if found and (found[0] == "eval" or len(found) == 1) else None


def _from_entry(values: frozenset[str], entry: frozenset[str]) -> frozenset[str]:
    """Values a called function's summary gives, with the state it came in with (`init`)
    replaced by the caller's."""
    if not values & ENTRY:
        return values
    return (values - ENTRY) | entry


def _forget_locals(state: State, prefix: str) -> None:
    """Drop what a returning call knew of its own local names (`prefix` is `fn.key + ":"`): no
    one can read them again, and a caller's paths that differ only there are one path."""
    for table in (state.modes, state.phases, state.saved):
        for name in [k for k in table if k.startswith(prefix)]:
            del table[name]


def _havoc(state: State) -> State:
    """After code we could not follow: anything may have happened."""
    unknown = frozenset({"unk"})
    out = state.copy()
    out.grad = unknown
    out.modes = dict.fromkeys(out.modes, unknown)
    out.mode_default = unknown
    out.phases = dict.fromkeys(out.phases, unknown)
    out.phase_default = unknown
    return out


def _tag_entry(paths: Paths, tag: str) -> Paths:
    """Paths into a loop that entered it in different modes (`if freeze: model.eval() else:
    model.train()` before it) each remember which models were in eval mode then, so that the
    mode an iteration leaves is judged against its own way's entry (see `_stale`), and the
    ways are not joined into one where the loop makes their modes alike."""
    evals = [_eval_at(p) for p in paths]
    if len(set(evals)) < 2:
        return paths
    out = []
    for path, names in zip(paths, evals, strict=True):
        path = path.copy()
        path.saved[tag] = names
        path.saved[tag + "~"] = frozenset([*path.modes, ""])
        out.append(path)
    return out


def _eval_at(path: State) -> frozenset[str]:
    """The models in eval mode on a path ("" for the default mode)."""
    names = [n for n, modes in path.modes.items() if "eval" in modes]
    return frozenset(names + ([""] if "eval" in path.mode_default else []))


def _untag(paths: Paths, tag: str) -> Paths:
    if not any(tag in p.saved for p in paths):
        return paths
    out = []
    for path in paths:
        path = path.copy()
        path.saved.pop(tag, None)
        path.saved.pop(tag + "~", None)
        out.append(path)
    return join(out)


def _stale(back: State, entry: State, tag: str = "") -> State:
    """Mark eval modes that an iteration left behind (and that were not there on entry: on the
    path's own way in, when `_tag_entry` told the ways apart)."""
    out = back.copy()
    evals, known = back.saved.get(tag), back.saved.get(tag + "~", frozenset())
    for name in [*list(out.modes), ""]:
        current = out.mode(name) if name else out.mode_default
        if evals is not None and name in known:
            was_eval = name in evals
        else:
            was_eval = "eval" in (entry.mode(name) if name else entry.mode_default)
        if "eval" in current and not was_eval:
            marked = (current - {"eval"}) | {"eval~"}
            if name:
                out.modes[name] = marked
            else:
                out.mode_default = marked
    return out


_COMPARE: dict[type[cst.BaseCompOp], Callable[[object, object], bool]] = {
    cst.Equal: lambda a, b: a == b,
    cst.NotEqual: lambda a, b: a != b,
    cst.Is: lambda a, b: type(a) is type(b) and a == b,
    cst.IsNot: lambda a, b: not (type(a) is type(b) and a == b),
    cst.In: lambda a, b: a in b,  # type: ignore[operator]
    cst.NotIn: lambda a, b: a not in b,  # type: ignore[operator]
}


def _decided(test: cst.BaseExpression, constants: dict[str, object]) -> bool | None:
    """Whether `test` holds, when it reads only parameters that hold constants in this call
    and literals (`train`, `mode == "eval"`, `split in ("val", "test")`); None when unknown."""
    if not constants:
        return None
    if isinstance(test, cst.Name) and test.value in constants:
        return bool(constants[test.value])
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _decided(test.expression, constants)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left = _decided(test.left, constants)
        right = _decided(test.right, constants)
        short = isinstance(test.operator, cst.Or)  # the value that decides an `or` alone
        if left is short or right is short:
            return short
        return None if left is None or right is None else not short
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        compare = _COMPARE.get(type(target.operator))
        left = test.left
        if compare is None or not (isinstance(left, cst.Name) and left.value in constants):
            return None
        right = _literal_value(target.comparator)
        if not ev.is_constant(right):
            return None
        try:
            return compare(constants[left.value], right)
        except TypeError:
            return None
    return None


def _literal_value(expr: cst.BaseExpression) -> object:
    """A literal, or a tuple, list or set of literals, as a value (else not a constant)."""
    if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
        values = [ev.constant(e.value) for e in expr.elements]
        return tuple(values) if all(ev.is_constant(v) for v in values) else ev.NOT_CONSTANT
    return ev.constant(expr)


def _caller_chooses(*arms: Paths) -> None:
    """The arms of an `if` on a parameter the caller gives (`if train == True:
    model.train()`): a model that one arm switches and another leaves in the mode its caller
    gave ("init") is in the mode the caller asks for, as with `model.train(train)`; unknown
    here, and judged where the caller is in view."""
    names = {name for arm in arms for path in arm for name in path.modes}
    for name in names:
        if len({frozenset().union(*(p.mode(name) for p in arm)) for arm in arms}) == 1:
            continue  # both arms leave it alike
        for arm in arms:
            for index, path in enumerate(arm):
                modes = path.mode(name)
                if "init" in modes:
                    arm[index] = path = path.copy()
                    path.set_mode(name, (modes - {"init"}) | {"unk"})


def _grad_none_guard(test: cst.BaseExpression) -> bool | None:
    """True for `x.grad is not None`, False for `x.grad is None`, else None. True also for an
    `and` one of whose terms is `x.grad is not None` (`params is not None and params[0].grad is
    not None`): where it fails, there is nothing to clear, or nothing a clear was meant for."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return True if True in (_grad_none_guard(test.left), _grad_none_guard(test.right)) else None
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    left, target = test.left, test.comparisons[0]
    if not (isinstance(left, cst.Attribute) and left.attr.value == "grad"):
        return None
    if not (isinstance(target.comparator, cst.Name) and target.comparator.value == "None"):
        return None
    if isinstance(target.operator, cst.IsNot):
        return True
    return False if isinstance(target.operator, cst.Is) else None


# A fact key: autograd is on here only because an enclosing loop runs backward.
_PROVEN = "<grad proven>"


def _seen_on(loop: cst.For | cst.While) -> str:
    """A fact key, true on paths that entered `loop` with autograd on (see `_ran_backward`)."""
    return f"<grad on {id(loop)}>"


def _grad_seen_on(paths: Paths, loop: cst.For | cst.While) -> Paths:
    out = []
    for path in paths:
        if (
            path.grad == {ev.GRAD_ON}
            and not path.facts.get(_PROVEN)
            and not path.facts.get(_seen_on(loop))
        ):
            path = path.copy()
            path.facts[_seen_on(loop)] = True
        out.append(path)
    return out


def _grad_proven_on(paths: Paths) -> Paths:
    """Grad set by callers not in view, or by code we cannot read, is on where backward runs."""
    out = _copies(paths)
    for path in out:
        if path.grad & {"init", ev.GRAD_UNKNOWN}:
            path.grad = (path.grad - {"init", ev.GRAD_UNKNOWN}) | {ev.GRAD_ON}
            path.facts[_PROVEN] = True  # on only where a backward pass runs
    return out


class _WithItems(cst.CSTVisitor):
    """The context expressions of the `with` statements in a block."""

    def __init__(self) -> None:
        self.items: list[cst.BaseExpression] = []

    def visit_WithItem(self, node: cst.WithItem) -> None:
        self.items.append(node.item)


def _copies(paths: Paths) -> Paths:
    return [p.copy() for p in paths]


def _merged(paths: Paths) -> State:
    merged = paths[0]
    for path in paths[1:]:
        merged = merge(merged, path)
    return merged


_RETURNED = "<returned>"  # a fact key no condition's text can be: what the call returned


def _runs_at_least_once(kinds: frozenset[str]) -> bool:
    """Whether the code after a loop (with these event kinds in its body) sees only the ends
    of its iterations, never the state it was entered with.

    A loop that only clears gradients (over parameters or optimizers) runs at least once. So
    does a loop that trains (its body, or a function it calls, runs backward or steps an
    optimizer), `for` and `while` alike: nobody runs a training loop that never trains, so the
    state after it is the state at the end of its body (joined with its `break` exits, and
    with its `continue` exits as ends of iterations). Without this, an epoch loop whose every
    iteration ends in eval mode (validation at each epoch's end) would leave the model in the
    mode it was built in, on the way where no epoch runs, and a final test after the loop
    would be a TRN004 on that way alone.

    It is one fact about control flow, so it holds for the whole state, not only the models'
    modes: the grad mode (an epoch that ends with `torch.set_grad_enabled(False)`) and the
    optimizers' gradients (a second phase after a loop that ends with `zero_grad()`) are also
    those the last iteration leaves. What the path where the loop never runs adds to them
    is, like its mode, a finding only about a run in which nothing trains.
    """
    return bool(kinds & {ev.BACKWARD, ev.STEP, ev.CLEAR})


def _ran_backward(loop: cst.For | cst.While) -> str:
    """A fact key, true on paths that ran a backward pass in the current iteration of `loop`.
    It holds no identifier, so no condition's text equals it and no assignment forgets it."""
    return f"<{id(loop)}>"


_UNUSED = tuple(frozenset({p}) for p in ("fresh", "discarded", "dropped", "partial"))
# After a backward in the iteration, gradients end "clean" only if a step used them before the
# clear (unused ones end "discarded").
_USED = (frozenset({"stepped"}), frozenset({"clean"}))


_STEPPED_ON = frozenset({"stepped", "polluted", "clean"})
# After a backward in the iteration: a step used those gradients (and maybe a clear followed).
_STEPPED_NOW = frozenset({"stepped", "clean"})


def _steps_any(path: State) -> bool:
    """Whether an iteration that ran a backward and ends in this state stepped some optimizer."""
    return any(p & _STEPPED_ON for p in (*path.phases.values(), path.phase_default))


def _steps_when(back: Paths, name: str, ran: str, condition: str, unstepped: State) -> bool:
    """Whether some iteration that takes `unstepped`'s way at `condition` (or may take it: a
    merged path that lost the condition) steps `name` all the same. Under gradient accumulation
    (`if (i + 1) % k == 0:` inside that way) an iteration without a step is one of several that
    feed the next: that way steps too, only not every time, and it is no one-way step."""
    way = unstepped.facts[condition]
    return any(
        other.facts.get(ran)
        and other.facts.get(condition) != (not way)
        and other.phases.get(name, other.phase_default) & _STEPPED_NOW
        for other in back
    )


def _deciding_condition(a: State, b: State, changing: frozenset[str]) -> str | None:
    """A condition that `a` and `b` took opposite ways, that reads only names and attributes
    (no call, no subscript: those may differ each time) none of which is in `changing`."""
    for condition, value in a.facts.items():
        if b.facts.get(condition) != (not value):
            continue
        if not _PLAIN_CONDITION.fullmatch(condition) or _mentions(condition, changing):
            continue
        if _is_sync(condition):
            continue  # true once per accumulation window: it changes with the iterations
        return condition
    return None


# Names, attributes, literals and operators only: `use_amp`, `not args.fp16`, `scaler is None`.
_PLAIN_CONDITION = re.compile(r"[\w\s.=!<>'\"-]+")


def _unnegated(test: cst.BaseExpression) -> tuple[cst.BaseExpression, bool]:
    """`not not x` -> (x, True); `not x` -> (x, False): the fact key's expression and the way
    taking the branch decides it. A comparison with `True` or `False` is the flag's own test
    (`x == False` and `x is not True` -> (x, False)): two tests of one flag written so
    (`if train == True:` ... `if train == False:`) are one condition, taken opposite ways."""
    polarity = True
    while True:
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, polarity = test.expression, not polarity
            continue
        flag = _compared_with_bool(test)
        if flag is None:
            return test, polarity
        test, holds = flag
        polarity = polarity == holds


# `!=` stays its own text: an accumulation window's facts are keyed by the test as written
# (see windows.py), `(i + 1) % k != 0` included.
_OPPOSITE: dict[type[cst.BaseCompOp], type[cst.BaseCompOp]] = {
    cst.IsNot: cst.Is,
    cst.NotIn: cst.In,
}


def _positive(test: cst.BaseExpression) -> cst.Comparison | None:
    """`x is not None` -> `x is None`, `k not in d` -> `k in d`: the one comparison whose
    negation `test` is; None when `test` is no such comparison."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    opposite = _OPPOSITE.get(type(target.operator))
    if opposite is None:
        return None
    operator = opposite(
        whitespace_before=cst.SimpleWhitespace(" "), whitespace_after=cst.SimpleWhitespace(" ")
    )
    return test.with_changes(comparisons=[target.with_changes(operator=operator)])


def _compared_with_bool(test: cst.BaseExpression) -> tuple[cst.BaseExpression, bool] | None:
    """`x == True` -> (x, True); `x is False` -> (x, False); `x != False` -> (x, True)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    constant = target.comparator
    if not (isinstance(constant, cst.Name) and constant.value in ("True", "False")):
        return None
    if isinstance(target.operator, (cst.Equal, cst.Is)):
        same = True
    elif isinstance(target.operator, (cst.NotEqual, cst.IsNot)):
        same = False
    else:
        return None
    return test.left, same == (constant.value == "True")


def _entering(paths: Paths, plan: Windows | None) -> Paths:
    """Paths into a loop's first iteration, knowing what its window tests say there."""
    facts = plan.on_entry() if plan is not None else {}
    if not facts:
        return paths
    out = []
    for path in paths:
        path = path.copy()
        path.facts.update(facts)
        out.append(path)
    return out


def _carry(ended: Paths, fresh: Paths, plan: Windows | None) -> Paths:
    """`fresh` (the iterations' ends, facts on what the loop changes dropped) with what the
    next iteration knows of its window tests from the way `ended` took the last ones: after
    `(i + 1) % k == 0` held, `i % k == 0` holds."""
    if plan is None:
        return fresh
    out = []
    for before, path in zip(ended, fresh, strict=True):
        facts = plan.carried(before.facts)
        if facts:
            path = path.copy()
            path.facts.update(facts)
        out.append(path)
    return out


def _without_facts(paths: Paths, changing: frozenset[str]) -> Paths:
    """Conditions on names the loop assigns are tested afresh in the next iteration (and a
    fact key in `changing` itself, such as the loop's own `_ran_backward`, is dropped)."""
    out = []
    for path in paths:
        if path.facts:
            kept = {
                k: v
                for k, v in path.facts.items()
                if k not in changing and not _mentions(k, changing)
            }
            if len(kept) != len(path.facts):
                path = path.copy()
                path.facts = kept
        out.append(path)
    return out


def _mentions(condition: str, names: frozenset[str]) -> bool:
    return any(w in names for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", condition))


def _forget_facts(paths: Paths, stmt: cst.BaseSmallStatement) -> None:
    """An assignment to a name ends what earlier tests of conditions on it told us."""
    if not any(p.facts for p in paths):
        return
    targets = (
        [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]  # type: ignore[union-attr]
    )
    names = {n for t in targets for n in _assigned_names(t)}
    for path in paths:
        for condition in list(path.facts):
            if any(n in condition and _word(n).search(condition) for n in names):
                del path.facts[condition]


@functools.lru_cache(maxsize=4096)
def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}\b")


def _literal_flag(stmt: cst.CSTNode) -> tuple[cst.BaseExpression, bool] | None:
    """`x = True` / `self.x = False`: the target and the value."""
    if not isinstance(stmt, cst.Assign) or len(stmt.targets) != 1:
        return None
    target, value = stmt.targets[0].target, stmt.value
    if not isinstance(target, cst.Name | cst.Attribute) or not isinstance(value, cst.Name):
        return None
    if value.value not in ("True", "False"):
        return None
    return target, value.value == "True"


class _Toggles(cst.CSTVisitor):
    """The values each flag is set to by `flag = True` / `flag = False`, keyed by its text."""

    def __init__(self) -> None:
        self.values: dict[str, set[bool]] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        flag = _literal_flag(node)
        if flag is not None:
            text = cst.Module([]).code_for_node(flag[0])
            self.values.setdefault(text, set()).add(flag[1])


class _Dataflow(cst.CSTVisitor):
    """Names assigned from a call's result, followed through assignments, checked against
    what backward calls use (with `acting`: what `env.step(action)` calls use, as a rollout
    acts on a policy's output). Coarse but cheap: any shared name counts as flow."""

    def __init__(self, call: cst.CSTNode, acting: bool = False) -> None:
        self.call = call
        self.acting = acting
        self.assignments: list[tuple[set[str], set[str], bool]] = []  # targets, uses, has call
        self.backward_uses: set[str] = set()
        self.call_in_backward = False
        self._uses: set[str] | None = None
        self._has_call = False
        self._in_backward = 0

    def feeds_backward(self) -> bool:
        if self.call_in_backward:
            return True
        tainted: set[str] = set()
        for targets, _, has_call in self.assignments:
            if has_call:
                tainted |= targets
        changed = True
        while changed:
            changed = False
            for targets, uses, _ in self.assignments:
                if uses & tainted and not targets <= tainted:
                    tainted |= targets
                    changed = True
        return bool(tainted & self.backward_uses)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._start()

    def leave_Assign(self, original_node: cst.Assign) -> None:
        targets = {n for t in original_node.targets for n in _assigned_names(t.target)}
        self._finish(targets)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._start()

    def leave_AugAssign(self, original_node: cst.AugAssign) -> None:
        self._finish(set(_assigned_names(original_node.target)))

    def _start(self) -> None:
        self._uses, self._has_call = set(), False

    def _finish(self, targets: set[str]) -> None:
        if self._uses is not None:
            self.assignments.append((targets, self._uses - targets, self._has_call))
        self._uses = None

    def visit_For(self, node: cst.For) -> None:
        # `for f in feats:` binds `f` from what `feats` holds, as an assignment would.
        held = _NamesIn(self.call)
        walk(node.iter, held)
        targets = set(_assigned_names(node.target))
        self.assignments.append((targets, held.names - targets, held.has_call))

    def visit_Name(self, node: cst.Name) -> None:
        if self._uses is not None:
            self._uses.add(node.value)
        if self._in_backward:
            self.backward_uses.add(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if node is self.call:
            self._has_call = True
            if self._in_backward:
                self.call_in_backward = True
        if self._sink(node):
            self._in_backward += 1

    def leave_Call(self, original_node: cst.Call) -> None:
        if self._sink(original_node):
            self._in_backward -= 1

    def _sink(self, node: cst.Call) -> bool:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return False
        if self.acting:
            return func.attr.value == "step" and bool(node.args)
        return func.attr.value == "backward"


class _NamesIn(cst.CSTVisitor):
    """The names an expression reads, and whether it holds a given call."""

    def __init__(self, call: cst.CSTNode) -> None:
        self.call = call
        self.names: set[str] = set()
        self.has_call = False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if node is self.call:
            self.has_call = True


class _IfTests(cst.CSTVisitor):
    """The tests of the `if` statements in a block, nested functions and classes aside."""

    def __init__(self, with_nodes: bool = False) -> None:
        self.tests: list[cst.BaseExpression] = []
        self.nodes: list[cst.If] = []  # the statements too, when asked
        self.with_nodes = with_nodes

    def visit_If(self, node: cst.If) -> None:
        self.tests.append(node.test)
        if self.with_nodes:
            self.nodes.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


class _AssignedNames(cst.CSTVisitor):
    """Every name a loop (re)binds: its targets and what its body assigns."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.names.update(_assigned_names(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.names.update(_assigned_names(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.names.update(_assigned_names(node.target))

    def visit_For(self, node: cst.For) -> None:
        self.names.update(_assigned_names(node.target))

    def visit_AsName(self, node: cst.AsName) -> None:
        self.names.update(_assigned_names(node.name))  # type: ignore[arg-type]

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.names.update(_assigned_names(node.target))


def _assigned_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _assigned_names(e.value)]
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Attribute):
        return [target.attr.value]
    return []


def _key(fn: FunctionInfo | None) -> str | None:
    return fn.key if fn is not None else None


def _is_true(test: cst.BaseExpression) -> bool:
    return (isinstance(test, cst.Name) and test.value == "True") or (
        isinstance(test, cst.Integer) and test.value != "0"
    )


def _mentions_eval_data(expr: cst.BaseExpression) -> bool:
    finder = _EvalDataFinder()
    walk(expr, finder)
    return finder.found


class _EvalDataFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Name(self, node: cst.Name) -> None:
        self.found = self.found or names_eval_data(node.value)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.found = self.found or names_eval_data(node.value.strip("'\""))


def _statements(node: cst.CSTNode) -> list[cst.CSTNode]:
    body = getattr(node, "body", None)
    if body is None:
        return []
    if isinstance(body, cst.CSTNode):
        body = getattr(body, "body", [body])
    return list(body)


def _event_parts(stmt: cst.CSTNode) -> list[cst.CSTNode]:
    if stmt.__class__ in _LINES:
        return list(stmt.body)  # type: ignore[attr-defined]
    if isinstance(stmt, cst.BaseSmallStatement):
        return [stmt]  # a statement of a one-line body: `for b in data: loss.backward()`
    if isinstance(stmt, cst.If):
        return [stmt.test]
    if isinstance(stmt, cst.For):
        return [stmt.iter]
    if isinstance(stmt, cst.While):
        return [stmt.test]
    if isinstance(stmt, cst.With):
        return [i.item for i in stmt.items]
    return []


def _child_blocks(stmt: cst.CSTNode) -> list[cst.CSTNode]:
    if stmt.__class__ not in _COMPOUND:  # most statements: skip the (slow) isinstance chain
        return []
    if isinstance(stmt, cst.If):
        if isinstance(stmt.orelse, cst.If):
            return [stmt.body, _Wrap([stmt.orelse])]
        return [stmt.body] + ([stmt.orelse.body] if stmt.orelse else [])
    if isinstance(stmt, cst.For | cst.While):
        return [stmt.body] + ([stmt.orelse.body] if stmt.orelse else [])
    if isinstance(stmt, cst.With):
        return [stmt.body]
    if isinstance(stmt, cst.Try | cst.TryStar):
        out = [stmt.body] + [h.body for h in stmt.handlers]
        if stmt.orelse:
            out.append(stmt.orelse.body)
        if stmt.finalbody:
            out.append(stmt.finalbody.body)
        return out
    if isinstance(stmt, cst.Match):
        return [c.body for c in stmt.cases]
    return []


_DEFINITIONS = frozenset({cst.FunctionDef, cst.ClassDef})
_LINES = frozenset({cst.SimpleStatementLine, cst.SimpleStatementSuite})
_ASSIGNMENTS = frozenset({cst.Assign, cst.AugAssign, cst.AnnAssign})
_COMPOUND = frozenset({cst.If, cst.For, cst.While, cst.With, cst.Try, cst.TryStar, cst.Match})


class _Wrap:
    """A list of statements dressed as a block, for an `elif` chain."""

    def __init__(self, body: list[cst.CSTNode]) -> None:
        self.body = body


def analyse(program: Program) -> LoopModel:
    model = Interpreter(program).run()
    if model.complete:
        model.kept_losses = kept_losses(model)
    return model

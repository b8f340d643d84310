"""Training events: what each statement does to gradients, optimizers and model modes.

A statement becomes a short list of events in evaluation order. The interpreter replays these
lists; it never looks at expressions itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import libcst as cst

from . import frozen, results
from . import knowledge as kn
from .absent import NONE, absent_names, is_none
from .aliases import expand, scope_aliases
from .endings import never_returns
from .names import dotted, target_names
from .names import unmoved as _unmoved
from .program import FUNCTION, FunctionInfo, Program
from .vocab import (
    is_model_name,
    is_optimizer_name,
    is_scaler_name,
    is_scheduler_name,
    tokens,
)
from .walk import walk

if TYPE_CHECKING:
    from .summary import Callee

GRAD_OFF, GRAD_ON, GRAD_UNKNOWN = "off", "on", "unk"


@dataclass(frozen=True)
class Event:
    kind: str
    node: cst.CSTNode
    name: str | None = None  # the object as written in this function: `opt`, `self.model`
    value: str | None = None  # mode: train/eval/unk/restore; grad_set: on/off/unk
    key: str | None = None  # call: the called function's key
    bindings: tuple[tuple[str, str | None], ...] = ()  # call: parameter -> argument text
    names: tuple[str, ...] = ()  # opaque: optimizers and models handed to unseen code
    # bare_method: what the receiver is ("model", "optimizer", ...); inplace: where the target
    # is evidently a parameter ("param", or "params:p" / "modules:m" inside such a loop)
    role: str | None = None
    callee: Callee | None = None  # project_call: the function of another module it reaches
    # call: parameter -> the constant it holds in this call (`train=False` passed, or a
    # default left alone), so tests of it inside the function are decided
    constants: tuple[tuple[str, object], ...] = ()


BACKWARD = "backward"
STEP = "step"
UNKNOWN_STEP = "unknown_step"
# The value of an UNKNOWN_STEP that reads `.grad` in a way that applies nothing to the weights.
INSPECTED = "inspected"
CLEAR = "clear"
MODE = "mode"
GRAD_SET = "grad_set"
FORWARD = "forward"
CALL = "call"
SAVE_MODE = "save_mode"
ASSIGN = "assign"
OPAQUE = "opaque"
GRAD_USE = "grad_use"
SCHEDULER_STEP = "scheduler_step"  # `scheduler.step()`: no optimizer step, but ordered after one
BARE_METHOD = "bare_method"  # `model.eval` as a statement: the method is never called
INPLACE = "inplace"  # an in-place change of what is evidently a parameter (`w.normal_()`)
PROJECT_CALL = "project_call"  # a call of a function of another module of the project
# `model.requires_grad_(False)` (value "off"), or `(True)` again ("on"): see frozen.py.
FREEZE = "freeze"
# `name = other` (an object's name bound to what another name holds, `self.net = net`), or a
# return filling a result slot (see results.py): `name` takes the modes `value` names.
COPY = "copy"

ALL_OPTIMIZERS = "*"
# The attribute of an accelerator that is true in an accumulation window's last micro-batch.
SYNC_FLAG = "sync_gradients"
# What a step by hand (`p.data.add_(p.grad, alpha=-lr)`) steps: the parameters themselves.
BY_HAND = "<parameters>"


class EventTable:
    """Events of statements and expressions, computed once per node and cached."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.loop_targets = program.loop_targets
        self._cache: dict[int, list[Event]] = {}
        self._disables_grad: dict[str, bool] = {}
        self._aliases: dict[str | None, dict[str, cst.BaseExpression]] = {}
        self._callees: dict[str, Callee | None] = {}
        self._deferred: frozenset[str] | None = None
        self._endings: dict[str, bool] = {}  # function key -> whether it never returns
        self._absent: tuple[frozenset[str], frozenset[str]] | None = None

    def absent(self) -> tuple[frozenset[str], frozenset[str]]:
        """The names the file sets to `None` and otherwise binds only to new objects, and
        the names it binds in ways not followed (see absent.py)."""
        if self._absent is None:
            self._absent = absent_names(self.program.module, _creates_new_object)
        return self._absent

    def callee(self, text: str, fn: FunctionInfo | None = None) -> Callee | None:
        """The function of another project module that `text` names in this file (through its
        imports, re-exports, star imports), when its module's summary is in view."""
        view = self.program.view
        head = text.partition(".")[0]
        if view is None or (fn is not None and (head in fn.params or head in fn.local_names)):
            return None
        if text not in self._callees:
            found = None
            if self.program.is_imported(head):
                found = view.find_function(self.program.qualify(text) or text)
            elif "." not in text and text not in self.program.module_functions:
                found = view.star_function(text, self.program.imports.stars)
            self._callees[text] = found
        return self._callees[text]

    def ends(self, stmt: cst.BaseSmallStatement, fn: FunctionInfo | None) -> bool:
        """Whether a statement stops the program or leaves by an error on every path through
        it: a call of the knowledge table that ends the program (`sys.exit(1)`, `exit()`),
        written as the statement itself (inside an expression it may not run: `ok or
        sys.exit()`), or `assert` of a false constant (`assert False, "unknown mode"`)."""
        kind = stmt.__class__  # class identity: libcst's isinstance checks are slow
        if kind is cst.Assert:
            return _is_false_constant(stmt.test)  # type: ignore[attr-defined]
        if kind is not cst.Expr or stmt.value.__class__ is not cst.Call:  # type: ignore[attr-defined]
            return False
        text = dotted(stmt.value.func)
        if text is None:
            return False
        key = resolve_function(self.program, text, fn)
        if key is not None:  # the file's own `exit()` or `die()`: by what its body does
            return self._never_returns(key)
        effect = kn.lookup(self.program.qualify(text) or text)
        return effect is not None and effect.ends

    def _never_returns(self, key: str) -> bool:
        known = self._endings.get(key)
        if known is None:
            self._endings[key] = False  # recursion guard: `def a(): b()`, `def b(): a()`
            info = self.program.functions[key]
            known = never_returns(info.node, lambda small: self.ends(small, info))
            self._endings[key] = known
        return known

    def method_callee(
        self, receiver: str, method: str, fn: FunctionInfo | None, built: str | None = None
    ) -> Callee | None:
        """The method of another project module's class that `receiver.method(...)` runs, when
        `receiver` was made by that class (or a factory returning it), or is built by calling
        `built` (a class, as the file names it), and its module's summary has facts for the
        method."""
        view, program = self.program.view, self.program
        if view is None:
            return None
        head = receiver.partition(".")[0]
        if fn is not None and receiver == "self" and fn.class_name:
            # `self.validate()` in a subclass of a project class of another module.
            return view.inherited(self._project_bases(fn.class_name), method)
        if fn is not None and head == "self" and fn.class_name:
            root = f"{fn.class_name}#{receiver}"
        elif fn is not None and (head in fn.params or head in fn.local_names):
            root = f"{fn.key}:{receiver}"
        else:
            root = receiver
        from .summary import Callee, eval_switches, holders_decide

        made = set(program.made.get(root, ()))
        if not made and built is not None:
            found = view.find_class(program.qualify(built) or built)
            made = {found} if found is not None else set()
        if len(made) != 1:
            return None
        ((path, cls),) = made
        summary = view.summaries[path]
        facts = summary.functions.get(f"{cls}.{method}")
        if facts is None or not facts.params or facts.params[0] != "self":
            return None
        if method != "__init__" and not holders_decide(summary, f"{cls}.{method}"):
            # Its class judges its evaluation itself; what it leaves still flows back.
            facts = replace(facts, evaluations=())
        where = path.relative_to(view.root).as_posix()
        return Callee(f"{cls}.{method}", where, facts, eval_switches(summary, cls))

    def _project_bases(self, class_name: str) -> list[str]:
        """The bases of the file's class `class_name` that are not the file's own classes,
        through the file's own classes in between (whose methods the file follows itself)."""
        out: list[str] = []
        todo, seen = [class_name], set()
        while todo:
            current = todo.pop(0)
            if current in seen or current not in self.program.classes:
                continue
            seen.add(current)
            for base in self.program.classes[current].bases:
                if base in self.program.classes:
                    todo.append(base)
                else:
                    out.append(base)
        return out

    def volatile(self, node: cst.CSTNode) -> bool:
        """Whether code under node turns autograd off the pre-0.4 way: `Variable(x,
        volatile=True)`, any `volatile=True` argument, or a torchtext iterator built with
        `train=False` (here, or bound to the name a loop iterates)."""
        finder = _Volatile(self)
        walk(node, finder)
        if not finder.found and isinstance(node, cst.For):
            bound = self.program.bound.get(dotted(node.iter) or "")
            return bound is not None and finder.is_volatile(bound)
        return finder.found

    def aliases(self, fn: FunctionInfo | None) -> dict[str, cst.BaseExpression]:
        """The names this function (or the module, for None) binds once to another object."""
        key = fn.key if fn is not None else None
        found = self._aliases.get(key)
        if found is None:
            if fn is None:
                found = scope_aliases(self.program.module, [], self._wrapped)
            else:
                found = scope_aliases(fn.node.body, fn.params, self._wrapped)
            self._aliases[key] = found
        return found

    def _wrapped(self, call: cst.Call) -> list[cst.BaseExpression] | None:
        """The arguments a call returns as they were given (`DDP(model)`, `fabric.setup(model,
        opt)`), when the knowledge table says it does; else None."""
        func = call.func
        effect = None
        if isinstance(func, cst.Attribute):
            kind = self.receiver_kind(dotted(func.value))
            effect = kn.method(kind, func.attr.value) or kn.method("any", func.attr.value)
            if effect is not None and effect.same_object and not effect.returns_args:
                return [func.value]  # `net = model.cuda()`: the receiver
        if effect is None:
            effect = kn.lookup(self.program.qualify(dotted(func)))
        if effect is None or not effect.same_object:
            return None
        return [a.value for a in call.args if a.keyword is None and not a.star] or [
            a.value for a in call.args if a.keyword is not None
        ]

    def receiver_kind(self, receiver: str | None) -> str:
        """The knowledge table's kind of an object the file builds or names as a wrapper of
        the training loop (an accelerator, a fabric); "any" otherwise."""
        if receiver is None:
            return "any"
        call = self.program.bound.get(receiver)
        if call is not None:
            effect = kn.lookup(self.program.qualify(dotted(call.func)))
            if effect is not None and effect.builds in ("accelerator", "fabric"):
                return effect.builds
        words = tokens(receiver.rpartition(".")[2])
        for kind in ("accelerator", "fabric"):
            if kind in words:
                return kind
        return "any"

    def window_flag(self, expr: cst.BaseExpression) -> str | None:
        """For a with-item that runs its body as one micro-batch of an accumulation window
        (`accelerator.accumulate(model)`), the flag true in the window's last micro-batch, as
        the code spells it (`accelerator.sync_gradients`); else None."""
        if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Attribute):
            return None
        receiver = dotted(expr.func.value)
        effect = kn.method(self.receiver_kind(receiver), expr.func.attr.value)
        if receiver is None or effect is None or not effect.window:
            return None
        # Only an accelerator built in view with several micro-batches to a window: by
        # default a window is one micro-batch, and nothing waits.
        built = self.program.bound.get(receiver)
        maker = kn.lookup(self.program.qualify(dotted(built.func))) if built is not None else None
        if (
            built is None
            or maker is None
            or not any(
                a.keyword is not None
                and a.keyword.value in maker.windows_with
                and not (isinstance(a.value, cst.Integer) and a.value.value == "1")
                for a in built.args
            )
        ):
            return None
        return f"{receiver}.{SYNC_FLAG}"

    def deferred(self, name: str) -> bool:
        """Whether `name` (as some scope of the file spells it) is bound to what a call
        returns whose optimizers defer their step and clear inside an accumulation window
        (`model, opt = accelerator.prepare(model, opt)`)."""
        if self._deferred is None:
            finder = _DeferredNames(self)
            walk(self.program.module, finder)
            self._deferred = frozenset(finder.names)
        return name in self._deferred

    def of(self, node: cst.CSTNode, fn: FunctionInfo | None) -> list[Event]:
        cached = self._cache.get(id(node))
        if cached is None:
            cached = _Collector(self, fn).collect(node)
            self._cache[id(node)] = cached
        return cached

    # Grad contexts --------------------------------------------------------------------------
    def grad_context(self, expr: cst.BaseExpression, fn: FunctionInfo | None) -> str | None:
        """on/off/unk for a with-item or decorator that sets grad mode; None if it does not."""
        call = expr if isinstance(expr, cst.Call) else None
        text = dotted(call.func if call else expr)
        if text is None:
            return None
        full = self.program.qualify(text) or text
        last = full.split(".")[-1]
        # `no_grad` imported from anywhere, or written bare, is torch's: match on the last name.
        effect = kn.lookup("torch." + last)
        mode = effect.grad_mode if effect is not None else None
        if mode == GRAD_OFF and (full.startswith("torch") or full == last):
            if last == "inference_mode" and call and _literal_bool(call) is False:
                return None
            return GRAD_OFF
        if mode == GRAD_ON:
            return GRAD_ON
        if mode == "flag" and call is not None:
            flag = _literal_bool(call)
            return GRAD_UNKNOWN if flag is None else (GRAD_ON if flag else GRAD_OFF)
        key = resolve_function(self.program, text, fn)
        if key is not None and self.function_disables_grad(key):
            return GRAD_OFF
        if ("no_grad" in last or "inference" in last) and not full.startswith("torch"):
            return GRAD_OFF  # a helper of the project named for what it does
        return None

    def function_disables_grad(self, key: str) -> bool:
        """A helper of the file that turns grad off for what it wraps (decorator or context)."""
        if key in self._disables_grad:
            return self._disables_grad[key]
        self._disables_grad[key] = False
        info = self.program.functions[key]
        found = any(self.grad_context(d.decorator, info) == GRAD_OFF for d in info.node.decorators)
        if not found:
            finder = _GradOffFinder(self, info)
            walk(info.node.body, finder)
            found = finder.found
        self._disables_grad[key] = found
        return found


def resolve_function(program: Program, text: str | None, fn: FunctionInfo | None) -> str | None:
    """The key of the file's own function a callee text names, or None."""
    if text is None:
        return None
    head, _, rest = text.partition(".")
    scope = fn
    if not rest:
        while scope is not None:
            if head in scope.inner:
                return scope.inner[head]
            parent_key = scope.key.rpartition(".<locals>.")[0]
            scope = program.functions.get(parent_key) if parent_key else None
        return program.module_functions.get(head)
    if "." in rest:
        # `self.prunner.forward(x)`, where `self.prunner = Prunner(...)`: the file's class.
        receiver, _, method = text.rpartition(".")
        cls = program.instances.get(receiver) if receiver.startswith("self.") else None
        return program.method(cls, method) if cls is not None else None
    if head == "self" and fn is not None and fn.class_name:
        return program.method(fn.class_name, rest)
    if head in program.self_modules:
        return program.module_functions.get(rest)
    if head in program.instances:
        return program.method(program.instances[head], rest)
    if head in program.classes:
        return program.method(head, rest)
    return None


class _Volatile(cst.CSTVisitor):
    def __init__(self, table: EventTable) -> None:
        self.table, self.found = table, False

    def visit_Call(self, node: cst.Call) -> None:
        self.found = self.found or self.is_volatile(node)

    def is_volatile(self, call: cst.Call) -> bool:
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if _is_name(keywords.get("volatile"), "True"):
            return True
        text = dotted(call.func)
        effect = kn.lookup(self.table.program.qualify(text) or text)
        if effect is None or effect.grad_mode != kn.VOLATILE:
            return False
        if effect.free_when == kn.NOT_TRAINING:
            return _is_name(keywords.get("train"), "False")
        positional = [a.value for a in call.args if a.keyword is None]
        # `Variable(data, requires_grad, volatile)`
        return len(positional) > 2 and _is_name(positional[2], "True")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _is_name(value: cst.BaseExpression | None, name: str) -> bool:
    return isinstance(value, cst.Name) and value.value == name


NOT_CONSTANT = object()


def constant(value: cst.BaseExpression | None) -> object:
    """The value of a literal (`True`, `None`, `3`, `-1.0`, `"eval"`), else `NOT_CONSTANT`."""
    if isinstance(value, cst.Name) and value.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[value.value]
    if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString)):
        return value.evaluated_value
    if (
        isinstance(value, cst.UnaryOperation)
        and isinstance(value.operator, cst.Minus)
        and isinstance(value.expression, (cst.Integer, cst.Float))
    ):
        return -value.expression.evaluated_value
    return NOT_CONSTANT


def is_constant(value: object) -> bool:
    return value is not NOT_CONSTANT


def _constant_arguments(
    info: FunctionInfo, params: Sequence[str], call: cst.Call
) -> tuple[tuple[str, object], ...]:
    """The parameters (`self` aside) that hold a constant in this call: a literal passed, or
    a literal default left alone. Nothing when `*args` or `**kwargs` may pass any of them."""
    if any(a.star for a in call.args):
        return ()
    passed: dict[str, cst.BaseExpression] = {}
    positional = [a for a in call.args if a.keyword is None]
    for param, arg in zip(params, positional, strict=False):
        passed[param] = arg.value
    for arg in call.args:
        if arg.keyword is not None:
            passed[arg.keyword.value] = arg.value
    defaults = {
        p.name.value: p.default
        for p in (
            *info.node.params.posonly_params,
            *info.node.params.params,
            *info.node.params.kwonly_params,
        )
        if p.default is not None
    }
    out = []
    for param in params:
        value = constant(passed[param] if param in passed else defaults.get(param))
        if is_constant(value):
            out.append((param, value))
    return tuple(out)


def _is_false_constant(value: cst.BaseExpression) -> bool:
    """`False`, `None`, `0` or an empty string: an `assert` of it always fails."""
    if isinstance(value, cst.Name):
        return value.value in ("False", "None")
    if isinstance(value, cst.Integer):
        return value.evaluated_value == 0
    return isinstance(value, cst.SimpleString) and value.evaluated_value in ("", b"")


class _GradOffFinder(cst.CSTVisitor):
    def __init__(self, table: EventTable, fn: FunctionInfo) -> None:
        self.table, self.fn, self.found = table, fn, False

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if self.table.grad_context(node.item, self.fn) == GRAD_OFF:
            self.found = True

    def visit_Call(self, node: cst.Call) -> None:
        # `return torch.no_grad()(fn)`: a decorator built from no_grad (not from enable_grad).
        if (
            isinstance(node.func, cst.Call)
            and self.table.grad_context(node.func, self.fn) == GRAD_OFF
        ):
            self.found = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            if self.table.grad_context(decorator.decorator, self.fn) == GRAD_OFF:
                self.found = True


def _literal_bool(call: cst.Call) -> bool | None:
    if not call.args:
        return None
    value = call.args[0].value
    if isinstance(value, cst.Name) and value.value in {"True", "False"}:
        return value.value == "True"
    return None


class _Collector(cst.CSTVisitor):
    def __init__(self, table: EventTable, fn: FunctionInfo | None) -> None:
        self.table = table
        self.program = table.program
        self.fn = fn
        self.events: list[Event] = []
        self._constructed: dict[int, str] = {}  # constructor call -> assignment target
        # call -> the result slots its assignment binds, with the caller's names for them
        self._results: dict[int, list[tuple[str, str]]] = {}
        self._consumed: set[int] = set()  # `.grad` nodes that are being cleared, not read
        self._inspected: set[int] = set()  # `.grad` nodes read in ways that apply nothing
        self._alias_models: set[str] = set()

    def collect(self, node: cst.CSTNode) -> list[Event]:
        if isinstance(node, cst.AugAssign):
            self._augmented(node)
            return self.events
        if isinstance(node, cst.Expr) and isinstance(node.value, cst.Attribute):
            bare = self._bare_method(node, node.value)
            if bare is not None:
                return [bare]
        if isinstance(node, (cst.Assign, cst.AnnAssign)):
            self._assignment(node)
        elif isinstance(node, cst.Return) and node.value is not None:
            self._return(node.value)
        else:
            walk(node, self)
        return self.events

    def _return(self, value: cst.BaseExpression) -> None:
        """`return Predictor(net)` builds its object in the result slot; `return a, b` copies
        the modes of what it names into the slots (see results.py)."""
        if isinstance(value, cst.Call):
            self._constructed[id(value)] = results.RESULT
            self._constructed[id(_unmoved(value))] = results.RESULT
            # `return build(net)`: what the called function returns is this one's result.
            self._results[id(value)] = [(results.RESULT, results.RESULT)]
        walk(value, self)
        for place, name in results.returned(value):
            self.events.append(Event(COPY, value, name=place, value=name))

    def _assignment(self, node: cst.Assign | cst.AnnAssign) -> None:
        targets = (
            [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        )
        value = node.value
        if value is None:
            return
        if isinstance(value, cst.Call) and len(targets) == 1:
            name = dotted(targets[0])
            if name is not None:
                self._constructed[id(value)] = name
                self._constructed[id(_unmoved(value))] = name  # `Net().to(device)`
            self._results[id(value)] = results.bound(targets[0])
        for target in targets:
            # A new object starts fresh before its constructor runs.
            if _creates_new_object(target, value):
                fresh = self._fresh_mode(value)
                for name in target_names(target):
                    self.events.append(Event(ASSIGN, target, name=name, value=fresh))
            elif (
                is_none(value)
                and (name := dotted(target)) is not None
                and name in self.table.absent()[0]
            ):
                self.events.append(Event(ASSIGN, target, name=name, value=NONE))
        zeros = self._builds_zeros(value)
        if zeros:
            # `p.grad = p.grad.new_zeros(...)`, `g.new().resize_as_(p.grad).zero_()`: the
            # gradient gives only its shape and type; no gradient value is read.
            walk(value, _GradReads(self._consumed))
        if any(_is_grad_target(t, "_grad") for t in targets):
            # `shared.grad = local.grad` (A3C's workers): the gradient moves onto another
            # parameter, whose optimizer still has to apply it.
            grad = _grad_of(value)
            if grad is not None:
                self._inspected.add(id(grad))
        walk(value, self)
        if len(targets) == 1:
            # `self.net = net`, `a, b = b, a`: the names take the modes of what they are given.
            for name, source in _copied(targets[0], value):
                self.events.append(Event(COPY, targets[0], name=name, value=source))
        for target in targets:
            if _is_grad_target(target):
                if (
                    (isinstance(value, cst.Name) and value.value == "None")
                    or zeros
                    or (_is_zero_number(value) and not _on_self(target))
                ):
                    self.events.append(Event(CLEAR, target, name=ALL_OPTIMIZERS))
                continue
            text = dotted(target)
            if (
                text is not None
                and isinstance(value, cst.Attribute)
                and value.attr.value == "training"
            ):
                owner = dotted(value.value)
                if owner is not None:
                    self.events.append(Event(SAVE_MODE, target, name=owner, value=text))

    def _bare_method(self, stmt: cst.Expr, attr: cst.Attribute) -> Event | None:
        """`model.eval` or `opt.zero_grad` standing alone as a statement: the bound method is
        looked up and dropped, never called. It is no mode switch, clear or step (it makes no
        other event), and is recorded only when the receiver is evidently a model, an
        optimizer or a scheduler that has such a method."""
        method = attr.attr.value
        roles = _BARE_ROLES.get(method)
        receiver = dotted(_unmoved(attr.value))
        if roles is None or receiver is None:
            return None
        role = self._role(receiver)
        if role not in roles:
            return None
        return Event(BARE_METHOD, stmt, name=receiver, value=method, role=role)

    def _role(self, receiver: str) -> str | None:
        program = self.program
        if receiver in program.schedulers or is_scheduler_name(receiver):
            return "scheduler"
        if receiver in program.optimizers or is_optimizer_name(receiver):
            return "optimizer"
        if receiver in program.engines or receiver in program.scalers:
            return None
        return "model" if self._is_model(receiver) else None

    def _augmented(self, node: cst.AugAssign) -> None:
        """`p -= lr * p.grad`: the statement's own events first, then the in-place change."""
        walk(node, self)
        target = dotted(node.target)
        where = self._parameter(target) if target is not None else None
        if where is not None:
            operator = node.operator.__class__.__name__
            self.events.append(Event(INPLACE, node, name=target, value=operator, role=where))

    def _parameter(self, text: str) -> str | None:
        """Whether `text` evidently names a parameter: "param" when it does wherever it
        appears (`self.fc.weight` in a module, `model.fc.bias`, a name bound to
        `nn.Parameter(...)`), "params:<p>" or "modules:<m>" when it does only inside a loop
        `for p in x.parameters()` or `for m in x.modules()`; else None."""
        head, _, last = text.rpartition(".")
        call = self.program.bound.get(text)
        if call is not None:
            built = self.program.qualify(dotted(call.func)) or ""
            frozen = any(
                (a.keyword is None and i == 1) or (a.keyword and a.keyword.value == "requires_grad")
                for i, a in enumerate(call.args)
                if isinstance(a.value, cst.Name) and a.value.value == "False"
            )
            return "param" if built.split(".")[-1] == "Parameter" and not frozen else None
        if not head:
            return f"params:{text}"
        if last not in {"weight", "bias"}:
            return None
        if "." not in head:
            if head == "self" or self._is_model(head):
                return None  # `self.weight`: a parameter only when bound so (above)
            return f"modules:{head}"
        owner = head.rpartition(".")[0]
        # `self.fc.weight` in a module, `model.fc.weight`: a submodule's own parameter.
        return "param" if "data" not in head.split(".") and self._is_model(owner) else None

    def _builds_zeros(self, value: cst.BaseExpression) -> bool:
        """Whether `value` is a tensor of zeros, as the knowledge table says of its calls
        (`torch.zeros_like(p)`, `t.zero_()`, and through `Variable(...)`, which keeps it)."""
        if not isinstance(value, cst.Call):
            return False
        effect = self._known(value, self.program.qualify(dotted(value.func)))
        if effect is not None and effect.keeps_value:
            args = [a for a in value.args if a.keyword is None and not a.star]
            return bool(args) and self._builds_zeros(args[0].value)
        return effect is not None and effect.builds == "zeros"

    def _fresh_mode(self, value: cst.Call) -> str:
        """A constructed model is in training mode; a loaded one may be in either. Moving it
        keeps its mode (`Net().to(device)`); a mode set in the same chain is its mode
        (`Net().eval()`, `Net().train(False)`)."""
        chained = _chained_mode(value)
        if chained is not None:
            return chained
        built = _unmoved(value)
        if not isinstance(built, cst.Call):
            return "unk"
        text = dotted(built.func) or ""
        last = text.split(".")[-1]
        key = resolve_function(self.program, text, self.fn)
        if key is not None:
            # The file's own helper: fresh, unless it sets a mode on what it returns.
            return _mode_left(self.program.functions[key].node)
        if last[:1].isupper():
            return "default"
        if id(value) in self.program.fresh:
            return "default"  # a factory of another module that only constructs
        if text in self.program.models:
            return "unk"  # `model = model(...)`: not a constructor
        effect = kn.TABLE.get(self.program.qualify(text) or text)
        if effect is not None and effect.builds == "model":
            return "default"  # `timm.create_model(...)`: a constructor, in training mode
        return "unk"

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def leave_AugAssign(self, original_node: cst.AugAssign) -> None:
        operator = _AUGMENTED.get(type(original_node.operator))
        arg = cst.Arg(original_node.value)
        if operator and _updated_by_hand(original_node.target, [arg], operator):
            self.events.append(Event(STEP, original_node, name=BY_HAND))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        grad = _cleared_grad(func, node.args)
        if grad is not None:
            self._consumed.add(id(grad))
        grad = _inspected_grad(func)
        if grad is not None:
            self._inspected.add(id(grad))
        if isinstance(func, cst.Attribute):
            effect = kn.method("any", func.attr.value)
            if effect is not None and effect.inspects:
                # A logger given the gradients (`writer.add_histogram(tag, p.grad, step)`).
                self._inspected.update(
                    id(grad) for arg in node.args if (grad := _grad_of(arg.value)) is not None
                )

    def visit_Comparison(self, node: cst.Comparison) -> None:
        # `p.grad is None`, `p.grad is not None`: whether there is a gradient, not its value.
        if (
            len(node.comparisons) == 1
            and isinstance(node.comparisons[0].operator, (cst.Is, cst.IsNot))
            and _is_none(node.comparisons[0].comparator)
        ):
            grad = _grad_of(node.left)
            if grad is not None:
                self._inspected.add(id(grad))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "grad" and id(node) not in self._consumed:
            effect = kn.lookup(_torch_named(self.program.qualify(dotted(node))))
            if effect is not None and effect.grad_use:
                return  # `torch.autograd.grad(...)` is a function, not a parameter's `.grad`
            # Code that reads gradients may apply them by hand (or ship them elsewhere); a read
            # that only looks at them, or moves them onto another parameter, applies nothing.
            looked = INSPECTED if id(node) in self._inspected else None
            self.events.append(Event(UNKNOWN_STEP, node, value=looked))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Call(self, original_node: cst.Call) -> None:
        call = self._through_aliases(original_node)
        events = self._classify(call)
        if call is not original_node:
            events = [replace(e, node=original_node) if e.node is call else e for e in events]
        self.events.extend(events)
        func = original_node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _INPLACE_METHODS:
            receiver = dotted(func.value)
            where = self._parameter(receiver) if receiver is not None else None
            if where is not None:
                method = func.attr.value
                self.events.append(
                    Event(INPLACE, original_node, name=receiver, value=method, role=where)
                )

    def _through_aliases(self, call: cst.Call) -> cst.Call:
        """The call with each alias in its callee and arguments replaced by what it names:
        `clear()` after `clear = opt.zero_grad` is `opt.zero_grad()`."""
        aliases = self.table.aliases(self.fn)
        if not aliases:
            return call
        func = expand(call.func, aliases)
        args = [a.with_changes(value=expand(a.value, aliases)) for a in call.args]
        if func is call.func and all(
            new.value is old.value for new, old in zip(args, call.args, strict=True)
        ):
            return call
        for old, new in [
            (call.func, func),
            *((a.value, b.value) for a, b in zip(call.args, args, strict=True)),
        ]:
            name, text = dotted(old), dotted(new)
            if new is not old and name and text and is_model_name(name):
                self._alias_models.add(text)  # `model = trainer.model`: `model(x)` is a forward
        expanded = call.with_changes(func=func, args=args)
        if id(call) in self._constructed:
            self._constructed[id(expanded)] = self._constructed[id(call)]
        if id(call) in self._results:
            self._results[id(expanded)] = self._results[id(call)]
        return expanded

    def _classify(self, call: cst.Call) -> list[Event]:
        func = call.func
        text = dotted(func)
        full = self.program.qualify(text) if text else None
        effect = kn.lookup(_torch_named(full))
        if effect is not None:
            if effect.grad_use:
                return [Event(GRAD_USE, call)]
            if effect.backward:
                return [Event(BACKWARD, call)]
            if effect.grad_mode == "flag":
                flag = _literal_bool(call)
                value = GRAD_UNKNOWN if flag is None else (GRAD_ON if flag else GRAD_OFF)
                return [Event(GRAD_SET, call, value=value)]
        key = resolve_function(self.program, text, self.fn)
        if key is not None:
            info = self.program.functions[key]
            cls = self.program.classes.get(info.class_name or "")
            # `model.forward(x)` is the module's forward pass; a `forward` method of a class
            # that is not a module is code like any other, followed.
            if key.endswith(".forward") and info.is_method and (cls is None or cls.is_module):
                return [Event(FORWARD, call, name=text.rpartition(".")[0] if text else None)]
            return [self._call_event(call, key, text)]
        callee = self.table.callee(text, self.fn) if text is not None else None
        bindings: tuple[tuple[str, str | None], ...] = ()
        if callee is not None:
            bindings = (*_bind(callee.facts.params, call), *self._results.get(id(call), []))
        elif isinstance(func, cst.Attribute) and (receiver := dotted(func.value)) is not None:
            # `agent.act(state)`, where `agent = Agent(args)` of another module: `self` is it.
            callee = self.table.method_callee(receiver, func.attr.value, self.fn)
            if callee is not None:
                bindings = (("self", receiver), *_bind(callee.facts.params[1:], call))
                bindings += tuple(self._results.get(id(call), []))
        elif (made := self._constructed.get(id(call))) is not None:
            # `agent = Agent(args)`: its `__init__` leaves the new object's networks in modes;
            # `return Predictor(net)` builds its object in the result slot.
            built = text if made == results.RESULT else None
            callee = self.table.method_callee(made, "__init__", self.fn, built)
            if callee is not None and (text or "").split(".")[-1] != callee.name.split(".")[0]:
                callee = None  # made by a factory: its arguments are not the constructor's
            if callee is not None:
                bindings = (("self", made), *_bind(callee.facts.params[1:], call))
        if callee is not None:
            # Its facts say what it does to models; optimizers handed on are out of view.
            handed = tuple(
                name
                for arg in call.args
                if (name := dotted(arg.value)) is not None
                and (name in self.program.optimizers or is_optimizer_name(name))
            )
            return [
                Event(PROJECT_CALL, call, name=text, bindings=bindings, names=handed, callee=callee)
            ]
        if isinstance(func, cst.Attribute):
            method_events = self._method(call, func, text)
            if method_events is not None:
                return method_events
        if text is not None and text in self.program.classes:
            init = self.program.method(text, "__init__")
            if init is not None:
                return [self._call_event(call, init, text)]
            return []
        if text is not None and self._is_attack(text):
            return [Event(GRAD_USE, call)]  # `adv = attack(x, y)` differentiates the model
        if text is not None and self._is_model(text):
            return [Event(FORWARD, call, name=text)]
        opaque = self._opaque(call, full)
        if text is not None and self.fn is not None and text in self.fn.params:
            # `evaluate_fn(model)`: a function passed in, followed when the caller's value is
            # in view; else what handing the arguments to unseen code does.
            names = opaque[0].names if opaque else ()
            return [Event(CALL, call, name=text, bindings=raw_arguments(call), names=names)]
        return opaque

    def _is_attack(self, text: str) -> bool:
        """Whether `text` names an object built by an attack class of the knowledge table."""
        built = _unmoved(self.program.bound.get(text))
        if not isinstance(built, cst.Call):
            return False
        effect = kn.lookup(self.program.qualify(dotted(built.func)))
        return (
            effect is not None
            and effect.builds == "attack"
            and kn.method("attack", "__call__") is not None
        )

    def _method(self, call: cst.Call, func: cst.Attribute, text: str | None) -> list[Event] | None:
        method = func.attr.value
        receiver = dotted(func.value)
        if _updated_by_hand(func.value, call.args, method):
            return [Event(STEP, call, name=BY_HAND)]
        effect = kn.method("any", method)
        if effect is not None and effect.backward:
            full = self.program.qualify(receiver) if receiver else None
            own = kn.lookup(f"{full}.{method}") if full is not None else None
            if own is not None and own.grad_use:
                # Distributed autograd keeps gradients per context; nothing accumulates.
                return [Event(GRAD_USE, call)]
            return [Event(BACKWARD, call, name=receiver)]
        if method == "step":
            return self._step(call, receiver)
        moved = dotted(_unmoved(func.value))  # `model.cuda().requires_grad_(False)`: `model`
        if effect is not None and effect.freezes and moved is not None:
            needs = frozen.flag(call)
            if needs is False:
                return [Event(FREEZE, call, name=moved, value=GRAD_OFF)]
            if needs is True:
                return [Event(GRAD_USE, call), Event(FREEZE, call, name=moved, value=GRAD_ON)]
        if effect is not None and effect.grads == kn.READS and effect.whose == kn.EVERY:
            # A gradient hook reads gradients as `.grad` does: maybe to apply them by hand.
            return [Event(UNKNOWN_STEP, call)]
        if effect is not None and effect.whose == kn.FIRST_ARG and call.args:
            return _gradient_events(effect, call, receiver or "?")  # `xm.optimizer_step(opt)`
        if effect is not None and effect.grads == kn.CLEARS:
            if receiver in self.program.parts and receiver not in self.program.links:
                return []  # `encoder.zero_grad()` clears a part of what the optimizer steps
            return [Event(CLEAR, call, name=self._cleared_optimizer(receiver))]
        if _cleared_grad(func, call.args) is not None:
            return _gradient_events(kn.method("grad", method), call, ALL_OPTIMIZERS)
        if effect is not None and effect.grad_use:
            return [Event(GRAD_USE, call)]
        if effect is not None and effect.model_mode is not None and len(call.args) <= 1:
            moved = dotted(_unmoved(func.value))  # `model.to(device).train()`
            if moved is not None:
                flag = effect.model_mode == "flag"
                value = _train_mode(call) if flag else effect.model_mode
                if flag or not call.args:
                    return [Event(MODE, call, name=moved, value=value)]
        if receiver is None:
            return None
        full = self.program.qualify(receiver)
        if self.program.is_imported(receiver) and (kn.lookup(f"{full}.{method}") or _NONE).builds:
            return []  # `torch.optim.SGD(...)` builds an optimizer; `optim` is no optimizer
        if receiver in self.program.optimizers or is_optimizer_name(receiver):
            read = kn.method("optimizer", method)
            if read is None or read.grads != kn.READS:
                # A wrapper's own update method (`optimizer.step_and_update_lr()`) may step.
                return [Event(UNKNOWN_STEP, call, name=receiver)]
        wrapper = kn.method(self.table.receiver_kind(receiver), method)
        if wrapper is not None and wrapper.returns_args:
            return []  # `accelerator.prepare(model, opt)` hands back what it was given
        forward = kn.method("model", method)
        if forward is not None and forward.forward and self._is_model(receiver):
            return [Event(FORWARD, call, name=receiver, value=forward.grad_mode)]
        return None

    def _step(self, call: cst.Call, receiver: str | None) -> list[Event]:
        program = self.program
        if receiver is None:
            return [] if call.args else [Event(UNKNOWN_STEP, call)]
        kind = self._step_kind(receiver)
        if kind is None:
            return [] if call.args else [Event(UNKNOWN_STEP, call, name=receiver)]
        events = []
        if kind == "optimizer" and call.args:
            closure = dotted(call.args[0].value)  # `opt.step(closure)` runs the closure first
            key = resolve_function(program, closure, self.fn)
            if key is not None:
                events.append(Event(CALL, call, key=key))
        effect = kn.method(kind, "step")
        if effect is None:
            return [Event(UNKNOWN_STEP, call, name=receiver)]
        events += _gradient_events(effect, call, receiver)
        if kind == "scheduler" and not call.args:
            # Stepped in the batch's own order (TRN010 reads it). With an argument it is
            # `ReduceLROnPlateau.step(metric)` or the deprecated `step(epoch)`.
            events.append(Event(SCHEDULER_STEP, call, name=receiver))
        return events

    def _step_kind(self, receiver: str) -> str | None:
        """What the receiver of a `.step(...)` is, of the kinds the knowledge table names."""
        program = self.program
        if receiver in program.engines:
            return "engine"
        if receiver in program.scalers or is_scaler_name(receiver):
            return "scaler"
        if receiver in program.schedulers:
            return "scheduler"
        if receiver in program.optimizers:
            return "optimizer"  # bound to one, whatever its name says (`optim_schedule`)
        if is_scheduler_name(receiver):
            return "scheduler"
        if is_optimizer_name(receiver):
            return "optimizer"
        return None

    def _cleared_optimizer(self, receiver: str | None) -> str:
        program = self.program
        if receiver is None:
            return ALL_OPTIMIZERS
        if receiver in program.links:
            return program.links[receiver]
        if receiver in self.table.loop_targets:
            return ALL_OPTIMIZERS
        if receiver in program.optimizers or is_optimizer_name(receiver):
            return receiver
        return ALL_OPTIMIZERS

    def _is_model(self, text: str) -> bool:
        program = self.program
        if text in program.models or text in self._alias_models:
            return True
        if text == "self":
            cls = (
                program.classes.get(self.fn.class_name) if self.fn and self.fn.class_name else None
            )
            return cls is not None and cls.is_module
        receiver, _, last = text.rpartition(".")
        if last[:1].isupper() or program.qualify(text) != text or program.is_imported(text):
            return False
        if text in program.module_functions or is_optimizer_name(text):
            return False
        # `self.encoder(x)` or `model.head(x)` call a submodule; `plugin.set_policy()` does not.
        if receiver and receiver != "self" and not self._is_model(receiver):
            return False
        return is_model_name(text)

    def _call_event(self, call: cst.Call, key: str, text: str | None) -> Event:
        info = self.program.functions[key]
        params = list(info.params)
        receiver: str | None = None
        if info.is_method and params and not _is_static(info):
            if key.endswith(".__init__") or (text and text.split(".")[0] in self.program.classes):
                receiver = self._constructed.get(id(call))
            else:
                receiver = text.rpartition(".")[0] if text else None
            params = params[1:]
        bindings: list[tuple[str, str | None]] = []
        if info.is_method:
            bindings.append(("self", receiver))
        positional = [a for a in call.args if a.keyword is None and not a.star]
        for param, arg in zip(params, positional, strict=False):
            bindings.append((param, self._argument(arg.value)))
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in params:
                bindings.append((arg.keyword.value, self._argument(arg.value)))
        if not key.endswith(".__init__"):
            bindings += self._results.get(id(call), [])
        constants = _constant_arguments(info, params, call)
        return Event(CALL, call, key=key, bindings=tuple(bindings), constants=constants)

    def _argument(self, value: cst.BaseExpression) -> str | None:
        """An argument as the parameter it is bound to is renamed: its text, or `FUNCTION`
        for a plain function that no name holds (`lambda X: net(X, w, b)`, `partial(f, w)`)."""
        text = dotted(_unmoved(value))
        if text is None and self.program.function_value(value, self.fn):
            return FUNCTION
        return text

    def _opaque(self, call: cst.Call, full: str | None) -> list[Event]:
        if full is not None and full.split(".")[-1].endswith("zero_grad"):
            return [Event(CLEAR, call, name=ALL_OPTIMIZERS)]  # a helper that clears gradients
        effect = self._known(call, full)
        if kn.is_neutral(effect):
            return []
        # A known call that reads the optimizers it is given but may change a model's mode.
        models_only = (
            effect is not None
            and not effect.hands_on
            and effect.grads in (kn.NEUTRAL, kn.READS)
            and effect.model_mode == "unk"
        )
        handed: list[str] = []
        for arg in call.args:
            name = dotted(arg.value)
            if name is None:
                continue
            if self._is_model(name) or (
                not models_only and (name in self.program.optimizers or is_optimizer_name(name))
            ):
                handed.append(name)
        return [Event(OPAQUE, call, names=tuple(handed))] if handed else []

    def _known(self, call: cst.Call, full: str | None) -> kn.Effect | None:
        """The knowledge table's entry for a call the analysis does not follow, if any."""
        effect = kn.lookup(full)
        if effect is not None:
            return effect
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver = dotted(func.value)
            kind = self._step_kind(receiver) if receiver is not None else None
            effect = (kn.method(kind, method) if kind else None) or kn.method("any", method)
            if effect is not None:
                return effect
        return kn.by_last_name(full.rpartition(".")[2]) if full else None


_NONE = kn.Effect("no entry")


def raw_arguments(call: cst.Call) -> tuple[tuple[str, str | None], ...]:
    """A call's arguments as (`#0`, `#1`, ... or the keyword, text): bound to parameters once
    the function called is known."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    out = [(f"#{i}", dotted(_unmoved(a.value))) for i, a in enumerate(positional)]
    out += [(a.keyword.value, dotted(_unmoved(a.value))) for a in call.args if a.keyword]
    return tuple(out)


def bind_raw(
    params: Sequence[str], raw: tuple[tuple[str, str | None], ...]
) -> tuple[tuple[str, str | None], ...]:
    """Arguments of `raw_arguments` bound to the parameters of the function called."""
    out = []
    for slot, text in raw:
        if slot.startswith("#"):
            index = int(slot[1:])
            if index < len(params):
                out.append((params[index], text))
        elif slot in params:
            out.append((slot, text))
    return tuple(out)


def _bind(params: Sequence[str], call: cst.Call) -> tuple[tuple[str, str | None], ...]:
    return bind_raw(params, raw_arguments(call))


def _gradient_events(effect: kn.Effect | None, call: cst.Call, receiver: str) -> list[Event]:
    """The step and clear events of a known call, on the optimizer(s) its entry names."""
    if effect is None:
        return []
    if effect.whose == kn.FIRST_ARG:
        target = (dotted(call.args[0].value) if call.args else None) or "?"
    elif effect.whose == kn.EVERY:
        target = ALL_OPTIMIZERS
    else:
        target = receiver
    events = []
    if effect.grads in (kn.STEPS, kn.STEPS_AND_CLEARS):
        events.append(Event(STEP, call, name=receiver if target == ALL_OPTIMIZERS else target))
    if effect.grads in (kn.CLEARS, kn.STEPS_AND_CLEARS):
        events.append(Event(CLEAR, call, name=target))
    return events


_AUGMENTED = {cst.SubtractAssign: "__isub__", cst.AddAssign: "__iadd__"}


def _updated_by_hand(target: cst.BaseExpression, args: Sequence[cst.Arg], method: str) -> bool:
    """`p.data.add_(p.grad, alpha=-lr)`, `p -= lr * p.grad`: a parameter (`p` or `p.data`)
    updated from its own gradient, as the knowledge table's `<parameter>` entries say."""
    effect = kn.method("parameter", method)
    if effect is None or effect.grads != kn.STEPS:
        return False
    if isinstance(target, cst.Attribute) and target.attr.value == "data":
        target = target.value
    root = dotted(target)
    if root is None or "grad" in root.split("."):
        return False
    finder = _GradOf(root + ".grad")
    for arg in args:
        walk(arg.value, finder)
    return finder.found


class _GradOf(cst.CSTVisitor):
    def __init__(self, grad: str) -> None:
        self.grad, self.found = grad, False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if node.attr.value == "grad" and dotted(node) == self.grad:
            self.found = True
        return not self.found


def _torch_named(full: str | None) -> str | None:
    """`autograd.grad` written without an import is still torch's; so is
    `torch.autograd.grad_mode.set_grad_enabled`, under its short name."""
    if full is None:
        return None
    if full.startswith("autograd."):
        return "torch." + full
    short = "torch." + full.rpartition(".")[2]
    if full.startswith("torch.") and short in kn.TABLE and kn.TABLE[short].grad_mode:
        return short
    return full


# In-place tensor methods that initialise or update weights (TRN011).
_INPLACE_METHODS = frozenset(
    {"normal_", "uniform_", "fill_", "zero_", "copy_", "add_", "sub_", "mul_", "div_",
     "clamp_", "bernoulli_", "exponential_", "random_"}
)  # fmt: skip


# Methods that do their work only when called, and which receivers have them.
_BARE_ROLES = {
    "eval": ("model",),
    "train": ("model",),
    "zero_grad": ("model", "optimizer"),
    "step": ("optimizer", "scheduler"),
}


def _copied(target: cst.BaseExpression, value: cst.BaseExpression) -> list[tuple[str, str]]:
    """(name, source) for each name of an assignment target bound to what another name holds:
    `self.net = net`, `a, b = b, a`. Constants (`None`, `True`) are no objects to follow."""
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)):
        if len(target.elements) != len(value.elements):
            return []
        return [
            pair
            for t, v in zip(target.elements, value.elements, strict=True)
            for pair in _copied(t.value, v.value)
        ]
    name, source = dotted(target), dotted(value)
    if not isinstance(value, (cst.Name, cst.Attribute)) or name is None or source is None:
        return []
    if source in ("None", "True", "False") or name == source:
        return []
    return [(name, source)]


def _is_zero_number(value: cst.BaseExpression) -> bool:
    """`0` or `0.0`: torch refuses a number as a tensor's `.grad`, so `p.grad = 0.0` is a
    hand-written autograd engine (micrograd's `Value`) resetting a gradient: a clear."""
    return isinstance(value, (cst.Integer, cst.Float)) and value.evaluated_value == 0


def _on_self(target: cst.BaseExpression) -> bool:
    """`self.grad = 0.0`: such an engine's constructor giving a new number its gradient; the
    parameters' gradients are untouched, though the loop builds new numbers each time."""
    return (dotted(target) or "").startswith("self.")


def _is_grad_target(target: cst.BaseExpression, *also: str) -> bool:
    """`p.grad` or `p.grad.data` as an assignment target: assigning it replaces the gradient.
    `also` names other attributes that hold it (`_grad`)."""
    if isinstance(target, cst.Attribute) and target.attr.value == "data":
        target = target.value
    return isinstance(target, cst.Attribute) and target.attr.value in ("grad", *also)


def _grad_of(expr: cst.BaseExpression) -> cst.Attribute | None:
    """The `p.grad` of `p.grad` or `p.grad.data`, else None."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "data":
        expr = expr.value
    if isinstance(expr, cst.Attribute) and expr.attr.value == "grad":
        return expr
    return None


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _inspected_grad(func: cst.BaseExpression) -> cst.Attribute | None:
    """The `p.grad` of `p.grad.norm()` / `p.grad.data.clamp_(-1, 1)`: a method the table
    says reads or changes the gradient where it stays, applying nothing; else None."""
    if not isinstance(func, cst.Attribute):
        return None
    effect = kn.method("grad", func.attr.value)
    if effect is None or not effect.inspects:
        return None
    return _grad_of(func.value)


class _GradReads(cst.CSTVisitor):
    """Collects the `.grad` attributes under a node (into `found`)."""

    def __init__(self, found: set[int]) -> None:
        self.found = found

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "grad":
            self.found.add(id(node))


def _cleared_grad(func: cst.BaseExpression, args: Sequence[cst.Arg]) -> cst.Attribute | None:
    """The `p.grad` of `p.grad.zero_()` / `p.grad.data.detach_()` / `p.grad.fill_(0)`, else
    None (`p.grad.fill_(1)` is no method the table knows: it sets the gradient, not clears)."""
    if not isinstance(func, cst.Attribute):
        return None
    effect = kn.method("grad", func.attr.value)
    if effect is None or effect.inspects:
        return None
    if func.attr.value == "fill_" and not (len(args) == 1 and _is_zero(args[0].value)):
        return None
    inner = func.value
    if isinstance(inner, cst.Attribute) and inner.attr.value == "data":
        inner = inner.value
    if isinstance(inner, cst.Attribute) and inner.attr.value == "grad":
        return inner
    return None


def _is_zero(value: cst.BaseExpression) -> bool:
    return isinstance(value, (cst.Integer, cst.Float)) and float(value.value) == 0


def _chained_mode(expr: cst.BaseExpression) -> str | None:
    """The mode the last `.eval()`/`.train(...)` of a chain of moves sets, or None."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        effect = kn.method("any", expr.func.attr.value)
        if effect is None or not effect.same_object:
            break
        if effect.model_mode == "eval" and not expr.args:
            return "eval"
        if effect.model_mode == "flag" and len(expr.args) <= 1:
            mode = _train_mode(expr)
            return mode if mode in {"train", "eval"} else "unk"
        expr = expr.func.value
    return None


def _mode_left(node: cst.FunctionDef) -> str:
    """The mode the file's function `node` leaves the model it returns in: "default" (fresh)
    when it switches no mode of the name it returns; the mode of its last switch when every
    switch of that name runs on the way to every return (`model = Net();
    model.load_state_dict(...); model.eval(); return model`, also inside a `try:` block);
    else unknown (a switch in a branch or a loop, or a return of something else)."""
    from .returns import Returns

    finder = Returns()
    walk(node.body, finder)
    if not finder.sets_mode:
        return "default"
    returned = {dotted(v) for v in finder.values}
    if len(returned) != 1 or None in returned:
        return "unk"
    switches = _Switches(returned.pop())
    walk(node.body, switches)
    if not switches.found:
        return "default"  # it switches other objects (`teacher.eval()`), not this one
    straight = [c for c in _straight_calls(node.body.body) if id(c) in switches.found]
    if len(straight) != len(switches.found):
        return "unk"
    mode = _chained_mode(straight[-1])
    return mode if mode in ("eval", "train") else "unk"


def _straight_calls(body: Sequence[cst.BaseStatement]) -> list[cst.Call]:
    """The calls written as statements that run whenever `body` runs to its end: its own,
    and those of the `try:` and `with` blocks in it (not of branches or loops)."""
    out: list[cst.Call] = []
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            out += [s.value for s in stmt.body if isinstance(s, cst.Expr)
                    and isinstance(s.value, cst.Call)]  # fmt: skip
        elif isinstance(stmt, (cst.Try, cst.With)):
            out += _straight_calls(stmt.body.body)
    return out


class _Switches(cst.CSTVisitor):
    """The calls that switch the mode of `name`: `name.eval()`, `name.to(device).train()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("eval", "train"):
            return
        receiver: cst.BaseExpression = func.value
        while isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute):
            receiver = receiver.func.value  # `model.to(device).eval()`: `model`
        if dotted(receiver) == self.name:
            self.found.add(id(node))


def _is_static(info: FunctionInfo) -> bool:
    return any(dotted(d.decorator) == "staticmethod" for d in info.node.decorators)


def _train_mode(call: cst.Call) -> str:
    if not call.args:
        return "train"
    value = call.args[0].value
    if isinstance(value, cst.Name):
        if value.value in {"True", "False"}:
            return "train" if value.value == "True" else "eval"
        return "restore:" + value.value
    return "unk"


def _creates_new_object(target: cst.BaseExpression, value: cst.BaseExpression) -> bool:
    """`model = Net()` makes a new object; `model = model.to(dev)` or `DDP(model)` does not."""
    if not isinstance(value, cst.Call):
        return False
    roots = {n.split(".")[0] for n in target_names(target)}
    func_root = (dotted(value.func) or "").split(".")[0]
    if func_root in roots:
        return False
    return not any((dotted(a.value) or "").split(".")[0] in roots for a in value.args)


class _DeferredNames(cst.CSTVisitor):
    """Names bound, anywhere in a file, to what a call marked `defers` in the knowledge table
    returns: each target of `model, opt = accelerator.prepare(model, opt)`."""

    def __init__(self, table: EventTable) -> None:
        self.table = table
        self.names: set[str] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        call = node.value
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
            return
        kind = self.table.receiver_kind(dotted(call.func.value))
        effect = kn.method(kind, call.func.attr.value)
        if effect is None or not effect.defers:
            return
        given = [dotted(a.value) for a in call.args if a.keyword is None and not a.star]
        optimizers = self.table.program.optimizers
        for target in node.targets:
            value = target.target
            elements = value.elements if isinstance(value, cst.Tuple | cst.List) else [value]
            for position, element in enumerate(elements):
                inner = element.value if isinstance(element, cst.BaseElement) else element
                text = dotted(inner)
                argument = given[position] if position < len(given) else None
                # Only the optimizers come back deferring: a model's `zero_grad()` still clears.
                if text is not None and any(
                    n is not None and (n in optimizers or is_optimizer_name(n))
                    for n in (text, argument)
                ):
                    self.names.add(text)

"""Training events: what each statement does to gradients, optimizers and model modes.

A statement becomes a short list of events in evaluation order. The interpreter replays these
lists; it never looks at expressions itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .names import dotted
from .program import FunctionInfo, Program
from .vocab import is_model_name, is_optimizer_name, is_scaler_name, is_scheduler_name
from .walk import walk

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


BACKWARD = "backward"
STEP = "step"
UNKNOWN_STEP = "unknown_step"
CLEAR = "clear"
MODE = "mode"
GRAD_SET = "grad_set"
FORWARD = "forward"
CALL = "call"
SAVE_MODE = "save_mode"
ASSIGN = "assign"
OPAQUE = "opaque"
GRAD_USE = "grad_use"

ALL_OPTIMIZERS = "*"
_NEUTRAL_METHODS = frozenset(
    {"to", "cuda", "cpu", "parameters", "named_parameters", "state_dict", "load_state_dict",
     "modules", "children", "apply", "half", "float", "double", "register_forward_hook",
     "item", "detach", "size", "numel", "add_param_group"}
)  # fmt: skip
_OPTIMIZER_READS = frozenset(
    {"state_dict", "load_state_dict", "add_param_group", "register_step_pre_hook",
     "register_step_post_hook", "param_groups", "__repr__"}
)  # fmt: skip
_PURE_BUILTINS = frozenset(
    {"print", "len", "sum", "isinstance", "range", "enumerate", "zip", "list", "tuple", "dict",
     "str", "int", "float", "repr", "type", "id", "hasattr", "getattr", "sorted", "min", "max"}
)  # fmt: skip


class EventTable:
    """Events of statements and expressions, computed once per node and cached."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.loop_targets = program.loop_targets
        self._cache: dict[int, list[Event]] = {}
        self._disables_grad: dict[str, bool] = {}

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
        if last in {"no_grad", "inference_mode"} and (full.startswith("torch") or full == last):
            if last == "inference_mode" and call and _literal_bool(call) is False:
                return None
            return GRAD_OFF
        if last == "enable_grad":
            return GRAD_ON
        if last == "set_grad_enabled" and call is not None:
            flag = _literal_bool(call)
            return GRAD_UNKNOWN if flag is None else (GRAD_ON if flag else GRAD_OFF)
        key = resolve_function(self.program, text, fn)
        if key is not None and self.function_disables_grad(key):
            return GRAD_OFF
        if "no_grad" in last or "inference" in last:
            return GRAD_OFF
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
        return None
    if head == "self" and fn is not None and fn.class_name:
        return program.method(fn.class_name, rest)
    if head in program.instances:
        return program.method(program.instances[head], rest)
    if head in program.classes:
        return program.method(head, rest)
    return None


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
        self._consumed: set[int] = set()  # `.grad` nodes that are being cleared, not read

    def collect(self, node: cst.CSTNode) -> list[Event]:
        if isinstance(node, (cst.Assign, cst.AnnAssign)):
            self._assignment(node)
        else:
            walk(node, self)
        return self.events

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
        for target in targets:
            # A new object starts fresh before its constructor runs.
            if _creates_new_object(target, value):
                fresh = self._fresh_mode(value)
                for name in _target_names(target):
                    self.events.append(Event(ASSIGN, target, name=name, value=fresh))
        walk(value, self)
        for target in targets:
            if isinstance(target, cst.Attribute) and target.attr.value == "grad":
                if isinstance(value, cst.Name) and value.value == "None":
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

    def _fresh_mode(self, value: cst.Call) -> str:
        """A constructed model is in training mode; a loaded one may be in either."""
        text = dotted(value.func) or ""
        last = text.split(".")[-1]
        if last[:1].isupper() or resolve_function(self.program, text, self.fn) is not None:
            return "default"
        return "unk"

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        grad = _cleared_grad(func)
        if grad is not None:
            self._consumed.add(id(grad))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "grad" and id(node) not in self._consumed:
            # Code that reads gradients may apply them by hand (or ship them elsewhere).
            self.events.append(Event(UNKNOWN_STEP, node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Call(self, original_node: cst.Call) -> None:
        self.events.extend(self._classify(original_node))

    def _classify(self, call: cst.Call) -> list[Event]:
        func = call.func
        text = dotted(func)
        full = self.program.qualify(text) if text else None
        if full is not None:
            if full.endswith("autograd.grad") or full.startswith("torch.distributed.autograd"):
                # Neither accumulates into `.grad`: distributed autograd keeps per-context grads.
                return [Event(GRAD_USE, call)]
            if full.endswith("autograd.backward"):
                return [Event(BACKWARD, call)]
            if full.endswith("set_grad_enabled") and full.startswith("torch"):
                flag = _literal_bool(call)
                value = GRAD_UNKNOWN if flag is None else (GRAD_ON if flag else GRAD_OFF)
                return [Event(GRAD_SET, call, value=value)]
        key = resolve_function(self.program, text, self.fn)
        if key is not None:
            if key.endswith(".forward") and self.program.functions[key].is_method:
                return [Event(FORWARD, call, name=text.rpartition(".")[0] if text else None)]
            return [self._call_event(call, key, text)]
        if isinstance(func, cst.Attribute):
            method_events = self._method(call, func, text)
            if method_events is not None:
                return method_events
        if text is not None and text in self.program.classes:
            init = self.program.method(text, "__init__")
            if init is not None:
                return [self._call_event(call, init, text)]
            return []
        if text is not None and self._is_model(text):
            return [Event(FORWARD, call, name=text)]
        return self._opaque(call, full)

    def _method(self, call: cst.Call, func: cst.Attribute, text: str | None) -> list[Event] | None:
        method = func.attr.value
        receiver = dotted(func.value)
        if method == "backward":
            full = self.program.qualify(receiver) if receiver else None
            if full is not None and full.startswith("torch.distributed"):
                # Distributed autograd keeps gradients per context; nothing accumulates.
                return [Event(GRAD_USE, call)]
            return [Event(BACKWARD, call, name=receiver)]
        if method == "step":
            return self._step(call, receiver)
        if method == "optimizer_step" and call.args:
            return [Event(STEP, call, name=dotted(call.args[0].value) or "?")]
        if method == "zero_grad":
            return [Event(CLEAR, call, name=self._cleared_optimizer(receiver))]
        if _cleared_grad(func) is not None:
            return [Event(CLEAR, call, name=ALL_OPTIMIZERS)] if method == "zero_" else []
        if method == "requires_grad_":
            return [Event(GRAD_USE, call)]
        if method in {"eval", "train"} and len(call.args) <= 1:
            moved = dotted(_unmoved(func.value))  # `model.to(device).train()`
            if moved is not None:
                value = "eval" if method == "eval" else _train_mode(call)
                if method == "train" or not call.args:
                    return [Event(MODE, call, name=moved, value=value)]
        if receiver is None:
            return None
        if (receiver in self.program.optimizers or is_optimizer_name(receiver)) and (
            method not in _OPTIMIZER_READS
        ):
            # A wrapper's own update method (`optimizer.step_and_update_lr()`) may step.
            return [Event(UNKNOWN_STEP, call, name=receiver)]
        if method == "forward" and self._is_model(receiver):
            return [Event(FORWARD, call, name=receiver)]
        return None

    def _step(self, call: cst.Call, receiver: str | None) -> list[Event]:
        program = self.program
        if receiver is None:
            return [] if call.args else [Event(UNKNOWN_STEP, call)]
        if receiver in program.engines:
            return [Event(STEP, call, name=receiver), Event(CLEAR, call, name=ALL_OPTIMIZERS)]
        if receiver in program.scalers or is_scaler_name(receiver):
            target = dotted(call.args[0].value) if call.args else None
            return [Event(STEP, call, name=target or "?")]
        if receiver in program.schedulers or is_scheduler_name(receiver):
            return []
        if receiver in program.optimizers or is_optimizer_name(receiver):
            events = []
            if call.args:
                closure = dotted(call.args[0].value)
                key = resolve_function(program, closure, self.fn)
                if key is not None:
                    events.append(Event(CALL, call, key=key))
            events.append(Event(STEP, call, name=receiver))
            return events
        return [] if call.args else [Event(UNKNOWN_STEP, call, name=receiver)]

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
        if text in program.models:
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
            bindings.append((param, dotted(arg.value)))
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in params:
                bindings.append((arg.keyword.value, dotted(arg.value)))
        return Event(CALL, call, key=key, bindings=tuple(bindings))

    def _opaque(self, call: cst.Call, full: str | None) -> list[Event]:
        if full is not None and full.split(".")[-1].endswith("zero_grad"):
            return [Event(CLEAR, call, name=ALL_OPTIMIZERS)]  # a helper that clears gradients
        if full is not None and (full.startswith("torch") or full in _PURE_BUILTINS):
            return []
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in _NEUTRAL_METHODS:
            return []
        handed: list[str] = []
        for arg in call.args:
            name = dotted(arg.value)
            if name is None:
                continue
            if name in self.program.optimizers or is_optimizer_name(name) or self._is_model(name):
                handed.append(name)
        return [Event(OPAQUE, call, names=tuple(handed))] if handed else []


def _cleared_grad(func: cst.BaseExpression) -> cst.Attribute | None:
    """The `p.grad` of `p.grad.zero_()` / `p.grad.data.detach_()`, else None."""
    if not (isinstance(func, cst.Attribute) and func.attr.value in {"zero_", "detach_"}):
        return None
    inner = func.value
    if isinstance(inner, cst.Attribute) and inner.attr.value == "data":
        inner = inner.value
    if isinstance(inner, cst.Attribute) and inner.attr.value == "grad":
        return inner
    return None


_MOVES = frozenset({"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "eval", "train"})


def _unmoved(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`model.to(device).cuda()` -> `model`: moving a model keeps the same object."""
    while (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value in _MOVES
    ):
        expr = expr.func.value
    return expr


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


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _target_names(e.value)]
    name = dotted(target)
    return [name] if name else []


def _creates_new_object(target: cst.BaseExpression, value: cst.BaseExpression) -> bool:
    """`model = Net()` makes a new object; `model = model.to(dev)` or `DDP(model)` does not."""
    if not isinstance(value, cst.Call):
        return False
    roots = {n.split(".")[0] for n in _target_names(target)}
    func_root = (dotted(value.func) or "").split(".")[0]
    if func_root in roots:
        return False
    return not any((dotted(a.value) or "").split(".")[0] in roots for a in value.args)

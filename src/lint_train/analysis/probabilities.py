"""Which losses are given probabilities where they expect logits (TRN009).

A small forward data-flow pass over the file's own code, fed from the one parse. It knows three
kinds of values: a tensor that holds the output of a softmax, log-softmax or sigmoid; a layer
whose output is one (`nn.Softmax(dim=1)`, an `nn.Sequential` ending in one, an instance of the
file's own module class whose `forward` returns one on every path, or what a file's function
returning such a layer gives); and a loss (`nn.CrossEntropyLoss()` bound once, called later).
Every name starts unknown, and a value survives a branch only when both ways agree, so a model
with a `return_probs` switch, a parameter, or a name rebound in a loop is never guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from .names import dotted, target_names
from .program import FunctionInfo, Program

# What these calls return: probabilities (or log-probabilities) of the named kind.
ACTIVATIONS = {
    "torch.softmax": "softmax",
    "torch.nn.functional.softmax": "softmax",
    "torch.special.softmax": "softmax",
    "torch.log_softmax": "log_softmax",
    "torch.nn.functional.log_softmax": "log_softmax",
    "torch.special.log_softmax": "log_softmax",
    "torch.sigmoid": "sigmoid",
    "torch.nn.functional.sigmoid": "sigmoid",
    "torch.special.expit": "sigmoid",
}
# Tensor methods of the same names (`logits.softmax(dim=1)`).
ACTIVATION_METHODS = {"softmax": "softmax", "log_softmax": "log_softmax", "sigmoid": "sigmoid"}
LAYERS = {
    "torch.nn.Softmax": "softmax",
    "torch.nn.LogSoftmax": "log_softmax",
    "torch.nn.Sigmoid": "sigmoid",
}
LOSS_FUNCTIONS = {
    "torch.nn.functional.cross_entropy": "cross_entropy",
    "torch.nn.functional.binary_cross_entropy_with_logits": "bce_with_logits",
    "torch.nn.functional.nll_loss": "nll_loss",
}
LOSS_CLASSES = {
    "torch.nn.CrossEntropyLoss": "cross_entropy",
    "torch.nn.BCEWithLogitsLoss": "bce_with_logits",
    "torch.nn.NLLLoss": "nll_loss",
}
# Loss -> the inputs that are a bug. `log_softmax` into cross-entropy is not one: log-softmax
# is idempotent, so the loss and its gradients are exactly those of the logits.
WRONG = {
    "cross_entropy": frozenset({"softmax"}),
    "bce_with_logits": frozenset({"sigmoid"}),
    "nll_loss": frozenset({"softmax"}),
}
# Methods that return the same values (a moved or reshaped tensor, a moved model).
_SAME_VALUES = frozenset(
    {"to", "cuda", "cpu", "float", "double", "squeeze", "unsqueeze", "view", "reshape",
     "flatten", "contiguous"}
)  # fmt: skip
_SEQUENTIAL = "torch.nn.Sequential"


@dataclass(frozen=True)
class Value:
    role: str  # "tensor" (holds the activation's output), "layer" (returns it) or "loss"
    kind: str  # the activation ("softmax", "log_softmax", "sigmoid") or the loss
    origin: cst.CSTNode  # where it is made: the activation call, the layer, the loss

    def same(self, other: Value | None) -> bool:
        return other is not None and (self.role, self.kind) == (other.role, other.kind)


@dataclass(frozen=True)
class ProbabilityLoss:
    """A loss call whose input holds the output of an activation the loss applies itself."""

    call: cst.Call  # the loss call
    loss: str  # "cross_entropy", "bce_with_logits" or "nll_loss"
    loss_text: str  # the callee as written: `criterion`, `F.cross_entropy`
    activation: str  # "softmax" or "sigmoid"
    argument: cst.BaseExpression  # the loss's input as written
    origin: cst.CSTNode  # where the activation is applied
    # The argument is itself the activation call: its input, which the fix passes instead.
    inner: cst.BaseExpression | None = None


Env = dict[str, Value]


@dataclass
class _Analysis:
    program: Program
    found: dict[int, ProbabilityLoss] = field(default_factory=dict)
    results: dict[str, Value | None] = field(default_factory=dict)  # function key -> result
    attributes: dict[str, Env] = field(default_factory=dict)  # class -> `self.x` values
    running: set[str] = field(default_factory=set)  # recursion guard
    globals: Env = field(default_factory=dict)

    # Values --------------------------------------------------------------------------------
    def value(self, expr: cst.BaseExpression, env: Env) -> Value | None:
        text = dotted(expr)
        if text is not None:
            return env.get(text)
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        full = self._qualified(func)
        if full in ACTIVATIONS:
            return Value("tensor", ACTIVATIONS[full], expr)
        if full in LAYERS:
            return Value("layer", LAYERS[full], expr)
        if full in LOSS_CLASSES:
            return Value("loss", LOSS_CLASSES[full], expr)
        if full == _SEQUENTIAL:
            positional = [a.value for a in expr.args if a.keyword is None and not a.star]
            last = self.value(positional[-1], env) if positional else None
            return last if last is not None and last.role == "layer" else None
        if full is not None:
            return None  # some other library call
        if isinstance(func, cst.Attribute):
            receiver = self.value(func.value, env)
            method = func.attr.value
            if method in _SAME_VALUES and receiver is not None and receiver.role != "loss":
                return receiver
            if method in ACTIVATION_METHODS and _plain_receiver(self.program, func.value):
                return Value("tensor", ACTIVATION_METHODS[method], expr)
        called = self.value(func, env)
        if called is not None:
            return Value("tensor", called.kind, called.origin) if called.role == "layer" else None
        name = dotted(func)
        return self._own_call(name, env) if name is not None and "." not in name else None

    def _qualified(self, func: cst.BaseExpression) -> str | None:
        """The imported name a callee stands for (`F.softmax` -> `torch.nn.functional.softmax`);
        None for a callee that is not an imported name."""
        text = dotted(func)
        if text is None or not self.program.is_imported(text):
            return None
        return self.program.qualify(text)

    def _own_call(self, name: str, env: Env) -> Value | None:
        """A call of the file's own class (an instance) or top-level function (its result)."""
        if name in env:
            return None  # a local name hides the file's own definitions
        cls = self.program.classes.get(name)
        if cls is not None:
            key = self.program.method(name, "forward")
            result = self.result(key) if key is not None and cls.is_module else None
            if result is not None and result.role == "tensor":
                return Value("layer", result.kind, result.origin)
            return None
        key = self.program.module_functions.get(name)
        return self.result(key) if key is not None else None

    def result(self, key: str) -> Value | None:
        """What a function of the file returns on every path that returns, if one value."""
        if key in self.results:
            return self.results[key]
        if key in self.running:
            return None
        self.running.add(key)
        returned: list[Value | None] = []
        self.function(key, returned.append)
        self.running.discard(key)
        first = returned[0] if returned else None
        agreed = first if first is not None and all(first.same(v) for v in returned) else None
        self.results[key] = agreed
        return agreed

    # Flow ----------------------------------------------------------------------------------
    def function(self, key: str, on_return: Callable[[Value | None], None]) -> None:
        info = self.program.functions[key]
        env = self._visible(info)
        if info.class_name is not None and info.params[:1] == ["self"]:
            env.update(self.class_attributes(info.class_name))
        _Flow(self, on_return).block(info.node.body, env)

    def _visible(self, info: FunctionInfo) -> Env:
        """The globals a function sees: those its parameters and locals do not hide."""
        hidden = set(info.params) | info.local_names
        return {k: v for k, v in self.globals.items() if k.partition(".")[0] not in hidden}

    def class_attributes(self, name: str) -> Env:
        """`self.x` values a class's `__init__` sets, when no other method of it rebinds them."""
        if name in self.attributes:
            return self.attributes[name]
        self.attributes[name] = {}  # while `__init__` runs
        cls = self.program.classes[name]
        init = cls.methods.get("__init__")
        if init is None:
            return {}
        counts: dict[str, int] = {}
        for key in cls.methods.values():
            for target in _self_targets(self.program.functions[key].node.body):
                counts[target] = counts.get(target, 0) + 1
        env = self._visible(self.program.functions[init])
        env = _Flow(self, lambda _: None).block(self.program.functions[init].node.body, env)
        kept = {k: v for k, v in env.items() if k.startswith("self.") and counts.get(k) == 1}
        self.attributes[name] = kept
        return kept

    def check_loss(self, call: cst.Call, env: Env) -> None:
        loss = self._loss_of(call.func, env)
        if loss is None or id(call) in self.found:
            return
        argument = _input_of(call)
        got = self.value(argument, env) if argument is not None else None
        if argument is None or got is None or got.role != "tensor":
            return
        if got.kind not in WRONG[loss]:
            return
        inner = None
        if got.origin is argument and isinstance(argument, cst.Call):
            # `F.softmax(logits, dim=1)` or `logits.softmax(1)`: `logits`, which the fix passes.
            functional = self._qualified(argument.func) is not None
            if functional:
                inner = _input_of(argument)
            elif isinstance(argument.func, cst.Attribute):
                inner = argument.func.value
        text = self.program.module.code_for_node(call.func).strip()
        self.found[id(call)] = ProbabilityLoss(
            call, loss, text, got.kind, argument, got.origin, inner
        )

    def _loss_of(self, func: cst.BaseExpression, env: Env) -> str | None:
        full = self._qualified(func)
        if full in LOSS_FUNCTIONS:
            return LOSS_FUNCTIONS[full]
        if full is not None:
            return None
        value = self.value(func, env)
        return value.kind if value is not None and value.role == "loss" else None


class _Flow:
    """Runs a block forward, statement by statement, keeping what each name holds."""

    def __init__(self, analysis: _Analysis, on_return: Callable[[Value | None], None]) -> None:
        self.analysis = analysis
        self.on_return = on_return

    def block(self, body: Sequence[cst.CSTNode] | cst.BaseSuite, env: Env) -> Env:
        if isinstance(body, (cst.SimpleStatementSuite, cst.IndentedBlock)):
            statements: Sequence[cst.CSTNode] = body.body
        else:
            statements = body
        for stmt in statements:
            env = self.statement(stmt, env)
        return env

    def statement(self, stmt: cst.CSTNode, env: Env) -> Env:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                env = self.small(small, env)
            return env
        if isinstance(stmt, cst.If):
            self.expressions(stmt.test, env)
            then = self.block(stmt.body, dict(env))
            other = dict(env) if stmt.orelse is None else self.statement(stmt.orelse, dict(env))
            return _meet(then, other)
        if isinstance(stmt, cst.Else):
            return self.block(stmt.body, env)
        if isinstance(stmt, (cst.For, cst.While)):
            self.expressions(stmt.iter if isinstance(stmt, cst.For) else stmt.test, env)
            # The body runs again after itself: what it binds is unknown at its top.
            _forget(_bound_names(stmt), env)
            env = _meet(env, self.block(stmt.body, dict(env)))
            return self.block(stmt.orelse.body, env) if stmt.orelse is not None else env
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                self.expressions(item.item, env)
            _forget(_with_names(stmt), env)
            return self.block(stmt.body, env)
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            body = self.block(stmt.body, dict(env))
            ends = [self.block(stmt.orelse.body, body) if stmt.orelse else body]
            start = _meet(env, body)
            for handler in stmt.handlers:
                ends.append(self.block(handler.body, _forget(_bound_names(handler), dict(start))))
            env = ends[0]
            for end in ends[1:]:
                env = _meet(env, end)
            return self.block(stmt.finalbody.body, env) if stmt.finalbody else env
        # A definition, `match`, an async form: what it binds becomes unknown.
        return _forget(_bound_names(stmt), env)

    def small(self, small: cst.BaseSmallStatement, env: Env) -> Env:
        self.expressions(small, env)
        if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
            value = self.analysis.value(small.value, env)
            _forget(_bound_names(small), env)
            targets = small.targets if isinstance(small, cst.Assign) else [small]
            for target in targets:
                name = dotted(target.target)
                if name is not None and value is not None:
                    env[name] = value
            return env
        if isinstance(small, cst.Return):
            value = self.analysis.value(small.value, env) if small.value is not None else None
            self.on_return(value)
        return _forget(_bound_names(small), env)

    def expressions(self, node: cst.CSTNode, env: Env) -> None:
        """Check every loss call in `node` (not in nested functions or lambdas)."""
        for call in _calls(node):
            self.analysis.check_loss(call, env)


def _meet(a: Env, b: Env) -> Env:
    return {k: v for k, v in a.items() if v.same(b.get(k))}


def _forget(names: set[str], env: Env) -> Env:
    """Drop what rebound names held; `self.net = ...` changes `self.net.x` too."""
    if names:
        for key in [k for k in env if k in names or k.rpartition(".")[0] in names]:
            env.pop(key)
    return env


def _with_names(stmt: cst.With) -> set[str]:
    names: set[str] = set()
    for item in stmt.items:
        if item.asname is not None:
            names |= set(target_names(item.asname.name))
    return names


def _bound_names(node: cst.CSTNode) -> set[str]:
    """Every name (or dotted attribute) a statement binds, in its nested blocks too; a nested
    definition binds its own name only."""
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (cst.FunctionDef, cst.ClassDef)):
            names.add(current.name.value)
            continue
        if isinstance(current, cst.Lambda):
            continue
        if isinstance(current, _BINDERS):
            names |= set(target_names(current.target))
        elif isinstance(current, cst.AsName):
            names |= set(target_names(current.name))
        elif isinstance(current, (cst.Import, cst.ImportFrom)) and not isinstance(
            current.names, cst.ImportStar
        ):
            for alias in current.names:
                if alias.asname is None:
                    names.add((dotted(alias.name) or "").partition(".")[0])
        elif isinstance(current, (cst.Global, cst.Nonlocal)):
            names |= {n.name.value for n in current.names}
        stack.extend(current.children)
    return names


_BINDERS = (
    cst.AssignTarget,
    cst.AnnAssign,
    cst.AugAssign,
    cst.For,
    cst.CompFor,
    cst.NamedExpr,
    cst.Del,
)


def _calls(node: cst.CSTNode) -> Iterator[cst.Call]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(current, cst.Call):
            yield current
        stack.extend(current.children)


def _self_targets(body: cst.CSTNode) -> Iterator[str]:
    """`self.x` names bound anywhere in a method's own body."""
    yield from (n for n in _bound_names(body) if n.startswith("self."))


def _input_of(call: cst.Call) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "input":
            return arg.value
    first = call.args[0] if call.args else None
    if first is None or first.keyword is not None or first.star:
        return None
    return first.value


def _plain_receiver(program: Program, receiver: cst.BaseExpression) -> bool:
    """A receiver that is not an imported module (`logits`, `self.fc(x)`, not `F`)."""
    text = dotted(receiver)
    return text is None or not program.is_imported(text)


def find_probability_losses(program: Program) -> list[ProbabilityLoss]:
    """Every loss call given probabilities, at top level and in the file's own functions."""
    analysis = _Analysis(program)
    counts: dict[str, int] = {}
    for stmt in program.module.body:
        if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            for name in _bound_names(stmt):
                counts[name] = counts.get(name, 0) + 1
    top = _Flow(analysis, lambda _: None).block(program.module.body, {})
    # What a global bound once at top level holds is what the functions see.
    analysis.globals = {k: v for k, v in top.items() if counts.get(k) == 1}
    for key in program.functions:
        analysis.function(key, lambda _: None)
    return list(analysis.found.values())

"""Which calls of a function build something the function keeps as a part of a module: an object
stored on `self` (`self.backbone = BACKBONES[name]()`, `self.add_module(...)`) or handed back to
the caller (`return getattr(models, arch)()`), directly or through local names, containers,
constructors and moves (`.to(device)`). A call whose result is only computed with (a shape
`_pair(2)(n)` unpacked into numbers, a tensor built from it) is no part of any module."""

from __future__ import annotations

import functools
from collections.abc import Callable

import libcst as cst

from .names import dotted, unmoved
from .walk import walk

# Methods that put their arguments into the container they are called on.
_STORING = frozenset({"append", "extend", "insert", "add_module", "register_module", "update"})


def kept_calls(function: cst.FunctionDef, imported: Callable[[str], bool]) -> set[int]:
    """The ids of the calls in `function` (not in the functions it defines) whose result the
    function keeps: see the module's docstring. `imported` tells a module's name (`nn`, `np`)
    from a local object's: a function of a module may return what it is given
    (`spectral_norm(conv)`), a method of a tensor computes something else (`x.view(...)`)."""
    finder = _Flows()
    for statement in function.body.body:
        walk(statement, finder)
    parts = functools.partial(_kept_parts, imported=imported)
    kept: set[str] = set()
    while True:  # names kept because what they hold flows into a kept place
        grown = set(kept)
        for targets, value in finder.flows:
            if targets & grown:
                grown |= _names(parts(value))
        for value in finder.sinks:
            grown |= _names(parts(value))
        if grown == kept:
            break
        kept = grown
    out: set[int] = set()
    for value in finder.sinks:
        out |= _calls(parts(value))
    for targets, value in finder.flows:
        if targets & kept:
            out |= _calls(parts(value))
    return out


class _Flows(cst.CSTVisitor):
    """Where values go in one function: into kept places (`sinks`), or into local names
    (`flows`: the names bound, and the value they are bound from)."""

    def __init__(self) -> None:
        self.sinks: list[cst.BaseExpression] = []
        self.flows: list[tuple[set[str], cst.BaseExpression]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function's returns are its own

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.sinks.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.BaseExpression):
            self.sinks.append(node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._bind([t.target for t in node.targets], node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind([node.target], node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind([node.target], node.value)  # `layers += [Block()]`

    def visit_For(self, node: cst.For) -> None:
        self._bind([node.target], node.iter)  # `for block in [A(), B()]: self.add_module(...)`

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        args = [a.value for a in node.args]
        if isinstance(func, cst.Name) and func.value == "setattr" and _is_self(args[:1]):
            self.sinks += args  # `setattr(self, name, block)`
        if not isinstance(func, cst.Attribute):
            return
        receiver = dotted(func.value) or ""
        if receiver.partition(".")[0] == "self" or _is_super(func.value):
            # `self.add_module(name, block)`, `self.blocks.append(block)`,
            # `super().__init__(stem, body)` of a `Sequential`
            self.sinks += args
        elif func.attr.value in _STORING and receiver:
            self.flows += [({receiver.partition(".")[0]}, a) for a in args]

    def _bind(self, targets: list[cst.BaseExpression], value: cst.BaseExpression) -> None:
        names = {name for target in targets for name in _roots(target)}
        if "self" in names:
            self.sinks.append(value)
        elif names:
            self.flows.append((names, value))


def _roots(target: cst.BaseExpression) -> list[str]:
    """The names a target stores into: `x`, `x.attr`, `x[i]` -> x; a tuple's names (any of
    them kept keeps the whole value)."""
    while isinstance(target, (cst.Attribute, cst.Subscript)):
        target = target.value
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for e in target.elements for name in _roots(e.value)]
    if isinstance(target, cst.StarredElement):
        return _roots(target.value)
    return []


def _is_self(args: list[cst.BaseExpression]) -> bool:
    return bool(args) and isinstance(args[0], cst.Name) and args[0].value == "self"


def _is_super(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and dotted(expr.func) == "super"


def _kept_parts(
    value: cst.BaseExpression, imported: Callable[[str], bool]
) -> list[cst.BaseExpression]:
    """The expressions whose objects `value` is or holds: itself, a moved object's receiver,
    a container's items, the arguments of a constructor or of a function (not of a method of
    an object: `x.view(n)` is no `n`), either way of a condition."""
    out: list[cst.BaseExpression] = []
    todo = [value]
    while todo:
        expr = todo.pop()
        out.append(expr)
        if isinstance(expr, cst.Call):
            moved = unmoved(expr)
            text = dotted(expr.func) or ""
            head, dot, _ = text.partition(".")
            if moved is not expr:
                todo.append(moved)
            elif text and (not dot or imported(head) or text.rpartition(".")[2][:1].isupper()):
                todo += [a.value for a in expr.args]  # `nn.Sequential(*blocks)`, `wrap(block)`
        elif isinstance(expr, (cst.List, cst.Tuple, cst.Set, cst.Dict)):
            todo += [e.value for e in expr.elements]
        elif isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            todo.append(expr.elt)
        elif isinstance(expr, cst.DictComp):
            todo.append(expr.value)
        elif isinstance(expr, cst.IfExp):
            todo += [expr.body, expr.orelse]
        elif isinstance(expr, cst.BooleanOperation):
            todo += [expr.left, expr.right]
        elif isinstance(expr, cst.StarredElement):
            todo.append(expr.value)
    return out


def _names(parts: list[cst.BaseExpression]) -> set[str]:
    return {e.value for e in parts if isinstance(e, cst.Name)}


def _calls(parts: list[cst.BaseExpression]) -> set[int]:
    return {id(e) for e in parts if isinstance(e, cst.Call)}

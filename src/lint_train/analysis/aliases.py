"""Aliases: names a scope binds exactly once, to another name or attribute chain.

`m = model`, `model = self.model`, `model = ctx.model` and a bound method kept aside
(`clear = opt.zero_grad`) name the same object as what they were bound to. A name bound more
than once (or declared global) is not an alias: which binding a use sees depends on the path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import libcst as cst

from .names import dotted
from .walk import walk

_CONSTANTS = frozenset({"None", "True", "False"})


# What a call returns, when the knowledge table says it returns the objects it is given
# (`DDP(model)`, `accelerator.prepare(model, opt)`): those argument expressions, in order.
Wrapped = Callable[[cst.Call], list[cst.BaseExpression] | None]


def scope_aliases(
    body: cst.CSTNode, params: list[str], wrapped: Wrapped
) -> dict[str, cst.BaseExpression]:
    """Alias name -> the expression it stands for, in one function body or module."""
    finder = _Bindings(wrapped)
    walk(body, finder)
    counts = finder.counts
    counts.update(params)
    out: dict[str, cst.BaseExpression] = {}
    for name, value in finder.candidates.items():
        if counts[name] == 1 and name not in finder.declared:
            out[name] = value
    return out


def expand(expr: cst.BaseExpression, aliases: dict[str, cst.BaseExpression]) -> cst.BaseExpression:
    """`m.eval` -> `model.eval` when `m` is an alias of `model`; the same node if no alias."""
    if isinstance(expr, cst.Name):
        seen: set[str] = set()
        while isinstance(expr, cst.Name) and expr.value in aliases and expr.value not in seen:
            seen.add(expr.value)
            expr = aliases[expr.value]
        return expr
    if isinstance(expr, cst.Attribute):
        inner = expand(expr.value, aliases)
        return expr if inner is expr.value else expr.with_changes(value=inner)
    return expr


class _Bindings(cst.CSTVisitor):
    """Counts how often each name is bound in one scope (not in the functions, classes and
    lambdas it defines) and notes the single-name assignments of a dotted chain."""

    def __init__(self, wrapped: Wrapped) -> None:
        self.wrapped = wrapped
        self.counts: Counter[str] = Counter()
        self.candidates: dict[str, cst.BaseExpression] = {}
        self.declared: set[str] = set()

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.counts[target.value] += 1
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target)
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if isinstance(node.value, cst.Call):
            returned = self.wrapped(node.value)
            if not returned:
                return
            if isinstance(target, (cst.Tuple, cst.List)):
                names = [e.value for e in target.elements]
                if len(names) == len(returned):
                    for element, value in zip(names, returned, strict=True):
                        self._candidate(element, value)
            else:
                self._candidate(target, returned[0])
            return
        self._candidate(target, node.value)

    def _candidate(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if not isinstance(target, cst.Name):
            return
        text = dotted(value)
        if text is None or text in _CONSTANTS or text.split(".")[0] == target.value:
            return
        self.candidates[target.value] = value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)  # type: ignore[arg-type]

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> bool:
        bound = node.asname.name if node.asname is not None else node.name
        self.counts[(dotted(bound) or "").split(".")[0]] += 1  # type: ignore[arg-type]
        return False

    def visit_Global(self, node: cst.Global) -> None:
        self.declared.update(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.declared.update(n.name.value for n in node.names)

    def visit_Del(self, node: cst.Del) -> None:
        self._bind(node.target)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.counts[node.name.value] += 1
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.counts[node.name.value] += 1
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

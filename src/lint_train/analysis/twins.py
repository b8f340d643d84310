"""Two names of one function for one object: `self.net = net`, where `net` is a parameter the
function never binds again and `self.net` is bound only there. A mode switch through either
name switches the object both name (`self.net.eval()` in a wrapper's `__init__` leaves the
caller's own model in eval mode), from wherever in the function it is written.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from .names import dotted, target_names
from .walk import walk


def twins(body: cst.CSTNode, params: list[str]) -> dict[str, str]:
    """Each name of such a pair -> the other name, for one function body."""
    finder = _Bindings()
    walk(body, finder)
    out: dict[str, str] = {}
    for target, value in finder.pairs:
        if finder.counts[target] == 1 and value in params and finder.counts[value] == 0:
            out[target] = value
            out[value] = target
    return out


def other_names(pairs: dict[str, str], name: str) -> list[str]:
    """The names `pairs` gives for the object `name` (or a part of it: `self.net.head`)."""
    out = []
    for known, other in pairs.items():
        if name == known:
            out.append(other)
        elif name.startswith(known + "."):
            out.append(other + name[len(known) :])
    return out


class _Bindings(cst.CSTVisitor):
    """How often each name or attribute chain is bound in one scope, and the assignments of
    a parameter-like name to an attribute chain (`self.net = net`)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.pairs: list[tuple[str, str]] = []

    def _bind(self, target: cst.BaseExpression) -> None:
        self.counts.update(target_names(target))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target)
        if len(node.targets) == 1 and isinstance(node.value, cst.Name):
            name = dotted(node.targets[0].target)
            if name is not None and "." in name:
                self.pairs.append((name, node.value.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)  # type: ignore[arg-type]

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_Global(self, node: cst.Global) -> None:
        self.counts.update(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.counts.update(n.name.value for n in node.names)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def flag_defaults(node: cst.FunctionDef) -> dict[str, bool]:
    """The parameters of a function whose default is `True` or `False` (`is_eval=False`)."""
    params = node.params
    return {
        p.name.value: p.default.value == "True"
        for p in (*params.posonly_params, *params.params, *params.kwonly_params)
        if isinstance(p.default, cst.Name) and p.default.value in ("True", "False")
    }

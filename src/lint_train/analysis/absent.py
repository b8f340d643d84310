"""Names that hold `None` instead of a model: `self.net = None` in a constructor, until a loader
method builds the network (`self.net = build(...)`, then `self.net.eval()`).

On a path where such a name still holds `None`, no model runs: calling it would fail, so the
code that uses it is not meant to run there (`if self.hybrid:` guards it, and `hybrid` comes
with the loader). The interpreter gives the name the mode `NONE` when `None` is assigned, and a
forward pass on a path where the name is `NONE` is no forward pass. That is apart from a name
of unknown mode, never bound in view ("default" or "init"), which may hold a model.

Only names whose every other binding in the file is a new object the analysis follows
(`self.net = Net()`, `model = load(path)`: each sets the mode afresh) are followed so. A name
the file also binds in a way the analysis does not follow (`self.net = nets[0]`,
`self.net = net`, a `for` target, `with ... as`, `:=`, `del`, `+=`) keeps the mode it had
before, as if `None` had never been assigned: it is never taken for `None` while it may hold
a model. The same test keeps the `None` that another module's constructor leaves on an object
(`agent.net`) from outliving a binding of the caller's own.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from .names import dotted, target_names
from .walk import walk

NONE = "none"  # the mode of a name that holds `None`: no model is there

# Whether assigning `value` to `target` makes a new object (events.py decides it).
Creates = Callable[[cst.BaseExpression, cst.BaseExpression], bool]


def absent_names(module: cst.Module, creates: Creates) -> tuple[frozenset[str], frozenset[str]]:
    """The names (as written: `self.net`, `model`) the module sets to the literal `None` and
    binds otherwise only to new objects; and the names it binds in ways not followed."""
    finder = _Bindings(creates)
    walk(module, finder)
    return frozenset(finder.nulled - finder.other), frozenset(finder.other)


def is_none(value: cst.BaseExpression | None) -> bool:
    return isinstance(value, cst.Name) and value.value == "None"


class _Bindings(cst.CSTVisitor):
    def __init__(self, creates: Creates) -> None:
        self.creates = creates
        self.nulled: set[str] = set()
        self.other: set[str] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._assigned(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.target, node.value)

    def _assigned(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        name = dotted(target)
        if name is not None and is_none(value):
            self.nulled.add(name)
        elif not self.creates(target, value):
            self._bound(target)

    def visit_For(self, node: cst.For) -> None:
        self._bound(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bound(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bound(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bound(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._bound(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bound(node.target)

    def _bound(self, target: cst.BaseExpression) -> None:
        self.other.update(target_names(target))

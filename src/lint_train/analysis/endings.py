"""Whether a function of the file never returns to its caller: each way through its body ends
in `raise`, in a statement that stops the program (`sys.exit(1)`, the file's own `die()`), or in
`assert False`. A call of such a function, written as a statement, ends its caller's way as
`sys.exit()` does (`else: die("unknown mode")`)."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from .names import dotted
from .walk import walk

# Says whether one small statement ends every way through it (the table's `ends` calls).
Ends = Callable[[cst.BaseSmallStatement], bool]


def never_returns(function: cst.FunctionDef, ends: Ends) -> bool:
    """Whether no way through `function` returns (see the module's docstring). A function that
    returns or yields anywhere, or only raises `NotImplementedError` (a stub that a subclass
    replaces), is taken to return."""
    finder = _Leaves()
    walk(function.body, finder)
    return not finder.leaves and _block_ends(_statements(function.body), ends)


def _statements(block: cst.BaseSuite) -> list[cst.CSTNode]:
    if isinstance(block, cst.SimpleStatementSuite):  # `def die(): sys.exit(1)` on one line
        return [block]
    return list(block.body)


def _block_ends(statements: list[cst.CSTNode], ends: Ends) -> bool:
    return any(_statement_ends(s, ends) for s in statements)


def _statement_ends(statement: cst.CSTNode, ends: Ends) -> bool:
    if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return any(_small_ends(s, ends) for s in statement.body)
    if isinstance(statement, cst.If):
        other = statement.orelse
        if other is None or not _block_ends(_statements(statement.body), ends):
            return False
        if isinstance(other, cst.If):
            return _statement_ends(other, ends)
        return _block_ends(_statements(other.body), ends)
    if isinstance(statement, cst.With):
        return _block_ends(_statements(statement.body), ends)
    return False  # a loop may not run, a `try` may catch what its body raises


def _small_ends(statement: cst.BaseSmallStatement, ends: Ends) -> bool:
    if isinstance(statement, cst.Raise):
        return not _is_stub(statement)
    return ends(statement)


def _is_stub(statement: cst.Raise) -> bool:
    raised = statement.exc
    if isinstance(raised, cst.Call):
        raised = raised.func
    return dotted(raised) in ("NotImplementedError", "NotImplemented")


class _Leaves(cst.CSTVisitor):
    """Whether a body hands anything back: a `return` or a `yield` outside nested functions."""

    def __init__(self) -> None:
        self.leaves = False

    def visit_Return(self, node: cst.Return) -> None:
        self.leaves = True

    def visit_Yield(self, node: cst.Yield) -> None:
        self.leaves = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

"""The fast walk calls the same visitor methods, on the same nodes, in the same order as
libcst's own `node.visit`, leaving out only whitespace and punctuation."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from pathlib import Path

import libcst as cst
import pytest
from conftest import FIXTURES, ROOT, quick_form

from lint_train.analysis.walk import CHILD_FIELDS, TRIVIA, children, indexed, walk

CORPUS = sorted(FIXTURES.rglob("*.py")) + sorted((ROOT / "src").rglob("*.py"))
EXTRA = """
x = a if cond else b
f(*args, key=value, **kw)
def g[T](a, /, b: int = 1, *c, d, **e) -> T: ...
class C[T](Base, metaclass=M): pass
match p:
    case [1, *rest] if rest: pass
    case {"k": v, **others}: pass
    case Point(x=0) | None: pass
try:
    pass
except* ValueError as e:
    pass
type Alias[T] = list[T]
print(f"{x!r:>{width}}", t"{y}" if False else 0)
lambda q, *, r=2: q
async def h():
    async with a as (b, c):
        await d
    async for i in j: yield i
del x[1:2:3], y
assert x, "m"
global g
"""


def _node_types() -> list[type[cst.CSTNode]]:
    return sorted(
        {
            t
            for t in vars(cst).values()
            if isinstance(t, type)
            and issubclass(t, cst.CSTNode)
            and dataclasses.is_dataclass(t)
            and not inspect.isabstract(t)
            and not issubclass(t, TRIVIA)
        },
        key=lambda t: t.__name__,
    )


def _libcst_order(kind: type[cst.CSTNode]) -> list[str]:
    """The fields `_visit_and_replace_children` visits, in its order, from libcst's source."""
    source = textwrap.dedent(inspect.getsource(kind._visit_and_replace_children))
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("visit_")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
    ]
    calls.sort(key=lambda c: (c.lineno, c.col_offset))
    return list(dict.fromkeys(c.args[1].value for c in calls))  # type: ignore[attr-defined]


def _may_hold_content(hint: object) -> bool:
    """Whether a field's type admits a node that is not trivia."""
    args = typing.get_args(hint)
    if args:
        return any(_may_hold_content(a) for a in args)
    if isinstance(hint, type):
        return issubclass(hint, cst.CSTNode) and not issubclass(hint, TRIVIA)
    return True  # a forward reference or the like: assume it may


@pytest.mark.parametrize("kind", _node_types(), ids=lambda t: t.__name__)
def test_child_fields_follow_libcst_visiting_order(kind: type[cst.CSTNode]) -> None:
    hints = typing.get_type_hints(kind)
    expected = [f for f in _libcst_order(kind) if _may_hold_content(hints[f])]
    assert list(CHILD_FIELDS.get(kind.__name__, expected)) == expected


def _recorder() -> tuple[cst.CSTVisitor, list[tuple[str, int]]]:
    log: list[tuple[str, int]] = []
    hooks: dict[str, object] = {}
    for kind in _node_types():
        name = kind.__name__

        def visit(self: object, node: cst.CSTNode) -> bool:
            log.append(("visit", id(node)))
            # Prune some subtrees, as real visitors do.
            return isinstance(node, cst.Module) or id(node) % 5 != 0

        def leave(self: object, node: cst.CSTNode) -> None:
            log.append(("leave", id(node)))

        hooks[f"visit_{name}"], hooks[f"leave_{name}"] = visit, leave
    return type("Recorder", (cst.CSTVisitor,), hooks)(), log


# Every file in `pytest -m slow`; the default run, a few of them (conftest.quick_form).
@pytest.mark.parametrize(
    "source",
    [*quick_form(CORPUS, lambda p: str(p.relative_to(ROOT))), pytest.param(None, id="syntax")],
)
def test_walk_makes_the_same_calls_as_libcst(source: Path | None) -> None:
    text = source.read_text(encoding="utf-8") if source else EXTRA
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        pytest.skip("not parsable by this libcst")
    visitor, log = _recorder()
    module.visit(visitor)
    expected = list(log)
    log.clear()
    walk(module, visitor)
    assert log == expected
    assert expected
    # The same again with the tree's child table made once (as the engine walks).
    log.clear()
    with indexed(module):
        walk(module, visitor)
    assert log == expected


def _all_nodes(root: cst.CSTNode) -> list[cst.CSTNode]:
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children(node))
    return out


def test_indexed_children_are_the_walks_children_and_other_nodes_are_worked_out() -> None:
    module = cst.parse_module(EXTRA)
    expected = {id(node): [id(c) for c in children(node)] for node in _all_nodes(module)}
    outside = cst.parse_expression("f(a.b, *c)")  # not in the tree: never in its table
    with indexed(module):
        got = {id(node): [id(c) for c in children(node)] for node in _all_nodes(module)}
        names: list[str] = []

        class Names(cst.CSTVisitor):
            def visit_Name(self, node: cst.Name) -> None:
                names.append(node.value)

        walk(outside, Names())
    assert got == expected
    assert len(expected) > 50
    assert names == ["f", "a", "b", "c"]


def test_walk_survives_nesting_deeper_than_the_recursion_limit() -> None:
    depth = 3000
    node: cst.BaseExpression = cst.Name("x")
    for _ in range(depth):
        node = cst.UnaryOperation(cst.Minus(), node)
    names: list[str] = []

    class Names(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.append(node.value)

    walk(node, Names())
    assert names == ["x"]

"""A faster `node.visit(visitor)` for the analysis's read-only visitors.

libcst's own traversal rebuilds every node it passes (it is shared with transformers) and
calls a visit and a leave method, most of them no-ops, for every whitespace, comma and
parenthesis in the file. The analysis never looks at those. `walk` calls the same
`visit_X` / `leave_X` methods, in the same order as `node.visit` would, on every node except
whitespace and punctuation, and prunes the same subtrees (a `visit_X` that returns False).

It walks with an explicit stack, so deeply nested expressions do not hit Python's recursion
limit. `CHILD_FIELDS` is libcst's visiting order with the punctuation fields left out; a test
derives it afresh from libcst's source and compares, and a node type missing from the table
falls back to libcst's own `children`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import libcst as cst

# Nodes that hold only whitespace, comments or punctuation: no name, call or statement.
TRIVIA: tuple[type[cst.CSTNode], ...] = (
    cst.BaseParenthesizableWhitespace,
    cst.Newline,
    cst.TrailingWhitespace,
    cst.Comment,
    cst.EmptyLine,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.Semicolon,
    cst.AssignEqual,
    cst.ImportStar,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.Asynchronous,
    cst.BaseBinaryOp,
    cst.BaseBooleanOp,
    cst.BaseCompOp,
    cst.BaseUnaryOp,
    cst.BaseAugOp,
)

# Node type name -> the fields that can hold non-trivia children, in libcst's visiting order.
CHILD_FIELDS: dict[str, tuple[str, ...]] = {
    "AnnAssign": ("target", "annotation", "value"),
    "Annotation": ("annotation",),
    "Arg": ("keyword", "value"),
    "AsName": ("name",),
    "Assert": ("test", "msg"),
    "Assign": ("targets", "value"),
    "AssignTarget": ("target",),
    "Attribute": ("value", "attr"),
    "AugAssign": ("target", "value"),
    "Await": ("expression",),
    "BinaryOperation": ("left", "right"),
    "BooleanOperation": ("left", "right"),
    "Break": (),
    "Call": ("func", "args"),
    "ClassDef": ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    "CompFor": ("target", "iter", "ifs", "inner_for_in"),
    "CompIf": ("test",),
    "Comparison": ("left", "comparisons"),
    "ComparisonTarget": ("comparator",),
    "ConcatenatedString": ("left", "right"),
    "Continue": (),
    "Decorator": ("decorator",),
    "Del": ("target",),
    "Dict": ("elements",),
    "DictComp": ("key", "value", "for_in"),
    "DictElement": ("key", "value"),
    "Element": ("value",),
    "Ellipsis": (),
    "Else": ("body",),
    "ExceptHandler": ("type", "name", "body"),
    "ExceptStarHandler": ("type", "name", "body"),
    "Expr": ("value",),
    "Finally": ("body",),
    "Float": (),
    "For": ("target", "iter", "body", "orelse"),
    "FormattedString": ("parts",),
    "FormattedStringExpression": ("expression", "format_spec"),
    "FormattedStringText": (),
    "From": ("item",),
    "FunctionDef": ("decorators", "name", "type_parameters", "params", "returns", "body"),
    "GeneratorExp": ("elt", "for_in"),
    "Global": ("names",),
    "If": ("test", "body", "orelse"),
    "IfExp": ("body", "test", "orelse"),
    "Imaginary": (),
    "Import": ("names",),
    "ImportAlias": ("name", "asname"),
    "ImportFrom": ("module", "names"),
    "IndentedBlock": ("body",),
    "Index": ("value",),
    "Integer": (),
    "Lambda": ("params", "body"),
    "List": ("elements",),
    "ListComp": ("elt", "for_in"),
    "Match": ("subject", "cases"),
    "MatchAs": ("pattern", "name"),
    "MatchCase": ("pattern", "guard", "body"),
    "MatchClass": ("cls", "patterns", "kwds"),
    "MatchKeywordElement": ("key", "pattern"),
    "MatchList": ("patterns",),
    "MatchMapping": ("elements", "rest"),
    "MatchMappingElement": ("key", "pattern"),
    "MatchOr": ("patterns",),
    "MatchOrElement": ("pattern",),
    "MatchSequenceElement": ("value",),
    "MatchSingleton": ("value",),
    "MatchStar": ("name",),
    "MatchTuple": ("patterns",),
    "MatchValue": ("value",),
    "Module": ("body",),
    "Name": (),
    "NameItem": ("name",),
    "NamedExpr": ("target", "value"),
    "Nonlocal": ("names",),
    "Param": ("name", "annotation", "default"),
    "ParamSlash": (),
    "ParamSpec": ("name",),
    "ParamStar": (),
    "Parameters": (
        "posonly_params",
        "posonly_ind",
        "params",
        "star_arg",
        "kwonly_params",
        "star_kwarg",
    ),
    "Pass": (),
    "Raise": ("exc", "cause"),
    "Return": ("value",),
    "Set": ("elements",),
    "SetComp": ("elt", "for_in"),
    "SimpleStatementLine": ("body",),
    "SimpleStatementSuite": ("body",),
    "SimpleString": (),
    "Slice": ("lower", "upper", "step"),
    "StarredDictElement": ("value",),
    "StarredElement": ("value",),
    "Subscript": ("value", "slice"),
    "SubscriptElement": ("slice",),
    "Try": ("body", "handlers", "orelse", "finalbody"),
    "TryStar": ("body", "handlers", "orelse", "finalbody"),
    "Tuple": ("elements",),
    "TypeAlias": ("name", "type_parameters", "value"),
    "TypeParam": ("param", "default"),
    "TypeParameters": ("params",),
    "TypeVar": ("name", "bound"),
    "TypeVarTuple": ("name",),
    "UnaryOperation": ("expression",),
    "While": ("test", "body", "orelse"),
    "With": ("items", "body"),
    "WithItem": ("item", "asname"),
    "Yield": ("value",),
}

Hook = Callable[[cst.CSTVisitor, cst.CSTNode], object]
# Visitor class -> node class -> its (visit, leave) hooks, None where libcst's is a no-op.
_hooks: dict[type, dict[type, tuple[Hook | None, Hook | None]]] = {}
_fields: dict[type, tuple[str, ...] | None] = {}
# Whether values of a type are nodes to walk. isinstance against libcst's abstract base classes
# is slow enough to dominate a walk, so each concrete type is classified once.
_walked: dict[type, bool] = {}
# While `indexed(tree)` is active: id of each node of the tree -> its children, in reverse
# visiting order. The analysis walks each statement several times (the index, the events,
# aliases, loop windows...); the children of a node are worked out once. Only the tree's own
# nodes are in it. Each entry keeps its node and is used only for that very node: a table left
# in force by another thread's block (the variable is global) may outlive its tree, and a new
# node can then take a dead node's id.
_table: dict[int, tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = {}


@contextlib.contextmanager
def indexed(tree: cst.CSTNode) -> Iterator[None]:
    """Within the block, `walk` and `children` read the children of `tree`'s nodes from a
    table made once (one pass over the tree); other nodes are worked out as before."""
    global _table
    table: dict[int, tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = {}
    stack = [tree]
    pop, push = stack.pop, stack.extend
    while stack:
        node = pop()
        found = _children(node, node.__class__)
        found.reverse()
        table[id(node)] = (node, tuple(found))
        push(found)
    saved, _table = _table, table
    try:
        yield
    finally:
        _table = saved


def walk(root: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """Same calls as `root.visit(visitor)` for a visitor that only reads, minus trivia."""
    cls = type(visitor)
    hooks_of = _hooks.get(cls)
    if hooks_of is None:
        hooks_of = _hooks[cls] = {}
    table = _table
    stack: list[object] = [root]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        item = pop()
        if item.__class__ is tuple:
            leave, node = item  # type: ignore[misc]
            leave(visitor, node)
            continue
        node = item  # type: ignore[assignment]
        kind = node.__class__
        hooks = hooks_of.get(kind)
        if hooks is None:
            hooks = hooks_of[kind] = _find_hooks(cls, kind)
        visit, leave = hooks
        if leave is not None:
            push((leave, node))
        if visit is not None and visit(visitor, node) is False:
            continue
        entry = table.get(id(node))
        if entry is not None and entry[0] is node:
            extend(entry[1])
        else:
            children = _children(node, kind)
            children.reverse()
            extend(children)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's children that `walk` visits (all but trivia), in visiting order; a fresh
    list, much cheaper than libcst's `node.children`."""
    entry = _table.get(id(node))
    if entry is not None and entry[0] is node:
        return list(reversed(entry[1]))
    return _children(node, node.__class__)


def _children(node: cst.CSTNode, kind: type) -> list[cst.CSTNode]:
    try:
        fields = _fields[kind]
    except KeyError:
        fields = _fields[kind] = CHILD_FIELDS.get(kind.__name__)
    if fields is None:
        return [c for c in node.children if _is_walked(c.__class__)]
    out: list[cst.CSTNode] = []
    for name in fields:
        value = getattr(node, name)
        of = value.__class__
        if of is tuple or of is list:
            for item in value:
                walked = _walked.get(item.__class__)
                if walked is None:
                    walked = _is_walked(item.__class__)
                if walked:
                    out.append(item)
        else:
            walked = _walked.get(of)
            if walked is None:
                walked = _is_walked(of)
            if walked:
                out.append(value)
    return out


def _is_walked(of: type) -> bool:
    walked = _walked.get(of)
    if walked is None:
        # The class's own ancestry, not issubclass: an ABC's subclass check that fails walks
        # every registered subclass (most of a one-file run's first walk went there).
        ancestry = of.__mro__
        walked = cst.CSTNode in ancestry and not any(t in ancestry for t in TRIVIA)
        _walked[of] = walked
    return walked


def _find_hooks(cls: type, kind: type) -> tuple[Hook | None, Hook | None]:
    if cls.on_visit is not cst.CSTVisitor.on_visit or cls.on_leave is not cst.CSTVisitor.on_leave:
        raise TypeError(f"{cls.__name__} overrides on_visit/on_leave; use node.visit()")
    name = kind.__name__
    visit = getattr(cls, f"visit_{name}", None)
    leave = getattr(cls, f"leave_{name}", None)
    # CSTVisitor defines a no-op for every node type; only overridden hooks are worth a call.
    if visit is getattr(cst.CSTVisitor, f"visit_{name}", None):
        visit = None
    if leave is getattr(cst.CSTVisitor, f"leave_{name}", None):
        leave = None
    return visit, leave

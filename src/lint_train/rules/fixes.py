"""What a rule's fix changes, and where: the vocabulary rules use to describe their fixes.

A fix is a few edits anchored on statements of the parsed module (the nodes the analysis saw):
insert a line before or after a statement, wrap a statement in a `with`, add a decorator to a
function, replace a statement, or delete one (with an insertion elsewhere: a move). `fix.py`
applies them with a libcst transformer. `Layout` answers the questions a rule asks to place an
edit: which statement holds this call, does this event come before that one in an iteration,
does this step run on every pass or only under a condition. It reads the tree's structure
only; what the events are comes from the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from ..analysis.model import LoopModel, Trace
from ..analysis.names import dotted
from ..analysis.walk import children

BEFORE, AFTER, WRAP, DECORATE, REPLACE = "before", "after", "wrap", "decorate", "replace"
DELETE = "delete"


@dataclass(frozen=True)
class Edit:
    kind: str  # BEFORE, AFTER, WRAP, DECORATE, REPLACE or DELETE
    anchor: cst.CSTNode  # a statement; the function definition for DECORATE
    code: str  # what to insert, the `with` item, the decorator, the replacement; "" to delete


@dataclass(frozen=True)
class Fix:
    message: str  # what the fix does, one line: "insert `opt.zero_grad()` before `loss.backward()`"
    safe: bool  # applied by --fix; an unsafe fix needs --unsafe-fixes too
    edits: tuple[Edit, ...]

    @property
    def applicability(self) -> str:
        return "safe" if self.safe else "unsafe"


_STATEMENT_CONTAINERS = (cst.IndentedBlock, cst.Module, cst.SimpleStatementSuite)
# Compound statements whose body runs whenever the statement runs.
_UNCONDITIONAL = (cst.With, cst.Try, cst.TryStar)


class Layout:
    """The statement structure around the nodes of one module."""

    def __init__(self, model: LoopModel) -> None:
        self.model = model
        self.module = model.program.module
        self._parent: dict[int, cst.CSTNode] = {}
        stack: list[cst.CSTNode] = [self.module]
        while stack:
            node = stack.pop()
            for child in children(node):
                self._parent[id(child)] = node
                stack.append(child)

    @classmethod
    def of(cls, model: LoopModel) -> Layout:
        """The layout of the model's module, built once for every rule that needs it."""
        layout = model.shared.get("layout")
        if not isinstance(layout, Layout):
            layout = model.shared["layout"] = cls(model)
        return layout

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._parent.get(id(node))

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node).strip()

    # Statements ----------------------------------------------------------------------------
    def statement(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement that holds `node`: its line, or the compound statement whose header
        holds it (the `for` of a loop's iterable). A node that is a statement is its own."""
        current: cst.CSTNode | None = node
        while current is not None:
            parent = self.parent(current)
            if isinstance(parent, _STATEMENT_CONTAINERS):
                return current
            current = parent
        return node

    def container(self, stmt: cst.CSTNode) -> cst.CSTNode | None:
        parent = self.parent(stmt)
        return parent if isinstance(parent, _STATEMENT_CONTAINERS) else None

    def chain(self, node: cst.CSTNode) -> list[tuple[cst.CSTNode, cst.CSTNode]]:
        """(statement, its container) pairs from the statement holding `node` outwards."""
        out = []
        stmt = self.statement(node)
        while True:
            container = self.container(stmt)
            if container is None:
                return out
            out.append((stmt, container))
            if isinstance(container, cst.Module):
                return out
            holder = self.parent(container)
            while holder is not None and not isinstance(self.parent(holder), _STATEMENT_CONTAINERS):
                holder = self.parent(holder)  # an `else:` block belongs to its `if`
            if holder is None or isinstance(holder, (cst.FunctionDef, cst.ClassDef)):
                return out  # statements of one function only
            stmt = holder

    def common(self, a: cst.CSTNode, b: cst.CSTNode) -> tuple[cst.CSTNode, int, int] | None:
        """The innermost statement list holding both nodes, and the index there of the
        statement that holds each. None when no list holds both (different functions)."""
        where_b = {id(container): stmt for stmt, container in self.chain(b)}
        for stmt_a, container in self.chain(a):
            stmt_b = where_b.get(id(container))
            if stmt_b is not None:
                body = list(container.body)  # type: ignore[attr-defined]
                return container, _index(body, stmt_a), _index(body, stmt_b)
        return None

    def order(self, a: cst.CSTNode, b: cst.CSTNode) -> int | None:
        """-1 when `a` runs before `b` in one pass through their code, 1 when after, 0 when
        one statement holds both, None when neither order holds (alternative branches)."""
        found = self.common(a, b)
        if found is None:
            return None
        container, i, j = found
        if i != j:
            return -1 if i < j else 1
        stmt = list(container.body)[i]  # type: ignore[attr-defined]
        if self.statement(a) is stmt and self.statement(b) is stmt:
            return 0
        return None  # the same compound statement: a header and its body, or two branches

    def unconditional(self, node: cst.CSTNode, within: cst.CSTNode) -> bool:
        """Whether `node` runs every time the statement list `within` runs: the compound
        statements between them are `with` blocks or `try` bodies only."""
        for _, container in self.chain(node):
            if container is within:
                return True
            if not isinstance(self.parent(container), _UNCONDITIONAL):
                return False
        return False

    def after_gradient_work(self, stmt: cst.CSTNode) -> cst.CSTNode:
        """The last of the statements right after `stmt` that still work on the gradients
        before a step (`scaler.unscale_(opt)`, `clip_grad_norm_(...)`), else `stmt`."""
        container = self.container(stmt)
        if container is None:
            return stmt
        body = list(container.body)  # type: ignore[attr-defined]
        last = stmt
        for following in body[_index(body, stmt) + 1 :]:
            if not _works_on_gradients(following):
                break
            last = following
        return last

    # Traces --------------------------------------------------------------------------------
    def precedes(self, a: Trace, b: Trace) -> bool | None:
        """Whether event `a` runs before event `b` in one pass through the loop they were
        traced in; None when the code does not say (alternative branches, one call)."""
        for (node_a, _), (node_b, _) in zip(a.path, b.path, strict=False):
            if node_a is node_b:
                continue
            found = self.order(node_a, node_b)
            if found is None or found == 0:
                return None
            return found < 0
        return None

    def earliest(self, traces: Iterable[Trace]) -> Trace | None:
        items = list(traces)
        for item in items:
            if not any(other is not item and self.precedes(other, item) for other in items):
                return item
        return None

    def latest(self, traces: Iterable[Trace]) -> Trace | None:
        items = list(traces)
        for item in items:
            if not any(other is not item and self.precedes(item, other) for other in items):
                return item
        return None

    def spelled(
        self, traces: Iterable[Trace], root: str | None = None, level: int = 0
    ) -> str | None:
        """The one name the traced function at `level` uses for the traces' object (or for
        `root`); None when it has none, or several across the visits that were followed."""
        names = set()
        for trace in traces:
            target = root if root is not None else trace.root
            if target is None or level >= len(trace.path):
                return None
            names.add(self.model.spell(trace.path[level][1], target))
        if len(names) != 1:
            return None
        return names.pop()


def _index(body: list[cst.CSTNode], stmt: cst.CSTNode) -> int:
    for i, item in enumerate(body):
        if item is stmt:
            return i
    raise ValueError("statement not in its container")


GRADIENT_WORK = ("unscale_", "clip_grad_norm_", "clip_grad_value_", "clip_grad_norm")


def _works_on_gradients(stmt: cst.CSTNode) -> bool:
    if _reads_grad(stmt):
        # Clipping by hand, logging norms, moving gradients onto a shared model: the step
        # applies what these statements leave, so it goes after them.
        return True
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    value = small.value if isinstance(small, (cst.Expr, cst.Assign)) else None
    if not isinstance(value, cst.Call):
        return False
    name = (dotted(value.func) or "").split(".")[-1]
    return name in GRADIENT_WORK


def _reads_grad(stmt: cst.CSTNode) -> bool:
    """Whether `stmt` reads a parameter's `.grad` (not `torch.autograd.grad`)."""
    stack = [stmt]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, cst.Attribute)
            and node.attr.value == "grad"
            and not (
                isinstance(node.value, (cst.Name, cst.Attribute))
                and (dotted(node.value) or "").split(".")[-1] == "autograd"
            )
        ):
            return True
        stack.extend(children(node))
    return False


def no_grad_call(model: LoopModel) -> str | None:
    """`torch.no_grad()` as this file can write it (`T.no_grad()`, `no_grad()` imported by
    name), or None when it imports neither."""
    torch = model.torch_alias()
    if torch is not None:
        return f"{torch}.no_grad()"
    alias = model.program.imports.local_name("torch.no_grad")
    return None if alias is None else f"{alias}()"


def scaler_of(backward: cst.CSTNode) -> str | None:
    """`scaler` for `scaler.scale(loss).backward()`, else None."""
    if not (isinstance(backward, cst.Call) and isinstance(backward.func, cst.Attribute)):
        return None
    inner = backward.func.value
    if (
        isinstance(inner, cst.Call)
        and isinstance(inner.func, cst.Attribute)
        and inner.func.attr.value == "scale"
    ):
        return dotted(inner.func.value)
    return None


def step_code(node: cst.CSTNode, opt: str) -> str:
    """How the code steps `opt`, for messages: `scaler.step(opt)` when a scaler (or another
    owner) takes the optimizer as its argument, else `opt.step()`."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "step"
        and node.args
    ):
        owner = dotted(node.func.value)
        if owner is not None and owner != opt:
            return f"{owner}.step({opt})"
    return f"{opt}.step()"


def describe(edits: Iterable[Edit], layout: Layout) -> str:
    """A one-line account of the edits, for the finding and the fix summary."""
    parts = []
    for edit in edits:
        target = _short(layout.code(edit.anchor))
        if edit.kind == BEFORE:
            parts.append(f"insert `{edit.code}` before `{target}`")
        elif edit.kind == AFTER:
            parts.append(f"insert `{edit.code}` after `{target}`")
        elif edit.kind == WRAP:
            parts.append(f"wrap `{target}` in `with {edit.code}:`")
        elif edit.kind == DELETE:
            parts.append(f"remove `{target}`")
        elif edit.kind == DECORATE:
            name = edit.anchor.name.value  # type: ignore[attr-defined]
            parts.append(f"decorate `{name}` with `@{edit.code}`")
        else:
            parts.append(f"replace `{target}` with `{edit.code}`")
    return "; ".join(parts)


def _short(code: str) -> str:
    lines = [line.strip() for line in code.splitlines()]
    first = next((line for line in lines if line and not line.startswith("#")), "")
    first = first.split("  #")[0].rstrip()
    return first if len(first) <= 60 else first[:57] + "..."

"""The loops of a project file that call a training-step method of another module's class
once per iteration (see analysis/repeated.py): `agent.learn(batch)` inside `for t in ...:`,
on an object the file builds from that class (`agent = Agent(...)`, `.to(device)` or
`.cuda()` after it allowed).

A loop is kept only when it leaves the gradients to the method: nothing in it (at any depth
of the loops around the call, in the same function) clears gradients, steps an optimizer,
reads `.grad` or hands the object to other code (but to code that evaluates, saves or logs
it). The other methods of the object it calls are reported with it, for the method's module
to judge (one of them may clear or step).
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from .analysis.names import dotted
from .analysis.repeated import LoopCaller
from .analysis.vocab import is_eval_function_name, is_optimizer_name, is_scaler_name, tokens
from .positions import locate

# Calls that leave an object as it is: `agent = Agent(...).to(device)` is still the agent.
_MOVES = frozenset({"to", "cuda", "cpu", "double", "float", "half", "train", "eval"})
_CLEARS = frozenset({"zero_grad", "clear_grad", "clear_gradients"})


def parse(text: str) -> cst.Module | None:
    """The tree of an importing file, or None when it does not parse (no caller is read)."""
    try:
        return cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return None


def loop_callers(
    module: cst.Module, where: str, classes: dict[str, frozenset[str]]
) -> dict[str, LoopCaller]:
    """For each method `Class.method` of `classes` (class name -> its candidate methods), the
    first loop of `module` (the file at `where`) that calls it on an object of that class and
    leaves the gradients to it."""
    finder = _Finder(classes)
    module.visit(finder)
    found: dict[str, tuple[cst.For | cst.While, LoopCaller]] = {}
    for key, outer, inner, receiver in finder.calls:
        if key in found:
            continue
        method = key.partition(".")[2]
        scan = _Scan(receiver)
        outer.visit(scan)
        if scan.decides:
            continue
        found[key] = (inner, LoopCaller("", frozenset(scan.methods - {method})))
    if not found:
        return {}
    lines = locate(module, [inner for inner, _ in found.values()])
    return {
        key: LoopCaller(f"{where}:{lines[inner].start.line}", caller.calls)
        for key, (inner, caller) in found.items()
    }


class _Finder(cst.CSTVisitor):
    """Objects built from the classes (by name, at any scope of the file) and the calls of
    their candidate methods inside loops of one function."""

    def __init__(self, classes: dict[str, frozenset[str]]) -> None:
        self.classes = classes
        # receiver as written -> the classes it is built from (`policy = TD3(...)` on one
        # branch, `policy = DDPG(...)` on another)
        self.built: dict[str, set[str]] = {}
        self.loops: list[list[cst.For | cst.While]] = [[]]  # per function
        self.calls: list[tuple[str, cst.For | cst.While, cst.For | cst.While, str]] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        cls = _class_built(node.value, self.classes)
        if cls is None:
            return
        for target in node.targets:
            name = dotted(target.target)
            if name is not None:
                self.built.setdefault(name, set()).add(cls)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.loops.append([])

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.loops.pop()

    def visit_For(self, node: cst.For) -> None:
        self.loops[-1].append(node)

    def leave_For(self, original_node: cst.For) -> None:
        self.loops[-1].pop()

    def visit_While(self, node: cst.While) -> None:
        self.loops[-1].append(node)

    def leave_While(self, original_node: cst.While) -> None:
        self.loops[-1].pop()

    def visit_Call(self, node: cst.Call) -> None:
        running = self.loops[-1]
        if not running or not isinstance(node.func, cst.Attribute):
            return
        receiver = dotted(node.func.value) or ""
        method = node.func.attr.value
        for cls in sorted(self.built.get(receiver, ())):
            if method in self.classes[cls]:
                self.calls.append((f"{cls}.{method}", running[0], running[-1], receiver))


class _Scan(cst.CSTVisitor):
    """What a caller's loop does besides the call: whether it may decide the gradients itself,
    and which methods of the object it calls."""

    def __init__(self, receiver: str) -> None:
        self.receiver = receiver
        self.decides = False
        self.methods: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            name = func.attr.value
            owner = dotted(func.value) or ""
            if owner == self.receiver:
                self.methods.add(name)
            else:
                # A clear, a backward pass or an optimizer's step of the loop's own.
                stepped = name == "step" and (
                    is_optimizer_name(owner)
                    or is_scaler_name(owner)
                    or owner.startswith(self.receiver + ".")
                )
                self.decides = self.decides or stepped or name in _CLEARS or name == "backward"
        if any(dotted(arg.value) == self.receiver for arg in node.args) and not _bookkeeping(
            node.func
        ):
            self.decides = True  # handed to other code, which may clear or step

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "grad":
            self.decides = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _bookkeeping(func: cst.BaseExpression) -> bool:
    """Whether a call handed the object is one that evaluates, saves or reports it (`test`,
    `evaluate`, `save_checkpoint`, `log_stats`): such code does not train it."""
    name = (dotted(func) or "").rpartition(".")[2]
    return is_eval_function_name(name) or tokens(name)[:1] in (["save"], ["log"], ["print"])


def _class_built(value: cst.BaseExpression, classes: Iterable[str]) -> str | None:
    """The class of `classes` whose constructor `value` calls, through moves after it."""
    while isinstance(value, cst.Call):
        func = value.func
        if isinstance(func, cst.Attribute) and func.attr.value in _MOVES:
            value = func.value
            continue
        name = dotted(func)
        last = (name or "").rpartition(".")[2]
        return last if last in classes else None
    return None

"""What the top-level functions of a module return, for callers in other modules: the names of
the constructors and functions whose results their `return` statements hand back, position by
position (`return psnr, ssim`), as the module's own imports qualify them. A caller elsewhere
links these names through the project view to the classes they build (see summary.py), so
`model = build_model(cfg)` is judged by the class body the factory builds, in whatever module.

Only what the function's text shows is said: a returned name is followed through the function's
own assignments to it (`net = Net(); return net`); anything else (a parameter, a registry
lookup, an attribute) is the empty string, unknown to callers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import libcst as cst

from .names import dotted, unmoved
from .walk import walk

if TYPE_CHECKING:
    from .program import Program


@dataclass(frozen=True)
class Returned:
    """What a function returns: the callables whose results each position may hold (one
    position unless it returns a tuple literal); "" stands for a value not in view."""

    tupled: bool
    positions: tuple[tuple[str, ...], ...]
    # It calls `.eval()` or `.train()` on something: what it returns may not be fresh (in
    # training mode) as a constructor leaves it.
    sets_mode: bool = False


def function_returns(program: Program) -> dict[str, Returned]:
    """The returns of the module's top-level functions that hand back the result of a call."""
    out: dict[str, Returned] = {}
    for name, key in program.module_functions.items():
        finder = Returns()
        walk(program.functions[key].node.body, finder)
        shapes = [_shape(program, finder, value) for value in finder.values]
        found = _merged(shapes)
        if found is not None and any(any(p) for p in found.positions):
            out[name] = replace(found, sets_mode=finder.sets_mode)
    return out


def _shape(program: Program, finder: Returns, value: cst.BaseExpression) -> Returned | None:
    if isinstance(value, cst.Name) and value.value == "None":
        return None  # `return None` hands back no object: it adds nothing
    if isinstance(value, cst.Tuple):
        return Returned(True, tuple(_made(program, finder, e.value) for e in value.elements))
    return Returned(False, (_made(program, finder, value),))


def _made(program: Program, finder: Returns, value: cst.BaseExpression) -> tuple[str, ...]:
    """The callables whose result `value` may be."""
    if isinstance(value, cst.Name) and value.value in finder.assigned:
        # `net = net.to(device)` moves the object already bound: it adds no other maker.
        bound = [v for v in finder.assigned[value.value] if not _moves(v, value.value)]
        return tuple(dict.fromkeys(callable_of(program, v) for v in bound)) or ("",)
    return (callable_of(program, value),)


def _moves(value: cst.BaseExpression, name: str) -> bool:
    """`name.to(device)`, `name.cuda()`: the same object, moved."""
    moved = unmoved(value)
    return moved is not value and isinstance(moved, cst.Name) and moved.value == name


def callable_of(program: Program, value: cst.BaseExpression) -> str:
    """`Net(...)` (also moved, `Net().to(device)`) -> its callable as the module names it: bare
    for the module's own classes and functions, qualified for an import; else ""."""
    built = unmoved(value)
    if not isinstance(built, cst.Call):
        return ""
    text = dotted(built.func)
    if text is None:
        return ""
    if text in program.classes or text in program.module_functions:
        return text
    if program.is_imported(text):
        return program.qualify(text) or ""
    return ""


def _merged(shapes: list[Returned | None]) -> Returned | None:
    """One description of every return: their positions' callables together, when they all
    return one value or all a tuple of the same width; else None (nothing said)."""
    known = [s for s in shapes if s is not None]
    if not known:
        return None
    first = known[0]
    if any(s.tupled != first.tupled or len(s.positions) != len(first.positions) for s in known):
        return None
    positions = tuple(
        tuple(dict.fromkeys(name for s in known for name in s.positions[i]))
        for i in range(len(first.positions))
    )
    return Returned(first.tupled, positions)


class Returns(cst.CSTVisitor):
    """A function's returned values and what it assigns to plain names (not in the functions
    it defines)."""

    def __init__(self) -> None:
        self.values: list[cst.BaseExpression] = []
        self.assigned: dict[str, list[cst.BaseExpression]] = {}
        self.sets_mode = False

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("eval", "train"):
            self.sets_mode = True

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.values.append(node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.assigned.setdefault(target.target.value, []).append(node.value)
            elif isinstance(target.target, (cst.Tuple, cst.List)):
                for element in target.target.elements:
                    if isinstance(element.value, cst.Name):
                        # Unpacked from something: not followed.
                        self.assigned.setdefault(element.value.value, []).append(element.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

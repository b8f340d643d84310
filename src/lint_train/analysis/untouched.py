"""Models a function builds for itself and never trains, loads or hands on: a smoke check.

`def test(): enc = Encoder(10, 8); out = enc(torch.zeros(1, 3)); print(out.size())` runs a
model nobody trained, on made-up input, to see shapes. That is no evaluation of a trained
model: there is no result a missing `eval()` or `no_grad()` could make wrong. A model counts
as untouched in a function when every binding of its name there is a constructor that loads
no weights (`Net(...)`, `nn.Linear(...)`, `resnet18()` without pretrained weights), and the
function only calls it, moves it or reads it: it never passes it to other code (which could
train or load it), calls a loading or in-place method on it (`load_state_dict`, `copy_`) or
a method that may train it (`fit`; the file's own methods are judged by `harmless`), assigns
into it, or names it anew; and the constructor is given no model (`Ema(model)` copies trained
weights). Whether the function trains anything (a backward, a step) is the interpreter's to
say: it follows the function's calls.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from . import knowledge as kn
from .names import dotted, unmoved
from .program import FunctionInfo, Program
from .vocab import is_model_name, tokens
from .walk import walk

# Words in a constructor's keyword that ask it for trained weights (`pretrained=True`,
# `weights="DEFAULT"`, `checkpoint_path=...`), unless given False or None.
_LOADING_WORDS = frozenset(
    {"pretrained", "weights", "checkpoint", "ckpt", "resume", "load", "path", "file", "url"}
)
_NO_VALUE = ("False", "None")


def untouched_models(
    program: Program, info: FunctionInfo, harmless: Callable[[str], bool]
) -> frozenset[str]:
    """The plain names of models `info` builds and only runs, moves or reads (see above);
    `harmless(key)` says whether the file's method `key` neither trains nor loads."""
    uses = _Uses(program)
    walk(info.node.body, uses)
    built = {
        name
        for name, values in uses.bound.items()
        if any(_constructs(program, v) for v in values)
        and all(_constructs(program, v) or _moved(v, name) for v in values)
    }
    for name, method in uses.methods:
        values = [v for v in uses.bound.get(name, []) if not _moved(v, name)]
        if name in built and not _harmless_method(program, values, method, harmless):
            uses.touched.add(name)
    return frozenset(built - uses.touched - set(info.params))


def _harmless_method(
    program: Program,
    values: list[cst.BaseExpression | None],
    method: str,
    harmless: Callable[[str], bool],
) -> bool:
    """`model.to(device)`, `model.eval()`, `encoder.init_hidden()` of the file's class that
    trains and loads nothing; not `model.fit(x, y)` or a method out of view."""
    if method.startswith("load"):
        return False
    if kn.method("any", method) is not None or kn.method("model", method) is not None:
        return True
    for value in values:
        built = unmoved(value) if value is not None else None
        cls = dotted(built.func) if isinstance(built, cst.Call) else None
        key = program.method(cls, method) if cls in program.classes else None
        if key is None or not harmless(key):
            return False
    return True


def _moved(value: cst.BaseExpression | None, name: str) -> bool:
    """`model = model.to(device)`: the same object, moved."""
    return value is not None and dotted(unmoved(value)) == name


def _constructs(program: Program, value: cst.BaseExpression | None, depth: int = 0) -> bool:
    """Whether `value` builds a fresh model that loads no weights and wraps no other model."""
    built = unmoved(value) if value is not None else None  # `Net().to(device).eval()`
    if not isinstance(built, cst.Call) or _asks_for_weights(built) or _wraps(program, built):
        return False
    text = dotted(built.func)
    if text is None:
        return False
    last = text.rpartition(".")[2]
    cls = program.classes.get(text)
    if cls is not None:
        return cls.is_module and not _loads_inside(cls.node)
    key = program.module_functions.get(text)
    if key is not None:
        # `def ResNet18(): return ResNet(BasicBlock, [2, 2, 2, 2])`: the file's factory
        # builds fresh when every value it returns is a constructor call that does.
        return depth < _FACTORY_DEPTH and _factory_constructs(program, key, depth + 1)
    if not program.is_imported(text):
        return False
    full = program.qualify(text) or text
    effect = kn.lookup(full)
    if effect is not None:
        return effect.builds == "model" and (last[:1].isupper() or effect.mode is not None)
    # A class of the project imported from another module (`from model import Encoder`).
    return last[:1].isupper() and not full.startswith(kn.LIGHTNING_PACKAGES)


_FACTORY_DEPTH = 3  # factories calling factories, followed this deep


def _factory_constructs(program: Program, key: str, depth: int) -> bool:
    node = program.functions[key].node
    if _loads_inside(node):
        return False
    returns = _Returned()
    walk(node.body, returns)
    return bool(returns.values) and all(
        isinstance(v, cst.Call) and _constructs(program, v, depth) for v in returns.values
    )


class _Returned(cst.CSTVisitor):
    """The values a function returns (not those of the functions it defines)."""

    def __init__(self) -> None:
        self.values: list[cst.BaseExpression | None] = []

    def visit_Return(self, node: cst.Return) -> None:
        self.values.append(node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _wraps(program: Program, call: cst.Call) -> bool:
    """Whether a constructor is given a model (`Ema(model)`, `Wrapper(backbone)`)."""
    names = _Names()
    for arg in call.args:
        walk(arg.value, names)
    return any(is_model_name(n) or n in program.models for n in names.found)


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[str] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.found.append(node.value)


def _asks_for_weights(call: cst.Call) -> bool:
    for arg in call.args:
        if arg.keyword is None:
            continue
        value = arg.value
        if isinstance(value, cst.Name) and value.value in _NO_VALUE:
            continue
        if any(word in _LOADING_WORDS for word in tokens(arg.keyword.value)):
            return True
    return False


def _loads_inside(node: cst.ClassDef | cst.FunctionDef) -> bool:
    """Whether a class's (or a factory's) own code loads weights
    (`self.load_state_dict(torch.load(p))`)."""
    finder = _Loads()
    walk(node, finder)
    return finder.found


class _Loads(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        last = (dotted(node.func) or "").rpartition(".")[2]
        if last.startswith("load") or last == "from_pretrained":
            self.found = True


class _Uses(cst.CSTVisitor):
    """Each local name's bindings, and the names used in a way that may train or load them."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.bound: dict[str, list[cst.BaseExpression | None]] = {}
        self.touched: set[str] = set()
        self.methods: list[tuple[str, str]] = []  # `model.init_hidden()`: (name, method)
        self._safe: set[int] = set()  # name nodes whose use is known harmless

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function's use of a name is not seen here: count it as touched

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    # Bindings -------------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target, None)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, None)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if isinstance(target, cst.Name):
            self.bound.setdefault(target.value, []).append(value)
            self._safe.add(id(target))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value, None)
        else:
            # `model.fc.weight = ...`, `model.fc.weight.data[:] = ...`: weights set by hand.
            head = _head(target)
            if head is not None:
                self.touched.add(head)

    # Uses -----------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name):
            self._safe.add(id(func))  # `model(x)`: a forward pass
        elif isinstance(func, cst.Attribute):
            head = _head(func)
            method = func.attr.value
            if head is not None and (method.startswith("load") or method.endswith("_")):
                self.touched.add(head)  # `model.load_state_dict(...)`, `w.copy_(...)`
            elif isinstance(func.value, cst.Name):
                self.methods.append((func.value.value, method))
            self._mark_chain_safe(func)
        if not self._neutral(node):
            return
        for arg in node.args:
            if isinstance(arg.value, cst.Name):
                self._safe.add(id(arg.value))  # `print(model)`, `len(model)`

    def _neutral(self, call: cst.Call) -> bool:
        text = dotted(call.func)
        if text is None or text in self.program.module_functions:
            return False
        effect = kn.lookup(self.program.qualify(text))
        return kn.is_neutral(effect) and not (effect is not None and effect.binds)

    def _mark_chain_safe(self, node: cst.BaseExpression) -> None:
        """`model.encoder.to(device)`, `model.parameters()`: read through the name."""
        while isinstance(node, (cst.Attribute, cst.Call)):
            node = node.value if isinstance(node, cst.Attribute) else node.func
        if isinstance(node, cst.Name):
            self._safe.add(id(node))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._safe.add(id(node.attr))
        self._mark_chain_safe(node)  # `model.training`, `model.fc.weight.shape`

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._safe.add(id(node.keyword))

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self._safe:
            self.touched.add(node.value)  # passed on, aliased, returned, stored


def _head(node: cst.BaseExpression) -> str | None:
    while isinstance(node, (cst.Attribute, cst.Subscript, cst.Call)):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node.value if isinstance(node, cst.Name) else None

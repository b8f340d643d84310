"""One walk over a module that indexes what the analysis needs: imports, classes, functions,
what each assigned name holds (an optimizer, a model, an instance of the file's own class)."""

from __future__ import annotations

import builtins
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from . import knowledge as kn
from .kept import kept_calls
from .names import ImportTable, dotted, unmoved
from .returns import Returns
from .summary import ClassFacts, ProjectView
from .vocab import OPTIMIZER_CLASSES, is_model_name, is_optimizer_name
from .walk import walk

LIGHTNING_BASES = ("LightningModule",)


@dataclass
class FunctionInfo:
    key: str
    node: cst.FunctionDef
    class_name: str | None
    params: list[str]
    defaults_start: int
    local_names: set[str] = field(default_factory=set)
    inner: dict[str, str] = field(default_factory=dict)  # nested def name -> key

    @property
    def name(self) -> str:
        return self.node.name.value

    @property
    def is_method(self) -> bool:
        return self.class_name is not None


@dataclass
class ClassInfo:
    name: str
    node: cst.ClassDef
    bases: list[str]
    methods: dict[str, str] = field(default_factory=dict)  # method name -> function key
    # The library classes above it, through the project's own classes in other modules (a
    # base `from .base import Trainer` is the project's, not a library trainer); None when no
    # project view was given, and then `bases` are taken as they are.
    library_bases: list[str] | None = None

    @property
    def _above(self) -> list[str]:
        return self.bases if self.library_bases is None else self.library_bases

    @property
    def is_module(self) -> bool:
        return derives_from_module(self.bases, self._above)

    @property
    def is_foreign(self) -> bool:
        """A subclass of another framework's class (`tf.keras.Model`, `flax.linen.Module`)."""
        return any(is_foreign_callee(b) for b in self.bases)

    @property
    def from_lightning(self) -> bool:
        """Derived from any of Lightning's classes (a `LightningModule`, a `Callback`)."""
        return any(b.startswith(kn.LIGHTNING_PACKAGES) for b in self._above)

    @property
    def is_lightning(self) -> bool:
        return any(b.endswith(LIGHTNING_BASES) for b in self._above)

    @property
    def is_library_trainer(self) -> bool:
        """A subclass of an imported trainer (transformers' `Trainer`, TRL's `_BaseTrainer`):
        the library's loop calls its evaluation methods and sets grad and mode around them."""
        return any("." in b and b.endswith("Trainer") for b in self._above)


# Torch functions that make a new tensor from shapes or data, never from a model.
_TENSOR_FACTORIES = frozenset(
    f"torch.{n}" for n in ("zeros", "ones", "randn", "rand", "empty", "full", "tensor",
                           "zeros_like", "ones_like", "randn_like", "rand_like", "empty_like",
                           "full_like")
)  # fmt: skip

# What a name is bound to, as indexed: see `Program.bindings`.
Binding = cst.BaseExpression | cst.FunctionDef | str | None
# How the interpreter names a plain function given where no name holds it: a lambda, or
# `partial(f, ...)` of a plain function, passed as an argument.
FUNCTION = "<function>"


@dataclass
class Program:
    module: cst.Module
    imports: ImportTable
    functions: dict[str, FunctionInfo]
    classes: dict[str, ClassInfo]
    module_functions: dict[str, str]  # top-level def name -> key
    optimizers: set[str]  # names bound to an optimizer object
    schedulers: set[str]
    scalers: set[str]
    models: set[str]  # names bound to a model object
    instances: dict[str, str]  # name -> class name of the file's own class
    links: dict[str, str]  # model name -> optimizer built over its parameters
    # module name -> an optimizer built over its parameters and those of other modules, which a
    # `module.zero_grad()` therefore clears only in part
    parts: dict[str, str]
    engines: set[str]  # receivers of both .backward(loss) and .step(): DeepSpeed-style engines
    escaped: set[str]  # function keys referenced other than by a call
    loop_targets: set[str]  # names bound by `for` loops
    bound: dict[str, cst.Call] = field(default_factory=dict)  # name -> the call it came from
    # Escaped functions handed to a launcher of the knowledge table (`fabric.launch(main)`,
    # `Thread(target=train)`): entry points, run with autograd on.
    launched: set[str] = field(default_factory=set)
    # Objects built by another framework, loaded by a library as an object that is not a
    # module (a tokenizer, a retriever), or made by a project class that is not a module (a
    # metric helper, an agent that holds networks), as the interpreter names them (`main:model`,
    # `Trainer#self.model`, a global `model`): never torch models.
    foreign: set[str] = field(default_factory=set)
    # The calls each object is bound to, named as the interpreter names objects.
    bound_in: dict[str, list[cst.Call]] = field(default_factory=dict)
    self_modules: set[str] = field(default_factory=set)  # `mod = sys.modules[__name__]`
    # Names unpacked from a table of classes (`config_class, model_class = CLASSES[name]`):
    # the qualified classes the table holds at that name's position.
    picked: dict[str, list[str]] = field(default_factory=dict)
    # The summaries of the project modules this file imports (None: the file alone).
    view: ProjectView | None = None
    # Every binding in view of each plain name, as the interpreter names objects (`linreg`,
    # `main:net`): the value bound (a `def` binds its node), an import's qualified name, or
    # None for a binding whose value is not in view (a loop target, a parameter, `x += ...`).
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    # Objects (named as `bound_in` names them) made by a class or factory of another project
    # module: the project classes (module, name) they may be instances of.
    made: dict[str, list[tuple[Path, str]]] = field(default_factory=dict)
    fresh: set[int] = field(default_factory=set)  # the calls among them that set no mode
    _sensitive: dict[int, bool] = field(default_factory=dict)
    _statement_of: dict[int, int] | None = None  # a call's top-level statement, by index
    _function_of: dict[int, cst.FunctionDef] | None = None  # a call's innermost function
    _functions: dict[str, bool] = field(default_factory=dict)
    _kept: dict[int, set[int]] = field(default_factory=dict)  # see `kept`

    def qualify(self, text: str | None) -> str | None:
        return self.imports.qualify(text)

    def is_imported(self, text: str) -> bool:
        return self.imports.is_imported(text.split(".")[0])

    def is_model_candidate(self, root: str) -> bool:
        """Whether the object the interpreter names `root` may be a torch model: not when it
        comes from another framework, nor when it is a plain function (see `is_function`)."""
        return root not in self.foreign and not self.is_function(root)

    def is_function(self, root: str) -> bool:
        """Whether every binding in view of `root` is a plain function: a `def`, a lambda,
        `functools.partial` of one, a function the knowledge table names (`F.softmax`, a
        builtin), or a name bound so. A function has no train/eval mode and is no torch model
        (`evaluate(loader, linreg)`, `evaluate(loader, lambda X: X @ w + b)`). A name with no
        binding in view (a parameter no caller in view gives) is not known to be one."""
        if root == FUNCTION:
            return True
        known = self._functions.get(root)
        if known is not None:
            return known
        bound = self.bindings.get(root)
        if not bound:
            # A global the file does not bind (a builtin), or an attribute of an import
            # (`F.softmax`): a function if the knowledge table says so.
            head = root.partition(".")[0]
            if ":" in root or "#" in root or ("." in root and not self.is_imported(head)):
                return False
            return self._known_function(self.qualify(root) or root)
        self._functions[root] = False  # recursion guard: `f = g; g = f` is no evidence
        scope = self.functions.get(root.partition(":")[0]) if ":" in root else None
        verdict = all(self._function_value(b, scope) for b in bound)
        self._functions[root] = verdict
        return verdict

    def _known_function(self, full: str) -> bool:
        """Whether an imported name is a plain function: one the knowledge table names
        (`F.softmax`), or a `def` of a project module in view (`from .model import linreg`)."""
        effect = kn.lookup(full)
        if effect is not None:
            return effect.function
        return self.view is not None and self.view.is_function(full)

    def is_factory(self, root: str) -> bool:
        """Whether `root` is bound to `functools.partial(...)` of something that is not a plain
        function (`partial(KnnModule, k=5)`): calling it builds an object; no forward runs.
        A plain name is judged by its own bindings, never by the same name elsewhere."""
        bound = self.bindings.get(root)
        if bound is None:
            name = root.rpartition(":")[2]
            bound = [self.bound[name]] if "." in name and name in self.bound else []
        scope = self.functions.get(root.partition(":")[0]) if ":" in root else None
        return any(
            isinstance(b, cst.Call) and _binds(self, b) and not self._function_value(b, scope)
            for b in bound
        )

    def function_key(self, root: str) -> str | None:
        """The file's top-level function that a global name holds and only ever holds (a
        `def` bound nowhere else): calling the name runs that function."""
        bound = self.bindings.get(root, [])
        if ":" in root or len(bound) != 1 or not isinstance(bound[0], cst.FunctionDef):
            return None
        return self.module_functions.get(root)

    def function_value(self, value: cst.BaseExpression, scope: FunctionInfo | None) -> bool:
        """Whether an expression, evaluated in `scope`, is a plain function (see
        `is_function`): a lambda, `partial(f, ...)` of one, or a name that holds one."""
        return self._function_value(value, scope)

    def _function_value(self, value: Binding, scope: FunctionInfo | None) -> bool:
        if value is None:
            return False
        if isinstance(value, str):  # an import: a function if the table or its module says so
            return self._known_function(value)
        if isinstance(value, (cst.FunctionDef, cst.Lambda)):
            return True
        if isinstance(value, cst.Call):
            effect = kn.lookup(self.qualify(dotted(value.func)))
            first = value.args[0] if value.args else None
            return (
                effect is not None
                and effect.binds
                and first is not None
                and first.keyword is None
                and not first.star
                and self._function_value(first.value, scope)
            )
        text = dotted(value) if isinstance(value, (cst.Name, cst.Attribute)) else None
        if text is None:
            return False
        head, dot, _ = text.partition(".")
        root = self._root_of(head, scope)
        if root is None or (dot and ":" not in root):
            return self.is_function(text)  # a builtin, or `F.softmax` of an import
        return not dot and self.is_function(root)

    def _root_of(self, name: str, scope: FunctionInfo | None) -> str | None:
        """How the interpreter names the object a plain name holds in `scope`, through the
        enclosing functions to the module; None when nothing in the file binds it."""
        while scope is not None:
            root = f"{scope.key}:{name}"
            if root in self.bindings:
                return root
            parent = scope.key.rpartition(".<locals>.")[0]
            scope = self.functions.get(parent) if parent else None
        return name if name in self.bindings else None

    def steps_own_tensors(self, optimizer: str) -> bool:
        """Whether every binding in view of the optimizer named so (`patch_attack:optimizer`)
        builds it over a list of tensors its scope makes itself (`SGD([patch])` where `patch =
        nn.Parameter(torch.zeros(...))`): it trains them, and no model's parameters."""
        scope = optimizer.rpartition(":")[0]
        values = self.bindings.get(optimizer)
        return bool(values) and all(self._over_own_tensors(scope, v) for v in values)

    def _over_own_tensors(self, scope: str, value: Binding) -> bool:
        if not isinstance(value, cst.Call) or not value.args:
            return False
        built = self.qualify(dotted(value.func)) or ""
        first = value.args[0].value
        if not built.startswith("torch.optim.") or not isinstance(first, (cst.List, cst.Tuple)):
            return False
        for element in first.elements:
            name = dotted(element.value) if not isinstance(element, cst.StarredElement) else None
            if name is None or "." in name:
                return False
            bound = self.bindings.get(f"{scope}:{name}" if scope else name)
            if not bound or not all(self._makes_tensor(b) for b in bound):
                return False
        return True

    def _makes_tensor(self, value: Binding) -> bool:
        """A new tensor or parameter: `nn.Parameter(...)`, `torch.zeros(...)`, `torch.randn`."""
        if not isinstance(value, cst.Call):
            return False
        made = self.qualify(dotted(value.func)) or ""
        return made == "torch.nn.Parameter" or made in _TENSOR_FACTORIES

    def mode_sensitive(self, name: str) -> bool:
        """Whether train/eval mode can change what this model computes (dropout, batch-norm).
        True unless the model is built in view from parts that are all mode-free."""
        made = self.made.get(name)
        if made and self.view is not None:
            # Made by another module's class or factory: judged by those class bodies.
            return any(self.view.class_sensitive(*one) for one in made)
        head, _, attr = name.partition(".")
        made = self.made.get(head)
        if made and attr and "." not in attr and self.view is not None:
            # A network an object of another module's class holds (`agent.online_net`):
            # judged by what that class builds into the attribute, when it says.
            verdicts = [self.view.attribute_sensitive(*one, attr) for one in made]
            if None not in verdicts:
                return any(verdicts)
        calls = self.bound_in.get(name)
        if calls:
            # Built in view, in the scope that names it: judged by what it is built from, never
            # by a binding of the same bare name in another function.
            return any(self._subtree_sensitive(c) for c in calls)
        held = self._held(head, attr) if attr and "." not in attr else None
        if held is not None:
            # What an object of the file's own class holds (`net.embeddings`, built by
            # `Net(...)`): judged by what the class builds into that attribute.
            return any(self._subtree_sensitive(c) for c in held)
        # Not built in view (a parameter, a loop variable): judge by the models the file
        # builds; a file whose every model is mode-free has no reason to switch modes.
        built = [self.bound[m] for m in self.models if m in self.bound]
        modules = [c.node for c in self.classes.values() if c.is_module]
        if not built and not modules:
            return True
        return any(self._subtree_sensitive(n) for n in built + modules)

    def function_of(self, call: cst.Call) -> cst.FunctionDef | None:
        """The innermost function whose body holds `call`; None at the module's top level."""
        if self._function_of is None:
            finder = _CallsIn()
            walk(self.module, finder)
            self._function_of = finder.found
        return self._function_of.get(id(call))

    def overwritten(self, name: str, call: cst.Call, use: cst.CSTNode) -> bool:
        """Whether the module-level binding `name = call` can no longer be what `name` holds
        at `use`: a later top-level statement, still before the one holding `use`, binds
        `name` anew whatever path the script takes (`net = MLP()` in one notebook cell,
        `net = MyMLP()` in a later one, then a function using `net`)."""
        bindings = self.bound_in.get(name, [])
        if not any(c is call for c in bindings):
            return False  # not a module-level binding
        if self._statement_of is None:
            self._statement_of = {}
            for index, stmt in enumerate(self.module.body):
                calls = _Calls()
                walk(stmt, calls)
                self._statement_of.update(dict.fromkeys(calls.found, index))
        where = self._statement_of.get(id(call))
        used = self._statement_of.get(id(use))
        if where is None or used is None:
            return False
        for other in bindings:
            index = self._statement_of.get(id(other), -1)
            if where < index < used and _binds_plainly(self.module.body[index], name, other):
                return True
        return False

    def _held(self, head: str, attr: str) -> list[cst.Call] | None:
        """The constructor calls the file's classes bind to `self.<attr>`, for an object
        `head` built by those classes only; None when any value given to that attribute (in
        the class, or as `head.<attr> = ...`) is not such a call, or `head` is built
        otherwise."""
        made = self.bound_in.get(head)
        classes = [dotted(unmoved(c).func) for c in made or [] if isinstance(unmoved(c), cst.Call)]
        if not made or len(classes) != len(made) or not all(c in self.classes for c in classes):
            return None
        written = head.rpartition(":")[2]  # `main:ensemble` is written `ensemble`
        outside = _AttributeValues({f"{written}.{attr}"})
        walk(self.module, outside)
        calls: list[cst.Call] = []
        for cls in dict.fromkeys(classes):
            inside = _AttributeValues({f"self.{attr}"})
            walk(self.classes[cls].node, inside)  # type: ignore[index]
            values = [one for v in inside.values for one in _alternatives(v)]
            calls += [v for v in values if isinstance(v, cst.Call)]
            if not values or not all(isinstance(v, cst.Call) or _is_none(v) for v in values):
                return None
        if outside.values:
            return None  # set from outside: judged by the file's models instead
        return calls

    def _subtree_sensitive(self, node: cst.CSTNode) -> bool:
        cached = self._sensitive.get(id(node))
        if cached is not None:
            return cached
        self._sensitive[id(node)] = True  # recursion guard: assume the worst
        finder = _ModeLayers(self)
        walk(node, finder)
        self._sensitive[id(node)] = finder.sensitive
        return finder.sensitive

    def kept(self, call: cst.Call, function: cst.FunctionDef) -> bool:
        """Whether `function` keeps what `call` builds as a part of a module: stores it on
        `self` or returns it (see kept.py)."""
        found = self._kept.get(id(function))
        if found is None:
            found = self._kept[id(function)] = kept_calls(function, self.is_imported)
        return id(call) in found

    def method(self, class_name: str, name: str) -> str | None:
        seen: set[str] = set()
        todo = [class_name]
        while todo:
            current = todo.pop(0)
            if current in seen or current not in self.classes:
                continue
            seen.add(current)
            info = self.classes[current]
            if name in info.methods:
                return info.methods[name]
            todo.extend(b.split(".")[-1] for b in info.bases)
        return None


def build_program(module: cst.Module, view: ProjectView | None = None) -> Program:
    """The index of one module; with `view`, its imports of the project's own classes are
    judged by their class bodies in the other modules."""
    indexer = _Indexer()
    walk(module, indexer)
    program = Program(
        module=module,
        imports=indexer.imports,
        functions=indexer.functions,
        classes=indexer.classes,
        module_functions=indexer.module_functions,
        optimizers=set(),
        schedulers=set(),
        scalers=set(),
        models=set(),
        instances={},
        links={},
        parts={},
        engines=indexer.backward_receivers & indexer.step_receivers,
        escaped=set(),
        loop_targets=indexer.loop_targets,
        view=view,
    )
    if view is not None:
        for cls in program.classes.values():
            cls.library_bases = []
            for base in cls.bases:
                above = view.all_bases(base)
                cls.library_bases += [base] if above is None else above
    for name, scope, value in indexer.bindings:
        root = name if scope is None else f"{scope.key}:{name}"
        program.bindings.setdefault(root, []).append(value)
    for target, value, _ in indexer.assignments:
        _note_picked(program, indexer, target, value)
    for target, value, scope in indexer.assignments:
        _bind(program, target, value)
        _mark_binding(program, target, value, scope)
    _find_parts(program, indexer)
    for receiver in indexer.mode_receivers:
        if receiver not in program.optimizers:
            program.models.add(receiver)
    for cls in program.classes.values():
        if cls.is_module:
            program.models.add("self")
    _mark_escaped(program, indexer)
    _mark_launched(program, indexer)
    return program


def _bind(program: Program, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
    if isinstance(target, (cst.Tuple, cst.List)):
        elements = [e.value for e in target.elements]
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(elements):
            for t, v in zip(elements, (e.value for e in value.elements), strict=True):
                _bind(program, t, v)
        elif isinstance(value, cst.Call):
            callee = program.qualify(dotted(value.func)) or ""
            if _builds(callee) == "engine" and elements:
                name = dotted(elements[0])
                if name:
                    program.engines.add(name)
        return
    name = dotted(target)
    if name is not None and _is_this_module(program, value):
        program.self_modules.add(name)
    if name is None or not isinstance(value, cst.Call):
        return
    program.bound.setdefault(name, value)
    built = unmoved(value)  # `Net().to(device)` is the `Net()` it moves
    if not isinstance(built, cst.Call):
        return
    value = built
    callee = program.qualify(dotted(value.func)) or _picked_class(program, value.func)
    last = callee.split(".")[-1]
    builds = _builds(callee)
    own = program.classes.get(last)
    if (own is not None and wraps_optimizer(program, own)) or (
        program.view is not None and own is None and program.view.wraps_optimizer(callee)
    ):
        # `CustomLRAdam(Adam(...))` or `ScheduledOptim(...)`: whatever its name says, stepping
        # it steps the optimizer it holds, and messages name it as the loop does.
        program.optimizers.add(name)
        return
    named = "Scheduler" in last or "LR" in last
    if own is not None and named and "step" in own.methods and _plain(program, own, set()):
        # `WarmupLR(opt)` of the file's own plain class: not a torch scheduler, whose order
        # around the optimizer step is torch's; its `step()` is followed like any method.
        program.instances[name] = last
        return
    if builds == "scheduler" or named:
        program.schedulers.add(name)
    elif "GradScaler" in last:
        program.scalers.add(name)
    elif (
        (builds == "optimizer" and last[:1].isupper())
        or last in OPTIMIZER_CLASSES
        or last.endswith("Optimizer")
        or (builds is None and _factory_builds(program, callee) == "optimizer")
    ):
        program.optimizers.add(name)
        first = value.args[0].value if value.args else None
        if (
            isinstance(first, cst.Call)
            and isinstance(first.func, cst.Attribute)
            and first.func.attr.value in {"parameters", "named_parameters"}
        ):
            owner = dotted(first.func.value)
            if owner:
                program.links[owner] = name
    elif (cls := last if last in program.classes else _factory_class(program, callee)) is not None:
        program.instances[name] = cls
        if program.classes[cls].is_module:
            program.models.add(name)
    elif (
        _builds(callee) == "model"
        and (last[:1].isupper() or callee in kn.TABLE)  # `timm.create_model(...)`
        and not last.endswith("Loss")
        and (not callee.startswith("transformers.") or _TRANSFORMERS_MODEL.search(last))
    ) or (last == "from_pretrained" and _loads_module(program, callee) is not False):
        program.models.add(name)


def _binds(program: Program, call: cst.Call) -> bool:
    """`functools.partial(...)`, as the knowledge table says."""
    effect = kn.lookup(program.qualify(dotted(call.func)))
    return effect is not None and effect.binds


def _loads_module(program: Program, callee: str) -> bool | None:
    """Whether `X.from_pretrained` loads a module, by the class X names (or every class a
    table holds for it); None when the classes disagree or it is not `from_pretrained`."""
    owner, _, last = callee.rpartition(".")
    if last != "from_pretrained" or not owner:
        return None
    classes = program.picked.get(owner, [owner])
    verdicts = {kn.pretrained_is_module(c) for c in classes}
    return verdicts.pop() if len(verdicts) == 1 else None


def _note_picked(
    program: Program, indexer: _Indexer, target: cst.BaseExpression, value: cst.BaseExpression
) -> None:
    """`config_class, model_class, tokenizer_class = MODEL_CLASSES[args.model_type]`, where
    `MODEL_CLASSES` is a literal dict (or list) of tuples of classes: each name may hold any
    of the classes at its position."""
    if not (isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, cst.Subscript)):
        return
    table = dotted(value.value)
    rows: list[cst.BaseExpression] = []
    for literal in indexer.values.get(table or "", []):
        if isinstance(literal, cst.Dict):
            rows += [e.value for e in literal.elements if isinstance(e, cst.DictElement)]
        elif isinstance(literal, (cst.List, cst.Tuple)):
            rows += [e.value for e in literal.elements]
        else:
            return  # rebound to something else: not a table in view
    names = [dotted(e.value) for e in target.elements]
    for position, name in enumerate(names):
        if name is None:
            continue
        classes = []
        for row in rows:
            if not isinstance(row, (cst.Tuple, cst.List)) or position >= len(row.elements):
                return
            cls = program.qualify(dotted(row.elements[position].value))
            if cls is None:
                return
            classes.append(cls)
        if classes:
            program.picked.setdefault(name, []).extend(classes)


def derives_from_module(bases: list[str], above: list[str]) -> bool:
    """Whether a class with these direct `bases` and these library classes `above` it is a
    torch module."""
    if any(is_foreign_callee(b) for b in bases):
        return False  # `flax.linen.Module`, `tf.keras.Sequential`
    return any(b.endswith(("Module", "Sequential", "ModuleList")) for b in above)


def is_foreign_callee(full: str) -> bool:
    """Whether the knowledge table says this callee builds another framework's object."""
    effect = kn.lookup(full)
    return effect is not None and effect.builds == "foreign"


def _mark_binding(
    program: Program,
    target: cst.BaseExpression,
    value: cst.BaseExpression,
    scope: FunctionInfo | None,
) -> None:
    """Note what a name is bound to, in its scope; and whether that is another framework's
    object, by where the object comes from: its constructor's import, the file's class it
    instantiates (and that class's bases), or the file's factory function that returns one."""
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, cst.Call):
        # `psnr_model, ssim_model = build_iqa_model()`: each what its position of the
        # tuple a project factory returns is made by.
        for position, element in enumerate(target.elements):
            name = dotted(element.value)
            if name is not None:
                _note_made(program, name, _root(name, scope), value, position)
        return
    name = dotted(target)
    if name is None or not isinstance(value, cst.Call):
        return
    root = _root(name, scope)
    program.bound_in.setdefault(root, []).append(value)
    if _builds_foreign(program, value):
        program.foreign.add(root)
    _note_made(program, name, root, value, None)


def _root(name: str, scope: FunctionInfo | None) -> str:
    """The name the interpreter gives the object bound to `name` in `scope`."""
    if scope is None:
        return name
    if name.split(".")[0] == "self" and scope.class_name:
        return f"{scope.class_name}#{name}"
    return f"{scope.key}:{name}"


def _note_made(
    program: Program, name: str, root: str, value: cst.Call, position: int | None
) -> None:
    """An object made by a class or factory function of another project module: what it is
    follows from the class bodies there. A model when every class it may be is a torch
    module; never one when each is a plain class with no library base (a metric helper, an
    agent holding networks)."""
    view = program.view
    built = unmoved(value)
    if view is None or not isinstance(built, cst.Call):
        return
    text = dotted(built.func) or ""
    if not text or not program.is_imported(text):
        return
    moded: list[bool] = []
    made = view.made(program.qualify(text) or text, position, moded=moded)
    if not made:
        return
    program.made[root] = made
    if not moded:
        program.fresh.add(id(value))  # constructors only: in training mode, as they leave it
    if all(view.is_module(*one) for one in made):
        program.models.add(name)
    elif all(view.is_plain(*one) for one in made):
        program.foreign.add(root)  # plain classes: a library base might still be a module


def _builds_foreign(program: Program, call: cst.Call, depth: int = 0) -> bool:
    built = unmoved(call)
    if not isinstance(built, cst.Call):
        return False
    text = dotted(built.func) or ""
    if is_foreign_callee(program.qualify(text) or text):
        return True
    if _loads_module(program, program.qualify(text) or text) is False:
        return True  # `AutoTokenizer.from_pretrained(...)`: a library object, not a module
    cls = program.classes.get(text.split(".")[-1])
    if cls is not None:
        return cls.is_foreign
    key = program.module_functions.get(text)
    if key is None or depth > 2:
        return False
    returned = Returns()
    walk(program.functions[key].node.body, returned)
    return bool(returned.values) and all(
        isinstance(v, cst.Call) and _builds_foreign(program, v, depth + 1) for v in returned.values
    )


def _is_this_module(program: Program, value: cst.BaseExpression) -> bool:
    """`sys.modules[__name__]`: the module itself, whose attributes are its own functions."""
    if not (isinstance(value, cst.Subscript) and len(value.slice) == 1):
        return False
    index = value.slice[0].slice
    return (
        program.qualify(dotted(value.value)) == "sys.modules"
        and isinstance(index, cst.Index)
        and isinstance(index.value, cst.Name)
        and index.value.value == "__name__"
    )


def _find_parts(program: Program, indexer: _Indexer) -> None:
    """Modules whose `zero_grad()` clears only part of an optimizer: the optimizer is built over
    the parameters of several modules (`list(enc.parameters()) + list(dec.parameters())`), and
    the file clears some of them by module but never all of them that way."""
    for name in sorted(program.optimizers):
        call = program.bound.get(name)
        if call is None or not call.args:
            continue
        first = call.args[0].value
        owners = _parameter_owners(first)
        if isinstance(first, cst.Name):
            for value in indexer.values.get(first.value, []):
                owners |= _parameter_owners(value)
        if len(owners) < 2 or owners <= indexer.zero_grad_receivers:
            continue
        for owner in owners & indexer.zero_grad_receivers:
            program.parts.setdefault(owner, name)


def _parameter_owners(expr: cst.BaseExpression) -> set[str]:
    finder = _ParameterOwners()
    walk(expr, finder)
    return finder.owners


_PARAMETERS = frozenset({"parameters", "named_parameters"})


class _ParameterOwners(cst.CSTVisitor):
    def __init__(self) -> None:
        self.owners: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _PARAMETERS:
            owner = dotted(func.value)
            if owner is not None:
                self.owners.add(owner)


def _builds(callee: str) -> str | None:
    effect = kn.lookup(callee)
    return effect.builds if effect is not None else None


# Stands for the class that `getattr(module, name)` picks at run time: capitalised, as classes
# are, and naming no kind of object itself.
PICKED = "Picked"


def _picked_class(program: Program, func: cst.BaseExpression) -> str:
    """`getattr(torch.optim, name)` -> "torch.optim.Picked": a class of that module."""
    if (
        isinstance(func, cst.Call)
        and dotted(func.func) == "getattr"
        and len(func.args) >= 2
        and (module := program.qualify(dotted(func.args[0].value))) is not None
    ):
        return f"{module}.{PICKED}"
    return ""


def _factory_builds(program: Program, callee: str) -> str | None:
    """What a function of the file returns, when it returns what a known constructor builds:
    `def make_optimizer(model): return torch.optim.AdamW(...)`, or nanoGPT's
    `model.configure_optimizers(...)`, which builds the optimizer into a name and returns it."""
    receiver, _, name = callee.rpartition(".")
    if not receiver:
        key = program.module_functions.get(name)
    elif receiver in program.instances:
        key = program.method(program.instances[receiver], name)
    elif receiver == "self":
        key = next((c.methods[name] for c in program.classes.values() if name in c.methods), None)
    else:
        key = None
    if key is None:
        return None
    finder = _ReturnedBuild(program)
    walk(program.functions[key].node.body, finder)
    return finder.found


# transformers' model classes (`BertModel`, `AutoModelForCausalLM`, `T5ForConditionalGeneration`);
# its other classes are tokenizers, configurations, trainers, collators, normalizers.
_TRANSFORMERS_MODEL = re.compile(r"Model|For[A-Z]")


# Layers of libraries not in the knowledge table (and the file's own), named for what they do.
MODE_LAYERS = re.compile(r"Dropout|BatchNorm|InstanceNorm|RReLU")


def _mode_free(effect: kn.Effect, call: cst.Call) -> bool:
    """Whether a mode-sensitive layer is built so that train and eval mode compute alike (or
    the call builds no module at all)."""
    if effect.mode == kn.FREE:
        return True
    if effect.mode != kn.SENSITIVE or effect.free_when is None:
        return False
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    if effect.free_when == kn.ZERO_RATE:
        first = call.args[0].value if call.args and call.args[0].keyword is None else None
        return _is_zero(keywords.get("p", first))
    if effect.free_when == kn.NO_DROPOUT:
        return _is_zero(keywords.get("dropout"))
    if effect.free_when == kn.NO_RUNNING_STATS:
        flag = keywords.get("track_running_stats")
        return flag is None or (isinstance(flag, cst.Name) and flag.value == "False")
    return False


def _filled_here(function: cst.FunctionDef, name: str, wrapper: cst.Call) -> bool:
    """Whether `name` is a list that `function` fills only with layers it builds itself
    (`layers = []`, `layers.append(nn.Linear(...))`, `layers += [block]` with `block =
    Block(...)`), so that a wrapper given it (`nn.Sequential(*layers)`) holds nothing but
    what the function's own calls build."""
    fills = _ListFills(name, wrapper)
    walk(function.body, fills)
    if not fills.lists or fills.other:
        return False
    return all(
        isinstance(e, cst.Call) or (isinstance(e, cst.Name) and e.value in fills.built)
        for e in fills.elements
    )


class _ListFills(cst.CSTVisitor):
    """How a function binds and fills the list `name`: the list values bound to it, the
    elements put in, whether it is bound to anything else, and the plain names the function
    binds to calls only."""

    _ADDS = ("append", "insert")

    def __init__(self, name: str, wrapper: cst.Call) -> None:
        self.name = name
        self.wrapper = wrapper
        self.lists = 0
        self.other = False
        self.elements: list[cst.BaseExpression] = []
        self.built: set[str] = set()
        self._rebound: set[str] = set()

    def _list(self, value: cst.BaseExpression) -> None:
        if isinstance(value, cst.List):
            self.lists += 1
            for element in value.elements:
                if isinstance(element, cst.StarredElement):
                    self.other = True
                self.elements.append(element.value)
        elif isinstance(value, cst.ListComp):
            self.lists += 1
            self.elements.append(value.elt)
        elif value is not self.wrapper:
            self.other = True

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            text = dotted(target.target)
            if text == self.name:
                self._list(node.value)
            elif isinstance(target.target, cst.Name):
                if isinstance(node.value, cst.Call) and text not in self._rebound:
                    self.built.add(text)
                else:
                    self._rebound.add(text)
                    self.built.discard(text)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if dotted(node.target) == self.name:
            self._list(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or dotted(func.value) != self.name:
            return
        if func.attr.value in self._ADDS and node.args:
            self.elements.append(node.args[-1].value)
        elif func.attr.value == "extend" and node.args:
            self._list(node.args[0].value)

    def visit_For(self, node: cst.For) -> None:
        for name in _names(node.target):
            self._rebound.add(name)
            self.built.discard(name)


def _names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _names(e.value)]
    return []


class _CallsIn(cst.CSTVisitor):
    """Each call's innermost enclosing function."""

    def __init__(self) -> None:
        self.found: dict[int, cst.FunctionDef] = {}
        self._functions: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if self._functions:
            self.found[id(node)] = self._functions[-1]


class _Calls(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[int] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.found.append(id(node))


def _binds_plainly(stmt: cst.CSTNode, name: str, call: cst.Call) -> bool:
    """Whether the top-level statement `stmt` is `name = call`, run whenever the script
    reaches it (not in a branch, a loop or a function)."""
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Assign)
        and small.value is call
        and any(dotted(t.target) == name for t in small.targets)
        for small in stmt.body
    )


def _alternatives(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """`a if c else b` -> the values of `a` and `b`; any other value itself."""
    if isinstance(value, cst.IfExp):
        return _alternatives(value.body) + _alternatives(value.orelse)
    return [value]


def _is_none(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Name) and value.value == "None"


class _AttributeValues(cst.CSTVisitor):
    """The values assigned to any of the given dotted targets (`self.fc = ...`)."""

    def __init__(self, targets: set[str]) -> None:
        self.targets = targets
        self.values: list[cst.BaseExpression] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if dotted(target.target) in self.targets:
                self.values.append(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if dotted(node.target) in self.targets and node.value is not None:
            self.values.append(node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if dotted(node.target) in self.targets:
            self.values.append(node.value)


def _is_zero(value: cst.BaseExpression | None) -> bool:
    return isinstance(value, (cst.Integer, cst.Float)) and float(value.value) == 0


class _ModeLayers(cst.CSTVisitor):
    """Looks through a constructor call (and the file's classes it builds) for layers whose
    behaviour depends on train/eval mode; anything it cannot see counts as such a layer.

    With `parts` (a module's summary being taken), the imported names it would have to count
    so are listed there instead, for the modules that import this one to judge."""

    def __init__(self, program: Program, parts: list[str] | None = None) -> None:
        self.program = program
        self.sensitive = False
        self.parts = parts
        self._functions: list[str] = []
        self._nodes: list[cst.FunctionDef] = []
        self._classes: set[int] = set()  # the file's classes already looked through

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node.name.value)
        self._nodes.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()
        self._nodes.pop()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "training":
            self.sensitive = True  # `F.dropout(x, training=self.training)`, `if self.training:`

    def visit_Call(self, node: cst.Call) -> bool:
        if self.sensitive:
            return False
        text = dotted(node.func) or ""
        full = self.program.qualify(text) or text
        last = full.split(".")[-1]
        effect = kn.lookup(full)
        inside = self._nodes[-1] if self._nodes else None
        in_forward = self._functions[-1:] == ["forward"]
        method = kn.method("any", last) if isinstance(node.func, cst.Attribute) else None
        if method is not None and method.takes_state:
            return False  # `self.load_state_dict(torch.load(p))` loads tensors, no layer
        if effect is not None and effect.mode == kn.AS_GIVEN:
            self.sensitive = self._wraps_models(node, constructor=False)
        elif effect is not None and effect.mode is not None:
            self.sensitive = not _mode_free(effect, node)
        elif effect is not None and effect.builds == "foreign":
            pass  # another framework's object, or an array: no torch layer
        elif isinstance(node.func, (cst.Subscript, cst.Call)) and not in_forward:
            # `models.__dict__[arch]()`: a model we cannot see, where it becomes a part (kept
            # on `self`, or returned); a helper's `_pair(2)(n)` computes only a shape.
            self.sensitive = inside is None or self.program.kept(node, inside)
        elif (MODE_LAYERS.search(last) and not full.startswith("torch.")) or _has_dropout_arg(node):
            self.sensitive = True  # torch's own layers are the table's
        elif self._wraps_models(node):
            self.sensitive = True  # `Wrapper(backbone, head)`: judged by what it is given
        elif last in self.program.classes:
            if self.parts is not None:
                self._look_into(self.program.classes[last].node)
            else:
                self.sensitive = self.program._subtree_sensitive(self.program.classes[last].node)
        elif text in self.program.module_functions:
            key = self.program.module_functions[text]
            self.sensitive = self.program._subtree_sensitive(self.program.functions[key].node)
        elif full.startswith("torch") or _is_standard(full):
            pass  # torch's own layers are named above; Python's own calls build no layer
        elif in_forward and not last[:1].isupper():
            pass  # a function applied in the forward pass builds no layer (`.training` is seen)
        elif (last[:1].isupper() or self.program.is_imported(text)) and (
            inside is None or self.program.kept(node, inside)
        ):
            self.sensitive = self._unseen(text, full)  # a model part we cannot see, maybe
        return not self.sensitive

    def _unseen(self, text: str, full: str) -> bool:
        """Whether a part built from a name not defined in the file counts as sensitive: a
        class of the project in view says itself; a summary lists an imported one as a part."""
        if self.parts is not None and self.program.is_imported(text):
            self.parts.append(full)
            return False
        view = self.program.view
        verdict = view.sensitive(full) if view is not None else None
        return True if verdict is None else verdict

    def _look_into(self, node: cst.ClassDef) -> None:
        if id(node) not in self._classes:
            self._classes.add(id(node))
            walk(node, self)

    def _wraps_models(self, node: cst.Call, constructor: bool = True) -> bool:
        """Whether a constructor (or a wrapper the table knows) is given models (built
        elsewhere) that are mode-sensitive or not in view: `Wrapper(backbone, head)` computes
        what they compute."""
        if constructor and not (dotted(node.func) or "").split(".")[-1][:1].isupper():
            return False
        for arg in node.args:
            name = dotted(arg.value)
            if name is None or not (name in self.program.models or is_model_name(name)):
                continue
            function = self._nodes[-1] if self._nodes else self.program.function_of(node)
            if function is not None and _filled_here(function, name, node):
                continue  # `nn.Sequential(*layers)`: its layers are built there, and looked at
            # Every binding of that name in the file: the wrapper is sensitive if any is.
            calls = [
                c
                for root, bound in self.program.bound_in.items()
                if root == name or root.endswith((f":{name}", f"#{name}"))
                for c in bound
                if c is not node and not self.program.overwritten(name, c, node)
            ]
            if not calls or any(self.program._subtree_sensitive(c) for c in calls):
                return True
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for base in node.bases:
            text = dotted(base.value) or ""
            name = text.split(".")[-1]
            base_class = self.program.classes.get(name)
            if base_class is not None and base_class.node is not node:
                if self.parts is not None:
                    self._look_into(base_class.node)
                elif self.program._subtree_sensitive(base_class.node):
                    self.sensitive = True
            elif base_class is None and self.program.is_imported(text):
                # An imported base: the project's own class is judged by its body (a summary
                # keeps its bases for that); a library base as before (`nn.Module` builds no
                # layer).
                full = self.program.qualify(text) or text
                view = self.program.view
                if self.parts is None and view is not None and view.sensitive(full):
                    self.sensitive = True


_BUILTINS = frozenset(dir(builtins))


def _unpacked(value: Binding, width: int) -> list[Binding]:
    """What each name of a tuple target of `width` names is bound to: the items of a tuple or
    list of the same width without `*` (`net, loss = linreg, squared_loss`), else unknown."""
    if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == width:
        items = [e.value for e in value.elements]
        if not any(isinstance(e, cst.StarredElement) for e in value.elements):
            return list(items)
    return [None] * width


def _is_standard(full: str) -> bool:
    """A call of Python itself that builds no layer: a builtin (`ValueError(...)`) or the
    standard library (`collections.OrderedDict(...)`, `math.sqrt(...)`), except `copy` and
    `functools`, which can copy a model (`copy.deepcopy(model)`) or bind a layer class."""
    package = full.partition(".")[0]
    if package in ("copy", "functools"):
        return False
    return full in _BUILTINS or package in sys.stdlib_module_names


def class_facts(program: Program, info: ClassInfo) -> ClassFacts:
    """What other modules need to know of one of the file's classes (see summary.py)."""
    from .returns import callable_of

    parts: list[str] = []
    finder = _ModeLayers(program, parts)
    finder._classes.add(id(info.node))
    walk(info.node, finder)
    prefix = f"{info.name}#self."
    attributes: dict[str, str] = {}
    for root, calls in program.bound_in.items():
        attr = root[len(prefix) :]
        if root.startswith(prefix) and "." not in attr:
            built = {callable_of(program, call) for call in calls}
            attributes[attr] = built.pop() if len(built) == 1 else ""
    return ClassFacts(
        tuple(info.bases),
        finder.sensitive,
        tuple(dict.fromkeys(parts)),
        attributes,
        methods=frozenset(info.methods),
        wraps_optimizer=wraps_optimizer(program, info),
    )


def _plain(program: Program, info: ClassInfo, seen: set[str]) -> bool:
    """Whether a class of the file derives from no library class, through the file's own."""
    seen.add(info.name)
    for base in info.bases:
        above = program.classes.get(base)
        if above is None:
            if base not in {"object", "abc.ABC", "ABC"}:
                return False
        elif above.name not in seen and not _plain(program, above, seen):
            return False
    return True


def wraps_optimizer(program: Program, info: ClassInfo) -> bool:
    """Whether a class that is no module steps an optimizer it holds in its `step` (or
    `step_...`) method: `self.optimizer.step()` after writing the lr into its param groups
    (the Transformer "Noam" wrapper)."""
    if info.is_module:
        return False
    for method, key in info.methods.items():
        if method == "step" or method.startswith("step_"):
            finder = _InnerStep(program)
            walk(program.functions[key].node.body, finder)
            if finder.found:
                return True
    return False


class _InnerStep(cst.CSTVisitor):
    """A `self.<attr>.step(...)` call whose receiver is an optimizer, by binding or name."""

    def __init__(self, program: Program) -> None:
        self.program, self.found = program, False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "step":
            return
        receiver = dotted(func.value) or ""
        head, _, attr = receiver.partition(".")
        if head == "self" and attr and "." not in attr:
            self.found = self.found or (
                receiver in self.program.optimizers or is_optimizer_name(receiver)
            )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _has_dropout_arg(call: cst.Call) -> bool:
    for arg in call.args:
        if arg.keyword is None or arg.keyword.value != "dropout":
            continue
        value = arg.value
        if not (isinstance(value, (cst.Integer, cst.Float)) and float(value.value) == 0):
            return True
    return False


def _factory_class(program: Program, callee: str) -> str | None:
    """The file's own class that a factory function of the file returns (`make_model()`)."""
    key = program.module_functions.get(callee)
    if key is None:
        return None
    finder = _ReturnedClass(program)
    walk(program.functions[key].node.body, finder)
    return finder.found


class _ReturnedBuild(cst.CSTVisitor):
    """The kind a function's returns build, through one local name (`opt = X(...); return opt`),
    when every return that builds something builds the same kind."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.found: str | None = None
        self._local: dict[str, str] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        kind = self._kind(node.value)
        name = dotted(node.targets[0].target) if len(node.targets) == 1 else None
        if kind is not None and name is not None:
            self._local[name] = kind

    def visit_Return(self, node: cst.Return) -> None:
        value = node.value
        kind = self._local.get(dotted(value) or "") if value is not None else None
        kind = kind or (self._kind(value) if value is not None else None)
        if kind is not None and self.found in (None, kind):
            self.found = kind

    def _kind(self, value: cst.BaseExpression) -> str | None:
        if not isinstance(value, cst.Call):
            return None
        callee = self.program.qualify(dotted(value.func)) or _picked_class(self.program, value.func)
        last = callee.rpartition(".")[2]
        kind = _builds(callee)
        return kind if kind == "optimizer" and last[:1].isupper() else None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


class _ReturnedClass(cst.CSTVisitor):
    def __init__(self, program: Program) -> None:
        self.program = program
        self.found: str | None = None

    def visit_Return(self, node: cst.Return) -> None:
        value = node.value
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            value = value.func.value  # `Net().to(device)`
        if isinstance(value, cst.Call):
            name = (dotted(value.func) or "").split(".")[-1]
            if name in self.program.classes:
                self.found = name

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _mark_escaped(program: Program, indexer: _Indexer) -> None:
    for name, in_class in indexer.references:
        if in_class is not None:
            key = program.method(in_class, name)
        else:
            key = program.module_functions.get(name)
        if key is not None:
            program.escaped.add(key)


# The arguments through which a launcher receives the function it runs, besides its first.
_LAUNCHED_KEYWORDS = frozenset({"func", "target", "fn", "main", "function"})


def _mark_launched(program: Program, indexer: _Indexer) -> None:
    for call in indexer.value_calls:
        func = call.func
        effect = kn.lookup(program.qualify(dotted(func)))
        if effect is None and isinstance(func, cst.Attribute):
            effect = kn.method("any", func.attr.value)
        if effect is None or not effect.launches:
            continue
        for index, arg in enumerate(call.args):
            named = arg.keyword.value if arg.keyword is not None else None
            if not isinstance(arg.value, cst.Name):
                continue
            if (index == 0 and named is None) or named in _LAUNCHED_KEYWORDS:
                key = program.module_functions.get(arg.value.value)
                if key is not None:
                    program.launched.add(key)


class _Indexer(cst.CSTVisitor):
    def __init__(self) -> None:
        self.imports = ImportTable()
        self.functions: dict[str, FunctionInfo] = {}
        self.classes: dict[str, ClassInfo] = {}
        self.module_functions: dict[str, str] = {}
        # target, value, and the function it is in (None at module level or in a class body)
        self.assignments: list[
            tuple[cst.BaseExpression, cst.BaseExpression, FunctionInfo | None]
        ] = []
        self.values: dict[str, list[cst.BaseExpression]] = {}  # plain name -> assigned values
        # plain name, the function whose local it is (None: a global), what it is bound to
        self.bindings: list[tuple[str, FunctionInfo | None, Binding]] = []
        self.zero_grad_receivers: set[str] = set()
        self.mode_receivers: set[str] = set()
        self.backward_receivers: set[str] = set()
        self.step_receivers: set[str] = set()
        self.references: list[tuple[str, str | None]] = []
        self.value_calls: list[cst.Call] = []  # calls given a bare name: maybe a function
        self.loop_targets: set[str] = set()
        self._called: set[int] = set()
        self._def_names: set[int] = set()
        self._scopes: list[FunctionInfo | ClassInfo] = []

    # Scopes ---------------------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        bases = [dotted(a.value) or "" for a in node.bases]
        info = ClassInfo(node.name.value, node, [self.imports.qualify(b) or b for b in bases])
        self.classes.setdefault(info.name, info)
        self._bind_name(node.name.value, None)
        self._def_names.add(id(node.name))
        self._scopes.append(info)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._scopes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._def_names.add(id(node.name))
        parent = self._scopes[-1] if self._scopes else None
        name = node.name.value
        if isinstance(parent, ClassInfo):
            key, class_name = f"{parent.name}.{name}", parent.name
            parent.methods[name] = key
        elif isinstance(parent, FunctionInfo):
            key, class_name = f"{parent.key}.<locals>.{name}", parent.class_name
            parent.inner[name] = key
            parent.local_names.add(name)
        else:
            key, class_name = name, None
            self.module_functions[name] = key
        params = node.params
        positional = [*params.posonly_params, *params.params]
        names = [p.name.value for p in positional]
        first_default = next(
            (i for i, p in enumerate(positional) if p.default is not None), len(positional)
        )
        names += [p.name.value for p in params.kwonly_params]
        info = FunctionInfo(key, node, class_name, names, first_default)
        self._bind_name(name, node)
        for param in (*positional, *params.kwonly_params, params.star_arg, params.star_kwarg):
            if isinstance(param, cst.Param):
                self.bindings.append((param.name.value, info, None))  # given by callers
        # A function defined again under the same name replaces the first (often a stub).
        self.functions[key] = info
        self._scopes.append(info)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()

    # Bindings -------------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        self.imports.add(node)
        self._bind_imported(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.imports.add(node)
        self._bind_imported(node)

    def _bind_imported(self, node: cst.Import | cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            local = dotted(alias.asname.name if alias.asname else alias.name) or ""
            local = local.split(".")[0]
            self._bind_name(local, self.imports.qualify(local))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self.assignments.append((target.target, node.value, self._function()))
            self._local(target.target)
            self._bind_target(target.target, node.value)
            if isinstance(target.target, cst.Name):
                self.values.setdefault(target.target.value, []).append(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.assignments.append((node.target, node.value, self._function()))
            self._bind_target(node.target, node.value)
        self._local(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._local(node.target)
        self._bind_target(node.target, None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target, None)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind_target(node.name.name, None)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            # Assigned in a function, the module's name takes a value not indexed as its own.
            self.bindings.append((item.name.value, None, None))

    def visit_For(self, node: cst.For) -> None:
        self._local(node.target)
        self._bind_target(node.target, None)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind_target(node.target, None)  # read as the enclosing scope's name
        target = dotted(node.target)
        if target is not None:
            self.loop_targets.add(target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._local(node.asname.name)
            self._bind_target(node.asname.name, None)

    def _bind_name(self, name: str, value: Binding) -> None:
        """A plain name bound in the current scope (a class body's names are attributes)."""
        scope = self._scopes[-1] if self._scopes else None
        if not isinstance(scope, ClassInfo):
            self.bindings.append((name, scope, value))

    def _bind_target(self, target: cst.BaseExpression, value: Binding) -> None:
        if isinstance(target, cst.Name):
            self._bind_name(target.value, value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            values = _unpacked(value, len(target.elements))
            for element, item in zip(target.elements, values, strict=True):
                self._bind_target(element.value, item)
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value, None)

    def _function(self) -> FunctionInfo | None:
        scope = self._scopes[-1] if self._scopes else None
        return scope if isinstance(scope, FunctionInfo) else None

    def _local(self, target: cst.BaseExpression) -> None:
        scope = self._scopes[-1] if self._scopes else None
        if not isinstance(scope, FunctionInfo):
            return
        if isinstance(target, cst.Name):
            scope.local_names.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._local(element.value)

    # Calls and references -------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        self._called.add(id(node.func))
        if any(isinstance(arg.value, cst.Name) for arg in node.args):
            self.value_calls.append(node)
        func = node.func
        if isinstance(func, cst.Attribute):
            receiver = dotted(func.value)
            method = func.attr.value
            if receiver is not None:
                if method in {"eval", "train", "parameters", "named_parameters"}:
                    self.mode_receivers.add(receiver)
                elif method == "backward" and node.args:
                    self.backward_receivers.add(receiver)
                elif method == "step" and not node.args:
                    self.step_receivers.add(receiver)
                elif method == "zero_grad":
                    self.zero_grad_receivers.add(receiver)
            self._called.add(id(func))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._def_names.add(id(node.keyword))

    def visit_Param(self, node: cst.Param) -> None:
        self._def_names.add(id(node.name))

    def visit_ImportAlias(self, node: cst.ImportAlias) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self._called and id(node) not in self._def_names:
            self.references.append((node.value, None))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._def_names.add(id(node.attr))
        if (
            id(node) not in self._called
            and isinstance(node.value, cst.Name)
            and node.value.value == "self"
        ):
            scope = next((s for s in reversed(self._scopes) if s.__class__ is FunctionInfo), None)
            if isinstance(scope, FunctionInfo) and scope.class_name:
                self.references.append((node.attr.value, scope.class_name))

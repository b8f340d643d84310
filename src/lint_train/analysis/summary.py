"""What other files of the project need to know about a module, taken from its one parse, and
the view through which the analysis of one file reads the summaries of the modules it imports.

A summary holds local facts only: for each class, its bases and the names it builds, as its
module's imports qualify them, and whether its own body builds a mode-sensitive layer in view.
What an imported name is gets decided where it is used, by linking through the view; so a
summary never depends on the order in which files are analysed, and each is computed once.

For each top-level function it also holds what the function does to its parameters, as the
analysis saw it run with its callers out of view: which parameters it runs forward in
evaluation code (and whether it turned grad off or set eval mode itself first), and the mode it
leaves each parameter in. A caller in another module applies these facts to its own state, as
if it had followed the call: its grad and modes decide the evaluation, and the modes the
function leaves flow back into the caller's paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import project
from .returns import Returned

if TYPE_CHECKING:
    from .program import Program
    from .repeated import LoopCaller

# Re-exports and base classes are followed this deep, no further (a cycle stops sooner).
MAX_DEPTH = 8


@dataclass(frozen=True)
class ClassFacts:
    """One class of a module, as the module's own text shows it."""

    bases: tuple[str, ...]  # qualified through the module's imports (`torch.nn.Module`)
    sensitive: bool  # its body (or a base class of its own file) builds a mode-sensitive layer
    # Imported names its body builds or derives from, which only their own module can judge.
    parts: tuple[str, ...] = ()
    # What its methods build into each attribute (`self.net = DQN(...)` -> "net": "model.DQN",
    # bare for a class or function of its own module; "" when not one callable in view).
    attributes: Mapping[str, str] = field(default_factory=dict)
    # The methods its body defines: one without facts still hides a base class's method.
    methods: frozenset[str] = frozenset()
    # Its `step` (or `step_...`) method steps an optimizer it holds (`self.optimizer.step()`):
    # a wrapper that sets the lr by hand and steps, so stepping it is an optimizer step.
    wraps_optimizer: bool = False


@dataclass(frozen=True)
class Evaluation:
    """A forward pass of a parameter's model in a function's evaluation code."""

    param: str
    attr: str  # the part of it run forward (`.encoder`), or ""
    line: int  # of the forward pass, in the function's module
    loop: bool  # inside a loop over data
    # The grad values and the model's modes seen there ("init": what the caller gave).
    grads: frozenset[str]
    modes: frozenset[str]


@dataclass(frozen=True)
class Leaves:
    """The modes a function leaves a parameter's model in (`init`: the mode it came with)."""

    param: str
    attr: str  # the part of it (`.net` of a method's `self.net`), or ""
    modes: frozenset[str]
    line: int  # of the mode change that leaves it so


@dataclass(frozen=True)
class FunctionFacts:
    params: tuple[str, ...]
    evaluations: tuple[Evaluation, ...] = ()
    leaves: tuple[Leaves, ...] = ()
    # A straight-line training step: (kind, parameter, line) of each backward pass, step and
    # clear, in order ("*" clears every optimizer; see steps.py).
    trains: tuple[tuple[str, str, int], ...] = ()
    # It neither steps, clears nor hands on the optimizers it is given (see steps.py): a
    # caller that hands it one still knows that optimizer's gradients.
    spares_optimizers: bool = False
    # A builder whose flags pick the modes it leaves: (flag, value, what it leaves when the
    # caller passes that literal) for each flag turned from its default; `leaves` is what it
    # leaves with the defaults.
    variants: tuple[tuple[str, object, tuple[Leaves, ...]], ...] = ()

    def leaves_for(self, given: Mapping[str, str]) -> tuple[Leaves, ...]:
        """What it leaves for a call that binds its parameters to `given` (parameter ->
        argument text): a flag passed as the literal of a variant takes that variant's; a
        flag passed as anything else may be either, so each model may be in either mode."""
        chosen = list(self.leaves)
        for param, value, left in self.variants:
            if param not in given:
                continue
            text = given[param]
            if text in ("True", "False"):
                if (text == "True") == value:
                    chosen = list(left)
                continue
            merged: dict[tuple[str, str], Leaves] = {(x.param, x.attr): x for x in chosen}
            for item in left:
                known = merged.get((item.param, item.attr))
                modes = item.modes | (known.modes if known else frozenset({"init"}))
                merged[(item.param, item.attr)] = replace(item, modes=modes)
            chosen = list(merged.values())
        return tuple(chosen)


@dataclass(frozen=True)
class Callee:
    """A function of another project module, as a call in the analysed file reaches it."""

    name: str  # as its module defines it
    where: str  # its module's path, from the project root (`pkg/utils.py`)
    facts: FunctionFacts
    # For a method: the switches its class offers, (attribute, method) for each method that
    # takes no argument, is named as one (`eval`, `set_eval_mode`) and leaves `self` + the
    # attribute in eval mode (`Agent.eval` calling `self.online_net.eval()`: ".online_net").
    switches: tuple[tuple[str, str], ...] = ()

    def at(self, line: int) -> str:
        return f"{self.where}:{line}"


@dataclass(frozen=True)
class ModuleSummary:
    classes: Mapping[str, ClassFacts] = field(default_factory=dict)
    imports: Mapping[str, str] = field(default_factory=dict)  # local name -> qualified name
    functions: Mapping[str, FunctionFacts] = field(default_factory=dict)
    stars: tuple[str, ...] = ()  # modules it imports with `*`, as written (`.layers`)
    # What its top-level functions return: the callables whose results they hand back.
    returns: Mapping[str, Returned] = field(default_factory=dict)
    # Its top-level names that are plain functions (every binding a `def`, a lambda, ...):
    # given by an importer as `net`, one has no mode and is no torch model.
    plain: frozenset[str] = frozenset()


def holders_decide(summary: ModuleSummary, key: str) -> bool:
    """Whether the callers holding an object of a class decide the mode in which its method
    `key` (`Detector.predict`) evaluates the object's networks: the class offers them a way to
    set it (a method that leaves that network, or the whole object, in eval mode: `eval()`
    calling `self.net.eval()`) for each network the method evaluates in their mode. Where it
    offers none, the fix belongs in the method itself: its module judges it, once, and the
    callers do not (each would be told to reach into the object: `det.net.eval()`)."""
    facts = summary.functions.get(key)
    if facts is None:
        return True
    cls = key.partition(".")[0]
    setters = [
        left.attr
        for name, other in summary.functions.items()
        if name.startswith(cls + ".") and name != key
        for left in other.leaves
        if left.param == "self" and "eval" in left.modes
    ]
    return all(
        any(item.attr == attr or item.attr.startswith(attr + ".") for attr in setters)
        for item in facts.evaluations
        if item.param == "self" and "init" in item.modes
    )


def eval_switches(summary: ModuleSummary, cls: str) -> tuple[tuple[str, str], ...]:
    """The eval switches the class `cls` of a module offers its callers (see `Callee`)."""
    return tuple(
        (left.attr, name.partition(".")[2])
        for name, facts in sorted(summary.functions.items())
        if name.startswith(cls + ".")
        and facts.params == ("self",)
        and "eval" in name.partition(".")[2].lower().split("_")
        for left in facts.leaves
        if left.param == "self" and left.modes == {"eval"}
    )


def summarise(program: Program) -> ModuleSummary:
    """The facts of a module that other modules read, from its program (built without a view:
    the facts are local)."""
    from .program import class_facts
    from .returns import function_returns

    # Taken as if the module were alone, so that what other modules read of it never depends
    # on which summaries its own analysis happened to see.
    view, known, functions = program.view, program._sensitive, program._functions
    program.view, program._sensitive, program._functions = None, {}, {}
    try:
        classes = {name: class_facts(program, info) for name, info in program.classes.items()}
        plain = frozenset(name for name in program.module_functions if program.is_function(name))
    finally:
        program.view, program._sensitive, program._functions = view, known, functions
    return ModuleSummary(
        classes,
        program.imports.aliases(),
        stars=tuple(program.imports.stars),
        returns=function_returns(program),
        plain=plain,
    )


@dataclass(frozen=True)
class ProjectView:
    """The summaries of the project modules a file imports (all of them, as the engine's
    import scan found them), for the analysis of that file. A name that leads to no module in
    `summaries` is not judged here: the analysis treats it as it treats any unseen import."""

    path: Path  # the analysed file
    root: Path
    summaries: Mapping[Path, ModuleSummary]
    # The file's top-level functions that other project files import: their callers, not
    # their own file, decide the state they run in.
    called_elsewhere: frozenset[str] = frozenset()
    # Its methods that callers in other files run on an object they hold, but whose networks'
    # mode its class gives them no way to set (see `holders_decide`): judged here, once.
    fixed_here: frozenset[str] = frozenset()
    # Its training-step methods that a loop of another project file calls once per iteration
    # (see repeated.py): the first such loop that leaves the gradients to them.
    looped_elsewhere: Mapping[str, LoopCaller] = field(default_factory=dict)

    def hands_facts(self, text: str) -> bool:
        """Whether `text` names a function (or a class, for its methods) of a module in view
        whose facts a call would apply: then a file whose own words cannot lead to a finding
        may still get one from that call."""
        names = {key.partition(".")[0] for s in self.summaries.values() for key in s.functions}
        return any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)

    def find_function(
        self, full: str, importer: Path | None = None, depth: int = 0
    ) -> Callee | None:
        """The project function that `full` (as `importer`'s imports qualify it) names, through
        re-exports and star imports of packages' modules; None when it is not in view."""
        found = self._module_of(full, importer, depth)
        return None if found is None else self._function_in(*found, depth)

    def star_function(self, name: str, stars: list[str]) -> Callee | None:
        """The project function a bare `name` is, through the file's `from x import *`."""
        for module in stars:
            found = self.find_function(_joined(module, name))
            if found is not None:
                return found
        return None

    def _function_in(
        self, target: Path, summary: ModuleSummary, name: str, depth: int
    ) -> Callee | None:
        if name in summary.functions:
            where = target.relative_to(self.root).as_posix()
            return Callee(name, where, summary.functions[name])
        if name in summary.imports:  # `from .metrics import evaluate` in a package's __init__
            return self.find_function(summary.imports[name], target, depth + 1)
        for module in summary.stars:
            found = self.find_function(_joined(module, name), target, depth + 1)
            if found is not None:
                return found
        return None

    def is_function(self, full: str, importer: Path | None = None, depth: int = 0) -> bool:
        """Whether `full` (as `importer`'s imports qualify it) names a plain function of a
        project module in view (see `ModuleSummary.plain`), through re-exports and star
        imports of packages' modules."""
        found = self._module_of(full, importer, depth)
        if found is None:
            return False
        target, summary, name = found
        if name in summary.plain:
            return True
        if name in summary.imports:  # `from .model import linreg` in a package's __init__
            return self.is_function(summary.imports[name], target, depth + 1)
        return any(
            self.is_function(_joined(module, name), target, depth + 1) for module in summary.stars
        )

    def find_class(
        self, full: str, importer: Path | None = None, depth: int = 0
    ) -> tuple[Path, str] | None:
        """The module and name of the project class that `full` (as `importer`'s imports
        qualify it) names, through re-exports of packages' `__init__.py`."""
        found = self._module_of(full, importer, depth)
        if found is None:
            return None
        target, summary, name = found
        if name in summary.classes:
            return target, name
        if name in summary.imports:  # `from .models import Net` in a package's __init__
            return self.find_class(summary.imports[name], target, depth + 1)
        return None

    def inherited(self, bases: list[str], method: str) -> Callee | None:
        """The method `method` that a class of the analysed file, with these project bases
        of other modules (qualified as its imports name them), inherits: its facts from the
        first class up the chain that defines it. None when that class is out of view, has no
        facts for it (it defines it but does nothing to models), or the chain forks (several
        project bases: which one comes first is more than this follows)."""
        above = [found for base in bases if (found := self.find_class(base)) is not None]
        seen: set[tuple[Path, str]] = set()
        while len(above) == 1 and above[0] not in seen and len(seen) < project.BUDGET:
            path, name = above[0]
            seen.add(above[0])
            summary = self.summaries[path]
            facts = summary.functions.get(f"{name}.{method}")
            if facts is not None:
                return Callee(f"{name}.{method}", path.relative_to(self.root).as_posix(), facts)
            if method in summary.classes[name].methods:
                return None
            above = [
                (path, base) if base in summary.classes else found
                for base in summary.classes[name].bases
                if base in summary.classes or (found := self.find_class(base, path)) is not None
            ]
        return None

    def _module_of(
        self, full: str, importer: Path | None, depth: int
    ) -> tuple[Path, ModuleSummary, str] | None:
        """The project module in view that `full` (as `importer`'s imports qualify it) comes
        from, its summary and the name it takes from it; None for a bare name (not something
        the file imported), a module out of view, or past the depth of re-exports followed."""
        if depth > MAX_DEPTH:
            return None
        importer = importer or self.path
        level = len(full) - len(full.lstrip("."))
        module, _, name = full[level:].rpartition(".")
        if not name or not (module or level):
            return None
        target = project.resolve(importer, module, level, self.root)
        summary = self.summaries.get(target) if target is not None else None
        if summary is None or target is None:
            return None
        return target, summary, name

    def sensitive(self, full: str) -> bool | None:
        """Whether the project class `full` names builds a mode-sensitive layer, itself, in
        its project base classes or in the project classes it builds; None when `full` is not
        a class of a module in view."""
        found = self.find_class(full)
        if found is not None:
            return self._class_sensitive(*found, set())
        made = self.made(full)
        if made is None:
            return None
        return any(self.class_sensitive(*one) for one in made)

    def wraps_optimizer(self, full: str) -> bool:
        """Whether `full` names a project class in view whose step method steps an
        optimizer it holds (see `ClassFacts.wraps_optimizer`)."""
        found = self.find_class(full)
        return found is not None and self.summaries[found[0]].classes[found[1]].wraps_optimizer

    def class_sensitive(self, path: Path, name: str) -> bool:
        """Whether the project class `name` of the module at `path` builds a mode-sensitive
        layer (see `sensitive`)."""
        return self._class_sensitive(path, name, set())

    def _class_sensitive(self, path: Path, name: str, seen: set[tuple[Path, str]]) -> bool:
        if (path, name) in seen or len(seen) > project.BUDGET:
            return False  # a cycle adds nothing the classes on it did not already say
        seen.add((path, name))
        facts = self.summaries[path].classes[name]
        if facts.sensitive:
            return True
        for part in facts.parts:
            found = self.find_class(part, path)
            made = [found] if found is not None else self.made(part, importer=path)
            if made is None:
                return True  # not a project class in view: unseen, so counted as sensitive
            if any(self._class_sensitive(*one, seen) for one in made):
                return True
        for base in facts.bases:  # a library base builds no layer of its own (`nn.Module`)
            found = self.find_class(base, path)
            if found is not None and self._class_sensitive(*found, seen):
                return True
        return False

    def made(
        self,
        full: str,
        position: int | None = None,
        importer: Path | None = None,
        depth: int = 0,
        moded: list[bool] | None = None,
    ) -> list[tuple[Path, str]] | None:
        """The project classes (module, name) of which the object that calling `full` makes
        may be an instance: the class itself, or what a project function returns (item
        `position` of the tuple it returns, when the caller unpacks it), through the
        factories it calls in turn. None when any of them is out of view. `moded` is told
        whether a factory on the way sets a mode (then the object may not be fresh)."""
        found = self._module_of(full, importer, depth)
        if found is None:
            return None
        target, summary, name = found
        return self._made_in(target, summary, name, position, depth, moded)

    def _made_in(
        self,
        path: Path,
        summary: ModuleSummary,
        name: str,
        position: int | None,
        depth: int,
        moded: list[bool] | None,
    ) -> list[tuple[Path, str]] | None:
        if depth > MAX_DEPTH:
            return None
        if name in summary.classes:
            return [(path, name)] if position is None else None
        if name in summary.returns:
            return self._returned(path, summary, summary.returns[name], position, depth, moded)
        if name in summary.imports:  # re-exported by a package's __init__
            return self.made(summary.imports[name], position, path, depth + 1, moded)
        for module in summary.stars:
            found = self.made(_joined(module, name), position, path, depth + 1, moded)
            if found is not None:
                return found
        return None

    def _returned(
        self,
        path: Path,
        summary: ModuleSummary,
        returned: Returned,
        position: int | None,
        depth: int,
        moded: list[bool] | None,
    ) -> list[tuple[Path, str]] | None:
        if returned.tupled:
            if position is None or position >= len(returned.positions):
                return None  # the tuple itself, or unpacked to another width: not followed
            names, inner = returned.positions[position], None
        else:
            # One value, which may itself be a tuple another factory made.
            names, inner = returned.positions[0], position
        if returned.sets_mode and moded is not None:
            moded.append(True)
        out: list[tuple[Path, str]] = []
        for name in names:
            if not name:
                return None
            if "." in name:
                found = self.made(name, inner, path, depth + 1, moded)
            else:
                found = self._made_in(path, summary, name, inner, depth + 1, moded)
            if found is None:
                return None
            out += found
        return out

    def attribute_sensitive(self, path: Path, name: str, attr: str) -> bool | None:
        """Whether the network the project class `name` (of the module at `path`) builds into
        its attribute `attr` is mode-sensitive; None when that is not in view."""
        summary = self.summaries[path]
        built = summary.classes[name].attributes.get(attr)
        if not built:
            return None
        if "." in built:
            made = self.made(built, importer=path)
        else:
            made = self._made_in(path, summary, built, None, 0, None)
        if made is None:
            return None
        return any(self.class_sensitive(*one) for one in made)

    def is_module(self, path: Path, name: str) -> bool:
        """Whether the project class `name` of the module at `path` derives from a torch
        module class (through project classes in between), as a file's own class does."""
        from .program import derives_from_module

        bases = self._library_bases((path, name))
        return derives_from_module(bases, bases)

    def is_plain(self, path: Path, name: str) -> bool:
        """Whether the project class `name` of the module at `path` derives from no library
        class (through project classes in between) but `object` or `abc.ABC`: surely not a
        module of any framework."""
        return set(self._library_bases((path, name))) <= {"object", "abc.ABC"}

    def all_bases(self, full: str) -> list[str] | None:
        """Every library base above the project class `full` names (project classes in
        between are followed); None when `full` is not a project class in view."""
        found = self.find_class(full)
        if found is None:
            return None
        return self._library_bases(found)

    def _library_bases(self, found: tuple[Path, str]) -> list[str]:
        out: list[str] = []
        todo, seen = [found], {found}
        while todo:
            path, name = todo.pop(0)
            classes = self.summaries[path].classes
            for base in classes[name].bases:
                # A base of the same module is named bare; others as its imports qualify them.
                above = (path, base) if base in classes else self.find_class(base, path)
                if above is None:
                    out.append(base)
                elif above not in seen and len(seen) < project.BUDGET:
                    seen.add(above)
                    todo.append(above)
        return out


def _joined(module: str, name: str) -> str:
    """`.layers` + `f` -> `.layers.f`; `..` + `f` -> `..f` (`from .. import *`)."""
    return f"{module}{name}" if module.endswith(".") else f"{module}.{name}"

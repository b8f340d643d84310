"""The project as context for one run: which project files each checked file imports, the
bytes that its cached result therefore depends on, the order in which files are analysed so
that a module's summary is ready before the files that import it, and the view each analysis
gets.

Each file is parsed at most once in a run: a checked file's summary comes from its own
analysis; a file the run does not analyse (outside the checked paths, settled by the cache or
the prefilter) is parsed only for its summary, and only when a file being analysed imports it.
Which summaries a file's analysis sees depends only on the import graph, never on timing, so
runs on one process and on several give the same results, and checking one file gives what
checking its whole folder gives for it. Modules that import each other (a cycle) see each
other's summaries as each module's text alone gives them.

The other direction is asked only when it matters: a file whose top-level functions evaluate
a model in the state their callers give learns, after its analysis, which of them other
project files import (a scan of the project's imports, once per run); those are judged by
their callers, and its cached result then depends on the bytes of those importers too.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import project
from .notebook import is_notebook, source_lines
from .prefilter import could_matter

if TYPE_CHECKING:
    import libcst as cst

    from .analysis.repeated import LoopCaller
    from .analysis.summary import ModuleSummary, ProjectView


class RunContext:
    def __init__(self, root: Path) -> None:
        project.forget()  # a new run: the project's files may have changed since the last
        self.root = project.absolute(root)
        self._texts: dict[Path, str | None] = {}
        self._trees: dict[Path, cst.Module | None] = {}
        self._closures: dict[Path, list[Path]] = {}
        self._parsed: dict[Path, ModuleSummary | None] = {}
        self._alone: dict[Path, ModuleSummary | None] = {}
        self._bytes: dict[Path, bytes] = {}  # checked files, as the engine read them
        self._files: list[Path] | None = None
        self._listed = False
        self._importers: dict[Path, list[Path]] = {}

    @classmethod
    def for_files(cls, files: Iterable[str]) -> RunContext:
        return cls(project.find_root(list(files) or ["."]))

    def remember(self, name: str, data: bytes) -> None:
        """The bytes of a checked file, read already: not read again if its text is needed."""
        self._bytes[project.absolute(name)] = data

    def _text(self, path: Path) -> str | None:
        if path not in self._texts:
            try:
                data = self._bytes.pop(path, None)
                data = path.read_bytes() if data is None else data
                if is_notebook(str(path)):
                    self._texts[path] = _notebook_code(data)
                else:
                    self._texts[path] = data.decode("utf-8", "replace")
            except OSError:
                self._texts[path] = None
        return self._texts[path]

    def _mentions(self, path: Path, word: str) -> bool:
        """Whether the file's text holds `word`: for a notebook not read yet, asked of its
        bytes first (its cells are taken out of the JSON only when they may import it)."""
        if path not in self._texts and is_notebook(str(path)):
            try:
                data = self._bytes.get(path)
                data = path.read_bytes() if data is None else data
            except OSError:
                return False
            if word.encode() not in data:
                return False
        text = self._text(path)
        return bool(text) and word in text  # type: ignore[operator]

    def imports(self, name: str) -> list[Path]:
        """The project files `name` (a module or a notebook) imports, directly or not."""
        path = project.absolute(name)
        if path not in self._closures:
            if self.root not in path.parents:
                self._closures[path] = []
            else:
                self._closures[path] = project.closure(path, self.root, self._text)
        return self._closures[path]

    def imports_helpers(self, name: str) -> bool:
        """Whether a project module `name` imports directly could say, in its summary, what
        its functions do to the models they are given: its words could lead to a finding, or
        it changes modes, turns autograd off or reads outputs. A text scan, no parse: only
        then is the file's view built (and such a module parsed) to decide."""
        path = project.absolute(name)
        text = self._text(path)
        if not text or self.root not in path.parents:
            return False
        for dep in project.targets(path, project.scan_imports(text), self.root):
            dep_text = self._text(dep) or ""
            if _HELPER_WORDS.search(dep_text) or could_matter(dep_text):
                return True
        return False

    def key_part(self, name: str) -> bytes:
        """What the cached result of `name` depends on besides its own bytes: the place and
        the bytes of every project file it imports."""
        out = bytearray()
        for dep in self.imports(name):
            text = self._text(dep)
            out += f"\0{dep.relative_to(self.root).as_posix()}\0".encode()
            out += (text or "").encode("utf-8", "replace")
        return bytes(out)

    def levels(self, names: list[str]) -> list[int]:
        """For each file, the round in which it is analysed: after every file of `names` it
        imports, except those that import it back (a cycle), which get no say in its order."""
        paths = [project.absolute(n) for n in names]
        checked = set(paths)
        level: dict[Path, int] = {}

        def of(path: Path, depth: int) -> int:
            if path in level:
                return level[path]
            below = [
                d
                for d in self.imports(str(path))
                if d in checked and path not in self.imports(str(d))
            ]
            # The closure is transitive, so each step goes strictly down the import graph.
            found = 1 + max((of(d, depth + 1) for d in below), default=-1) if depth < 50 else 0
            level[path] = found
            return found

        return [of(p, 0) for p in paths]

    def view(
        self, name: str, analysed: Mapping[Path, ModuleSummary | None], checked: set[Path]
    ) -> ProjectView | None:
        """The summaries of what `name` imports: of the files analysed in earlier rounds, and
        of project files this run does not analyse (parsed here, once, for their summaries)."""
        from .analysis.summary import ProjectView

        path = project.absolute(name)
        summaries: dict[Path, ModuleSummary] = {}
        for dep in self.imports(name):
            if path in self.imports(str(dep)):
                summary = self._summary_alone(dep)  # a cycle: the same in every kind of run
            elif dep in checked:
                summary = analysed.get(dep)
            else:
                summary = self._summary(dep)
            if summary is not None:
                summaries[dep] = summary
        if not summaries:
            return None
        return ProjectView(path, self.root, summaries)

    def _summary(self, path: Path) -> ModuleSummary | None:
        """The summary of a file no rule checks in this run, from its analysis with the view of
        what it imports (as a checked file's is); None if it does not parse."""
        if path not in self._parsed:
            self._parsed[path] = None  # while its own imports are read
            text = self._text(path)
            if text is not None:
                self._parsed[path] = self._noted(
                    path, summary_of_text(text, self.view(str(path), {}, set()))
                )
        return self._parsed[path]

    def _summary_alone(self, path: Path) -> ModuleSummary | None:
        """A module's summary from its text alone, for the modules of a cycle it is on."""
        if path not in self._alone:
            text = self._text(path)
            self._alone[path] = None if text is None else self._noted(path, summary_of_text(text))
        return self._alone[path]

    def _noted(self, path: Path, summary: ModuleSummary | None) -> ModuleSummary | None:
        if summary is None and debugging():
            where = path.relative_to(self.root).as_posix()
            print(
                f"{where}: note: does not parse; the files importing it are checked without it",
                file=sys.stderr,
            )
        return summary

    # The other direction ------------------------------------------------------------------------
    def called_elsewhere(
        self, name: str, functions: Iterable[str], held: Iterable[str] | None = None
    ) -> frozenset[str] | None:
        """Which of `functions` (top-level functions of `name`, or methods `Class.method` of
        its classes) other project files import and name (the class, for a method); None
        when the project is past the budget of files its scan reads. `held`: the methods
        whose mode the callers holding an object decide (see `holders_decide`), all when
        None; the others are left to callers only where a subclass calls them on itself."""
        held = None if held is None else frozenset(held)
        importers = self.importers(name)
        if importers is None:
            return None
        found: set[str] = set()
        for importer in importers:
            text = self._text(importer) or ""
            # A method (`Agent.act`) is called where its class is constructed (`Agent(args)`),
            # or where a subclass calls it on itself (`self.validate()`), not where its class
            # is only a base class.
            found |= {f for f in functions if "." not in f and _word(f).search(text)}
            found |= {
                f
                for f in functions
                if "." in f and (held is None or f in held) and _built(f.partition(".")[0], text)
            }
            found |= {f for f in functions if "." in f and _inherited(*f.split(".", 1), text)}
        return frozenset(found)

    def loop_callers(self, name: str, methods: Iterable[str]) -> dict[str, LoopCaller] | None:
        """For each training-step method `Class.method` of `name`, the first loop of a project
        file importing it that calls it once per iteration and leaves the gradients to it (see
        loop_callers.py); None when the project is past the budget of files its scan reads."""
        importers = self.importers(name)
        if importers is None:
            return None
        classes: dict[str, set[str]] = {}
        for key in methods:
            cls, _, method = key.partition(".")
            if method and "." not in method:
                classes.setdefault(cls, set()).add(method)
        found: dict[str, LoopCaller] = {}
        for importer in importers:
            text = self._text(importer) or ""
            wanted = {c: frozenset(m) for c, m in classes.items() if _built(c, text)}
            if not wanted or is_notebook(str(importer)):
                continue  # a notebook's lines are its cells': not named here
            module = self._tree(importer, text)
            if module is None:
                continue
            from .loop_callers import loop_callers

            where = importer.relative_to(self.root).as_posix()
            for key, caller in loop_callers(module, where, wanted).items():
                found.setdefault(key, caller)
        return found

    def _tree(self, path: Path, text: str) -> cst.Module | None:
        """The tree of an importing file, parsed once per run however many of the modules it
        imports ask for their loop callers."""
        if path not in self._trees:
            from .loop_callers import parse

            self._trees[path] = parse(text)
        return self._trees[path]

    def callers_part(self, name: str) -> bytes:
        """What the cached result of a file that asked for its callers depends on besides
        `key_part`: the place and bytes of every project file that imports it."""
        out = bytearray(b"\0callers")
        for importer in self.importers(name) or []:
            out += f"\0{importer.relative_to(self.root).as_posix()}\0".encode()
            out += (self._text(importer) or "").encode("utf-8", "replace")
        return bytes(out)

    def importers(self, name: str) -> list[Path] | None:
        """The project files that import `name` directly, in a fixed order; None when the
        project has more Python files than the scan reads (then nothing is assumed). Only
        files whose text holds the module's name have their imports resolved."""
        if not self._listed:
            # Notebooks too: a helper that a notebook calls is judged by that notebook.
            self._files = project.python_files(self.root, IMPORTERS_BUDGET, notebooks=True)
            self._listed = True
        if self._files is None:
            return None
        path = project.absolute(name)
        if path not in self._importers:
            word = path.parent.name if path.name == "__init__.py" else path.stem
            found = []
            for other in self._files:
                if other == path or not self._mentions(other, word):
                    continue
                text = self._text(other) or ""
                if path in project.targets(other, project.scan_imports(text), self.root):
                    found.append(other)
            self._importers[path] = found
        return self._importers[path]


# What an evaluation helper's text holds when its words alone cannot lead to a finding.
_HELPER_WORDS = re.compile(r"\.eval\(|\.train\(|no_grad|inference_mode|\.item\(\)|argmax")

# The project's Python files read to find who imports a module: past this, nothing is assumed.
IMPORTERS_BUDGET = 5000


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}\b")


def _built(cls: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(cls)}\s*\(", text) is not None and not re.search(
        rf"^\s*class\s+{re.escape(cls)}\b", text, re.M
    )


def _inherited(cls: str, method: str, text: str) -> bool:
    """Whether `text` derives a class from `cls` and calls `self.method(...)`."""
    derives = re.search(rf"^\s*class\s+\w+\s*\([^)]*\b{re.escape(cls)}\b", text, re.M)
    return derives is not None and re.search(rf"\bself\.{re.escape(method)}\s*\(", text) is not None


DEBUG = False  # `--debug`: notes on the context left out


def debugging() -> bool:
    """Whether notes on what was left out are wanted (`--debug`, or LINT_TRAIN_DEBUG=1)."""
    return DEBUG or os.environ.get("LINT_TRAIN_DEBUG", "") not in ("", "0")


def _notebook_code(data: bytes) -> str | None:
    """A notebook's code cells as they stand, as one text (for its imports and the names it
    uses: IPython lines need no neutralising here); None when it is no readable notebook."""
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    return "\n".join(
        "\n".join(source_lines(cell))
        for cell in cells
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    )


def summary_of_text(text: str, view: ProjectView | None = None) -> ModuleSummary | None:
    """A module's summary from its text; None when it cannot be parsed or indexed (then the
    files importing it are analysed as if it were not in view)."""
    from .engine import parse_for_summary

    return parse_for_summary(text, view)

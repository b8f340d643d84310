"""The project as context for one run: which project files each checked file imports, the
bytes that its cached result therefore depends on, the order in which files are analysed so
that a module's summary is ready before the files that import it, and the view each analysis
gets.

Each file is parsed at most once in a run: a checked file's summary comes from its own
analysis; a file the run does not analyse (outside the checked paths, settled by the cache or
the prefilter) is parsed only for its summary, and only when a file being analysed imports it.
Which summaries a file's analysis sees depends only on the import graph, never on timing, so
runs on one process and on several give the same results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import project

if TYPE_CHECKING:
    from .analysis.summary import ModuleSummary, ProjectView


class RunContext:
    def __init__(self, root: Path) -> None:
        project.forget()  # a new run: the project's files may have changed since the last
        self.root = project.absolute(root)
        self._texts: dict[Path, str | None] = {}
        self._closures: dict[Path, list[Path]] = {}
        self._parsed: dict[Path, ModuleSummary | None] = {}

    @classmethod
    def for_files(cls, files: Iterable[str]) -> RunContext:
        return cls(project.find_root(list(files) or ["."]))

    def _text(self, path: Path) -> str | None:
        if path not in self._texts:
            try:
                self._texts[path] = path.read_bytes().decode("utf-8", "replace")
            except OSError:
                self._texts[path] = None
        return self._texts[path]

    def imports(self, name: str) -> list[Path]:
        """The project files `name` imports, directly or not (none for a notebook)."""
        path = project.absolute(name)
        if path not in self._closures:
            if name.endswith(".ipynb") or self.root not in path.parents:
                self._closures[path] = []
            else:
                self._closures[path] = project.closure(path, self.root, self._text)
        return self._closures[path]

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

        summaries: dict[Path, ModuleSummary] = {}
        for dep in self.imports(name):
            summary = analysed.get(dep) if dep in checked else self._summary(dep)
            if summary is not None:
                summaries[dep] = summary
        if not summaries:
            return None
        return ProjectView(project.absolute(name), self.root, summaries)

    def _summary(self, path: Path) -> ModuleSummary | None:
        """The summary of a file no rule checks in this run; None if it does not parse."""
        if path not in self._parsed:
            text = self._text(path)
            self._parsed[path] = None if text is None else summary_of_text(text)
        return self._parsed[path]


def summary_of_text(text: str) -> ModuleSummary | None:
    """A module's summary from its text; None when it cannot be parsed or indexed (then the
    files importing it are analysed as if it were not in view)."""
    from .engine import parse_for_summary

    return parse_for_summary(text)

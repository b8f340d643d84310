"""The project around the checked files: its root, the module names of its files, and where
an import inside it leads.

Imports are found as Python finds them when a script of the project runs: relative imports
from the importing file's package; absolute ones from the script's own folder (which Python
puts first on the import path), the folder above the importer's top package, the root, and
its `src/` folder. A name that leads outside the root (site-packages, the standard library) is
not the project's: this module never reads or names a file there.

Imports are read from the text with a line scan, not a parse: the engine needs them before it
parses anything, to order the files and to key each file's cached result by the bytes of what
it imports. The scan may see an import that is not one (inside a docstring); that only adds a
dependency, never loses one, for imports written on lines of their own. The analysis then uses
only the modules the scan found, so its result never depends on a file the key does not cover.

No libcst here: the engine calls this before deciding whether anything needs parsing.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .cache import default_root

# Following imports stops after this many project files: past it the context is left out,
# and the analysis stays as it is for an import it cannot see.
BUDGET = 200


@dataclass(frozen=True)
class Import:
    """One import statement's target: `from ..base import Trainer` is ("base", 2, ("Trainer",));
    `import pkg.mod as m` is ("pkg.mod", 0, ())."""

    module: str
    level: int
    names: tuple[str, ...]


def find_root(paths: Iterable[str | Path]) -> Path:
    """The project root: the nearest folder above the checked paths' common folder holding a
    pyproject.toml, setup.py, setup.cfg or .git, else that common folder (a named folder)."""
    resolved = [absolute(p) for p in paths] or [absolute(Path.cwd())]
    folders = {p if p.is_dir() else p.parent for p in resolved}
    common = Path(os.path.commonpath([str(f) for f in folders]))
    return absolute(default_root(common))


def absolute(path: str | Path) -> Path:
    """An absolute path, without resolving symbolic links: cheap enough to take for every
    file of a large repository (`Path.resolve` asks the file system about each part)."""
    return Path(os.path.abspath(path))


def source_roots(root: Path) -> tuple[Path, ...]:
    """Folders whose children are top-level modules: the root, and `src/` in a src layout."""
    src = root / "src"
    return (root, src) if src.is_dir() else (root,)


def module_name(path: Path, root: Path) -> str | None:
    """The dotted module name of a file of the project (`pkg.sub.mod`, `pkg` for its
    `__init__.py`), from the deepest source root that holds it; None outside the project."""
    path = absolute(path)
    for base in reversed(source_roots(root)):
        if base in path.parents:
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join(parts) or None
    return None


_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)[ \t]*([\w.]*)[ \t]+import[ \t]+\(?([^#\n]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^#\n;]+)", re.M)
_NAME = re.compile(r"[A-Za-z_]\w*")


def scan_imports(text: str) -> list[Import]:
    """The imports of a file's text, in order. `from x import (a,\\n b)` lists the names on its
    first line only; the module it names is always found."""
    found: list[tuple[int, Import]] = []
    for match in _FROM.finditer(text):
        names = tuple(
            _NAME.match(part.strip()).group()  # type: ignore[union-attr]
            for part in match.group(3).split(",")
            if _NAME.match(part.strip())
        )
        found.append((match.start(), Import(match.group(2), len(match.group(1)), names)))
    for match in _IMPORT.finditer(text):
        for part in match.group(1).split(","):
            module = part.strip().split(" ")[0].strip()
            if re.fullmatch(r"[\w.]+", module):
                found.append((match.start(), Import(module, 0, ())))
    return [imp for _, imp in sorted(found, key=lambda pair: pair[0])]


def _module_file(base: Path, dotted: str) -> Path | None:
    """`base/a/b.py` or `base/a/b/__init__.py` for "a.b"."""
    target = base.joinpath(*dotted.split(".")) if dotted else base
    if dotted and target.with_suffix(".py").is_file():
        return target.with_suffix(".py")
    if (target / "__init__.py").is_file():
        return target / "__init__.py"
    return None


def _in_package(folder: Path) -> bool:
    return (folder / "__init__.py").is_file()


def _search_path(folder: Path, root: Path) -> list[Path]:
    """Where an absolute import from a file in `folder` is looked for, in Python's order: the
    script's own folder, the folder above its top package, then the source roots."""
    top = folder
    while _in_package(top) and top != root and root in top.parents:
        top = top.parent
    order = [folder, top, *source_roots(root)]
    return list(dict.fromkeys(order))


def resolve(importer: Path, module: str, level: int, root: Path) -> Path | None:
    """The project file that `from <level dots><module> import ...` or `import <module>` in
    `importer` loads, or None when it is not in the project (or not found).

    Absolute imports from a file inside a package find a sibling module only when no
    top-level module has that name: Python 2's implicit relative import, where unambiguous."""
    return _resolve_in(absolute(importer).parent, module, level, absolute(root))


@functools.lru_cache(maxsize=65536)
def _resolve_in(folder: Path, module: str, level: int, root: Path) -> Path | None:
    """`resolve` for an importer in `folder` (which is all that it depends on), remembered:
    the files of one folder share most of their imports. forget() clears it for a new run."""
    if level:
        base = folder
        for _ in range(level - 1):
            base = base.parent
        found = _module_file(base, module)
    else:
        candidates = [_module_file(place, module) for place in _search_path(folder, root)]
        hits = [c for c in candidates if c is not None]
        found = hits[0] if hits else None
        # A sibling of a module in a package: found so when the file runs as a script (its
        # folder first on the path) or as Python 2's implicit relative import. Where some
        # other place has a module of that name too, which one loads is a guess: none.
        if (
            found is not None
            and _in_package(folder)
            and found.parent == folder
            and any(c != found for c in hits)
        ):
            found = None
    if found is None or root not in found.parents or _outside(found, root):
        return None
    return found


def forget() -> None:
    """Forget what the file system looked like: files may have appeared since the last run."""
    _resolve_in.cache_clear()


def _outside(path: Path, root: Path) -> bool:
    """Installed code inside the root (a virtual environment) is not the project's."""
    parts = path.relative_to(root).parts
    return any(p in ("site-packages", "dist-packages", "node_modules") or p.startswith(".")
               for p in parts[:-1])  # fmt: skip


def targets(importer: Path, imports: Iterable[Import], root: Path) -> list[Path]:
    """The project files that `importer`'s imports may load: for `from pkg import a, b`, the
    package's `__init__.py` and any submodules `pkg/a.py`, `pkg/b.py`."""
    folder, root = absolute(importer).parent, absolute(root)
    found: list[Path] = []
    for imp in imports:
        first = _resolve_in(folder, imp.module, imp.level, root)
        if first is not None:
            found.append(first)
        for name in imp.names:
            dotted = f"{imp.module}.{name}" if imp.module else name
            sub = _resolve_in(folder, dotted, imp.level, root)
            if sub is not None:
                found.append(sub)
    return list(dict.fromkeys(found))


# Folders no project module lives in: version control, caches, virtual environments.
_NOT_SOURCE = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages", "venv"})


def python_files(root: Path, budget: int, notebooks: bool = False) -> list[Path] | None:
    """The project's Python files (and notebooks, when asked), in a fixed order; None when
    there are more than `budget`."""
    suffixes = (".py", ".ipynb") if notebooks else (".py",)
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCE)
        found += [Path(folder, f) for f in sorted(files) if f.endswith(suffixes)]
        if len(found) > budget:
            return None
    return found


def closure(
    start: Path, root: Path, read: Callable[[Path], str | None], budget: int = BUDGET
) -> list[Path]:
    """The project files `start` imports, directly or through others, in a fixed order (each
    once, cycles included, `start` itself left out), up to `budget` files. `read` gives a
    file's text, or None when it cannot be read."""
    start = absolute(start)
    seen: dict[Path, None] = {start: None}
    todo = [start]
    while todo and len(seen) <= budget:
        current = todo.pop(0)
        text = read(current)
        if text is None:
            continue
        for target in targets(current, scan_imports(text), root):
            if target not in seen and len(seen) <= budget:
                seen[target] = None
                todo.append(target)
    return [path for path in seen if path != start]

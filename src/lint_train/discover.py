"""Paths given on the command line -> the Python files to check.

Folders are searched recursively for `*.py` and `*.ipynb`. While searching, these are skipped:
the `exclude` patterns (by default other people's code and generated files: virtualenvs, build
output, caches), any folder holding a `pyvenv.cfg` (a virtualenv, whatever its name), and
whatever the `.gitignore` files of the repository ignore. A path named explicitly is always
checked, unless `force_exclude` is set (pre-commit names every staged file explicitly). As in
ruff, the patterns apply below a named folder, not to the folder itself: naming a folder that
lies inside an ignored or excluded one checks it.

Patterns use .gitignore syntax and are relative to `root` (the folder of the configuration
file): `build/` matches a folder named build anywhere, `/legacy.py` only at the root,
`scripts/*.py` the files directly in scripts/.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

SUFFIXES = (".py", ".ipynb")

DEFAULT_EXCLUDE = (
    ".bzr/",
    ".direnv/",
    ".eggs/",
    ".git/",
    ".git-rewrite/",
    ".hg/",
    ".ipynb_checkpoints/",
    ".lint-train_cache/",
    ".mypy_cache/",
    ".nox/",
    ".pants.d/",
    ".pyenv/",
    ".pytest_cache/",
    ".pytype/",
    ".ruff_cache/",
    ".svn/",
    ".tox/",
    ".venv/",
    ".vscode/",
    "__pycache__/",
    "__pypackages__/",
    "_build/",
    "buck-out/",
    "build/",
    "dist/",
    "node_modules/",
    "site-packages/",
    "venv/",
    "*.egg-info/",
)


@dataclass(frozen=True)
class DiscoverOptions:
    root: Path = field(default_factory=Path.cwd)
    exclude: Sequence[str] = DEFAULT_EXCLUDE
    respect_gitignore: bool = True
    force_exclude: bool = False


def discover(paths: Iterable[str], options: DiscoverOptions | None = None) -> Iterator[Path]:
    """Yield files to check; a path named explicitly is yielded even if missing (the engine
    reports it), and even if excluded unless `options.force_exclude`."""
    options = options or DiscoverOptions()
    root = Path(os.path.abspath(options.root))
    # Compiled on first need: a run over named files without --force-exclude never needs it.
    excluded = functools.cache(lambda: gitignore_spec(options.exclude))
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        is_dir = path.is_dir()
        # Outside the root, the folders above the named path are none of the patterns' business.
        base = root if _within(path, root) else Path(os.path.abspath(path)).parent
        if options.force_exclude and _excluded_with_parents(path, is_dir, base, excluded()):
            continue
        found = _walk(path, base, excluded(), options.respect_gitignore) if is_dir else [path]
        for file in found:
            if file not in seen:
                seen.add(file)
                yield file


def _walk(top: Path, root: Path, excluded: GitIgnoreSpec, gitignore: bool) -> Iterator[Path]:
    excluded = _below(excluded, relative_path(top, root))
    ignores = _GitIgnores(top) if gitignore else None
    unlisted: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(top, onerror=unlisted.append):
        folder = Path(dirpath)
        if ignores is not None:
            ignores.enter(folder)
        dirnames[:] = sorted(
            d for d in dirnames if not _skipped(folder / d, True, root, excluded, ignores)
        )
        for name in sorted(filenames):
            path = folder / name
            # A broken symbolic link, a link loop or a pipe named x.py is no source file (and
            # reading a pipe can block forever): found by searching, it is left alone.
            if (
                name.endswith(SUFFIXES)
                and path.is_file()
                and not _skipped(path, False, root, excluded, ignores)
            ):
                yield path
    # A folder that could not be listed is yielded itself, for the engine to report.
    yield from (Path(error.filename) for error in unlisted if error.filename)


def _skipped(
    path: Path, is_dir: bool, root: Path, excluded: GitIgnoreSpec, ignores: _GitIgnores | None
) -> bool:
    if excluded.match_file(relative_path(path, root) + ("/" if is_dir else "")):
        return True
    if is_dir and (path / "pyvenv.cfg").is_file():
        return True
    return ignores is not None and ignores.ignored(path, is_dir)


def _excluded_with_parents(path: Path, is_dir: bool, root: Path, excluded: GitIgnoreSpec) -> bool:
    """Whether `path` or a folder above it (up to the root) matches an exclude pattern."""
    parts = relative_path(path, root).split("/")
    for depth in range(1, len(parts) + 1):
        folder = depth < len(parts) or is_dir
        if excluded.match_file("/".join(parts[:depth]) + ("/" if folder else "")):
            return True
    return False


def _within(path: Path, root: Path) -> bool:
    absolute = Path(os.path.abspath(path))
    return absolute == root or root in absolute.parents


def relative_path(path: str | Path, root: Path) -> str:
    """`path` relative to `root` in posix form; a path outside the root keeps its full form."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        relative = absolute.lstrip(os.sep)
    return Path(relative).as_posix()


class _GitIgnores:
    """The .gitignore files in force in each folder of one walk: those of the folders above
    the walk's top up to the repository's root, .git/info/exclude, and those met on the way."""

    def __init__(self, top: Path) -> None:
        top = Path(os.path.abspath(top))
        self._specs: dict[Path, list[tuple[Path, GitIgnoreSpec]]] = {}
        repo = next((d for d in (top, *top.parents) if (d / ".git").exists()), None)
        inherited: list[tuple[Path, GitIgnoreSpec]] = []
        if repo is not None:
            info = _read_spec(repo / ".git" / "info" / "exclude")
            if info is not None:
                inherited.append((repo, info))
            above = [d for d in reversed(top.parents) if d == repo or repo in d.parents]
            for folder in above:
                spec = _read_spec(folder / ".gitignore")
                if spec is not None:
                    inherited.append((folder, spec))
        # The user named `top`: what ignores it (or a folder above it) does not hide its files.
        inherited = [
            (base, _below(spec, top.relative_to(base).as_posix())) for base, spec in inherited
        ]
        self._specs[top.parent] = inherited

    def enter(self, folder: Path) -> None:
        folder = Path(os.path.abspath(folder))
        specs = list(self._specs.get(folder.parent, []))
        own = _read_spec(folder / ".gitignore")
        if own is not None:
            specs.append((folder, own))
        self._specs[folder] = specs

    def ignored(self, path: Path, is_dir: bool) -> bool:
        path = Path(os.path.abspath(path))
        # The deepest .gitignore that has an opinion decides, as in git.
        for base, spec in reversed(self._specs.get(path.parent, [])):
            relative = path.relative_to(base).as_posix()
            verdict = (
                _folder_verdict(spec, relative) if is_dir else spec.check_file(relative).include
            )
            if verdict is not None:
                return verdict
        return False


def _folder_verdict(spec: GitIgnoreSpec, relative: str) -> bool | None:
    """Whether `spec` ignores the folder `relative` (True), re-includes it (False) or says nothing.

    For a folder git takes the last pattern that matches it. pathspec's `check_file` ranks a
    match through a trailing-slash pattern below any direct match, which is right for a file
    inside a folder but not for the folder itself: with the whitelist idiom `*`, `!*/`,
    `!*.py`, it leaves every folder ignored and the walk would skip the whole project."""
    for pattern in reversed(spec.patterns):
        if pattern.include is not None and pattern.match_file(relative + "/"):
            return pattern.include
    return None


def _below(spec: GitIgnoreSpec, top: str) -> GitIgnoreSpec:
    """`spec` without the patterns that ignore the named folder `top` or a folder above it.

    pathspec matches a file below an ignored folder as ignored, which is git's meaning; a walk
    that starts inside that folder, as ruff's does, only asks about what it meets below it."""
    parts = [] if top == "." else top.split("/")
    folders = ["/".join(parts[:depth]) + "/" for depth in range(1, len(parts) + 1)]
    if not folders:
        return spec
    kept = [
        pattern
        for pattern in spec.patterns
        if not (pattern.include and any(pattern.match_file(f) for f in folders))
    ]
    return spec if len(kept) == len(spec.patterns) else type(spec)(kept)


def _read_spec(file: Path) -> GitIgnoreSpec | None:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return gitignore_spec(text.splitlines())


def gitignore_spec(lines: Iterable[str]) -> GitIgnoreSpec:
    """Patterns in .gitignore syntax, compiled. pathspec is imported here, on first need, because
    a pre-commit run over named files never needs it and start-up is felt on every commit."""
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(lines)

"""Per-file results kept on disk, so a second run over an unchanged tree analyses nothing.

Entries live in `.lint-train_cache/` at the project's root, as ruff keeps `.ruff_cache/`: the
folder of the configuration file in use, else the nearest folder above the checked paths that
holds a pyproject.toml, setup.py, setup.cfg or .git (else the folder that holds the checked
paths), never the current directory as such. A `cache-dir` setting (relative to its
configuration file) or the LINT_TRAIN_CACHE_DIR environment variable (which wins) names
another folder:

    <cache folder>/<tool>/<key>.json

`<tool>` fingerprints the tool: its version and the size and modification time of its own
source files and of libcst's, so an edited checkout or an upgraded parser never reuses old
results. `<key>` hashes the file's bytes, whether it is a notebook, and the rules selected.
An entry holds a file's findings without their path (the same file named `a.py` or `./a.py`
shares one entry) or the error that kept it from being checked. This is sound because the
analysis of a file depends on its bytes, its kind and the rules, not on where it is; a check
that came to depend on the path would have to add it to the key.

Each entry is written to a temporary file and renamed into place, so a reader sees a whole
entry or none; concurrent runs at worst compute the same entry twice. A cache that cannot be
read or written is skipped silently: linting never fails because of its cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .types import FileError, Finding, Location, Related

DIRECTORY = ".lint-train_cache"
FORMAT = "1"  # bump when the layout of an entry changes

Entry = tuple[list[Finding], FileError | None]


ENVIRONMENT = "LINT_TRAIN_CACHE_DIR"
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def default_root(start: Path | None = None) -> Path:
    """The project root above `start` (the current directory by default): the nearest folder
    with a pyproject.toml, setup.py, setup.cfg or .git, else `start` itself."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return start


def cache_folder(start: Path, config_file: Path | None, setting: Path | None) -> Path:
    """Where a run keeps its cache: $LINT_TRAIN_CACHE_DIR, else the configured `cache-dir`
    (`setting`, already resolved against its file), else `.lint-train_cache` in the folder of
    the configuration file, else in the project root above `start` (the checked paths'
    common folder)."""
    chosen = os.environ.get(ENVIRONMENT, "")
    if chosen:
        return Path(os.path.abspath(chosen))
    if setting is not None:
        return setting
    if config_file is not None:
        return Path(os.path.abspath(config_file)).parent / DIRECTORY
    return default_root(start) / DIRECTORY


class Cache:
    """Lookups and stores of per-file results for one tool build and one set of rules."""

    def __init__(self, root: Path, configuration: str, directory: Path | None = None) -> None:
        """`configuration` names what decides the results besides the file: the rules. The
        cache folder is `directory`, by default `root`/.lint-train_cache."""
        self.folder = (directory or root / DIRECTORY) / tool_fingerprint()
        self._configuration = configuration.encode()
        self._ready = False

    def key(self, name: str, data: bytes) -> str:
        digest = hashlib.blake2b(digest_size=20)
        digest.update(b"notebook" if name.endswith(".ipynb") else b"python")
        digest.update(b"\0" + self._configuration + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str, name: str) -> Entry | None:
        """The entry stored under `key`, with `name` as the path; None when there is none."""
        try:
            raw = json.loads((self.folder / f"{key}.json").read_bytes())
            findings = [_finding(name, item) for item in raw["findings"]]
            error = FileError(path=name, **raw["error"]) if raw["error"] is not None else None
        except (OSError, ValueError, TypeError, KeyError):
            return None  # absent, or written by an incompatible build: compute afresh
        return findings, error

    def asks_callers(self, key: str) -> bool:
        """Whether the result of the file keyed so also depends on the files importing it
        (stored under a key that covers their bytes too: see context.py)."""
        return (self.folder / f"{key}.callers").is_file()

    def put_asks_callers(self, key: str) -> None:
        try:
            self._prepare()
            (self.folder / f"{key}.callers").touch()
        except OSError:
            pass

    def put(self, key: str, findings: Sequence[Finding], error: FileError | None) -> None:
        entry = {
            "findings": [_without_path(f) for f in findings],
            "error": _without_path(error) if error is not None else None,
        }
        import tempfile  # here, not above: a run that only reads its cache starts faster

        try:
            self._prepare()
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as stream:
                    json.dump(entry, stream)
                os.replace(temporary, self.folder / f"{key}.json")
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            pass  # a read-only checkout, a full disk: the run goes on without its cache

    def _prepare(self) -> None:
        if self._ready:
            return
        top = self.folder.parent
        fresh = not top.is_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        tag = top / "CACHEDIR.TAG"
        if fresh:
            (top / ".gitignore").write_text("# Created by lint-train.\n*\n", encoding="utf-8")
            tag.write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by lint-train.\n",
                encoding="utf-8",
            )
        self._ready = True
        try:
            ours = "created by lint-train" in tag.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            return  # a configured folder that lint-train did not create: delete nothing in it
        import shutil

        for other in top.iterdir():
            # Entries of other builds of the tool can never be read again by this one.
            if other.is_dir() and other != self.folder:
                shutil.rmtree(other, ignore_errors=True)


def _without_path(item: Finding | FileError) -> dict[str, object]:
    plain = dataclasses.asdict(item)
    del plain["path"]
    return plain


def _finding(name: str, item: dict[str, object]) -> Finding:
    location = item.pop("location")
    related = item.pop("related", [])
    if not isinstance(location, dict) or not isinstance(related, list):
        raise TypeError("location")
    places = tuple(Related(Location(**r["location"]), r["message"]) for r in related)
    return Finding(path=name, location=Location(**location), related=places, **item)  # type: ignore[arg-type]


_fingerprint: str | None = None


def tool_fingerprint() -> str:
    """Names this build of the tool: results from another build are never reused."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.blake2b(f"{FORMAT}:{__version__}".encode(), digest_size=10)
        package = Path(__file__).parent
        sources = sorted(package.rglob("*.py"))
        spec = importlib.util.find_spec("libcst")  # finds libcst without importing it
        if spec is not None and spec.origin is not None:
            libcst = Path(spec.origin).parent
            sources += sorted(
                p for p in libcst.iterdir() if p.name.startswith(("_version", "native"))
            )
        for source in sources:
            stat = source.stat()
            digest.update(f"{source}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        _fingerprint = f"{__version__}-{digest.hexdigest()}"
    return _fingerprint

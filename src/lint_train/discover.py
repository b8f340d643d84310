"""Paths given on the command line -> the Python files to check."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

# Folders that hold other people's code or generated files, never the user's training scripts.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "__pycache__",
        "node_modules",
        "build",
        "dist",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".lint-train_cache",
        ".ipynb_checkpoints",
    }
)


def discover(paths: Iterable[str]) -> Iterator[Path]:
    """Yield files to check; a path named explicitly is always yielded, even if missing."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _walk(path):
                if found not in seen:
                    seen.add(found)
                    yield found
        elif path not in seen:
            seen.add(path)
            yield path


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIPPED_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name

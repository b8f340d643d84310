"""Configuration: `[tool.lint-train]` in the nearest pyproject.toml, or the file named by
`--config`, validated so that a typo is an error naming the key and the file.

    [tool.lint-train]
    select = ["TRN"]                       # codes or prefixes to run (default: all)
    ignore = ["TRN004"]                    # codes or prefixes to skip
    exclude = ["build/"]                   # replaces the default excludes
    extend-exclude = ["legacy/"]           # adds to them
    per-file-ignores = { "tests/*" = ["TRN003"] }
    cache-dir = ".cache/lint-train"        # the result cache's folder (default: .lint-train_cache)
    preview = true                         # also run the rules still in preview

The nearest pyproject.toml is searched upward from the checked paths, as ruff does; one without
a `[tool.lint-train]` table is passed over. Patterns use .gitignore syntax, relative to the
folder of the configuration file. A file named by `--config` that is not called pyproject.toml
holds the keys at its top level.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .discover import DEFAULT_EXCLUDE, gitignore_spec, relative_path
from .rules import rule_table

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

KEYS = (
    "select",
    "ignore",
    "exclude",
    "extend-exclude",
    "per-file-ignores",
    "cache-dir",
    "preview",
)


class ConfigError(Exception):
    """A configuration file that cannot be used; its message is one line for stderr."""


@dataclass(frozen=True)
class Config:
    file: Path | None = None
    root: Path = field(default_factory=Path.cwd)
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    cache_dir: Path | None = None
    """The `cache-dir` setting, made absolute against the configuration file's folder."""
    preview: bool = False

    def ignored_codes(self, path: str) -> tuple[str, ...]:
        """The codes `per-file-ignores` switches off for `path`."""
        relative = relative_path(path, self.root)
        codes: list[str] = []
        for pattern, pattern_codes in self.per_file_ignores:
            if _spec(pattern).match_file(relative):
                codes.extend(pattern_codes)
        return tuple(codes)


def code_problem(code: str, typed: str | None = None) -> str | None:
    """Why `code` is not a rule code or a prefix of one, or None when it is; the message
    shows `typed` (what the user wrote, before it was upper-cased) when given."""
    codes = sorted(rule_table())
    if any(c.startswith(code) for c in codes):
        return None
    shown = code if typed is None else typed
    return f"{shown!r} is not a lint-train rule code or prefix (the codes are {', '.join(codes)})"


def find_config(paths: Sequence[str]) -> Path | None:
    """The nearest pyproject.toml with a [tool.lint-train] table, searched upward from the
    folder that holds all of `paths`."""
    start = common_folder(paths)
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "lint-train" in _read_toml(candidate, cheap=True).get(
            "tool", {}
        ):
            return candidate
    return None


def load_config(file: Path) -> Config:
    """The configuration in `file`: its [tool.lint-train] table if it is a pyproject.toml,
    else its top level."""
    data = _read_toml(file)
    if file.name == "pyproject.toml":
        table = data.get("tool", {}).get("lint-train")
        if table is None:
            raise ConfigError(f"{file}: error: no [tool.lint-train] table")
        return _parse(table, file, "[tool.lint-train] ")
    return _parse(data, file, "")


def _parse(table: Any, file: Path, section: str) -> Config:
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: error: {section.strip() or 'the file'} must be a table")
    for key in table:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{file}: error: {section}unknown key {key!r} ({hint}known keys: {', '.join(KEYS)})"
            )
    label = f"{file}: error: {section}"
    values: dict[str, Any] = {"file": file, "root": Path(os.path.abspath(file)).parent}
    for key in ("select", "ignore"):
        if key in table:
            values[key] = _codes(table[key], f"{label}{key}: ")
    for key in ("exclude", "extend-exclude"):
        if key in table:
            values[key.replace("-", "_")] = _patterns(table[key], f"{label}{key}: ")
    if "preview" in table:
        if not isinstance(table["preview"], bool):
            raise ConfigError(
                f"{label}preview: expected true or false, got {_show(table['preview'])}"
            )
        values["preview"] = table["preview"]
    if "per-file-ignores" in table:
        ignores = table["per-file-ignores"]
        if not isinstance(ignores, dict):
            raise ConfigError(
                f'{label}per-file-ignores: expected a table of pattern = ["TRN001", ...], '
                f"got {_show(ignores)}"
            )
        pairs = []
        for pattern, codes in ignores.items():
            where = f'{label}per-file-ignores."{pattern}": '
            _patterns([pattern], where)
            pairs.append((pattern, _codes(codes, where)))
        values["per_file_ignores"] = tuple(pairs)
    if "cache-dir" in table:
        folder = table["cache-dir"]
        if not isinstance(folder, str) or not folder.strip():
            raise ConfigError(f"{label}cache-dir: expected a folder name, got {_show(folder)}")
        values["cache_dir"] = Path(os.path.normpath(values["root"] / folder))
    return Config(**values)


def _codes(value: Any, label: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f'{label}expected a list of rule codes like ["TRN001"], got {_show(value)}'
        )
    codes = tuple(v.strip().upper() for v in value)
    for code in codes:
        problem = code_problem(code)
        if problem:
            raise ConfigError(label + problem)
    return codes


def _patterns(value: Any, label: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{label}expected a list of patterns like ["build/"], got {_show(value)}')
    for pattern in value:
        try:
            _spec(pattern)
        except ValueError as exc:
            raise ConfigError(f"{label}invalid pattern {pattern!r}: {exc}") from exc
    return tuple(value)


@functools.lru_cache(maxsize=256)
def _spec(pattern: str) -> GitIgnoreSpec:
    return gitignore_spec([pattern])


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"{type(value).__name__} {value!r}"


def _read_toml(file: Path, cheap: bool = False) -> dict[str, Any]:
    """The TOML document in `file`. With `cheap`, a file that cannot hold a [tool.lint-train]
    table (neither the words nor an escape that could spell them) is read as empty without
    importing a TOML parser: most pyproject.toml files have no such table, and start-up counts."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: error: cannot read: {exc.strerror or exc}") from exc
    if cheap and b"lint-train" not in data and b"\\" not in data:
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: error: invalid TOML: {exc}") from exc


def common_folder(paths: Sequence[str]) -> Path:
    folders = []
    for raw in paths or ["."]:
        path = Path(os.path.abspath(raw))
        folders.append(str(path if path.is_dir() else path.parent))
    return Path(os.path.commonpath(folders))

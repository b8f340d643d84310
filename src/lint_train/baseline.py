"""Baselines, for adopting lint-train on a repository that already has findings.

`--write-baseline FILE` records today's findings; `--baseline FILE` then reports only the
findings that are not in it. A finding is known by its file, its code and the text of its
reported line with whitespace normalised, not by its line number, so edits elsewhere in the
file that shift it up or down do not bring it back. When the same line text carries the same
code more than once in a file, the baseline holds as many as it recorded (an occurrence count):
one more copy is new.

The same key, hashed, is the fingerprint that GitLab and SARIF reports carry.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .types import Finding

FORMAT_VERSION = 1

LineOf = Callable[[Finding], str]
Key = tuple[str, str, str]


class BaselineError(Exception):
    """A baseline file that cannot be read; its message is one line for stderr."""


def key(finding: Finding, line_of: LineOf, base: Path) -> Key:
    """(path relative to `base`, code, the reported line's text with whitespace normalised)."""
    return (
        _relative(finding.path, base),
        finding.code,
        _normalise(line_of(finding)),
    )


def fingerprints(findings: list[Finding], line_of: LineOf, base: Path) -> dict[int, str]:
    """id(finding) -> a stable hash of its key and its occurrence index among equal keys."""
    seen: Counter[Key] = Counter()
    result = {}
    for finding in _in_file_order(findings):
        k = key(finding, line_of, base)
        text = "\0".join((*k, str(seen[k])))
        seen[k] += 1
        result[id(finding)] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return result


def write(file: Path, findings: list[Finding], line_of: LineOf) -> None:
    base = _folder_of(file)
    entries = [
        {
            "path": k[0],
            "code": k[1],
            "line_text": k[2],
            "line": finding.line,
            "message": finding.message,
        }
        for finding in _in_file_order(findings)
        for k in [key(finding, line_of, base)]
    ]
    data = {"tool": "lint-train", "version": FORMAT_VERSION, "findings": entries}
    file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load(file: Path) -> Counter[Key]:
    """How many findings of each key the baseline records."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{file}: error: cannot read baseline: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{file}: error: baseline is not valid JSON: {exc}") from exc
    entries = data.get("findings") if isinstance(data, dict) else None
    version = data.get("version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION or not isinstance(entries, list):
        raise BaselineError(
            f"{file}: error: not a lint-train baseline (expected version {FORMAT_VERSION} "
            "with a list of findings; write one with --write-baseline)"
        )
    counts: Counter[Key] = Counter()
    for entry in entries:
        try:
            counts[(str(entry["path"]), str(entry["code"]), str(entry["line_text"]))] += 1
        except (TypeError, KeyError) as exc:
            raise BaselineError(f"{file}: error: baseline entry {entry!r} lacks {exc}") from exc
    return counts


def split(
    findings: list[Finding], known: Counter[Key], file: Path, line_of: LineOf
) -> tuple[list[Finding], list[Finding]]:
    """(new, in_baseline), each in the order given."""
    base = _folder_of(file)
    remaining = Counter(known)
    old_ids = set()
    for finding in _in_file_order(findings):
        k = key(finding, line_of, base)
        if remaining[k] > 0:
            remaining[k] -= 1
            old_ids.add(id(finding))
    new = [f for f in findings if id(f) not in old_ids]
    old = [f for f in findings if id(f) in old_ids]
    return new, old


def _in_file_order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.location.cell or 0, f.line, f.column, f.code))


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _folder_of(file: Path) -> Path:
    return Path(os.path.abspath(file)).parent


def _relative(path: str, base: Path) -> str:
    """Relative even above the baseline's folder (`../train.py`), so a clone elsewhere matches."""
    absolute = os.path.abspath(path)
    try:
        return Path(os.path.relpath(absolute, base)).as_posix()
    except ValueError:  # another drive, on Windows
        return Path(absolute).as_posix()

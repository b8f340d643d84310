"""GitLab Code Quality report: a JSON list of issues for the merge-request widget.

Each issue has the fields GitLab requires: `description`, `check_name`, `fingerprint`,
`severity` and `location` with `path` and `lines.begin`. The fingerprint survives edits that
only move the finding to another line, so GitLab does not show it as fixed and new again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..types import FileError, Finding
from . import PLAIN, Context


def render(findings: list[Finding], context: Context = PLAIN) -> str:
    issues = [
        {
            "description": _cell(f) + f"{f.code} {f.name}: {f.message}",
            "check_name": f.code,
            "fingerprint": context.fingerprints.get(id(f), ""),
            "severity": "major",
            "location": {
                "path": _project_path(f.path),
                "lines": _lines(f),
            },
        }
        for f in findings
    ]
    issues += [_error(e) for e in context.errors]
    return json.dumps(issues, indent=2) + "\n"


def _error(e: FileError) -> dict[str, object]:
    """A file that could not be checked: a critical issue, so the widget does not read the
    run as clean. Its fingerprint is the file and the kind of error (not the line, which
    moves as the file is edited)."""
    path = _project_path(e.path)
    fingerprint = hashlib.sha256(f"lint-train error\0{path}\0{e.name}".encode()).hexdigest()
    line = e.line or 1
    return {
        "description": e.message,
        "check_name": e.name,
        "fingerprint": fingerprint,
        "severity": "critical",
        "location": {"path": path, "lines": {"begin": line, "end": line}},
    }


def _project_path(path: str) -> str:
    """Relative to the project (GitLab's CI_PROJECT_DIR, else the working folder), posix."""
    root = os.environ.get("CI_PROJECT_DIR") or os.getcwd()
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root)
    if relative.startswith(os.pardir):
        return Path(absolute).as_posix()
    return Path(relative).as_posix()


def _cell(f: Finding) -> str:
    # GitLab counts lines in the file; a notebook's finding says where it is in its cell.
    return f"cell {f.location.cell}, line {f.line}: " if f.location.cell is not None else ""


def _lines(f: Finding) -> dict[str, int]:
    if f.location.cell is not None:
        # GitLab would read the cell's line as a line of the notebook's JSON; point at the file.
        return {"begin": 1, "end": 1}
    return {"begin": f.line, "end": f.location.end_line}

"""A JSON list of findings, then of the files that could not be checked, for scripts and CI."""

from __future__ import annotations

import json

from ..types import FileError, Finding, Location
from . import PLAIN, Context


def render(findings: list[Finding], context: Context = PLAIN) -> str:
    entries = [as_dict(f) for f in findings] + [error_dict(e) for e in context.errors]
    return json.dumps(entries, indent=2) + "\n"


def error_dict(e: FileError) -> dict[str, object]:
    """A file that could not be checked, with a finding's keys so that consumers reading
    `code`, `path`, `line` or `message` keep working: `code` is null and `name` says why
    (syntax-error, unreadable-file, undecodable-file, too-complex, internal-error); what has
    no meaning for it is null."""
    return {
        "code": None,
        "name": e.name,
        "path": e.path,
        "line": e.line,
        "column": e.column,
        "end_line": None,
        "end_column": None,
        "message": e.message,
        "fixable": False,
        "fix": None,
        "no_fix_reason": None,
        "related": [],
    }


def as_dict(f: Finding) -> dict[str, object]:
    data: dict[str, object] = {
        "code": f.code,
        "name": f.name,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.location.end_line,
        "end_column": f.location.end_column,
        "message": f.message,
        "fixable": f.fixable,
        # As ruff: what --fix would do and whether it needs --unsafe-fixes; null when no fix.
        "fix": {"applicability": f.fix_applicability, "message": f.fix_message}
        if f.fixable
        else None,
        "no_fix_reason": None if f.fixable else f.fix_message,
    }
    if f.location.cell is not None:
        # A notebook's lines count within this cell (numbered from 1 over all cells).
        data["cell"] = f.location.cell
    data["related"] = [_related(r.location, r.message) for r in f.related]
    return data


def _related(where: Location, message: str) -> dict[str, object]:
    data: dict[str, object] = {
        "line": where.line,
        "column": where.column,
        "end_line": where.end_line,
        "end_column": where.end_column,
        "message": message,
    }
    if where.cell is not None:
        data["cell"] = where.cell
    return data

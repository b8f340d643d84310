"""A JSON list of findings, for scripts and CI."""

from __future__ import annotations

import json

from ..types import Finding


def render(findings: list[Finding]) -> str:
    return json.dumps([as_dict(f) for f in findings], indent=2) + "\n"


def as_dict(f: Finding) -> dict[str, object]:
    return {
        "code": f.code,
        "name": f.name,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.location.end_line,
        "end_column": f.location.end_column,
        "message": f.message,
        "fixable": f.fixable,
    }

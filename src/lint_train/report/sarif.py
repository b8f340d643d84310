"""SARIF 2.1.0, the format GitHub code scanning and other security dashboards read.

One run; the driver lists every rule with its page as help; each result points at its file
relative to %SRCROOT% (the working folder) with a 1-based region counted in code points. Files
that could not be checked are tool execution notifications of the run's invocation, which then
did not succeed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..explain import rule_page
from ..rules import rule_table
from ..types import FileError, Finding, Related
from . import PLAIN, Context

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def render(findings: list[Finding], context: Context = PLAIN) -> str:
    table = rule_table()
    codes = sorted(table)
    rules = []
    for code in codes:
        info = table[code]
        rule: dict[str, object] = {
            "id": code,
            "name": info.name,
            "shortDescription": {"text": info.summary},
            "fullDescription": {"text": info.summary},
            "defaultConfiguration": {"level": "error"},
            "properties": {
                "tags": [
                    "pytorch",
                    "training",
                    "correctness",
                    *(["preview"] if info.preview else []),
                ]
            },
        }
        page = rule_page(code)
        if page:
            rule["help"] = {"text": page, "markdown": page}
        rules.append(rule)
    root = os.getcwd()
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lint-train",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(root).as_uri().rstrip("/") + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, codes, root, context) for f in findings],
                **_invocations(context.errors, root),
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _invocations(errors: tuple[FileError, ...], root: str) -> dict[str, object]:
    """When some file could not be checked: the run's invocation, unsuccessful, with one
    notification per such file, named by its error's kind (syntax-error, ...)."""
    if not errors:
        return {}
    notifications = []
    for e in errors:
        physical: dict[str, object] = {"artifactLocation": _artifact(e.path, root)}
        if e.line is not None:
            region = {"startLine": e.line}
            if e.column is not None:
                region["startColumn"] = e.column
            physical["region"] = region
        notifications.append(
            {
                "level": "error",
                "message": {"text": e.message},
                "descriptor": {"id": e.name},
                "locations": [{"physicalLocation": physical}],
            }
        )
    return {
        "invocations": [{"executionSuccessful": False, "toolExecutionNotifications": notifications}]
    }


def _result(f: Finding, codes: list[str], root: str, context: Context) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": _artifact(f.path, root)}
    message = f.message
    if f.location.cell is None:
        physical["region"] = {
            "startLine": f.line,
            "startColumn": f.column,
            "endLine": f.location.end_line,
            "endColumn": f.location.end_column,
        }
    else:
        # A notebook's lines count within a cell, not in the file's JSON text: no region, the
        # message and properties say where.
        message = f"cell {f.location.cell}, line {f.line}: {message}"
    result: dict[str, object] = {
        "ruleId": f.code,
        "level": "error",
        "message": {"text": message},
        "locations": [{"physicalLocation": physical}],
    }
    if f.location.cell is not None:
        result["properties"] = {"cell": f.location.cell, "line": f.line, "column": f.column}
    if f.related:
        result["relatedLocations"] = [
            _related(i, f.path, r, root) for i, r in enumerate(f.related, start=1)
        ]
    if f.code in codes:
        result["ruleIndex"] = codes.index(f.code)
    fingerprint = context.fingerprints.get(id(f))
    if fingerprint:
        result["partialFingerprints"] = {"lintTrain/v1": fingerprint}
    return result


def _related(number: int, path: str, related: Related, root: str) -> dict[str, object]:
    """A place that explains the result (the loop around the step), in the same file."""
    where = related.location
    physical: dict[str, object] = {"artifactLocation": _artifact(path, root)}
    message = related.message
    if where.cell is None:
        physical["region"] = {
            "startLine": where.line,
            "startColumn": where.column,
            "endLine": where.end_line,
            "endColumn": where.end_column,
        }
    else:
        message = f"cell {where.cell}, line {where.line}: {message}"
    return {"id": number, "physicalLocation": physical, "message": {"text": message}}


def _artifact(path: str, root: str) -> dict[str, str]:
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root)
    if relative.startswith(os.pardir):
        return {"uri": Path(absolute).as_uri()}
    return {"uri": quote(Path(relative).as_posix()), "uriBaseId": "%SRCROOT%"}

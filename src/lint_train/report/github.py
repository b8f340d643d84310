"""GitHub Actions workflow commands: each finding becomes an error annotation on its line.

::error title=lint-train (TRN001),file=train.py,line=29,col=9,endLine=29,endColumn=35::...
"""

from __future__ import annotations

from pathlib import PurePath

from ..types import FileError, Finding
from . import PLAIN, Context


def render(findings: list[Finding], context: Context = PLAIN) -> str:
    commands = [_command(f) for f in findings] + [_error(e) for e in context.errors]
    return "".join(command + "\n" for command in commands)


def _error(e: FileError) -> str:
    """A file that could not be checked: an error annotation on it (on its line when known)."""
    properties: dict[str, object] = {
        "title": f"lint-train ({e.name})",
        "file": PurePath(e.path).as_posix(),
    }
    if e.line is not None:
        properties["line"] = e.line
        if e.column is not None:
            properties["col"] = e.column
    listed = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties.items())
    return f"::error {listed}::{_escape_data(e.message)}"


def _command(f: Finding) -> str:
    properties: dict[str, object] = {
        "title": f"lint-train ({f.code})",
        "file": PurePath(f.path).as_posix(),
    }
    prefix = ""
    if f.location.cell is None:
        properties |= {"line": f.line, "col": f.column}
        properties |= {"endLine": f.location.end_line, "endColumn": f.location.end_column}
    else:
        # A notebook's lines count within a cell, not in the file GitHub shows: annotate the
        # file and say where in the message.
        prefix = f"cell {f.location.cell}, line {f.line}: "
    listed = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties.items())
    return f"::error {listed}::{_escape_data(f'{prefix}{f.code} {f.name}: {f.message}')}"


# As @actions/core escapes them: data may not hold line breaks or %, properties also not , or :.
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")

"""Reporters: turn findings into text for a terminal or a machine. They never decide anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..types import FileError, Finding


def _no_source(finding: Finding) -> str:
    return ""


def where(f: Finding) -> str:
    """`path:line:col`, or `path:cell N:line:col` in a notebook (as ruff writes it)."""
    cell = f"cell {f.location.cell}:" if f.location.cell is not None else ""
    return f"{f.path}:{cell}{f.line}:{f.column}"


@dataclass(frozen=True)
class Context:
    """What a reporter may need besides the findings; the command line fills it in."""

    line_of: Callable[[Finding], str] = _no_source
    """The text of a finding's reported line, for source display and fingerprints."""
    show_source: bool = False
    color: bool = False
    fingerprints: dict[int, str] = field(default_factory=dict)
    """id(finding) -> a fingerprint that survives line shifts (see baseline.py)."""
    errors: tuple[FileError, ...] = ()
    """The files that could not be checked: the machine formats list them with the findings
    (text and concise leave them to stderr)."""


PLAIN = Context()
"""No source, no colour: what a reporter sees when called without a context."""

Formatter = Callable[[list[Finding], Context], str]

FORMATS = ("text", "concise", "json", "sarif", "github", "gitlab", "junit")
FINGERPRINTED = ("gitlab", "sarif")
"""The formats that print `Context.fingerprints` (worked out only for them)."""


def formatter(name: str) -> Formatter:
    """The formatter for an --output-format name; imported lazily to keep start-up light."""
    if name == "json":
        from .json_format import render
    elif name == "concise":
        from .concise import render
    elif name == "sarif":
        from .sarif import render
    elif name == "github":
        from .github import render
    elif name == "gitlab":
        from .gitlab import render
    elif name == "junit":
        from .junit import render
    elif name == "text":
        from .text import render
    else:
        raise ValueError(f"unknown output format {name!r}")
    return render

"""One finding a line: `path:line:col: CODE name  message` (the summary goes to stderr)."""

from __future__ import annotations

from ..types import Finding


def render(findings: list[Finding]) -> str:
    return "".join(line(f) + "\n" for f in findings)


def line(f: Finding) -> str:
    return f"{f.path}:{f.line}:{f.column}: {f.code} {f.name}  {f.message}"


def summary(findings: list[Finding], files: int) -> str:
    checked = f"{files} file{'s' if files != 1 else ''} checked"
    if not findings:
        return f"All checks passed ({checked})."
    count = len(findings)
    return f"Found {count} problem{'s' if count != 1 else ''} ({checked})."

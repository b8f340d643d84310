"""One short line per finding: `path:line:col: CODE message`, as ruff's concise format."""

from __future__ import annotations

from ..types import Finding
from . import PLAIN, Context, where


def render(findings: list[Finding], context: Context = PLAIN) -> str:
    return "".join(f"{where(f)}: {f.code} {f.message}\n" for f in findings)

"""One finding a line: `path:line:col: CODE name  message` (the summary goes to stderr).

With `show_source` (the default on a terminal) each finding is followed by its source line and a
marker under the reported code, as ruff shows them.
"""

from __future__ import annotations

import io
import tokenize

from ..types import Finding
from . import PLAIN, Context, where

BOLD, RED, CYAN, DIM, RESET = "\033[1m", "\033[31m", "\033[36m", "\033[2m", "\033[0m"


def render(findings: list[Finding], context: Context = PLAIN) -> str:
    if not context.show_source:
        return "".join(line(f, context.color) + "\n" for f in findings)
    return "".join(line(f, context.color) + "\n" + _source(f, context) + "\n" for f in findings)


def line(f: Finding, color: bool = False) -> str:
    if not color:
        return f"{where(f)}: {f.code} {f.name}  {f.message}"
    cell = f"cell {f.location.cell}{CYAN}:{RESET}" if f.location.cell is not None else ""
    place = f"{BOLD}{f.path}{RESET}{CYAN}:{RESET}{cell}{f.line}{CYAN}:{RESET}{f.column}"
    return f"{place}{CYAN}:{RESET} {BOLD}{RED}{f.code}{RESET} {DIM}{f.name}{RESET}  {f.message}"


def _source(f: Finding, context: Context) -> str:
    text = context.line_of(f).rstrip()
    if not text:
        return ""
    gutter = " " * len(str(f.line))
    start = f.column - 1
    end = f.location.end_column - 1 if f.location.end_line == f.line else _code_end(text)
    # Tabs before the marker stay tabs, so the marker lines up however the terminal shows them.
    pad = "".join(c if c == "\t" else " " for c in text[:start])
    marker = "^" * max(1, min(end, len(text)) - start)
    if context.color:
        marker = f"{BOLD}{RED}{marker}{RESET}"
        bar = f"{CYAN}|{RESET}"
        number = f"{CYAN}{f.line}{RESET}"
    else:
        bar, number = "|", str(f.line)
    return f" {number} {bar} {text}\n {gutter} {bar} {pad}{marker}\n"


def summary(
    findings: list[Finding], files: int, suppressed: int = 0, known: int = 0, errors: int = 0
) -> str:
    details = [f"{files} file{'s' if files != 1 else ''} checked"]
    if errors:
        details.append(f"{errors} could not be checked")
    if suppressed:
        details.append(f"{suppressed} suppressed by noqa")
    if known:
        details.append(f"{known} in the baseline")
    if not findings and errors:
        return f"No problems found in what could be checked ({', '.join(details)})."
    if not findings:
        return f"All checks passed ({', '.join(details)})."
    count = len(findings)
    return f"Found {count} problem{'s' if count != 1 else ''} ({', '.join(details)})."


def _code_end(text: str) -> int:
    """Where the code of `text` ends: before a trailing comment and the spaces ahead of it."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text.lstrip()).readline):
            if token.type == tokenize.COMMENT:
                offset = len(text) - len(text.lstrip())
                return len(text[: offset + token.start[1]].rstrip())
    except (tokenize.TokenError, SyntaxError):
        pass
    return len(text)

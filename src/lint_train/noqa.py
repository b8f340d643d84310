"""`# noqa` suppressions, as flake8 and ruff read them.

A finding is suppressed by a comment on its reported line (the line printed in its location):
`# noqa: TRN001` (one or more codes, separated by commas or spaces) suppresses those codes, a
bare `# noqa` suppresses every code. A `# noqa: E501` for another tool's code leaves lint-train's
findings alone. Only real comments count: `"# noqa"` inside a string does not.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict

from .sourcelines import Sources
from .types import Finding

# flake8's own pattern: codes may follow `noqa:` with or without a space; anything after the
# codes (an explanation) is ignored.
NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_SEPARATOR = re.compile(r"[,\s]+")

ALL = frozenset({"*"})
"""The directive of a bare `# noqa`: every code."""


def directives(text: str) -> dict[int, frozenset[str]]:
    """Line number -> the codes its `# noqa` comment suppresses (ALL for a bare one)."""
    found: dict[int, frozenset[str]] = {}
    for line, comment in _comments(text):
        match = NOQA.search(comment)
        if match is None:
            continue
        codes = match.group("codes")
        if codes is None:
            found[line] = ALL
        else:
            found[line] = frozenset(c.upper() for c in _SEPARATOR.split(codes.strip()) if c)
    return found


def suppresses(directive: frozenset[str], code: str) -> bool:
    # A prefix suppresses every code that starts with it, as in flake8 (TRN00 covers TRN001).
    return directive is ALL or any(code.startswith(c) for c in directive)


def split(findings: list[Finding], sources: Sources) -> tuple[list[Finding], list[Finding]]:
    """(kept, suppressed): the findings whose reported line has a matching `# noqa` are
    suppressed. Only files with findings are read."""
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_path[finding.path].append(finding)
    suppressed_ids: set[int] = set()
    for path, group in by_path.items():
        text = sources.text(path)
        if "noqa" not in text.lower():
            continue
        lines = directives(text)
        for finding in group:
            directive = lines.get(sources.line_number(finding))
            if directive is not None and suppresses(directive, finding.code):
                suppressed_ids.add(id(finding))
    kept = [f for f in findings if id(f) not in suppressed_ids]
    suppressed = [f for f in findings if id(f) in suppressed_ids]
    return kept, suppressed


def _comments(text: str) -> list[tuple[int, str]]:
    try:
        return [
            (token.start[0], token.string)
            for token in tokenize.generate_tokens(io.StringIO(text, newline=None).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        # Source that tokenize rejects still parsed with libcst; read comments line by line.
        return [
            (number, line[line.index("#") :])
            for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1)
            if "#" in line
        ]

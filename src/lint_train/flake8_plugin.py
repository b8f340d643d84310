"""flake8 plugin, for teams whose CI already runs flake8: `flake8 --select TRN` reports the same
findings as lint-train, and flake8's own `# noqa` handling applies to them.

Registered under the `flake8.extension` entry point with the code prefix TRN.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import libcst as cst

from . import __version__
from .engine import InternalError, lint_source
from .source import SourceError


class Plugin:
    name = "lint-train"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        # flake8 hands over the parsed tree as well; lint-train needs the text, for libcst.
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type[Plugin]]]:
        try:
            findings = lint_source("".join(self.lines), self.filename)
        except (cst.ParserSyntaxError, RecursionError, SourceError, InternalError):
            # flake8 reports syntax errors itself (E999); a file lint-train cannot analyse
            # (too deep, or a bug of ours) must not take flake8's whole run down.
            return
        for f in findings:
            yield f.line, f.column - 1, f"{f.code} {f.message}", type(self)

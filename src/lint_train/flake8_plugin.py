"""flake8 plugin, for teams whose CI already runs flake8: `flake8 --select TRN` reports the same
findings as lint-train, and flake8's own `# noqa` handling applies to them.

Registered under the `flake8.extension` entry point with the code prefix TRN. It runs the rules
lint-train runs by default; `--lint-train-preview` adds the rules still in preview, as
lint-train's `--preview` does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import libcst as cst

from . import __version__
from .engine import InternalError, Selection, lint_source
from .source import SourceError


class Plugin:
    name = "lint-train"
    version = __version__
    preview = False

    @classmethod
    def add_options(cls, manager: object) -> None:
        manager.add_option(  # type: ignore[attr-defined]
            "--lint-train-preview",
            action="store_true",
            parse_from_config=True,
            help="also run the lint-train rules still in preview",
        )

    @classmethod
    def parse_options(cls, options: object) -> None:
        cls.preview = bool(getattr(options, "lint_train_preview", False))

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        # flake8 hands over the parsed tree as well; lint-train needs the text, for libcst.
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type[Plugin]]]:
        try:
            rules = Selection(preview=self.preview).rules()
            findings = lint_source("".join(self.lines), self.filename, rules)
        except (cst.ParserSyntaxError, RecursionError, SourceError, InternalError):
            # flake8 reports syntax errors itself (E999); a file lint-train cannot analyse
            # (too deep, or a bug of ours) must not take flake8's whole run down.
            return
        for f in findings:
            yield f.line, f.column - 1, f"{f.code} {f.message}", type(self)

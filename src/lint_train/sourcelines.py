"""The text of checked files, read again after the engine for what needs the source itself:
`# noqa` comments, the source line shown under a finding, and a baseline's line text.

Only files that have findings are read, and each at most once. A notebook's text is its
program (notebook.py), in which a finding's (cell, line) is found again.
"""

from __future__ import annotations

import re
from pathlib import Path

from .notebook import Program, is_notebook, to_program
from .source import SourceError, decode
from .types import Finding

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Sources:
    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._programs: dict[str, Program] = {}
        self._lines: dict[str, list[str]] = {}

    def text(self, path: str) -> str:
        """The file's decoded text (a notebook's program), or "" when it can't be read."""
        if path not in self._texts:
            try:
                data = Path(path).read_bytes()
                if is_notebook(path):
                    self._programs[path] = to_program(data)
                    self._texts[path] = self._programs[path].text
                else:
                    self._texts[path] = decode(data)
            except (OSError, SourceError):
                self._texts[path] = ""
        return self._texts[path]

    def line_number(self, finding: Finding) -> int:
        """The number of the finding's reported line in `text(finding.path)`."""
        self.text(finding.path)
        program = self._programs.get(finding.path)
        if program is None:
            return finding.line
        return program.program_line(finding.location.cell, finding.line)

    def line(self, finding: Finding) -> str:
        """The finding's reported line without its line ending, or "" if it is gone."""
        path = finding.path
        if path not in self._lines:
            # Only the line breaks Python itself knows: str.splitlines() also splits on \f, \v...
            self._lines[path] = _LINE_BREAK.split(self.text(path))
        lines = self._lines[path]
        number = self.line_number(finding)
        return lines[number - 1] if 0 < number <= len(lines) else ""

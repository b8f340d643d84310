"""Jupyter notebooks as one program: the code cells in order, so a training loop in one cell
sees the optimizer made in another. Locations are given back as (cell, line in the cell).

IPython syntax that is not Python is neutralised line for line, so positions do not move:
`%magic` and `!shell` lines become `pass` (at their own indentation), `x = !ls` becomes
`x = None`, `obj?` help lines become `pass`, and a cell run by a non-Python cell magic
(`%%bash`, `%%writefile`, ...) becomes blank lines. Cells are numbered from 1 over all the
notebook's cells, markdown included, as Jupyter front ends show them.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, replace

from .source import SourceError
from .types import Finding, Location

# Cell magics whose body is still Python run in the kernel.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "python", "python3"})

_MAGIC = re.compile(r"^\s*(%|!|\?)")
# `np.*load*?` is IPython's wildcard search over names: a help line too.
_HELP = re.compile(r"^\s*[\w.\[\]*]+\?{1,2}\s*$")
_ASSIGN_MAGIC = re.compile(r"^(\s*[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*)[!%]")
_TRIPLE = re.compile(r"\"\"\"|'''")


def is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


@dataclass(frozen=True)
class Program:
    text: str
    # For each code cell: (cell number, its first line in `text`, how many lines it has).
    cells: tuple[tuple[int, int, int], ...]
    # Lines of `text` that stand for IPython syntax (a magic or shell line made `pass`).
    magic: frozenset[int] = frozenset()

    def place(self, finding: Finding) -> Finding:
        """`finding` with its locations moved from the program to their cells."""
        related = tuple(replace(r, location=self._in_cell(r.location)) for r in finding.related)
        return replace(finding, location=self._in_cell(finding.location), related=related)

    def _in_cell(self, loc: Location) -> Location:
        cell, first = self._cell_of(loc.line)
        end_line = max(loc.line, min(loc.end_line, first + self._count(cell) - 1))
        end_column = loc.end_column if end_line == loc.end_line else 1
        return Location(
            loc.line - first + 1, loc.column, end_line - first + 1, end_column, cell=cell
        )

    def program_line(self, cell: int | None, line: int) -> int:
        """The line of `text` that is line `line` of cell `cell`."""
        for number, first, _ in self.cells:
            if number == cell:
                return first + line - 1
        return line

    def edit_problem(self, spans: list[tuple[int, int, bool]]) -> str | None:
        """Why a fix cannot be written back to the cells, or None when it can. `spans` are
        the lines (first, last) of the statements its edits anchor on, and whether the edit
        rewrites those lines (a wrap or a replacement) rather than inserting next to them."""
        for first, last, rewrites in spans:
            if self._cell_of(first)[0] != self._cell_of(last)[0]:
                return "the fix would change code in two cells at once"
            touched = [n for n in range(first, last + 1) if n in self.magic] if rewrites else []
            if touched:
                return f"the fix would change an IPython line ({self.where(touched[0])})"
        return None

    def where(self, line: int) -> str:
        cell, first = self._cell_of(line)
        return f"cell {cell}, line {line - first + 1}"

    def _cell_of(self, line: int) -> tuple[int, int]:
        starts = [first for _, first, _ in self.cells]
        index = max(0, bisect_right(starts, line) - 1)
        number, first, _ = self.cells[index]
        return number, first

    def _count(self, cell: int) -> int:
        return next(count for number, _, count in self.cells if number == cell)


def to_program(data: bytes) -> Program:
    """The notebook's code cells as one program; SourceError when it is not a notebook."""
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"not a readable notebook: {exc}") from exc
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise SourceError("not a readable notebook: no list of cells")
    if not _is_python(notebook):
        return Program("", ())
    lines: list[str] = []
    placed = []
    magic: set[int] = set()
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        raw = source_lines(cell)
        cell_lines = neutralise(_dedent(raw))
        placed.append((number, len(lines) + 1, len(cell_lines)))
        magic.update(
            len(lines) + i
            for i, (a, b) in enumerate(zip(raw, cell_lines, strict=True), 1)
            if a != b
        )
        lines.extend(cell_lines)
    text = "\n".join(lines) + "\n" if lines else ""
    return Program(text, tuple(placed), frozenset(magic))


def source_lines(cell: dict[str, object]) -> list[str]:
    """A code cell's source as it stands, split into lines (without their line ends)."""
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _is_python(notebook: dict[str, object]) -> bool:
    metadata = notebook.get("metadata")
    if not isinstance(metadata, dict):
        return True
    info = metadata.get("language_info")
    language = info.get("name") if isinstance(info, dict) else None
    if language is None:
        kernel = metadata.get("kernelspec")
        language = kernel.get("language") if isinstance(kernel, dict) else None
    return language is None or str(language).lower() == "python"


def _dedent(lines: list[str]) -> list[str]:
    """A cell whose every line starts with the same indentation, as IPython runs it: dedented
    (IPython strips the first line's indentation from the lines that share it). Findings'
    columns in such a cell count from the dedented text."""
    first = next((line for line in lines if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    if not indent or not all(line.startswith(indent) for line in lines if line.strip()):
        return lines
    return [line[len(indent) :] for line in lines]


def neutralise(lines: list[str]) -> list[str]:
    """A cell's lines as the program holds them: IPython syntax made Python, line for line."""
    first = lines[0].lstrip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if magic not in PYTHON_CELL_MAGICS:
            return [""] * len(lines)
        lines = ["", *lines[1:]]
    result = []
    in_string = False
    continued = False
    depth = 0  # brackets left open by the Python lines so far
    joined = False  # the previous Python line ended with a backslash
    for line in lines:
        if continued:
            # The rest of a magic line continued with a backslash.
            result.append("")
            continued = line.endswith("\\")
            continue
        # Inside open brackets, or after a backslash, a line continues a Python statement: a
        # leading `%` there is the formatting operator, not a magic.
        if not in_string and not depth and not joined:
            assigned = _ASSIGN_MAGIC.match(line)
            if assigned:
                result.append(assigned.group(1) + "None")
                continued = line.endswith("\\")
                continue
            if _MAGIC.match(line) or _HELP.match(line):
                indent = line[: len(line) - len(line.lstrip())]
                result.append(indent + "pass")
                continued = line.endswith("\\")
                continue
        # A line with an odd number of triple quotes opens or closes a multi-line string,
        # whose lines must stay as they are even when they start with % or !.
        if len(_TRIPLE.findall(line)) % 2 == 1:
            in_string = not in_string
        elif not in_string:
            depth = max(0, depth + _bracket_balance(line))
        joined = not in_string and line.endswith("\\")
        result.append(line)
    return result


def _bracket_balance(line: str) -> int:
    """Brackets opened minus closed on a line of code, outside its strings and comment."""
    balance = 0
    quote = ""
    escaped = False
    for char in line:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "([{":
            balance += 1
        elif char in ")]}":
            balance -= 1
    return balance

"""Fixing a notebook: the fixes are made to its program (notebook.py) and written back to cells.

The fixer works on the program built from the code cells, with the same checks as for a `.py`
file. The fixed program is then compared line by line with the program it came from, and each
change goes to the cell that holds the lines it replaces; a statement inserted where one cell
ends and the next begins goes to the next cell (before the code it was put in front of) unless
it is indented, which only the cell above can continue, or the next cell starts with a magic.
A fix that would change an IPython line (`%time`, `!pip`, which the program holds as `pass`)
or span two cells is not made, and says so; the linter already reports such a finding as one
with no fix (fixes_in_cells), so every format agrees. The fixed notebook is accepted only when
its own program is exactly the fixed program and every changed cell that compiled on its own
still does.

Cells keep their `source` as a list of lines or a string, as they had it; outputs, metadata,
nbformat keys and every cell that did not change are written back as they were. The JSON
layout (indentation, key order, separators, `ensure_ascii`, line ends, byte-order mark, final
newline) is found by writing the notebook as it was read until the bytes are the file's own;
a notebook whose layout cannot be reproduced exactly is not rewritten.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .notebook import Program, neutralise, source_lines, to_program
from .source import SourceError
from .types import Finding

if TYPE_CHECKING:
    import libcst as cst

    from .fix import FixOutcome
    from .rules import Report, Rule

BOM = b"\xef\xbb\xbf"
_INDENT = re.compile(r"\{\n([ \t]*)\"")


@dataclass(frozen=True)
class JsonLayout:
    indent: str | None
    ensure_ascii: bool
    separators: tuple[str, str]
    crlf: bool
    final_newline: bool
    bom: bool

    def dump(self, notebook: object) -> bytes:
        text = json.dumps(
            notebook,
            indent=self.indent,
            ensure_ascii=self.ensure_ascii,
            separators=self.separators,
        )
        if self.final_newline:
            text += "\n"
        if self.crlf:
            text = text.replace("\n", "\r\n")  # JSON strings hold no raw newline
        return (BOM if self.bom else b"") + text.encode("utf-8")


def json_layout(data: bytes, notebook: object) -> JsonLayout | None:
    """The layout that writes `notebook` back as exactly `data`; None when none does."""
    bom = data.startswith(BOM)
    try:
        text = data[len(BOM) if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError:
        return None
    crlf = "\r\n" in text
    plain = text.replace("\r\n", "\n")
    found = _INDENT.match(plain)
    indents = [found.group(1)] if found else [None]
    for indent in indents:
        separators = [(",", ": ")] if indent is not None else [(", ", ": "), (",", ":")]
        for ensure_ascii in (False, True):
            for separator in separators:
                for final in (True, False):
                    layout = JsonLayout(indent, ensure_ascii, separator, crlf, final, bom)
                    if layout.dump(notebook) == data:
                        return layout
    return None


@dataclass(frozen=True)
class _Cells:
    """The notebook's program, line by line, next to the cell lines it was made from."""

    notebook: dict[str, object]
    program: Program
    raw: list[str]  # each program line as its cell has it
    neutral: list[str]  # each program line as the program has it
    owner: list[int]  # for each program line: its cell's index in the notebook's cells

    @classmethod
    def of(cls, notebook: dict[str, object], program: Program) -> _Cells:
        cells = notebook["cells"]
        assert isinstance(cells, list)
        raw: list[str] = []
        owner: list[int] = []
        for number, _, count in program.cells:
            lines = source_lines(cells[number - 1])
            assert len(lines) == count
            raw += lines
            owner += [number - 1] * count
        return cls(notebook, program, raw, program.text.split("\n")[:-1], owner)

    def magic(self, index: int) -> bool:
        return self.raw[index] != self.neutral[index]


@dataclass(frozen=True)
class Written:
    notebook: dict[str, object]
    changed: list[tuple[int, str, str]]  # (cell number, its source before, after)


def write_back(cells: _Cells, fixed: str) -> Written | str:
    """The notebook with `fixed` (the fixed program) in its cells, or why it cannot be."""
    new = fixed.split("\n")[:-1] if fixed.endswith("\n") else fixed.split("\n")
    old = cells.neutral
    lines: dict[int, list[str]] = {index: [] for index in dict.fromkeys(cells.owner)}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i1, i2):
                lines[cells.owner[k]].append(cells.raw[k])
            continue
        if i1 < i2:
            where = {cells.owner[k] for k in range(i1, i2)}
            if len(where) > 1:
                return "the fix would change code in two cells at once"
            touched = [k for k in range(i1, i2) if cells.magic(k)]
            if touched:
                return (
                    f"the fix would change an IPython line ({cells.program.where(touched[0] + 1)})"
                )
            target = cells.owner[i1]
        else:
            target = _insertion_cell(cells, i1, new[j1])
        lines[target] += new[j1:j2]
    notebook = json.loads(json.dumps(cells.notebook))  # a copy; the original stays as read
    notebook_cells = notebook["cells"]
    changed = []
    for index, cell_lines in lines.items():
        before = source_lines(notebook_cells[index])
        if cell_lines == before:
            continue
        cell = notebook_cells[index]
        source = cell.get("source", "")
        original = "".join(source) if isinstance(source, list) else str(source)
        newline = "\r\n" if "\r\n" in original else "\n"
        text = newline.join(cell_lines)
        cell["source"] = text.splitlines(keepends=True) if isinstance(source, list) else text
        changed.append((index + 1, original, text))
    return Written(notebook, changed)


def _insertion_cell(cells: _Cells, at: int, first: str) -> int:
    """The cell that takes lines inserted before program line `at` (0-based)."""
    owner = cells.owner
    if at == 0:
        return owner[0]
    if at >= len(owner) or owner[at - 1] == owner[at]:
        return owner[at - 1]
    # Between two cells: an indented line continues the cell above; a magic must stay first.
    indented = first[:1] in (" ", "\t")
    starts_with_magic = cells.magic(at) or cells.raw[at].lstrip().startswith("%%")
    return owner[at - 1] if indented or starts_with_magic else owner[at]


def _check(cells: _Cells, layout: JsonLayout | None) -> Callable[[str], str | None]:
    """The fixer's extra check of a fixed program: can it be written back to the cells?"""

    def check(fixed: str) -> str | None:
        if layout is None:
            return "the notebook's JSON layout cannot be written back unchanged"
        written = write_back(cells, fixed)
        if isinstance(written, str):
            return written
        return _written_problem(written, layout, fixed)

    return check


def _written_problem(written: Written, layout: JsonLayout, fixed: str) -> str | None:
    try:
        program = to_program(layout.dump(written.notebook))
    except SourceError as exc:
        return f"the fixed notebook would not read back: {exc}"
    if program.text != fixed:
        return "the fixed code does not map back onto the cells"
    for number, before, after in written.changed:
        if _compiles_alone(before) and not _compiles_alone(after):
            return f"cell {number} would no longer run on its own"
    return None


def _compiles_alone(source: str) -> bool:
    text = "\n".join(neutralise(source.replace("\r\n", "\n").split("\n")))
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<cell>", "exec", flags, dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def fixes_in_cells(
    module: cst.Module, pairs: list[tuple[Finding, Report]], program: Program
) -> list[Finding]:
    """The findings of a notebook's program, a fix that could not be written back to the
    cells (it would change an IPython line, or two cells) said to be no fix, and why."""
    from .positions import locate
    from .rules.fixes import REPLACE, WRAP

    anchors = {id(e.anchor): e.anchor for _, r in pairs if r.fix for e in r.fix.edits}
    if not anchors:
        return [finding for finding, _ in pairs]
    positions = locate(module, anchors.values())
    out = []
    for finding, report in pairs:
        spans = [
            (
                positions[e.anchor].start.line,
                positions[e.anchor].end.line,
                e.kind in (WRAP, REPLACE),
            )
            for e in (report.fix.edits if report.fix else ())
        ]
        problem = program.edit_problem(spans)
        if problem is not None:
            finding = replace(
                finding,
                fixable=False,
                fix_applicability=None,
                fix_message=f"no fix in a notebook: {problem}",
            )
        out.append(finding)
    return out


def fix_notebook(
    path: str,
    data: bytes,
    rules: list[Rule] | None,
    unsafe: bool,
    wanted: Callable[[Finding], bool] | None,
    write: bool,
) -> FixOutcome:
    """Fix a notebook's findings (selected, as `wanted` sees them, by cell and line)."""
    import libcst as cst

    from .engine import InternalError, _syntax_error
    from .fix import FixOutcome, _bug, _Changed, _write_atomic, fix_source

    try:
        program = to_program(data)
        notebook = json.loads(data.decode("utf-8-sig"))
    except (SourceError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return FixOutcome(path, "", error=str(exc))
    if not program.text:
        return FixOutcome(path, "")
    cells = _Cells.of(notebook, program)
    layout = json_layout(data, notebook)
    selected = None if wanted is None else (lambda f: wanted(program.place(f)))
    try:
        outcome = fix_source(
            program.text,
            rules,
            unsafe=unsafe,
            wanted=selected,
            path=path,
            check=_check(cells, layout),
        )
    except SourceError as exc:
        return FixOutcome(path, "", error=f"not analysed: {exc}")
    except cst.ParserSyntaxError as exc:
        message, line = _syntax_error(program.text, exc)
        where = f" in {program.where(line)}" if line else ""
        return FixOutcome(path, "", error=f"syntax error: {message}{where}")
    except RecursionError:
        return FixOutcome(path, "", error="too deeply nested to analyse")
    except MemoryError:
        return FixOutcome(path, "", error="ran out of memory while analysing it")
    except InternalError as exc:
        return FixOutcome(path, "", error=_bug(exc), trace=exc.trace)
    placed = replace(
        outcome,
        before=data.decode("utf-8-sig"),
        fixed=[program.place(f) for f in outcome.fixed],
        rejected=[(program.place(f), why) for f, why in outcome.rejected],
        remaining=[program.place(f) for f in outcome.remaining],
    )
    if outcome.after is None:
        return placed
    assert layout is not None  # the check passed, so there is one
    written = write_back(cells, outcome.after)
    assert not isinstance(written, str)
    payload = layout.dump(written.notebook)
    new_program = to_program(payload)
    placed = replace(
        placed,
        after=payload.decode("utf-8-sig"),
        remaining=[new_program.place(f) for f in outcome.remaining],
        diff=cell_diff(path, written.changed),
    )
    if not write:
        return placed
    try:
        _write_atomic(Path(path), payload, data)
    except (OSError, _Changed) as exc:
        reason = str(exc) if isinstance(exc, _Changed) else f"cannot write: {exc.strerror or exc}"
        placed = replace(
            placed,
            error=reason,
            rejected=placed.rejected + [(f, reason) for f in placed.fixed],
            fixed=[],
            after=None,
            diff=None,
        )
    return placed


def cell_diff(path: str, changed: list[tuple[int, str, str]]) -> str:
    """What the fix changes in a notebook: a unified diff of each changed cell's source, named
    `path:cell N` (as ruff shows notebook fixes), which reads better than a diff of JSON."""
    from .fix import unified_diff

    return "".join(
        unified_diff(f"{path}:cell {number}", _with_end(before), _with_end(after))
        for number, before, after in changed
    )


def _with_end(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"

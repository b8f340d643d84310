"""Per file: read, parse once, analyse once, run the rules, place the findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .analysis.interpret import analyse
from .analysis.program import build_program
from .discover import discover
from .notebook import Program, is_notebook, to_program
from .prefilter import could_matter
from .rules import Rule, all_rules
from .source import SourceError, decode
from .types import FileError, Finding, Location


@dataclass
class Selection:
    """Which rule codes run: `select` prefixes (all when empty) minus `ignore` prefixes."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def rules(self) -> list[Rule]:
        return [r for r in all_rules() if self.wants(r.info.code)]

    def wants(self, code: str) -> bool:
        if self.select and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(i) for i in self.ignore)


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0


def lint_source(
    text: str, path: str = "<string>", rules: list[Rule] | None = None, prefilter: bool = True
) -> list[Finding]:
    """Findings for one file's text. Raises libcst.ParserSyntaxError for invalid source."""
    rules = all_rules() if rules is None else rules
    if prefilter and not could_matter(text):
        return []
    module = cst.parse_module(text)
    model = analyse(build_program(module))
    if not model.complete:
        return []
    reports = [(rule, report) for rule in rules for report in rule.check(model)]
    if not reports:
        return []
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    findings = []
    seen: set[tuple[str, int]] = set()
    for rule, report in reports:
        if (rule.info.code, id(report.node)) in seen:
            continue
        seen.add((rule.info.code, id(report.node)))
        where = positions[report.node]
        location = Location(
            where.start.line, where.start.column + 1, where.end.line, where.end.column + 1
        )
        findings.append(Finding(path, rule.info.code, rule.info.name, report.message, location))
    return sorted(findings, key=lambda f: (f.line, f.column, f.code))


def lint_file(path: str | Path, rules: list[Rule] | None = None) -> list[Finding]:
    """Findings for one file; raises FileErrorException when the file cannot be checked."""
    result = Result()
    _lint_one(Path(path), rules if rules is not None else all_rules(), result)
    if result.errors:
        raise FileErrorException(result.errors[0])
    return result.findings


class FileErrorException(Exception):
    def __init__(self, error: FileError) -> None:
        super().__init__(str(error))
        self.error = error


def lint_paths(paths: Iterable[str], selection: Selection | None = None) -> Result:
    rules = (selection or Selection()).rules()
    result = Result()
    for path in discover(paths):
        _lint_one(path, rules, result)
    result.findings.sort(key=lambda f: (f.path, f.location.cell or 0, f.line, f.column, f.code))
    return result


def _lint_one(path: Path, rules: list[Rule], result: Result) -> None:
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        result.errors.append(FileError(name, "no such file or directory"))
        return
    except IsADirectoryError:
        result.errors.append(FileError(name, "is a directory"))
        return
    except OSError as exc:
        result.errors.append(FileError(name, f"cannot read: {exc.strerror or exc}"))
        return
    program: Program | None = None
    try:
        if is_notebook(name):
            program = to_program(data)
            text = program.text
        else:
            text = decode(data)
    except SourceError as exc:
        result.errors.append(FileError(name, str(exc)))
        return
    try:
        findings = lint_source(text, name, rules)
    except cst.ParserSyntaxError as exc:
        message = str(exc.message).rstrip(".") if hasattr(exc, "message") else "invalid syntax"
        if program is not None:
            message, line = f"{message} in {program.where(exc.raw_line)}", None
        else:
            line = exc.raw_line
        result.errors.append(FileError(name, f"syntax error: {message}", line))
        return
    except RecursionError:
        result.errors.append(FileError(name, "too deeply nested to analyse"))
        return
    if program is not None:
        findings = [program.place(f) for f in findings]
    result.files_checked += 1
    result.findings.extend(findings)

"""JUnit XML, for CI systems that show test reports: one test suite per file with findings,
one failed test case per finding, one test case in error per file that could not be checked;
a clean run is one passing test case."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from ..types import FileError, Finding
from . import PLAIN, Context, where


def render(findings: list[Finding], context: Context = PLAIN) -> str:
    errors = context.errors
    root = ET.Element(
        "testsuites",
        name="lint-train",
        tests=str(max(1, len(findings) + len(errors))),
        failures=str(len(findings)),
        errors=str(len(errors)),
    )
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_path[f.path].append(f)
    errors_by_path: dict[str, list[FileError]] = defaultdict(list)
    for e in errors:
        errors_by_path[e.path].append(e)
    if not findings and not errors:
        suite = ET.SubElement(root, "testsuite", name="lint-train", tests="1", failures="0")
        suite.set("errors", "0")
        ET.SubElement(suite, "testcase", name="no problems found", classname="lint-train")
    for path in dict.fromkeys([*by_path, *errors_by_path]):
        group, failed = by_path.get(path, []), errors_by_path.get(path, [])
        suite = ET.SubElement(root, "testsuite", name=path, tests=str(len(group) + len(failed)))
        suite.set("failures", str(len(group)))
        suite.set("errors", str(len(failed)))
        for e in failed:
            case = ET.SubElement(suite, "testcase", name=f"{e.name}", classname=path, file=path)
            if e.line is not None:
                case.set("line", str(e.line))
            error = ET.SubElement(case, "error", message=e.message, type=e.name)
            error.text = str(e)
        for f in group:
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"{f.code} {f.name} at {_position(f)}",
                classname=path,
                file=path,
            )
            # A notebook's lines count within a cell: as a line of the file, a CI system would
            # point into the notebook's JSON. The test case's name gives cell and line instead.
            if f.location.cell is None:
                case.set("line", str(f.line))
            failure = ET.SubElement(case, "failure", message=f.message, type=f.code)
            failure.text = f"{where(f)}: {f.code} {f.name}  {f.message}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _position(f: Finding) -> str:
    cell = f"cell {f.location.cell}, " if f.location.cell is not None else ""
    return f"{cell}line {f.line}, column {f.column}"

"""Every finding of every buggy fixture and rule-page example, in full: where it points (start
and end), its code and name, its whole message, its related places and what they say, whether
it offers a fix and what that fix says it does (or why there is none), and the exact edit that
`--fix --unsafe-fixes` makes.

The other tests check what the user acts on: which lines are reported, that the fix lints clean
and trains. A rule can still say the wrong thing there (a message with a name missing, a fix
that describes another edit, a related place on the wrong line, a fix that leaves a stray `;`)
and pass them all; mutation testing showed such changes surviving, rule by rule. Here each
finding is written out once, read and checked by hand, and kept in tests/findings/; any change
to what a finding says shows as a diff.

A change made on purpose (a reworded message, a better fix) is recorded with
`LINT_TRAIN_UPDATE_FINDINGS=1 python -m pytest tests/test_findings_in_full.py`; read the diff
of tests/findings/ before committing it.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, fix_outcome

from lint_train.engine import lint_source
from lint_train.fix import FixOutcome, fix_source
from lint_train.types import Finding, Location

EXPECTED = Path(__file__).parent / "findings"
UPDATE = "LINT_TRAIN_UPDATE_FINDINGS"
BUGGY = sorted((FIXTURES / "buggy").glob("*.py"))
PAGES = sorted((ROOT / "rules").glob("TRN*.md"))
EXAMPLE = re.compile(r"## Example\n```python\n(.*?)```", re.DOTALL)


def _span(location: Location) -> str:
    return f"{location.line}:{location.column}-{location.end_line}:{location.end_column}"


def _finding(finding: Finding) -> list[str]:
    lines = [f"{_span(finding.location)} {finding.code} {finding.name}: {finding.message}"]
    lines += [f"  related {_span(r.location)}: {r.message}" for r in finding.related]
    if finding.fixable:
        lines.append(f"  fix ({finding.fix_applicability}): {finding.fix_message}")
    else:
        lines.append(f"  no fix: {finding.fix_message}")
    return lines


def render(text: str, findings: list[Finding], outcome: FixOutcome) -> str:
    """The findings of `text`, then the edit that fixing all of them makes, as a diff."""
    lines = [line for finding in findings for line in _finding(finding)]
    if outcome.after is None:
        lines.append("fixed: nothing changes")
    else:
        lines.append("fixed:")
        diff = difflib.unified_diff(
            text.splitlines(keepends=True), outcome.after.splitlines(keepends=True), n=1
        )
        lines += [line.rstrip("\n") for line in list(diff)[2:]]
    lines += [f"not fixed: {f.line} {f.code}: {why}" for f, why in outcome.rejected]
    lines += [f"still reported: {_span(f.location)} {f.code}" for f in outcome.remaining]
    return "\n".join(lines) + "\n"


def _compare(shown: str, name: str) -> None:
    expected = EXPECTED / f"{name}.txt"
    if os.environ.get(UPDATE) == "1":
        EXPECTED.mkdir(exist_ok=True)
        expected.write_text(shown, encoding="utf-8")
        return
    assert expected.exists(), f"no {expected.name}: record it with {UPDATE}=1, then read it"
    assert shown == expected.read_text(encoding="utf-8"), (
        f"{name}: the findings differ from tests/findings/{expected.name}; if the change is "
        f"meant, record it with {UPDATE}=1 and read the diff"
    )


@pytest.mark.parametrize("path", BUGGY, ids=[p.stem for p in BUGGY])
def test_buggy_fixture_findings_say_exactly_what_they_said_when_checked(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    _compare(render(text, lint_source(text, str(path)), fix_outcome(path)), path.stem)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_rule_page_example_findings_say_exactly_what_they_said_when_checked(page: Path) -> None:
    (text,) = EXAMPLE.findall(page.read_text(encoding="utf-8"))
    _compare(render(text, lint_source(text), fix_source(text, unsafe=True)), page.stem)


def test_every_recorded_finding_belongs_to_a_fixture_or_a_page() -> None:
    # A fixture renamed or removed leaves its record behind, checked against nothing.
    names = {p.stem for p in BUGGY} | {p.stem for p in PAGES}
    assert {p.stem for p in EXPECTED.glob("*.txt")} <= names

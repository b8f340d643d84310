"""Every fixture behaves as written in it: buggy files report exactly their `# expect:` lines,
their fixed twins and the quiet shapes report nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, expected_findings

from lint_train.engine import lint_file

BUGGY = sorted((FIXTURES / "buggy").glob("*.py"))
FIXED = sorted((FIXTURES / "fixed").glob("*.py"))
QUIET = sorted((FIXTURES / "quiet").glob("*.py"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", BUGGY, ids=_ids(BUGGY))
def test_buggy_fixture_reports_exactly_its_expected_findings(path: Path) -> None:
    expected = expected_findings(path)
    assert expected, f"{path.name} declares no `# expect:` comment"
    found = {(f.line, f.code) for f in lint_file(path)}
    assert found == expected


@pytest.mark.parametrize("path", FIXED + QUIET, ids=_ids(FIXED + QUIET))
def test_fixed_and_quiet_fixtures_report_nothing(path: Path) -> None:
    assert not expected_findings(path), f"{path.name} must not carry `# expect:` comments"
    findings = lint_file(path)
    assert findings == [], "\n".join(f"{f.line}: {f.code} {f.message}" for f in findings)


def test_every_buggy_fixture_has_a_fixed_twin() -> None:
    assert {p.name for p in BUGGY} == {p.name for p in FIXED}


@pytest.mark.parametrize("code", ["TRN001", "TRN002", "TRN003", "TRN004", "TRN005"])
def test_each_rule_has_at_least_six_buggy_shapes(code: str) -> None:
    shapes = [p for p in BUGGY if any(c == code for _, c in expected_findings(p))]
    assert len(shapes) >= 6, f"{code} has {len(shapes)} buggy fixtures"

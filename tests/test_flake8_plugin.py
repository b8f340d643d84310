"""The flake8 plugin, run through real flake8: the same findings as lint-train itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, require

# Run through `python -m flake8`; without flake8 every test here would fail obscurely.
require("flake8")

BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"


def _flake8(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "TRN", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _lint_train(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lint_train.cli", "--isolated", "--output-format", "concise", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_flake8_registers_the_plugin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True
    )
    assert "lint-train:" in done.stdout


FOLDERS = [str(FIXTURES / "buggy"), str(FIXTURES / "quiet")]


@pytest.fixture(scope="module")
def flake8_default() -> subprocess.CompletedProcess[str]:
    """flake8 on the buggy and quiet fixtures, default rules: run once, read by two tests."""
    return _flake8(*FOLDERS)


def test_flake8_reports_the_same_findings_as_lint_train(flake8_default) -> None:
    ours = _lint_train(*FOLDERS)
    theirs = flake8_default
    assert ours.returncode == theirs.returncode == 1
    expected = sorted(ours.stdout.splitlines())
    assert len(expected) > 40
    assert sorted(theirs.stdout.splitlines()) == expected


def test_flake8_is_quiet_on_fixed_scripts() -> None:
    done = _flake8(str(FIXTURES / "fixed"))
    assert (done.returncode, done.stdout) == (0, "")


def test_flake8_noqa_applies_to_lint_train_codes(tmp_path: Path) -> None:
    text = BUGGY.read_text()
    (tmp_path / "silenced.py").write_text(text.replace("# expect: TRN001", "# noqa: TRN001"))
    (tmp_path / "other.py").write_text(text.replace("# expect: TRN001", "# noqa: E501"))
    done = _flake8(".", cwd=tmp_path)
    assert done.returncode == 1
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["./other.py"]


def test_flake8_leaves_syntax_errors_to_flake8(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import torch\n\nloss.backward(\ndef\n")
    done = _flake8("--select", "TRN,E999", "broken.py", cwd=tmp_path)
    assert "E999" in done.stdout
    assert "Traceback" not in done.stderr


def test_flake8_runs_preview_rules_only_when_asked(flake8_default) -> None:
    folder = str(FIXTURES / "buggy")
    default = flake8_default
    preview = _flake8("--lint-train-preview", folder)
    ours = _lint_train("--preview", folder)
    assert " TRN008 " not in default.stdout
    assert " TRN008 " in preview.stdout
    assert sorted(preview.stdout.splitlines()) == sorted(ours.stdout.splitlines())

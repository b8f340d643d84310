"""`lint-train verify` arguments and import hygiene; nothing here runs a script or needs torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lint_train.runtime.verify import main


def test_help_warns_that_verify_executes_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "EXECUTES the script" in out
    assert "--max-steps" in out
    assert "--timeout" in out


def test_a_missing_script_is_exit_2_with_one_line_on_stderr(capsys) -> None:
    assert main(["no/such/script.py"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "lint-train verify: error: no such file: no/such/script.py"


@pytest.mark.parametrize(
    "bad", [["--max-steps", "0"], ["--timeout", "-1"], ["--threshold", "1.5"], ["--nope"]]
)
def test_bad_options_are_exit_2(bad: list[str], tmp_path, capsys) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    assert main([*bad, str(script)]) == 2
    assert "usage:" in capsys.readouterr().err


def test_the_lead_cli_dispatches_verify(capsys: pytest.CaptureFixture[str]) -> None:
    from lint_train.cli import main as cli_main

    assert cli_main(["verify", "--help"]) == 0
    assert "lint-train verify" in capsys.readouterr().out


def test_neither_linting_nor_the_verify_parent_imports_torch() -> None:
    code = (
        "import sys\n"
        "import lint_train.cli, lint_train.engine\n"
        "import lint_train.runtime.verify, lint_train.runtime.reference\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

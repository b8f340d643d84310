"""Rules in preview (as in ruff): they run only with `--preview` or `preview = true`, and
selecting one by its code without preview enables nothing but says so on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train.cli import main
from lint_train.engine import Selection
from lint_train.rules import rule_table

BARE = FIXTURES / "buggy" / "trn008_zero_grad_without_parens.py"


def _codes(out: str) -> set[str]:
    return {line.split()[1] for line in out.splitlines()}


def test_the_new_rules_ship_in_preview() -> None:
    table = rule_table()
    preview = {code for code, info in table.items() if info.preview}
    assert preview == {"TRN006", "TRN008", "TRN009", "TRN010", "TRN011"}
    assert not any(table[code].preview for code in ("TRN001", "TRN002", "TRN003", "TRN007"))


def test_preview_rules_do_not_run_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--isolated", str(BARE)]) == 1
    assert _codes(capsys.readouterr().out) == {"TRN001"}


def test_preview_flag_runs_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--isolated", "--preview", str(BARE)]) == 1
    assert _codes(capsys.readouterr().out) == {"TRN001", "TRN008"}


def test_selecting_a_preview_code_without_preview_says_so_and_runs_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--isolated", "--select", "TRN008", str(BARE)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "warning: selection `TRN008` has no effect because preview is not enabled" in err
    assert main(["--isolated", "--preview", "--select", "TRN008", str(BARE)]) == 1
    out, err = capsys.readouterr()
    assert _codes(out) == {"TRN008"}
    assert "warning" not in err


def test_a_selector_that_also_picks_stable_rules_gives_no_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--isolated", "--select", "TRN00", str(BARE)]) == 1
    out, err = capsys.readouterr()
    assert _codes(out) == {"TRN001"}
    assert "warning" not in err


def test_preview_in_the_configuration_and_no_preview_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.lint-train]\npreview = true\n")
    script = tmp_path / BARE.name
    script.write_text(BARE.read_text())
    assert main([str(script)]) == 1
    assert _codes(capsys.readouterr().out) == {"TRN001", "TRN008"}
    assert main(["--no-preview", str(script)]) == 1
    assert _codes(capsys.readouterr().out) == {"TRN001"}


def test_preview_must_be_a_boolean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.lint-train]\npreview = "yes"\n')
    (tmp_path / "a.py").write_text("x = 1\n")
    assert main([str(tmp_path / "a.py")]) == 2
    err = capsys.readouterr().err
    assert "preview: expected true or false" in err


def test_preview_keys_the_cache_apart() -> None:
    assert Selection().describe() != Selection(preview=True).describe()
    assert {r.info.code for r in Selection().rules()} < {
        r.info.code for r in Selection(preview=True).rules()
    }

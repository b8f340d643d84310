"""`--explain CODE` and `--list-rules`, from a checkout and from an installed wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from lint_train.cli import main
from lint_train.rules import rule_table

PAGE = ROOT / "rules" / "TRN003-missing-no-grad.md"


def test_explain_prints_the_rule_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--explain", "TRN003"]) == 0
    assert capsys.readouterr().out == PAGE.read_text(encoding="utf-8")
    assert main(["--explain", "trn003"]) == 0
    assert capsys.readouterr().out == PAGE.read_text(encoding="utf-8")


@pytest.mark.parametrize("code", ["TRN999", "TRN00", "E501"])
def test_explain_of_an_unknown_code_is_an_error(
    capsys: pytest.CaptureFixture[str], code: str
) -> None:
    assert main(["--explain", code]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert code in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("typed", ["train.py", "trn9", "e501"])
def test_explain_shows_the_input_as_typed(capsys: pytest.CaptureFixture[str], typed: str) -> None:
    assert main(["--explain", typed]) == 2
    err = capsys.readouterr().err
    assert f"{typed!r} is not a lint-train rule code" in err
    assert typed.upper() not in err


def test_list_rules_prints_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = rule_table()
    assert len(lines) == len(table)
    for line, (code, info) in zip(lines, sorted(table.items()), strict=True):
        assert line.split()[:2] == [code, info.name]
        assert line.endswith(info.summary)
        assert ("[preview]" in line) == info.preview


def test_explain_works_from_an_installed_wheel(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("lint_train-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    assert (site / "lint_train" / "rule_pages" / PAGE.name).is_file()
    # Import the unpacked wheel ahead of the editable checkout, from a folder far from it.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import lint_train; "
        "assert lint_train.__file__.startswith(sys.argv[1]), lint_train.__file__; "
        "from lint_train.cli import main; sys.exit(main(['--explain', 'TRN003']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == PAGE.read_text(encoding="utf-8")

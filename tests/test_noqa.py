"""`# noqa` comments, as a flake8 or ruff user writes them, through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train.cli import main
from lint_train.noqa import ALL, directives

BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
MARKER = "# expect: TRN001"


def _script(tmp_path: Path, comment: str) -> Path:
    """The buggy fixture with `comment` in place of its expectation on the reported line."""
    text = BUGGY.read_text(encoding="utf-8")
    assert text.count(MARKER) == 1
    path = tmp_path / "train.py"
    path.write_text(text.replace(MARKER, comment), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa: TRN001",
        "# noqa:TRN001",
        "# NOQA: TRN001",
        "# noqa: E501, TRN001",
        "# noqa: E501 TRN001 clearing once is intended here",
        "# noqa",
        "#noqa",
        "# noqa: TRN00",
    ],
)
def test_noqa_on_the_reported_line_suppresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], comment: str
) -> None:
    assert main([str(_script(tmp_path, comment))]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "All checks passed (1 file checked, 1 suppressed by noqa)." in err


@pytest.mark.parametrize(
    "comment", ["# noqa: E501", "# noqa: TRN003", "# noqa: TRN0011", "# no qa", "# qa"]
)
def test_noqa_for_other_codes_does_not_suppress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], comment: str
) -> None:
    assert main([str(_script(tmp_path, comment))]) == 1
    out, err = capsys.readouterr()
    assert ": TRN001 missing-zero-grad  " in out
    assert "suppressed" not in err


def test_noqa_on_another_line_does_not_suppress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The finding is reported on the `step()` line; the loop header, where it used to be
    # reported, and the backward line just before the step are other lines.
    lines = BUGGY.read_text(encoding="utf-8").splitlines()
    reported = next(i for i, text in enumerate(lines) if MARKER in text)
    header = next(i for i, text in enumerate(lines) if "for x, y in train_batches" in text)
    assert header < reported
    lines[reported] = lines[reported].replace(MARKER, "")
    lines[header] += "  # noqa: TRN001"
    lines[reported - 1] += "  # noqa"
    path = tmp_path / "train.py"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main([str(path)]) == 1
    assert f"{path}:{reported + 1}:" in capsys.readouterr().out


def test_noqa_inside_a_string_is_not_a_comment() -> None:
    text = 'x = "# noqa"\ny = 1  # noqa: TRN001\nz = 2  # not a noqa: TRN002\n'
    assert directives(text) == {2: frozenset({"TRN001"})}


def test_bare_noqa_suppresses_every_code() -> None:
    assert directives("loss.backward()  # noqa\n") == {1: ALL}


def test_show_suppressed_lists_them_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(tmp_path, "# noqa: TRN001")
    assert main(["--show-suppressed", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    listed = [line for line in err.splitlines() if "[suppressed by # noqa]" in line]
    assert len(listed) == 1
    assert listed[0].startswith(f"{path}:")
    assert " TRN001 missing-zero-grad  " in listed[0]


def test_suppressed_findings_do_not_appear_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(tmp_path, "# noqa")
    assert main(["--output-format", "json", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "[]"

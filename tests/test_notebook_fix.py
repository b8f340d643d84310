"""`--fix`, `--diff` and `verify` on notebooks: the fixes are made to the program of the code
cells and written back to the cells, with everything else in the file kept byte for byte; a fix
that cannot be written back is no fix, wherever the finding is shown; verify runs the cells."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from conftest import require

from lint_train.cli import main
from lint_train.fix import fix_file

IMPORTS = "import torch\nfrom torch import nn\n\ntorch.manual_seed(0)"
SETUP = (
    "%matplotlib inline\n"
    "!nvidia-smi\n"
    "model = nn.Linear(4, 1)\n"
    "optimizer = torch.optim.SGD(model.parameters(), lr=0.05)\n"
    "loss_fn = nn.MSELoss()\n"
    "true_w = torch.randn(4, 1)\n"
    "batches = [(x, x @ true_w) for x in (torch.randn(16, 4) for _ in range(8))]\n"
    "optimizer.zero_grad()"
)
# Gradients are cleared once, before the loop: TRN001, fixed by --fix.
LOOP = (
    "%%time\n"
    "for epoch in range(10):\n"
    "    for x, y in batches:\n"
    "        loss = loss_fn(model(x), y)\n"
    "        loss.backward()\n"
    "        optimizer.step()\n"
    "print(f'final loss {loss.item():.4f} — done')"
)
FIXED_LOOP = LOOP.replace(
    "        loss.backward()\n", "        optimizer.zero_grad()\n        loss.backward()\n"
)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9a"


def _cell(kind: str, text: str, as_list: bool = True, number: int = 1) -> dict[str, object]:
    cell: dict[str, object] = {
        "cell_type": kind,
        "id": f"cell-{number}",
        "metadata": {"tags": ["training"], "collapsed": False},
        "source": text.splitlines(keepends=True) if as_list else text,
    }
    if kind == "code":
        cell["execution_count"] = number
        cell["outputs"] = [
            {"name": "stdout", "output_type": "stream", "text": ["epoch 1: 0.25 µs\n"]},
            {
                "data": {"image/png": PNG, "text/plain": ["<Figure size 640x480>"]},
                "metadata": {"needs_background": "light"},
                "output_type": "display_data",
            },
        ]
    return cell


def _notebook(*cells: tuple[str, str], as_list: bool = True) -> dict[str, object]:
    return {
        "cells": [
            _cell(kind, text, as_list, number) for number, (kind, text) in enumerate(cells, 1)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _nbformat(notebook: dict[str, object]) -> bytes:
    """The bytes nbformat (and Jupyter) write: indent 1, sorted keys, UTF-8, final newline."""
    return (json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


BUGGY = _notebook(
    ("markdown", "# Régression\nA tiny model."), ("code", IMPORTS), ("code", SETUP), ("code", LOOP)
)


def _fixed_version(notebook: dict[str, object], cell: int, text: str) -> dict[str, object]:
    fixed = copy.deepcopy(notebook)
    source = fixed["cells"][cell - 1]["source"]  # type: ignore[index]
    fixed["cells"][cell - 1]["source"] = (  # type: ignore[index]
        text.splitlines(keepends=True) if isinstance(source, list) else text
    )
    return fixed


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Fixing --------------------------------------------------------------------------------------
def test_fix_writes_the_cell_back_and_keeps_the_rest_of_the_file_byte_for_byte(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "train.ipynb").write_bytes(_nbformat(BUGGY))
    assert main(["--fix", "--no-cache", "train.ipynb"]) == 0
    err = capsys.readouterr().err
    assert "Fixed 1 problem in 1 file; 0 remaining." in err
    assert "not fixed" not in err
    # Only the loop's cell changed, by one line; outputs, metadata, ids, the other cells, key
    # order, indentation and non-ASCII text are as they were.
    assert (work / "train.ipynb").read_bytes() == _nbformat(_fixed_version(BUGGY, 4, FIXED_LOOP))
    assert main(["--no-cache", "train.ipynb"]) == 0


def test_fixing_a_notebook_twice_changes_nothing_the_second_time(work: Path) -> None:
    target = work / "train.ipynb"
    target.write_bytes(_nbformat(BUGGY))
    first = fix_file(target)
    assert first.changed and [(f.code, f.location.cell, f.line) for f in first.fixed] == [
        ("TRN001", 4, 6)
    ]
    once = target.read_bytes()
    modified = target.stat().st_mtime_ns
    again = fix_file(target)
    assert not again.changed and again.remaining == [] and again.error is None
    assert target.read_bytes() == once
    assert target.stat().st_mtime_ns == modified


LAYOUTS = {
    "indent 2, ASCII escapes, no final newline": lambda nb: json.dumps(
        nb, indent=2, ensure_ascii=True
    ).encode(),
    "one line": lambda nb: json.dumps(nb, ensure_ascii=False).encode(),
    "compact": lambda nb: json.dumps(nb, separators=(",", ":")).encode() + b"\n",
    "tabs, CRLF, byte-order mark": lambda nb: (
        b"\xef\xbb\xbf"
        + json.dumps(nb, indent="\t", ensure_ascii=False).replace("\n", "\r\n").encode()
        + b"\r\n"
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_json_layout_of_the_file_is_kept(work: Path, layout: str) -> None:
    write = LAYOUTS[layout]
    target = work / "train.ipynb"
    target.write_bytes(write(BUGGY))
    assert fix_file(target).changed
    assert target.read_bytes() == write(_fixed_version(BUGGY, 4, FIXED_LOOP))


def test_a_cell_source_given_as_a_string_stays_a_string(work: Path) -> None:
    notebook = _notebook(("code", IMPORTS), ("code", SETUP), ("code", LOOP), as_list=False)
    target = work / "train.ipynb"
    target.write_bytes(_nbformat(notebook))
    assert fix_file(target).changed
    written = json.loads(target.read_bytes())
    assert written["cells"][2]["source"] == FIXED_LOOP
    assert target.read_bytes() == _nbformat(_fixed_version(notebook, 3, FIXED_LOOP))


def test_diff_shows_the_cells_change_and_writes_nothing(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "train.ipynb").write_bytes(_nbformat(BUGGY))
    assert main(["--diff", "--no-cache", "train.ipynb"]) == 1
    out, err = capsys.readouterr()
    assert out == (
        "--- a/train.ipynb:cell 4\n"
        "+++ b/train.ipynb:cell 4\n"
        "@@ -2,6 +2,7 @@\n"
        " for epoch in range(10):\n"
        "     for x, y in batches:\n"
        "         loss = loss_fn(model(x), y)\n"
        "+        optimizer.zero_grad()\n"
        "         loss.backward()\n"
        "         optimizer.step()\n"
        " print(f'final loss {loss.item():.4f} — done')\n"
    )
    assert "Would fix 1 problem in 1 file" in err
    assert (work / "train.ipynb").read_bytes() == _nbformat(BUGGY)
    assert sorted(p.name for p in work.iterdir()) == ["train.ipynb"]


def test_a_failed_write_leaves_the_notebook_whole_and_no_temporary_file(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = work / "train.ipynb"
    target.write_bytes(_nbformat(BUGGY))

    def full_disk(source: object, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    outcome = fix_file(target)
    assert outcome.error == "cannot write: No space left on device"
    assert not outcome.changed and outcome.fixed == []
    assert [f.code for f, _ in outcome.rejected] == ["TRN001"]
    assert target.read_bytes() == _nbformat(BUGGY)
    assert sorted(p.name for p in work.iterdir()) == ["train.ipynb"]


# Statements inserted between two cells go where they belong.
TRAIN_CELL = (
    "for x, y in batches:\n"
    "    optimizer.zero_grad()\n"
    "    loss_fn(model(x), y).backward()\n"
    "    optimizer.step()"
)
EVAL_CELL = (
    "for x, y in val_batches:\n"
    "    with torch.no_grad():\n"
    "        print(loss_fn(model(x), y).item())"
)
DROPOUT_SETUP = (
    SETUP.replace("nn.Linear(4, 1)", "nn.Sequential(nn.Dropout(0.2), nn.Linear(4, 1))")
    + "\nval_batches = batches[:2]"
)


def test_a_statement_put_before_a_cells_first_line_goes_into_that_cell(work: Path) -> None:
    """`model.eval()` goes before the evaluation loop that starts cell 4, not at the end of the
    training cell above it (the same program, but not where a reader looks for it)."""
    notebook = _notebook(
        ("code", IMPORTS), ("code", DROPOUT_SETUP), ("code", TRAIN_CELL), ("code", EVAL_CELL)
    )
    target = work / "train.ipynb"
    target.write_bytes(_nbformat(notebook))
    outcome = fix_file(target, unsafe=True)
    assert [(f.code, f.location.cell) for f in outcome.fixed] == [("TRN004", 4)]
    expected = _fixed_version(notebook, 4, "model.eval()\n" + EVAL_CELL)
    assert target.read_bytes() == _nbformat(expected)


# What cannot be written back is no fix, everywhere -----------------------------------------
EVAL_WITH_SHELL_LINE = (
    "model.eval()\n"
    "val_batches, total = batches[:2], 0.0\n"
    "for x, y in val_batches:\n"
    "    !echo batch\n"
    "    total += loss_fn(model(x), y).item()\n"
    "print(total)"
)


def test_a_fix_that_would_change_an_ipython_line_is_no_fix_anywhere(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = _notebook(("code", IMPORTS), ("code", SETUP), ("code", EVAL_WITH_SHELL_LINE))
    target = work / "eval.ipynb"
    target.write_bytes(_nbformat(notebook))
    assert main(["--no-cache", "--output-format", "json", "eval.ipynb"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert (finding["code"], finding["cell"], finding["line"]) == ("TRN003", 3, 5)
    assert finding["fixable"] is False and finding["fix"] is None
    assert finding["no_fix_reason"] == (
        "no fix in a notebook: the fix would change an IPython line (cell 3, line 4)"
    )
    assert main(["--no-cache", "eval.ipynb"]) == 1
    assert "fixable" not in capsys.readouterr().err
    assert main(["--no-cache", "--fix", "eval.ipynb"]) == 1
    err = capsys.readouterr().err
    assert "fixable" not in err and "not fixed" not in err
    assert "Fixed 0 problems in 0 files; 1 remaining." in err
    assert target.read_bytes() == _nbformat(notebook)
    # The fixer, asked directly, refuses it for the same reason.
    outcome = fix_file(target)
    assert not outcome.changed
    ((_, reason),) = outcome.rejected
    assert reason == "the fix would change an IPython line (cell 3, line 4)"


def test_the_same_loop_without_the_shell_line_is_fixed(work: Path) -> None:
    plain = EVAL_WITH_SHELL_LINE.replace("    !echo batch\n", "")
    notebook = _notebook(("code", IMPORTS), ("code", SETUP), ("code", plain))
    target = work / "eval.ipynb"
    target.write_bytes(_nbformat(notebook))
    assert fix_file(target).changed
    assert "with torch.no_grad():\n" in json.loads(target.read_bytes())["cells"][2]["source"]


# verify runs the code cells ------------------------------------------------------------------
@pytest.fixture(scope="module")
def verify():  # type: ignore[no-untyped-def]
    require("torch")
    from lint_train.runtime.verify import Options, verify_script

    options = Options(max_steps=200, timeout=60, threads=1, static=True)
    return lambda path: verify_script(str(path), (), options)


def test_verify_runs_the_cells_the_buggy_notebook_fails_and_the_fixed_one_trains(
    work: Path, verify
) -> None:
    target = work / "train.ipynb"
    target.write_bytes(_nbformat(BUGGY))
    buggy = verify(target)
    assert buggy.status == "finished", buggy.error
    assert [f.code for f in buggy.findings] == ["TRN001"]
    assert [(f.code, f.cell, f.line) for f in buggy.static] == [("TRN001", 4, 6)]
    assert not buggy.verdict.trained and buggy.exit_code == 1
    assert fix_file(target).changed
    fixed = verify(target)
    assert fixed.status == "finished", fixed.error
    assert fixed.findings == [] and fixed.static == []
    assert fixed.verdict.trained and fixed.exit_code == 0
    # The %%time cell ran, and its print went to the output: magics were skipped, not the cell.
    assert "— done" in fixed.output_tail


def test_verify_names_the_cell_and_line_of_an_error(work: Path, verify) -> None:
    notebook = _notebook(("markdown", "# Setup"), ("code", IMPORTS), ("code", "x = 1\ny = x + z"))
    target = work / "broken.ipynb"
    target.write_bytes(_nbformat(notebook))
    report = verify(target)
    assert report.status == "failed" and report.exit_code == 2
    assert report.how == "NameError: name 'z' is not defined"
    assert 'File "' + str(target) + '", cell 3, line 2, in <module>' in report.error
    assert "y = x + z" in report.error  # the code quoted, not the JSON


def test_verify_refuses_a_notebook_it_cannot_read_in_one_line(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require("torch")
    (work / "bad.ipynb").write_text("{not json", encoding="utf-8")
    assert main(["verify", "bad.ipynb"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("lint-train verify: error: bad.ipynb: not a readable notebook")
    assert len(err.splitlines()) == 1


# Writing a fixed program back to the cells, line by line -----------------------------------
def _cells(*sources: str):  # type: ignore[no-untyped-def]
    from lint_train.notebook import to_program
    from lint_train.notebook_fix import _Cells

    notebook = _notebook(*(("code", source) for source in sources))
    return _Cells.of(notebook, to_program(_nbformat(notebook)))


def test_an_indented_line_inserted_between_cells_continues_the_cell_above() -> None:
    from lint_train.notebook_fix import write_back

    cells = _cells("for x in batches:\n    step(x)", "report()")
    written = write_back(cells, "for x in batches:\n    step(x)\n    clear()\nreport()\n")
    assert not isinstance(written, str)
    assert written.changed == [
        (1, "for x in batches:\n    step(x)", "for x in batches:\n    step(x)\n    clear()")
    ]


def test_a_change_across_two_cells_is_refused() -> None:
    from lint_train.notebook_fix import write_back

    cells = _cells("a = 1", "b = 2")
    assert write_back(cells, "a = 10\nb = 20\n") == (
        "the fix would change code in two cells at once"
    )

"""Jupyter notebooks: code cells checked as one program, IPython syntax tolerated, locations
given as cell and line."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import require
from test_formats import _sarif_schema

from lint_train.cli import main
from lint_train.notebook import to_program

IMPORTS = "import torch\nfrom torch import nn\n"
SETUP = (
    "%matplotlib inline\n"
    "!nvidia-smi\n"
    "model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.Linear(16, 1))\n"
    "optimizer = torch.optim.SGD(model.parameters(), lr=0.05)\n"
    "loss_fn = nn.MSELoss()\n"
    "batches = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(8)]\n"
    "optimizer.zero_grad()"
)
LOOP = (
    "%%time\n"
    "for epoch in range(3):\n"
    "    for x, y in batches:\n"
    "        loss = loss_fn(model(x), y)\n"
    "        loss.backward()\n"
    "        optimizer.step()"
)
FIXED_LOOP = LOOP.replace(
    "    for x, y in batches:\n", "    for x, y in batches:\n        optimizer.zero_grad()\n"
)
IPYTHON_ODDITIES = (
    "files = !ls\n"
    "model?\n"
    "if True:\n"
    "    !echo inside a block\n"
    "%env CUDA_VISIBLE_DEVICES=0\n"
    'doc = """\n'
    "%d steps, kept as it is\n"
    '"""'
)


def _notebook(*cells: tuple[str, str], language: str = "python") -> str:
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": kind,
                    "metadata": {},
                    "source": text.splitlines(keepends=True),
                    **({"outputs": [], "execution_count": None} if kind == "code" else {}),
                }
                for kind, text in cells
            ],
            "metadata": {"language_info": {"name": language}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def _write(folder: Path, name: str, *cells: tuple[str, str], **kw: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_notebook(*cells, **kw), encoding="utf-8")
    return path


BUGGY_CELLS = (
    ("markdown", "# Training\nA tiny regression."),
    ("code", IMPORTS),
    ("code", SETUP),
    ("code", IPYTHON_ODDITIES),
    ("code", LOOP),
)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_finding_in_a_notebook_names_the_cell_and_its_line(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(work, "train.ipynb", *BUGGY_CELLS)
    assert main(["train.ipynb"]) == 1
    out, err = capsys.readouterr()
    # Cell 5 (the markdown cell counts), its sixth line, where the step on uncleared gradients is.
    assert out.startswith("train.ipynb:cell 5:6:9: TRN001 missing-zero-grad  ")
    assert "error" not in err
    assert main(["--output-format", "json", "train.ipynb"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert (finding["cell"], finding["line"], finding["column"]) == (5, 6, 9)
    # The loop around the step, as a related place, counts its lines within its cell too.
    [loop] = finding["related"]
    assert (loop["cell"], loop["line"], loop["column"]) == (5, 3, 5)
    assert finding["end_line"] >= finding["line"]


def test_cells_are_one_program_and_the_fixed_notebook_is_clean(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = [*BUGGY_CELLS[:-1], ("code", FIXED_LOOP)]
    _write(work, "train.ipynb", *cells)
    assert main(["train.ipynb"]) == 0
    assert "1 file checked" in capsys.readouterr().err


def test_ipython_syntax_does_not_break_parsing() -> None:
    program = to_program(_notebook(("code", IPYTHON_ODDITIES)).encode())
    assert program.text.splitlines() == [
        "files = None",
        "pass",
        "if True:",
        "    pass",
        "pass",
        'doc = """',
        "%d steps, kept as it is",
        '"""',
    ]


def test_percent_continuing_a_python_line_is_the_formatting_operator_not_a_magic() -> None:
    cell = "\n".join(
        [
            'print("epoch %d, loss %.3f"',
            "      % (epoch, loss))",
            "label = ('acc: '",
            "         '%.1f' % acc)",
            "total = 10 \\",
            "    % 3",
            "print({'a': 1,  # a comment with ( in it",
            "       'b': 2})",
            "%matplotlib inline",
            "!nvidia-smi",
        ]
    )
    program = to_program(_notebook(("code", cell)).encode())
    kept, magics = program.text.splitlines()[:8], program.text.splitlines()[8:]
    assert kept == cell.splitlines()[:8]
    assert magics == ["pass", "pass"]
    compile(program.text, "<cell>", "exec")


def test_a_cell_indented_as_a_whole_is_read_dedented_as_ipython_runs_it(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    indented = "\n".join("    " + line if line else "" for line in LOOP.splitlines()[1:])
    program = to_program(_notebook(("code", indented)).encode())
    assert program.text.splitlines()[:2] == ["for epoch in range(3):", "    for x, y in batches:"]
    _write(work, "train.ipynb", *BUGGY_CELLS[:-1], ("code", indented))
    assert main(["train.ipynb"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("train.ipynb:cell 5:5:9: TRN001 missing-zero-grad  "), err


def test_a_cell_indented_unevenly_is_still_a_syntax_error() -> None:
    program = to_program(_notebook(("code", "    x = 1\ny = 2")).encode())
    assert program.text == "    x = 1\ny = 2\n"


def test_non_python_cell_magic_blanks_the_cell_and_keeps_line_numbers() -> None:
    cells = [("code", "%%bash\nfor f in *; do echo $f; done"), ("code", "x = 1")]
    program = to_program(_notebook(*cells).encode())
    assert program.text == "\n\nx = 1\n"
    assert program.where(3) == "cell 2, line 1"


def test_noqa_in_a_cell_suppresses(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = LOOP.replace("optimizer.step()", "optimizer.step()  # noqa: TRN001")
    _write(work, "train.ipynb", *BUGGY_CELLS[:-1], ("code", loop))
    assert main(["train.ipynb"]) == 0
    assert "1 suppressed by noqa" in capsys.readouterr().err


def test_show_source_shows_the_cell_line(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(work, "train.ipynb", *BUGGY_CELLS)
    assert main(["--show-source", "train.ipynb"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == " 6 |         optimizer.step()"
    assert lines[2] == "   |         " + "^" * len("optimizer.step()")


def test_syntax_error_names_the_cell(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(work, "broken.ipynb", ("code", IMPORTS), ("code", "loss.backward(\ndef"))
    assert main(["broken.ipynb"]) == 2
    err = capsys.readouterr().err
    assert "broken.ipynb: error: syntax error" in err
    assert "in cell 2, line" in err


def test_folders_are_searched_for_notebooks_but_not_checkpoints(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(work, "nbs/train.ipynb", *BUGGY_CELLS)
    _write(work, "nbs/.ipynb_checkpoints/train-checkpoint.ipynb", *BUGGY_CELLS)
    assert main(["."]) == 1
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()] == ["nbs/train.ipynb"]
    assert "1 file checked" in err


def test_notebook_of_another_language_is_skipped(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(work, "analysis.ipynb", ("code", "library(torch)\nx <- 1"), language="R")
    assert main(["analysis.ipynb"]) == 0
    capsys.readouterr()


def test_unreadable_notebook_is_an_error(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "bad.ipynb").write_text("{not json")
    assert main(["bad.ipynb"]) == 2
    assert "bad.ipynb: error: not a readable notebook" in capsys.readouterr().err


def test_baseline_matches_notebook_findings(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(work, "train.ipynb", *BUGGY_CELLS)
    assert main(["--write-baseline", "baseline.json", "."]) == 0
    # A new cell above moves the finding to another cell; it is still the known one.
    _write(work, "train.ipynb", ("code", "SEED = 0"), *BUGGY_CELLS)
    assert main(["--baseline", "baseline.json", "."]) == 0
    assert "1 in the baseline" in capsys.readouterr().err


def test_machine_formats_do_not_give_a_cell_line_as_a_file_line(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(work, "train.ipynb", *BUGGY_CELLS)
    assert main(["--output-format", "github", "train.ipynb"]) == 1
    command = capsys.readouterr().out.strip()
    assert command.startswith("::error title=lint-train (TRN001),file=train.ipynb::cell 5, line 6:")
    assert main(["--output-format", "sarif", "train.ipynb"]) == 1
    log = json.loads(capsys.readouterr().out)
    validator = require("jsonschema").Draft4Validator(_sarif_schema())
    assert [e.message for e in validator.iter_errors(log)] == []
    (result,) = log["runs"][0]["results"]
    assert "region" not in result["locations"][0]["physicalLocation"]
    assert result["properties"] == {"cell": 5, "line": 6, "column": 9}
    assert result["message"]["text"].startswith("cell 5, line 6: ")
    assert main(["--output-format", "gitlab", "train.ipynb"]) == 1
    (issue,) = json.loads(capsys.readouterr().out)
    assert issue["location"]["lines"] == {"begin": 1, "end": 1}
    assert issue["description"].startswith("cell 5, line 6: TRN001")


def test_junit_does_not_give_a_cell_line_as_a_file_line(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(work, "train.ipynb", *BUGGY_CELLS)
    assert main(["--output-format", "junit", "train.ipynb"]) == 1
    root = ElementTree.fromstring(capsys.readouterr().out)
    (case,) = root.iter("testcase")
    assert case.get("file") == "train.ipynb"
    assert case.get("line") is None
    assert case.get("name") == "TRN001 missing-zero-grad at cell 5, line 6, column 9"

"""`lint-train verify` end to end: its text and JSON reports, exit codes, --plot and --static."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from conftest import require

require("torch")

from lint_train.runtime.verify import main  # noqa: E402

TRAINS = """\
import sys
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
print("noise on stdout that must not reach the report")
for epoch in range(20):
    for i in range(0, 64, 16):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[i : i + 16]), y[i : i + 16])
        loss.backward()
        opt.step()
"""

NEVER_CLEARS = TRAINS.replace("        opt.zero_grad()\n", "")


@pytest.fixture
def script(tmp_path: Path):
    def write(text: str, name: str = "train.py") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def test_a_training_script_is_reported_as_trained_with_exit_0(script, capsys) -> None:
    assert main(["--threads", "1", script(TRAINS)]) == 0
    out = capsys.readouterr().out
    assert "ran to the end" in out
    assert "80 optimizer steps, 80 backward calls, 80 zero_grad calls (SGD)" in out
    assert "runtime    none" in out
    assert out.splitlines()[-1].startswith("verdict: trained (the loss fell")
    assert "noise on stdout" not in out


def test_the_json_report_carries_the_same_facts(script, capsys) -> None:
    assert main(["--threads", "1", "--output-format", "json", script(NEVER_CLEARS)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "finished"
    assert (report["steps"], report["backward_calls"], report["zero_grad_calls"]) == (80, 80, 0)
    assert len(report["loss"]["values"]) == 80
    assert report["loss"]["window"] == 16
    assert [f["code"] for f in report["findings"]] == ["TRN001"]
    assert report["exit_code"] == 1
    assert "noise on stdout" in report["output_tail"]


def test_arguments_after_dashes_reach_the_script(script, capsys) -> None:
    failing = "import sys\nsys.exit(0 if sys.argv[1:] == ['--epochs', '2'] else 5)\n"
    path = script(failing)
    assert main([path, "--", "--epochs", "2"]) == 1  # ran fine; trained nothing
    assert main([path, "--", "--epochs", "3"]) == 2
    assert "exited with status 5" in capsys.readouterr().out


def test_a_failing_script_shows_its_error_and_exits_2(script, capsys) -> None:
    path = script("import torch\nraise RuntimeError('shapes do not match')\n")
    assert main([path]) == 2
    out = capsys.readouterr().out
    assert "RuntimeError: shapes do not match" in out
    assert "verdict: the script failed" in out


def test_plot_draws_the_curve_or_says_why_not(script, tmp_path: Path, capsys) -> None:
    picture = tmp_path / "loss.png"
    assert main(["--threads", "1", "--plot", str(picture), script(TRAINS)]) == 0
    if importlib.util.find_spec("matplotlib") is None:
        assert not picture.exists()
        assert "matplotlib is not installed" in capsys.readouterr().err
    else:
        assert picture.stat().st_size > 0


def test_static_shows_both_sides_and_their_agreement(script, capsys) -> None:
    assert main(["--threads", "1", "--static", script(NEVER_CLEARS)]) == 1
    out = capsys.readouterr().out
    static_line = next(line for line in out.splitlines() if line.strip().startswith("static"))
    assert "TRN001 missing-zero-grad" in static_line
    assert "seen by both: TRN001" in out


def test_static_json_lists_static_findings_with_their_lines(script, capsys) -> None:
    argv = ["--threads", "1", "--static", "--output-format", "json", script(NEVER_CLEARS)]
    assert main(argv) == 1
    static = json.loads(capsys.readouterr().out)["static"]
    step = NEVER_CLEARS.splitlines().index("        opt.step()") + 1
    assert [(f["line"], f["code"]) for f in static["findings"]] == [(step, "TRN001")]
    assert static["agreement"] == {"both": ["TRN001"], "static_only": [], "runtime_only": []}

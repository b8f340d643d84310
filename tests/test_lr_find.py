"""`lint-train verify --lr-find`: the range test suggests a rate well below one that diverges and
well above one that is far too small, names every optimizer it scales, and keeps to its bounds."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from conftest import require

require("torch")

from lint_train.runtime.lrfind import GRID, curve, suggest  # noqa: E402
from lint_train.runtime.lrprobe import ScaledOptimizer, Trial  # noqa: E402
from lint_train.runtime.trend import loss_trend  # noqa: E402
from lint_train.runtime.verify import main  # noqa: E402

# SGD fits this regression within its 80 steps at lr=0.05; LR is filled in.
REGRESSION = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr={lr})
for epoch in range(20):
    for i in range(0, 64, 16):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[i : i + 16]), y[i : i + 16])
        loss.backward()
        opt.step()
"""

# Two optimizers, one of them with two parameter groups, on the same regression.
TWO_OPTIMIZERS = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
body, head = nn.Linear(4, 4), nn.Linear(4, 1)
sgd = torch.optim.SGD([{"params": body.weight}, {"params": body.bias, "lr": 0.02}], lr=0.01)
adam = torch.optim.Adam(head.parameters(), lr=0.01)
for epoch in range(20):
    for i in range(0, 64, 16):
        sgd.zero_grad()
        adam.zero_grad()
        loss = nn.functional.mse_loss(head(body(x[i : i + 16])), y[i : i + 16])
        loss.backward()
        sgd.step()
        adam.step()
"""


@pytest.fixture
def script(tmp_path: Path):
    def write(text: str) -> str:
        path = tmp_path / "train.py"
        path.write_text(text)
        return str(path)

    return write


def lr_find(path: str, capsys, *options: str) -> tuple[int, dict]:
    argv = ["--lr-find", "--threads", "1", "--output-format", "json", *options, path]
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)["lr_find"]


def test_the_suggestion_is_at_least_10x_below_a_divergent_lr(script, capsys) -> None:
    code, found = lr_find(script(REGRESSION.format(lr=3.0)), capsys, "--max-steps", "40")
    assert code == 0
    tried = {round(t["lr"], 9): t for t in found["tried"]}
    assert tried[3.0]["diverged"]
    assert found["suggested_lr"] <= 3.0 / 10 * (1 + 1e-9)
    assert not tried[round(found["suggested_lr"], 9)]["diverged"]
    assert all(t["steps"] <= 40 for t in found["tried"])
    # Rates above two divergent ones in a row are not tried.
    assert len(found["tried"]) < len(GRID)
    assert found["tried"][-1]["diverged"] and found["tried"][-2]["diverged"]
    assert found["optimizers"] == [{"type": "SGD", "lrs": [3.0]}]
    assert found["scaled_together"] is False


def test_the_suggestion_is_at_least_100x_above_a_lr_1000x_too_small(script, capsys) -> None:
    code, found = lr_find(script(REGRESSION.format(lr=5e-5)), capsys, "--max-steps", "40")
    assert code == 0
    assert found["suggested_lr"] >= 5e-5 * 100
    assert [t["lr"] for t in found["tried"]] == pytest.approx([5e-5 * s for s in GRID])
    script_rate = next(t for t in found["tried"] if t["scale"] == 1)
    assert script_rate["relative_change"] > -0.2 and not script_rate["trained"]


def test_several_optimizers_and_groups_are_named_and_scaled_together(
    script, capsys, tmp_path: Path
) -> None:
    picture = tmp_path / "lr.png"
    argv = ["--lr-find", "--threads", "1", "--max-steps", "30", "--plot", str(picture)]
    assert main([*argv, script(TWO_OPTIMIZERS)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[1] == (
        "  scaled     SGD lrs=0.01,0.02 (2 param groups), Adam lr=0.01; all 3 rates scaled "
        "together by the same factor, the lr column is SGD's first group's"
    )
    assert lines[-1].startswith("suggested lr: ")
    # The suggestion gives every optimizer's scaled rates, in the ratios the script set.
    suggested = lines[-1].split("(x", 1)[1]
    scale = float(suggested.split(":", 1)[0])
    assert f"SGD lrs={0.01 * scale:.3g},{0.02 * scale:.3g}" in suggested
    assert f"Adam lr={0.01 * scale:.3g}" in suggested
    if importlib.util.find_spec("matplotlib") is None:
        assert not picture.exists()
        assert "matplotlib is not installed" in captured.err
    else:
        assert picture.stat().st_size > 0


def test_the_whole_test_stops_at_the_timeout(script, capsys) -> None:
    slow = REGRESSION.format(lr=0.05).replace("import torch\n", "import time\nimport torch\n", 1)
    slow = slow.replace("        opt.step()\n", "        opt.step()\n        time.sleep(0.5)\n")
    code, found = lr_find(script(slow), capsys, "--timeout", "1")
    assert len(found["tried"]) == 1
    assert found["stopped"] == f"--timeout 1 s reached after 1 of {len(GRID)} rates"
    assert code == 1  # too few losses in one second to judge any rate


def test_a_script_without_an_optimizer_is_refused(script, capsys) -> None:
    code, found = lr_find(script("import torch\nprint(torch.ones(2).sum())\n"), capsys)
    assert code == 2
    assert found["error"] == (
        "the script built no torch.optim optimizer, so there is no learning rate to scale"
    )
    assert len(found["tried"]) == 1


# -- the suggestion, on made-up runs ---------------------------------------------------------

SGD = (ScaledOptimizer("SGD", (0.1,)),)


def trial(scale: float, change: float | None) -> Trial:
    """A run whose loss moved by `change` (None: it became inf) over 40 steps."""
    if change is None:
        values = [1.0] * 10 + [math.inf] * 30
        divergence = (10, "the loss became inf")
    else:
        values = [1.0 + change * i / 39 for i in range(40)]
        divergence = None
    finite = [v for v in values if math.isfinite(v)]
    return Trial(scale, SGD, loss_trend(finite), 40, divergence, None, 0.1)


def test_the_best_rate_next_to_divergence_gives_way_to_one_ten_times_lower() -> None:
    trials = [trial(0.01, -0.3), trial(0.1, -0.6), trial(1.0, -0.9), trial(3.16, None)]
    chosen, reason = suggest(trials)
    assert chosen is not None and chosen.scale == 0.1
    assert "at least 10x below the first divergent one" in reason


def test_the_best_rate_far_from_divergence_is_suggested_as_it_is() -> None:
    trials = [trial(0.1, -0.3), trial(1.0, -0.9), trial(10.0, -0.5), trial(100.0, None)]
    chosen, _ = suggest(trials)
    assert chosen is not None and chosen.scale == 1.0


def test_no_suggestion_when_nothing_trains_or_everything_diverges() -> None:
    chosen, reason = suggest([trial(0.1, -0.01), trial(1.0, -0.05)])
    assert chosen is None
    assert reason.endswith(
        "the loss fell most at the highest rate tried (x1: -4.1%), so a higher one may train"
    )
    assert "highest rate" not in suggest([trial(0.1, -0.05), trial(1.0, -0.01)])[1]
    chosen, reason = suggest([trial(0.0001, None), trial(0.0003, None)])
    assert chosen is None
    assert "not the learning rate" in reason


def test_the_curve_marks_divergent_and_unjudged_rates() -> None:
    short = Trial(1.0, SGD, loss_trend([1.0, 0.5]), 2, None, None, 0.1)
    assert curve([trial(0.1, -0.1), trial(1.0, -0.9), short, trial(10.0, None)]) == "█▁?!"

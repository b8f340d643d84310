"""The learning-rate diagnosis of `lint-train verify`: probes at scaled rates name the cause of a
divergent or stagnant run with numbers, and do not blame the rate for what the data did."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, require

require("torch")

from lint_train.runtime.events import Observation, Step, parse_events  # noqa: E402
from lint_train.runtime.launch import run_child  # noqa: E402
from lint_train.runtime.lrprobe import (  # noqa: E402
    ScaledOptimizer,
    Trial,
    diagnose,
    divergence,
    symptom,
)
from lint_train.runtime.trend import loss_trend  # noqa: E402
from lint_train.runtime.verify import main  # noqa: E402

# A linear regression that SGD fits within its 80 steps at lr=0.05; LR and DATA are filled in.
REGRESSION = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
{data}
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr={lr})
for epoch in range(20):
    for i in range(0, 64, 16):
        opt.zero_grad()
        loss = {loss}
        loss.backward()
        opt.step()
"""
MSE = "nn.functional.mse_loss(model(x[i : i + 16]), y[i : i + 16])"


def regression(lr: float, data: str = "", loss: str = MSE) -> str:
    return REGRESSION.format(lr=lr, data=data, loss=loss)


@pytest.fixture
def script(tmp_path: Path):
    def write(text: str) -> str:
        path = tmp_path / "train.py"
        path.write_text(text)
        return str(path)

    return write


def verify_json(path: str, *options: str) -> int:
    return main(["--threads", "1", "--output-format", "json", *options, path])


# -- end to end: the three cases of the issue ----------------------------------------------


def test_a_divergent_lr_is_diagnosed_as_too_high_with_a_rate_that_trained(script, capsys) -> None:
    assert verify_json(script(regression(3.0))) == 1
    diagnosis = json.loads(capsys.readouterr().out)["lr_diagnosis"]
    assert (diagnosis["symptom"], diagnosis["cause"]) == ("diverged", "lr-too-high")
    assert diagnosis["optimizers"] == [{"type": "SGD", "lrs": [3.0]}]
    trained = [p for p in diagnosis["probes"] if p["trained"]]
    assert trained and all(p["scale"] < 1 and not p["diverged"] for p in trained)
    rate = f"SGD lr={3.0 * trained[0]['scale']:.3g}"
    assert diagnosis["message"].startswith("learning rate too high: SGD lr=3 diverged")
    assert f"with {rate} (x{trained[0]['scale']:.3g}) the loss fell" in diagnosis["message"]


def test_the_text_report_shows_the_probes_and_names_the_cause_in_the_verdict(
    script, capsys
) -> None:
    assert main(["--threads", "1", script(regression(3.0))]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  lr probes  x0.1 ") for line in lines)
    assert any(line.startswith("  diagnosis  learning rate too high: SGD lr=3") for line in lines)
    assert lines[-1].endswith("; learning rate too high (see diagnosis); exit 1")


def test_a_stagnant_lr_is_diagnosed_as_too_low_with_a_rate_that_trained(script, capsys) -> None:
    # 1000 times below the rate that trains this regression.
    assert verify_json(script(regression(5e-5))) == 1
    diagnosis = json.loads(capsys.readouterr().out)["lr_diagnosis"]
    assert (diagnosis["symptom"], diagnosis["cause"]) == ("stagnated", "lr-too-low")
    trained = [p for p in diagnosis["probes"] if p["trained"]]
    assert trained and all(p["scale"] >= 10 for p in trained)
    assert diagnosis["message"].startswith("learning rate too low: with SGD lr=5e-05 the loss")
    rate = f"SGD lr={5e-5 * trained[0]['scale']:.3g}"
    assert f"; with {rate} (x{trained[0]['scale']:.3g}) the loss fell" in diagnosis["message"]


@pytest.mark.parametrize(
    ("data", "loss"),
    [
        ('x[40, 2] = float("nan")', MSE),  # one bad sample in the third batch
        # the log of a target that is zero in the second batch
        (
            "y = y.abs()\ny[20] = 0.0",
            "nn.functional.mse_loss(model(x[i : i + 16]), torch.log(y[i : i + 16]))",
        ),
    ],
    ids=["nan-in-the-data", "log-of-zero"],
)
def test_a_divergence_the_data_causes_is_not_blamed_on_the_lr(
    script, capsys, data: str, loss: str
) -> None:
    assert verify_json(script(regression(0.05, data, loss))) == 1
    diagnosis = json.loads(capsys.readouterr().out)["lr_diagnosis"]
    assert diagnosis["symptom"] == "diverged"
    assert diagnosis["cause"] == "not-lr"
    assert [p["scale"] for p in diagnosis["probes"]] == [0.1, 0.01, 0.001]
    assert diagnosis["message"].startswith("not the learning rate")


def test_the_verdict_of_a_data_divergence_names_no_learning_rate(script, capsys) -> None:
    main(["--threads", "1", script(regression(0.05, 'x[40, 2] = float("nan")'))])
    verdict = capsys.readouterr().out.splitlines()[-1]
    assert verdict == "verdict: did not train (the loss became nan at backward call 2); exit 1"


def test_a_run_that_trains_or_shows_a_finding_is_not_probed(script, capsys) -> None:
    assert verify_json(script(regression(0.05))) == 0
    assert "lr_diagnosis" not in json.loads(capsys.readouterr().out)
    never_clears = regression(5e-5).replace("        opt.zero_grad()\n", "")
    assert verify_json(script(never_clears)) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in report["findings"]] == ["TRN001"]
    assert "lr_diagnosis" not in report


def test_no_lr_probes_turns_the_probes_off(script, capsys) -> None:
    assert verify_json(script(regression(3.0)), "--no-lr-probes") == 1
    assert "lr_diagnosis" not in json.loads(capsys.readouterr().out)


def test_no_warning_of_the_runner_reaches_verifys_output(script) -> None:
    """torch warns on import when numpy is missing or mismatched; the fork server imports torch
    with verify's own stderr, so the warning used to land under the report."""
    command = ["verify", "--threads", "1", "--no-lr-probes", script(regression(3.0))]
    done = subprocess.run(
        [sys.executable, "-m", "lint_train.cli", *command],
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
            "PYTHONPATH": str(ROOT / "src"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1].startswith("verdict: did not train (the loss became inf")


# -- the scaling in the child ----------------------------------------------------------------

GROUPS = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
head = {"params": model[1].parameters(), "lr": 0.01}
sgd = torch.optim.SGD([{"params": model[0].parameters()}, head], lr=0.1)
adam = torch.optim.Adam(model.parameters(), lr=0.001)
decay = torch.optim.lr_scheduler.StepLR(sgd, 2, gamma=0.5)
for i in range(4):
    loss = model(torch.ones(1, 2)).sum()
    sgd.zero_grad()
    adam.zero_grad()
    loss.backward()
    if i == 2:  # a hand-written schedule assigns the rate itself
        for group in adam.param_groups:
            group["lr"] = 0.5
    sgd.step()
    adam.step()
    decay.step()
    print([g["lr"] for g in sgd.param_groups + adam.param_groups])
"""


def test_every_group_of_every_optimizer_is_scaled_once_through_schedules(tmp_path: Path) -> None:
    path = tmp_path / "groups.py"
    path.write_text(GROUPS)

    def rates(scale: float | None) -> tuple[list[list[float]], list[str]]:
        run = run_child(str(path), [], 100, 60, 1, lr_scale=scale)
        printed = [json.loads(line) for line in run.output_tail.splitlines()]
        return printed, run.event_lines

    plain, _ = rates(None)
    scaled, events = rates(10.0)
    assert len(plain) == len(scaled) == 4
    for row_plain, row_scaled in zip(plain, scaled, strict=True):
        assert row_scaled == pytest.approx([10 * v for v in row_plain])
    logged = [json.loads(e) for e in events if '"lr_scale"' in e]
    assert [(e["type"], e["lrs"], e["scale"]) for e in logged] == [
        ("SGD", [0.1, 0.01], 10.0),
        ("Adam", [0.001], 10.0),
    ]
    assert len(parse_events(events).optimizers) == 2  # the probe's own events are unchanged


# -- the logic, on made-up probes ------------------------------------------------------------

SGD = (ScaledOptimizer("SGD", (3.0,)),)


def trial(scale: float, values: list[float], steps: int | None = None) -> Trial:
    seen = Observation(
        losses=list(values),
        backward_positions=list(range(0, 2 * len(values), 2)),
        steps=[Step(i, 2 * i + 1, 0, 0) for i in range(len(values))],
    )
    return Trial(
        scale=scale,
        optimizers=SGD,
        trend=loss_trend([v for v in values if math.isfinite(v)]),
        steps=len(values) if steps is None else steps,
        divergence=divergence(values, seen),
        error=None,
        seconds=0.1,
    )


def observed(values: list[float]) -> Observation:
    """A finished run of one optimizer that stepped after each backward."""
    return Observation(
        losses=list(values),
        backward_positions=list(range(0, 2 * len(values), 2)),
        steps=[Step(i, 2 * i + 1, 0, 0) for i in range(len(values))],
        optimizers=[object()],  # type: ignore[list-item]
        optimizers_reached={0},
        outcome="finished",
    )


FALLS = [10.0 * 0.9**i for i in range(40)]
FLAT = [10.0 + 0.01 * (i % 3) for i in range(40)]
NAN_AT_5 = [10.0] * 5 + [math.nan] * 35


def test_divergence_is_a_non_finite_loss_or_a_tenfold_growth_not_a_rise() -> None:
    seen = observed(NAN_AT_5)
    assert divergence(NAN_AT_5, seen) == (5, "the loss became nan")
    grows = [1.0 * 1.5**i for i in range(40)]
    assert divergence(grows, observed(grows)) is not None
    rises = [1.0 + 0.05 * i for i in range(40)]  # 3x: a rise, not a divergence
    assert divergence(rises, observed(rises)) is None
    assert divergence(FALLS, observed(FALLS)) is None


def test_only_an_unexplained_divergence_or_stagnation_is_probed() -> None:
    assert symptom(observed(NAN_AT_5), loss_trend([10.0] * 5), False, False) == "diverged"
    assert symptom(observed(FLAT), loss_trend(FLAT), False, False) == "stagnated"
    assert symptom(observed(FLAT), loss_trend(FLAT), False, True) is None  # a finding explains
    assert symptom(observed(FALLS), loss_trend(FALLS), True, False) is None  # it trained
    never_stepped = observed(FLAT)
    never_stepped.steps = []
    assert symptom(never_stepped, loss_trend(FLAT), False, False) is None
    unreached = observed(FLAT)
    unreached.optimizers_reached = set()
    assert symptom(unreached, loss_trend(FLAT), False, False) is None


def test_a_loss_that_is_nan_before_any_step_is_not_the_lr_and_needs_no_probe() -> None:
    values = [math.nan] * 40

    def run(scale: float) -> Trial:
        raise AssertionError("no probe should run")

    diagnosis = diagnose("diverged", observed(values), loss_trend([]), run)
    assert diagnosis.cause == "not-lr"
    assert diagnosis.probes == ()
    assert diagnosis.message.startswith(
        "not the learning rate: the loss became nan before the first optimizer step"
    )


def test_a_lower_rate_that_still_diverges_later_is_unclear_not_the_data() -> None:
    later = {0.1: [10.0] * 9 + [math.inf] * 31, 0.01: [10.0] * 20 + [math.inf] * 20}
    later[0.001] = [10.0] * 30 + [math.inf] * 10
    diagnosis = diagnose(
        "diverged", observed(NAN_AT_5), loss_trend([]), lambda s: trial(s, later[s])
    )
    assert diagnosis.cause == "unclear"
    assert [p.scale for p in diagnosis.probes] == [0.1, 0.01, 0.001]


def test_the_probes_stop_at_the_first_rate_that_trains() -> None:
    asked: list[float] = []

    def run(scale: float) -> Trial:
        asked.append(scale)
        return trial(scale, FALLS if scale == 0.01 else NAN_AT_5)

    diagnosis = diagnose("diverged", observed(NAN_AT_5), loss_trend([]), run)
    assert asked == [0.1, 0.01]
    assert diagnosis.cause == "lr-too-high"
    assert "with SGD lr=0.03 (x0.01) the loss fell" in diagnosis.message


def stagnant_probes(slope: dict[float, float]):
    """A probe runner whose loss at each scale moves by about `slope[scale]` over its run, and
    the list of scales it was asked for."""
    asked: list[float] = []

    def run(scale: float) -> Trial:
        asked.append(scale)
        return trial(scale, [10.0 * (1 + slope[scale] * i / 40) for i in range(40)])

    return run, asked


def test_a_stagnation_climbs_while_each_rate_does_better_and_hints_at_a_far_too_low_rate() -> None:
    run, asked = stagnant_probes({10.0: -0.02, 0.1: 0.0, 100.0: -0.05, 1e3: -0.12, 1e4: -0.18})
    diagnosis = diagnose("stagnated", observed(FLAT), loss_trend(FLAT), run)
    assert asked == [10.0, 0.1, 100.0, 1000.0, 10000.0]
    # Nothing trained, but each higher rate did better: not enough to name a cause, nor to
    # rule the rate out.
    assert diagnosis.cause == "unclear"
    assert "the loss fell more at each higher rate" in diagnosis.message


def test_a_stagnation_stops_climbing_at_a_rate_that_does_no_better() -> None:
    run, asked = stagnant_probes({10.0: -0.1, 0.1: 0.0, 100.0: -0.05})
    diagnosis = diagnose("stagnated", observed(FLAT), loss_trend(FLAT), run)
    assert asked == [10.0, 0.1, 100.0]
    assert diagnosis.cause == "unclear"
    assert "the loss fell more at each higher rate" not in diagnosis.message


def test_a_stagnation_trained_by_a_higher_rate_is_a_rate_too_low() -> None:
    run, asked = stagnant_probes({10.0: -0.05, 0.1: 0.0, 100.0: -0.6})
    diagnosis = diagnose("stagnated", observed(FLAT), loss_trend(FLAT), run)
    assert asked == [10.0, 0.1, 100.0]
    assert diagnosis.cause == "lr-too-low"
    assert "; with SGD lr=300 (x100) the loss fell" in diagnosis.message


def test_a_stagnation_the_rate_does_not_move_either_way_is_not_the_lr() -> None:
    run, asked = stagnant_probes({10.0: 0.0, 0.1: 0.0, 100.0: 0.0})
    diagnosis = diagnose("stagnated", observed(FLAT), loss_trend(FLAT), run)
    assert diagnosis.cause == "not-lr"
    assert asked == [10.0, 0.1, 100.0]

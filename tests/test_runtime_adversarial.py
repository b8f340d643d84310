"""Adversarial training judged loss by loss: which optimizer each loss trains, when losses move
against each other, and the verdict a GAN gets, correct or broken.

The attribution and the verdict are tested on event logs and loss series written by hand; the
probe's side (the optimizer's name, which parameters each backward reached) and the whole
verdict are tested on GANs of our own, run under `verify`.
"""

from __future__ import annotations

import json
import math
import textwrap
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import require

from lint_train.runtime.events import OptimizerInfo, parse_events
from lint_train.runtime.objectives import aligned, objective_trends, split_objectives
from lint_train.runtime.report import Report, to_json, to_text
from lint_train.runtime.trend import (
    ObjectiveTrend,
    Verdict,
    judge,
    judge_objectives,
    loss_trend,
    opposition,
)


def log(*items: dict[str, Any]) -> list[str]:
    return [json.dumps(item) for item in items]


def optimizer(i: int, name: str | None) -> dict[str, Any]:
    return {"ev": "optimizer", "i": i, "type": "Adam", "hyperparameters": {}, "name": name}


def backward(i: int, loss: float | None) -> dict[str, Any]:
    return {"ev": "backward", "i": i, "loss": loss}


def step(i: int, opt: int) -> dict[str, Any]:
    return {"ev": "step", "i": i, "opt": opt, "stale": 0}


def gan_log(d_losses: list[float], g_losses: list[float]) -> list[str]:
    """D's backward and step, then G's (whose backward also reaches D), round after round."""
    items = [optimizer(0, "opt_d"), optimizer(1, "opt_g")]
    for k, (d, g) in enumerate(zip(d_losses, g_losses, strict=True)):
        items += [backward(2 * k, d), {"ev": "reached", "backward": 2 * k, "opts": [0]}]
        items += [step(2 * k, 0)]
        items += [backward(2 * k + 1, g), {"ev": "reached", "backward": 2 * k + 1, "opts": [0, 1]}]
        items += [step(2 * k + 1, 1)]
    return log(*items)


# Which optimizer each loss trains ----------------------------------------------------------
def test_each_loss_goes_to_the_optimizer_that_steps_after_it() -> None:
    seen = parse_events(gan_log([1.4, 1.3, 1.2], [0.7, 0.8, 0.9]))
    objectives = split_objectives(seen)
    assert [(o.optimizers, o.losses) for o in objectives] == [
        ((0,), (1.4, 1.3, 1.2)),
        ((1,), (0.7, 0.8, 0.9)),
    ]
    # The generator's loss reached the discriminator's parameters; not the other way round.
    assert objectives[0].reaches == {0}
    assert objectives[1].reaches == {0, 1}


def test_accumulated_losses_all_go_to_the_step_that_applies_them() -> None:
    items = [optimizer(0, "opt")]
    for k in range(3):
        items += [backward(4 * k + j, 1.0 + j) for j in range(4)] + [step(k, 0)]
    objectives = split_objectives(parse_events(log(*items)))
    assert len(objectives) == 1
    assert objectives[0].losses == (1.0, 2.0, 3.0, 4.0) * 3


def test_one_loss_stepped_by_two_optimizers_is_one_objective_of_both() -> None:
    items = [optimizer(0, "opt_enc"), optimizer(1, "opt_dec")]
    for k in range(3):
        items += [backward(k, 2.0 - k / 2), step(2 * k, 0), step(2 * k + 1, 1)]
    objectives = split_objectives(parse_events(log(*items)))
    assert [o.optimizers for o in objectives] == [(0, 1)]
    trends = objective_trends(parse_events(log(*items)))
    assert [t.name for t in trends] == ["opt_enc+opt_dec"]


def test_a_backward_no_step_follows_trains_nothing() -> None:
    items = [optimizer(0, "opt"), backward(0, 1.0), step(0, 0), backward(1, 5.0), backward(2, None)]
    objectives = split_objectives(parse_events(log(*items)))
    assert [o.losses for o in objectives] == [(1.0,)]


def test_an_unnamed_or_ambiguous_optimizer_is_named_by_type_and_number() -> None:
    # The first was built by a line that assigned it to nothing (`return Adam(...)`), the other
    # two by one line that named both (`opts = [Adam(...), Adam(...)]`).
    built = [optimizer(0, None), optimizer(1, "opts"), optimizer(2, "opts")]
    lines = log(*built, backward(0, 1.0), step(0, 0), backward(1, 1.0), step(1, 1))
    assert [t.name for t in objective_trends(parse_events(lines))] == ["Adam #1", "Adam #2"]


def test_losses_are_read_side_by_side_round_by_round_whatever_the_argument_order() -> None:
    seen = parse_events(gan_log([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]))
    d, g = split_objectives(seen)
    # Each generator loss faces the discriminator loss of its own round.
    assert aligned(d, g) == ([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])
    assert aligned(g, d) == ([10.0, 20.0, 30.0], [1.0, 2.0, 3.0])


def test_a_critic_stepping_five_times_a_round_is_read_at_its_last_step() -> None:
    items = [optimizer(0, "critic_opt"), optimizer(1, "gen_opt")]
    calls = 0
    for k in range(2):
        for j in range(5):
            items += [backward(calls, 10.0 * k + j), step(calls, 0)]
            calls += 1
        items += [backward(calls, -1.0 - k), step(calls, 1)]
        calls += 1
    critic, generator = split_objectives(parse_events(log(*items)))
    assert aligned(critic, generator) == ([4.0, 14.0], [-1.0, -2.0])


# When losses move against each other, and the verdict -------------------------------------
def wave(base: float, slope: float, sign: float, n: int = 60) -> list[float]:
    """A loss with a trend and a step-to-step wobble of sign `sign` (opposite signs: the two
    losses move against each other)."""
    return [base + slope * k + sign * 0.05 * math.sin(1.7 * k) for k in range(n)]


def objective(name: str, values: list[float], other: list[float], coupled: bool = True):
    return ObjectiveTrend(name, loss_trend(values), opposition(values, other), coupled)


def test_opposed_losses_that_both_move_trained() -> None:
    d, g = wave(1.39, -0.003, 1.0), wave(0.69, 0.004, -1.0)
    verdict = judge_objectives([objective("opt_d", d, g), objective("opt_g", g, d)])
    assert verdict is not None and verdict.trained and verdict.adversarial
    assert verdict.reason.startswith("adversarial: opt_d loss 1.3")
    assert ", opt_g loss 0.7" in verdict.reason
    assert verdict.reason.endswith("both optimizers stepped")


def test_opposed_losses_that_stay_put_did_not_train() -> None:
    d, g = wave(1.39, 0.0, 1.0), wave(0.69, 0.0, -1.0)
    verdict = judge_objectives([objective("opt_d", d, g), objective("opt_g", g, d)])
    assert verdict is not None and not verdict.trained
    assert "opt_d and opt_g losses did not move beyond their batch-to-batch noise" in (
        verdict.reason
    )


def test_a_runtime_finding_keeps_an_adversarial_run_from_counting_as_trained() -> None:
    d, g = wave(1.39, -0.003, 1.0), wave(0.69, 0.004, -1.0)
    pair = [objective("opt_d", d, g), objective("opt_g", g, d)]
    verdict = judge_objectives(pair, runtime_codes=["TRN001"])
    assert verdict is not None and not verdict.trained
    assert verdict.reason.endswith("but TRN001 was seen at runtime")


def test_an_adversarial_loss_that_grows_tenfold_diverged() -> None:
    d, g = wave(1.0, -0.003, 1.0), [0.5 * 1.1**k for k in range(60)]
    g = [v - 0.05 * math.sin(1.7 * k) for k, v in enumerate(g)]
    verdict = judge_objectives([objective("opt_d", d, g), objective("opt_g", g, d)])
    assert verdict is not None and not verdict.trained
    assert "the opt_g loss grew more than 10-fold" in verdict.reason


def test_losses_that_move_together_are_not_adversarial() -> None:
    # Two tasks that fall side by side, their wobbles in step: the combined verdict applies.
    a, b = wave(2.0, -0.02, 1.0), wave(1.0, -0.01, 1.0)
    assert judge_objectives([objective("opt_a", a, b), objective("opt_b", b, a)]) is None


def test_uncoupled_losses_need_a_clear_anti_correlation() -> None:
    d, g = wave(1.39, -0.003, 1.0), wave(0.69, 0.004, -1.0)
    pair = [objective("opt_d", d, g, coupled=False), objective("opt_g", g, d, coupled=False)]
    assert pair[0].opposition is not None and pair[0].opposition < -0.9
    assert judge_objectives(pair) is not None
    # A faint anti-correlation is enough only when one loss reaches the other's parameters.
    noise = [0.01 * ((k * 7919) % 13 - 6) for k in range(60)]
    faint_d = [v + n for v, n in zip(d, noise, strict=True)]
    faint_g = [v + 3 * n for v, n in zip(wave(0.69, 0.004, -0.1), noise, strict=True)]
    faint = opposition(faint_d, faint_g)
    assert faint is not None and faint > 0  # the shared noise dominates: not opposed
    assert judge_objectives([objective("opt_d", faint_d, faint_g)] * 2) is None


def test_a_single_objective_or_a_non_finite_loss_is_left_to_the_combined_verdict() -> None:
    d, g = wave(1.39, -0.003, 1.0), wave(0.69, 0.004, -1.0)
    assert judge_objectives([objective("opt_d", d, g)]) is None
    broken = [*g[:-1], math.nan]
    assert judge_objectives([objective("opt_d", d, g), objective("opt_g", broken, d)]) is None
    assert "became nan" in judge(loss_trend(d + broken)).reason


# The report ---------------------------------------------------------------------------------
def adversarial_report(findings: list | None = None) -> Report:
    d, g = wave(1.39, -0.003, 1.0), wave(0.69, 0.004, -1.0)
    objectives = [objective("opt_d", d, g), objective("opt_g", g, d)]
    verdict = judge_objectives(objectives)
    assert verdict is not None
    return Report(
        script="gan.py",
        args=[],
        status="finished",
        how="ran to the end",
        seconds=1.0,
        error=None,
        output_tail="",
        steps=120,
        backward_calls=120,
        zero_grad_calls=120,
        optimizers=[OptimizerInfo("Adam", {}, "opt_d"), OptimizerInfo("Adam", {}, "opt_g")],
        trend=loss_trend(d + g),
        verdict=verdict,
        findings=findings or [],
        objectives=objectives,
    )


def test_the_text_report_shows_each_objective_and_says_nothing_was_found() -> None:
    text = to_text(adversarial_report())
    assert "  objectives opt_d: 1.3" in text
    assert "             opt_g: 0.7" in text
    verdict = text.splitlines()[-1]
    assert verdict.startswith("verdict: trained (adversarial: opt_d loss ")
    assert verdict.endswith("both optimizers stepped, no runtime finding); exit 0")


def test_the_json_report_carries_the_objectives_and_the_adversarial_flag() -> None:
    data = json.loads(to_json(adversarial_report()))
    assert data["verdict"]["adversarial"] is True
    assert [o["name"] for o in data["objectives"]] == ["opt_d", "opt_g"]
    assert data["objectives"][0]["count"] == 60
    assert data["objectives"][1]["relative_change"] > 0
    assert data["objectives"][0]["coupled"] is True


def test_a_plain_verdict_is_not_adversarial_in_json() -> None:
    report = adversarial_report()
    plain = Report(**{**report.__dict__, "verdict": Verdict(True, 0.2, "the loss fell 50%")})
    assert json.loads(to_json(plain))["verdict"]["adversarial"] is False
    assert "no runtime finding" not in to_text(plain)


# GANs of our own, run under verify ----------------------------------------------------------
GAN = """\
import torch
from torch import nn

torch.manual_seed(0)
real_data = torch.randn(1024, 2) * 0.3 + torch.tensor([1.5, -0.5])
generator = nn.Sequential(nn.Linear(3, 24), nn.ReLU(), nn.Linear(24, 2))
critic = nn.Sequential(nn.Linear(2, 24), nn.LeakyReLU(0.2), nn.Linear(24, 1))
d_optimizer = torch.optim.Adam(critic.parameters(), lr=LR, betas=(0.5, 0.999))
g_optimizer = torch.optim.Adam(generator.parameters(), lr=LR, betas=(0.5, 0.999))
criterion = nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(64, 1), torch.zeros(64, 1)


def discriminator_step(real, fake):
    d_optimizer.zero_grad()
    d_loss = criterion(critic(real), ones) + criterion(critic(fake.detach()), zeros)
    d_loss.backward()
    d_optimizer.step()


def generator_step(fake, iteration):
    g_optimizer.zero_grad()
    g_loss = criterion(critic(fake), ones)
    g_loss = BREAK(g_loss, iteration)
    g_loss.backward()
    g_optimizer.step()


for iteration in range(200):
    real = real_data[(iteration * 64) % 1024 :][:64]
    fake = generator(torch.randn(64, 3))
    discriminator_step(real, fake)
    generator_step(fake, iteration)
"""
SCRIPTS = {
    "correct": GAN.replace("LR", "0.01").replace("BREAK(g_loss, iteration)", "g_loss"),
    "d_never_steps": GAN.replace("LR", "0.01")
    .replace("BREAK(g_loss, iteration)", "g_loss")
    .replace("    d_optimizer.step()\n", ""),
    "goes_nan": GAN.replace("LR", "0.01").replace(
        "BREAK(g_loss, iteration)", "g_loss * (float('nan') if iteration >= 40 else 1.0)"
    ),
    "frozen": GAN.replace("LR", "0.0").replace("BREAK(g_loss, iteration)", "g_loss"),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    require("torch")
    from lint_train.config import Config
    from lint_train.runtime.verify import Options, verify_script

    folder = tmp_path_factory.mktemp("gans")
    options = Options(max_steps=160, timeout=60, threads=1, config=Config())

    def run(name: str) -> Report:
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(SCRIPTS[name]))
        return verify_script(str(path), (), options)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(SCRIPTS, pool.map(run, SCRIPTS), strict=True))


def test_a_correct_gan_trains_adversarially_with_exit_0(reports: dict[str, Report]) -> None:
    report = reports["correct"]
    assert report.findings == []
    assert report.verdict.adversarial and report.verdict.trained, report.verdict.reason
    assert report.exit_code == 0
    # The names come from the lines that built the optimizers.
    assert [o.name for o in report.optimizers] == ["d_optimizer", "g_optimizer"]
    assert [o.name for o in report.objectives] == ["d_optimizer", "g_optimizer"]
    # The generator's loss flows through the discriminator: the two are coupled.
    assert all(o.coupled for o in report.objectives)
    assert "both optimizers stepped, no runtime finding); exit 0" in to_text(report)


def test_a_gan_whose_discriminator_never_steps_fails(reports: dict[str, Report]) -> None:
    report = reports["d_never_steps"]
    assert [f.code for f in report.findings] == ["TRN002"]
    assert not report.verdict.trained and not report.verdict.adversarial
    assert report.exit_code == 1


def test_a_gan_whose_loss_goes_nan_fails(reports: dict[str, Report]) -> None:
    report = reports["goes_nan"]
    assert not report.verdict.trained and not report.verdict.adversarial
    assert "the loss became nan at backward call 81" in report.verdict.reason
    assert report.exit_code == 1


def test_a_gan_that_learns_nothing_fails(reports: dict[str, Report]) -> None:
    report = reports["frozen"]
    assert report.verdict.adversarial and not report.verdict.trained, report.verdict.reason
    assert "did not move beyond" in report.verdict.reason
    assert report.exit_code == 1

"""The loss trajectory: window means, relative change, a sparkline, and the trained verdict.

The verdict compares the mean loss of the first and the last fifth of the run (the loss is the
value each backward was called on). A script trained when that mean fell by at least THRESHOLD
(20%) of the first window's mean, and by more than twice the fall's standard error.

Why 20%, measured on the project's fixtures (tests/test_runtime_fixtures.py runs them all):
- loops that never change their weights (the TRN002 fixtures) move the window mean by 0% to
  1.4% when each window holds whole passes over the data; cut mid-pass, the windows hold
  different batches, and that alone moved a loop without learning by 45% on a tiny regression
  (tests/test_runtime_probe.py). The standard-error test catches that case: the spread of the
  batch losses inside the windows makes such a fall insignificant;
- correct loops fall by 73% to 99% within the fixtures' 24 to 320 backward calls.
20% is well clear of the first and far below the second, so the verdict does not hinge on a
lucky batch, while any loop that learns its task clears it within a few dozen steps.

Adversarial training (a GAN) is judged another way, because its losses trade off by design:
the generator's loss rises as the discriminator learns, and the other way round, so their sum
need not fall at all. When the run has two or more objectives (losses stepped by disjoint sets
of optimizers, objectives.py) whose losses move against each other, each loss is judged on its
own: it must stay finite, must not grow tenfold, and must move beyond its batch-to-batch noise
(a side whose loss is stationary learns nothing); and since such losses cannot show on their own
that each side learns what it should, no runtime finding may be seen. "Against each other" is
measured, not assumed: the step-to-step changes of the two losses, read side by side, are
negatively correlated, and at OPPOSED_CORRELATION or below unless one loss reached the other's
parameters (a generator's loss flows through the discriminator: a game by construction). On the
project's GAN fixtures they correlate at about -0.5 over 120 rounds (less in the first dozens,
while both networks find their footing); objectives whose losses fall together correlate
positively.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 0.2
# The fraction of the run each window covers: a fifth.
WINDOW_FRACTION = 5
# Fewer loss values than this say nothing about a trend: two values per window at least, so
# that the spread within each window can be measured.
MIN_VALUES = 2 * WINDOW_FRACTION
# The fall must also exceed this many standard errors of the difference of the two means.
NOISE_FACTOR = 2.0
# The correlation of two objectives' step-to-step loss changes at or below which they move
# against each other. Over a hundred steps, chance alone stays within about ±0.2.
OPPOSED_CORRELATION = -0.3
# A relative rise at or above which an adversarial loss counts as diverged (tenfold).
DIVERGED = 9.0
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 32


@dataclass(frozen=True)
class LossTrend:
    values: tuple[float, ...]
    window: int
    first: float | None
    last: float | None
    relative_change: float | None
    # The standard error of (last - first), relative to the first mean: how much the change
    # could come from which batches happen to fall in each window.
    noise: float | None
    sparkline: str


@dataclass(frozen=True)
class Verdict:
    trained: bool
    threshold: float
    reason: str
    # Judged as adversarial training, each objective's loss on its own.
    adversarial: bool = False


@dataclass(frozen=True)
class ObjectiveTrend:
    """One objective's loss trajectory: the losses its optimizers stepped on."""

    name: str  # its optimizers, as the script named them: `opt_d`, or `Adam #2`
    trend: LossTrend
    # How its step-to-step loss changes correlate with the most opposed other objective's
    # (None: too few values side by side to say).
    opposition: float | None
    # Its loss reached another objective's parameters, or another's reached its own.
    coupled: bool = False


def loss_trend(values: Sequence[float]) -> LossTrend:
    values = tuple(values)
    window = max(1, len(values) // WINDOW_FRACTION)
    if len(values) < MIN_VALUES or not all(math.isfinite(v) for v in values):
        return LossTrend(values, window, None, None, None, None, sparkline(values))
    head, tail = values[:window], values[-window:]
    first, last = statistics.fmean(head), statistics.fmean(tail)
    if first == 0:
        return LossTrend(values, window, first, last, None, None, sparkline(values))
    spread = math.sqrt((statistics.variance(head) + statistics.variance(tail)) / window)
    return LossTrend(
        values,
        window,
        first,
        last,
        (last - first) / abs(first),
        spread / abs(first),
        sparkline(values),
    )


def judge(trend: LossTrend, threshold: float = THRESHOLD) -> Verdict:
    values = trend.values
    needed = f"a fall of at least {threshold:.0%} is needed"
    if not values:
        return Verdict(False, threshold, "no backward call on a scalar loss was seen")
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        return Verdict(False, threshold, f"the loss became {values[bad]} at backward call {bad}")
    if len(values) < MIN_VALUES:
        return Verdict(False, threshold, f"only {len(values)} loss values, too few to judge")
    if trend.relative_change is None:
        return Verdict(False, threshold, "the first loss window averages 0; no relative change")
    change = trend.relative_change
    noise = trend.noise or 0.0
    if change <= -threshold and -change > NOISE_FACTOR * noise:
        return Verdict(True, threshold, f"the loss fell {-change:.1%}; {needed}")
    if change <= -threshold:
        return Verdict(
            False,
            threshold,
            f"the loss fell {-change:.1%}, within its batch-to-batch noise "
            f"(±{NOISE_FACTOR * noise:.1%}), so the fall may be chance",
        )
    moved = f"fell only {-change:.1%}" if change < 0 else f"rose {change:.1%}"
    return Verdict(False, threshold, f"the loss {moved}; {needed}")


def judge_objectives(
    objectives: Sequence[ObjectiveTrend],
    threshold: float = THRESHOLD,
    runtime_codes: Sequence[str] = (),
) -> Verdict | None:
    """The adversarial verdict, or None when the run is not adversarial training: fewer than
    two objectives with enough loss values, a non-finite loss (the combined verdict names it),
    or an objective whose loss does not move against another's.

    `runtime_codes`: the runtime findings. Adversarial losses cannot show on their own that
    each side learns what it should (a discriminator that accumulates stale gradients still
    moves its loss), so a run with a runtime finding is not counted as trained."""
    judged = [o for o in objectives if len(o.trend.values) >= MIN_VALUES]
    if len(judged) < 2 or any(o.trend.relative_change is None for o in judged):
        return None
    if not all(_opposed(o) for o in judged):
        return None
    moves = ", ".join(f"{o.name} loss {o.trend.first:.3g} -> {o.trend.last:.3g}" for o in judged)
    grown = [o for o in judged if (o.trend.relative_change or 0.0) >= DIVERGED]
    if grown:
        which = " and ".join(o.name for o in grown)
        return Verdict(
            False,
            threshold,
            f"adversarial: {moves}; the {which} loss grew more than "
            f"{DIVERGED + 1:.0f}-fold, so training diverged",
            adversarial=True,
        )
    steady = [o.name for o in judged if not _moved(o.trend)]
    if steady:
        which = " and ".join(steady)
        return Verdict(
            False,
            threshold,
            f"adversarial: {moves}; "
            + (
                f"the {which} losses did not move beyond their batch-to-batch noise, so neither "
                "side is learning"
                if len(steady) > 1
                else f"the {which} loss did not move beyond its batch-to-batch noise, so that "
                "side is not learning"
            ),
            adversarial=True,
        )
    plain = len(judged) == 2 and not any("+" in o.name for o in judged)
    everyone = "both optimizers" if plain else "the optimizers of every objective"
    if runtime_codes:
        seen = ", ".join(sorted(set(runtime_codes)))
        return Verdict(
            False,
            threshold,
            f"adversarial: {moves}, {everyone} stepped, but {seen} was seen at runtime",
            adversarial=True,
        )
    return Verdict(True, threshold, f"adversarial: {moves}, {everyone} stepped", adversarial=True)


def _opposed(objective: ObjectiveTrend) -> bool:
    """Whether its loss moves against another objective's: their changes clearly
    anti-correlated, or anti-correlated at all when one loss reaches the other's parameters
    (a game by construction, whose opposition takes time to show: the losses of a GAN's first
    dozens of steps move together while both networks find their footing)."""
    if objective.opposition is None:
        return False
    if objective.coupled:
        return objective.opposition < 0
    return objective.opposition <= OPPOSED_CORRELATION


def _moved(trend: LossTrend) -> bool:
    change, noise = trend.relative_change or 0.0, trend.noise or 0.0
    return abs(change) > NOISE_FACTOR * noise


def opposition(first: Sequence[float], second: Sequence[float]) -> float | None:
    """The correlation of the two series' step-to-step changes (None: too few, or one of them
    constant)."""
    if len(first) < MIN_VALUES or len(first) != len(second):
        return None
    a = [y - x for x, y in itertools.pairwise(first)]
    b = [y - x for x, y in itertools.pairwise(second)]
    try:
        return statistics.correlation(a, b)
    except statistics.StatisticsError:
        return None


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """Bucket means drawn with eight block heights; a non-finite bucket shows as `!`."""
    if not values:
        return ""
    buckets = min(width, len(values))
    means = []
    for b in range(buckets):
        chunk = values[b * len(values) // buckets : (b + 1) * len(values) // buckets]
        means.append(sum(chunk) / len(chunk))
    finite = [m for m in means if math.isfinite(m)]
    if not finite:
        return "!" * buckets
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    top = len(SPARK_LEVELS) - 1
    return "".join(
        SPARK_LEVELS[round((m - low) / span * top)] if math.isfinite(m) else "!" for m in means
    )

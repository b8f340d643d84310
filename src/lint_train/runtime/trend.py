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
"""

from __future__ import annotations

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

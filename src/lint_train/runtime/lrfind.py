"""`lint-train verify --lr-find SCRIPT`: a learning-rate range test on the unmodified script.

Lightning and fastai have an lr finder inside their own trainers; a plain script has none. This
one runs the script itself several times, each in a child process for at most `--max-steps`
optimizer steps, with every optimizer's learning rate (all parameter groups, all optimizers)
scaled by one factor of a log grid around the script's own rate: 1e-4x to 10000x in
half-decades. It goes from low to high and stops after two divergent rates in a row (higher
ones diverge too), or when `--timeout` (for the whole test) runs out.

Each rate gets the relative change of its loss (the verify trend: the last fifth's mean against
the first fifth's) and whether it diverged (lrprobe.divergence). The suggestion is the rate
whose loss fell most among those that trained, but at least ten times below the lowest rate
above it that diverged: the best rate in a short run sits next to the edge of divergence, and a
longer run at the edge is fragile (the same margin as fastai's "minimum divided by 10").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lint_train.runtime.lrprobe import ScaledOptimizer, Trial, number, run_trial
from lint_train.runtime.trend import THRESHOLD, sparkline

GRID = tuple(10 ** (k / 2) for k in range(-8, 9))
DEFAULT_STEPS = 100
# Stop climbing after this many divergent rates in a row.
DIVERGED_IN_A_ROW = 2
# The suggestion stays at least this factor below the lowest divergent rate above it.
MARGIN = 10.0


@dataclass(frozen=True)
class RangeTest:
    script: str
    max_steps: int
    trials: tuple[Trial, ...]
    suggested: Trial | None
    reason: str  # why that suggestion, or why none
    stopped: str | None  # why rates of the grid were left untried
    seconds: float
    error: str | None = None  # the test could not run: no optimizer, or the script fails

    @property
    def optimizers(self) -> tuple[ScaledOptimizer, ...]:
        return next((t.optimizers for t in self.trials if t.optimizers), ())

    def lr(self, scale: float) -> float:
        """The first parameter group's rate at `scale`: the test's lr column."""
        first = self.optimizers[0].lrs[0] if self.optimizers else None
        return scale if first is None else first * scale

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return 2
        return 0 if self.suggested is not None else 1


def lr_find(
    script: str,
    args: Sequence[str],
    max_steps: int = DEFAULT_STEPS,
    timeout: float = 300.0,
    threads: int | None = None,
    source: str | None = None,
    threshold: float = THRESHOLD,
    device: str | None = None,
) -> RangeTest:
    """Run the range test; `timeout` bounds the whole test, `max_steps` each run."""
    started = time.monotonic()
    trials: list[Trial] = []
    stopped = None
    for scale in GRID:
        remaining = timeout - (time.monotonic() - started)
        if remaining <= 0:
            stopped = f"--timeout {timeout:g} s reached after {len(trials)} of {len(GRID)} rates"
            break
        trial = run_trial(
            script, args, scale, max_steps, remaining, threads, source, threshold, device
        )
        trials.append(trial)
        if not trial.optimizers:
            break  # nothing to scale; every rate would run the same
        if len(trials) >= DIVERGED_IN_A_ROW and all(
            t.diverged for t in trials[-DIVERGED_IN_A_ROW:]
        ):
            if len(trials) < len(GRID):
                stopped = f"higher rates not tried: the last {DIVERGED_IN_A_ROW} diverged"
            break
    seconds = time.monotonic() - started
    error = _error(trials)
    if error is not None:
        return RangeTest(script, max_steps, tuple(trials), None, error, stopped, seconds, error)
    suggested, reason = suggest(trials)
    return RangeTest(script, max_steps, tuple(trials), suggested, reason, stopped, seconds)


def _error(trials: Sequence[Trial]) -> str | None:
    if not trials:
        return "no rate was tried within --timeout"
    if not any(t.optimizers for t in trials):
        failed = next((t.error for t in trials if t.error), None)
        if failed:
            return f"the script failed before it built an optimizer ({failed})"
        return "the script built no torch.optim optimizer, so there is no learning rate to scale"
    if all(t.error is not None and not t.diverged for t in trials):
        return f"the script failed at every rate ({trials[0].error})"
    return None


def suggest(trials: Sequence[Trial]) -> tuple[Trial | None, str]:
    """The suggested trial and why; None when no rate trained."""
    trained = [t for t in trials if t.trained and not t.diverged]
    if trials and all(t.diverged for t in trials):
        return None, (
            f"every rate diverged, down to x{trials[0].scale:.3g} of the script's: the cause is "
            "likely not the learning rate; look at the data and at how the loss is computed"
        )
    if not trained:
        reason = (
            "no rate trained: none made the loss fall by the threshold without diverging; "
            "try more --max-steps"
        )
        calm = [t for t in trials if not t.diverged and t.error is None]
        best = min(calm, key=lambda t: t.trend.relative_change or 0.0, default=None)
        if best is not None and best is calm[-1] and (best.trend.relative_change or 0.0) < 0:
            reason += (
                f"; the loss fell most at the highest rate tried (x{best.scale:.3g}: "
                f"{_change(best)}), so a higher one may train"
            )
        return None, reason
    best = min(trained, key=lambda t: t.trend.relative_change or 0.0)
    edge = min((t.scale for t in trials if t.diverged and t.scale > best.scale), default=None)
    if edge is None or best.scale * MARGIN <= edge * (1 + 1e-9):
        return best, f"its loss changed most ({_change(best)}) in {best.steps} steps"
    safe = [t for t in trained if t.scale * MARGIN <= edge * (1 + 1e-9)]
    if not safe:
        return best, (
            f"its loss changed most ({_change(best)}), but it is less than {MARGIN:g}x below a "
            "rate that diverged: no rate further below trained"
        )
    chosen = max(safe, key=lambda t: t.scale)
    return chosen, (
        f"the largest rate at least {MARGIN:g}x below the first divergent one that trained "
        f"(its loss changed {_change(chosen)}; the best, {_change(best)}, was at "
        f"x{best.scale:.3g}, next to divergence)"
    )


def _change(trial: Trial) -> str:
    change = trial.trend.relative_change
    return "?" if change is None else f"{change:+.1%}"


def to_text(test: RangeTest) -> str:
    lines = [
        f"lr-find {test.script}  ({len(test.trials)} rates tried, up to {test.max_steps} "
        f"steps each, {test.seconds:.1f} s)"
    ]
    if test.optimizers:
        names = ", ".join(o.named() for o in test.optimizers)
        groups = sum(len(o.lrs) for o in test.optimizers)
        together = (
            f"; all {groups} rates scaled together by the same factor, the lr column is "
            f"{test.optimizers[0].type}'s first group's"
            if groups > 1
            else ""
        )
        lines.append(f"  scaled     {names}{together}")
    if test.trials:
        lines.append(f"  {'lr':<10} {'x':<8} {'change':>10}  {'diverged':<8}  loss")
        for t in test.trials:
            lines.append(
                f"  {number(test.lr(t.scale)):<10} {number(t.scale):<8} {_change(t):>10}  "
                f"{_diverged(t):<8}  {sparkline(t.trend.values, 16)}".rstrip()
            )
        lines.append(f"  {'by lr':<10} {curve(test.trials)}  (low to high; ! diverged)")
    if test.stopped:
        lines.append(f"  stopped    {test.stopped}")
    if test.error is not None:
        lines.append(f"lr-find: {test.error}; exit 2")
    elif test.suggested is None:
        lines.append(f"no suggestion: {test.reason}; exit 1")
    else:
        scale = test.suggested.scale
        scaled = ", ".join(o.named(scale) for o in test.optimizers)
        lines.append(
            f"suggested lr: {number(test.lr(scale))} (x{number(scale)}: {scaled}); "
            f"{test.reason}; exit 0"
        )
    return "\n".join(lines) + "\n"


def to_data(test: RangeTest) -> dict[str, Any]:
    """The `lr_find` object of the JSON report."""
    suggested = test.suggested
    return {
        "suggested_lr": None if suggested is None else test.lr(suggested.scale),
        "suggested_scale": None if suggested is None else suggested.scale,
        "reason": test.reason,
        "max_steps": test.max_steps,
        "optimizers": [{"type": o.type, "lrs": list(o.lrs)} for o in test.optimizers],
        "scaled_together": sum(len(o.lrs) for o in test.optimizers) > 1,
        "tried": [
            {
                "lr": test.lr(t.scale),
                "scale": t.scale,
                "relative_change": t.trend.relative_change,
                "diverged": t.diverged,
                "trained": t.trained,
                "steps": t.steps,
                "error": t.error,
            }
            for t in test.trials
        ],
        "stopped": test.stopped,
        "error": test.error,
    }


def curve(trials: Sequence[Trial]) -> str:
    """A sparkline of the last window's mean relative to the first, one mark per rate: `!` a
    rate that diverged, `?` one with too few losses to tell."""
    ratios = [1 + (t.trend.relative_change or 0.0) for t in trials]
    known = [not t.diverged and t.trend.relative_change is not None for t in trials]
    drawn = iter(sparkline([r for r, k in zip(ratios, known, strict=True) if k], len(trials)))
    return "".join(
        next(drawn) if k else "!" if t.diverged else "?" for t, k in zip(trials, known, strict=True)
    )


def _diverged(trial: Trial) -> str:
    if trial.diverged:
        return "yes"
    return "failed" if trial.error is not None else "no"

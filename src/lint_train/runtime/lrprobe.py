"""Is the learning rate why a run did not train? Short probes of the same script decide.

When a verify run diverges (a loss that became NaN or inf, or grew tenfold) or stagnates (the
loss did not fall by the threshold although every optimizer stepped and backward reached it),
and no runtime finding explains it, the same script runs again in child processes with every
optimizer's learning rate scaled by one factor (lrscale.py scales it in the child; the script is
not changed), for as many optimizer steps as the first run took:
- a divergence tries 0.1, 0.01, 0.001 until one run trains;
- a stagnation tries 10 and 0.1, then goes on in the direction that helped more (100, 1000,
  10000 or 0.01, 0.001) while each rate does better than the one before, until one run trains;
  at most five probes.
The verdict names a cause only on the probes' evidence: the learning rate is too high when a
lower one trained (or, for a divergence, no longer diverged), too low when a higher one trained.
A divergence that every lower rate repeats at the same step is not the learning rate's doing
(data with a NaN, the log of zero), and neither is one before the first optimizer step (no rate
has acted yet: no probe is needed), nor a stagnation whose loss moves the same at every rate
tried, up and down. Otherwise the probes do not tell, and the verdict says that.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lint_train.runtime.events import Observation, parse_events
from lint_train.runtime.launch import run_child
from lint_train.runtime.trend import THRESHOLD, LossTrend, judge, loss_trend, sparkline

# A loss whose last window averages this many times its first window's mean diverged, as one
# that became NaN or inf did. A buggy loop's loss rose at most 5.5x on the project's fixtures
# (TRN001: gradients never cleared), and those runs carry a runtime finding anyway.
GROWTH = 10.0
DIVERGED_SCALES = (0.1, 0.01, 0.001)
STAGNANT_FIRST = (10.0, 0.1)
STAGNANT_MORE = {True: (100.0, 1000.0, 10000.0), False: (0.01, 0.001)}  # keyed by "upwards"
MAX_PROBES = 5


@dataclass(frozen=True)
class ScaledOptimizer:
    """One optimizer the script built: its type and each parameter group's rate as the script
    set it (None: a rate the probe could not read as a number)."""

    type: str
    lrs: tuple[float | None, ...]

    def named(self, scale: float = 1.0) -> str:
        rates = [number(lr * scale) if lr is not None else "?" for lr in self.lrs]
        if len(rates) == 1:
            return f"{self.type} lr={rates[0]}"
        return f"{self.type} lrs={','.join(rates)} ({len(rates)} param groups)"


@dataclass(frozen=True)
class Trial:
    """One run of the script with every learning rate scaled by `scale`."""

    scale: float
    optimizers: tuple[ScaledOptimizer, ...]
    trend: LossTrend
    steps: int
    # (optimizer steps completed before it, how) when the loss diverged; None when it did not
    divergence: tuple[int, str] | None
    error: str | None  # how the script failed, if it did
    seconds: float
    threshold: float = THRESHOLD

    @property
    def diverged(self) -> bool:
        return self.divergence is not None

    @property
    def trained(self) -> bool:
        return self.error is None and judge(self.trend, self.threshold).trained

    def summary(self) -> str:
        """What the loss did, in a few words."""
        if self.error is not None:
            return f"the script failed ({self.error})"
        if self.divergence is not None:
            after, how = self.divergence
            return f"{how} after {count(after, 'step')}"
        change = self.trend.relative_change
        if change is None:
            return f"{len(self.trend.values)} loss values, too few to judge"
        if change >= 0:
            return f"the loss rose {change:.1%}"
        # A fall past the threshold that did not count: the verdict's noise test refused it.
        noisy = change <= -self.threshold and not self.trained
        return f"the loss fell {-change:.1%}" + (" (within its noise)" if noisy else "")


@dataclass(frozen=True)
class Diagnosis:
    symptom: str  # diverged | stagnated
    cause: str  # lr-too-high | lr-too-low | not-lr | unclear
    message: str
    probes: tuple[Trial, ...]


def run_trial(
    script: str,
    args: Sequence[str],
    scale: float,
    max_steps: int,
    timeout: float,
    threads: int | None = None,
    source: str | None = None,
    threshold: float = THRESHOLD,
    device: str | None = None,
) -> Trial:
    """Run the script once with every learning rate multiplied by `scale` (on `device`, as
    `verify --device` asks)."""
    run = run_child(
        script, list(args), max_steps, timeout, threads, source, lr_scale=scale, device=device
    )
    seen = parse_events(run.event_lines)
    losses = [math.nan if v is None else v for v in seen.losses]
    trend = loss_trend([v for v in seen.losses if v is not None])
    error = None
    if seen.outcome == "error":
        error = f"{seen.error_type}: {seen.error_message}"
    elif seen.outcome == "exit" and seen.exit_code:
        error = f"exited with status {seen.exit_code}"
    elif seen.outcome is None and not run.timed_out and run.returncode != 0:
        error = f"ended with status {run.returncode}"
    return Trial(
        scale=scale,
        optimizers=scaled_optimizers(run.event_lines),
        trend=trend,
        steps=len(seen.steps),
        divergence=divergence(losses, seen),
        error=error,
        seconds=run.seconds,
        threshold=threshold,
    )


def scaled_optimizers(event_lines: Sequence[str]) -> tuple[ScaledOptimizer, ...]:
    """The optimizers lrscale.py scaled, in the order the script built them."""
    found = []
    for line in event_lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("ev") == "lr_scale":
            found.append(ScaledOptimizer(event["type"], tuple(event["lrs"])))
    return tuple(found)


def divergence(losses: Sequence[float], seen: Observation) -> tuple[int, str] | None:
    """(optimizer steps completed before the loss diverged, how) or None: the first loss that
    is NaN or inf, or else the first that reached GROWTH times the first window's mean, when
    the last window's mean reached it too."""
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        return _steps_before(seen, bad), f"the loss became {losses[bad]}"
    trend = loss_trend(losses)
    if trend.first is None or trend.last is None or trend.first <= 0:
        return None
    if trend.last < GROWTH * trend.first:
        return None
    high = next(i for i, v in enumerate(losses) if v >= GROWTH * trend.first)
    return _steps_before(seen, high), f"the loss grew {trend.last / trend.first:.3g}x"


def _steps_before(seen: Observation, backward: int) -> int:
    if backward >= len(seen.backward_positions):
        return len(seen.steps)
    position = seen.backward_positions[backward]
    return sum(step.position < position for step in seen.steps)


def symptom(seen: Observation, trend: LossTrend, trained: bool, has_findings: bool) -> str | None:
    """`diverged` or `stagnated` when the run is one the probes can explain; None otherwise: it
    trained, a runtime finding already explains it, nothing stepped, or too few losses."""
    if has_findings or not seen.steps:
        return None
    losses = [math.nan if v is None else v for v in seen.losses]
    if divergence(losses, seen) is not None:
        return "diverged"
    if trained or seen.outcome in ("error", None) or trend.relative_change is None:
        return None
    if seen.outcome == "exit" and seen.exit_code:
        return None
    # Every optimizer stepped, and backward reached each one's parameters.
    stepped = {step.optimizer for step in seen.steps}
    everyone = set(range(len(seen.optimizers)))
    if not everyone <= stepped or not everyone <= seen.optimizers_reached:
        return None
    return "stagnated"


def diagnose(
    kind: str,
    seen: Observation,
    trend: LossTrend,
    run: Callable[[float], Trial],
) -> Diagnosis:
    """Probe with `run(scale)` and conclude; `seen` and `trend` are the first run's."""
    losses = [math.nan if v is None else v for v in seen.losses]
    if kind == "diverged":
        return _diverged(divergence(losses, seen), run)
    return _stagnated(trend, len(seen.steps), run)


def _diverged(first: tuple[int, str] | None, run: Callable[[float], Trial]) -> Diagnosis:
    assert first is not None
    after, how = first
    if after == 0:
        # No optimizer had stepped yet: no learning rate has touched the weights.
        return Diagnosis(
            "diverged",
            "not-lr",
            f"not the learning rate: {how} before the first optimizer step, before any rate "
            "could act; look at the data and at how the loss is computed",
            (),
        )
    probes: list[Trial] = []
    for scale in DIVERGED_SCALES:
        probes.append(run(scale))
        if probes[-1].trained:
            break
    names = _names(probes)
    base = f"{names} diverged ({how} after {count(after, 'step')})"
    fixed = next((p for p in probes if p.trained), None) or next(
        (p for p in probes if p.error is None and not p.diverged and p.trend.values), None
    )
    if fixed is not None:
        return Diagnosis(
            "diverged",
            "lr-too-high",
            f"learning rate too high: {base}; {_with(fixed)} {fixed.summary()} "
            f"in the same {count(fixed.steps, 'step')}",
            tuple(probes),
        )
    scales = _scales(probes)
    if probes and all(p.divergence and p.divergence[0] == after for p in probes):
        return Diagnosis(
            "diverged",
            "not-lr",
            f"not the learning rate: with every lr scaled by {scales} the loss still "
            f"diverged exactly as before ({how} after {count(after, 'step')}); look at the "
            "data and at how the loss is computed",
            tuple(probes),
        )
    return Diagnosis(
        "diverged",
        "unclear",
        f"the probes do not tell: with every lr scaled by {scales}, "
        + "; ".join(f"x{number(p.scale)}: {p.summary()}" for p in probes),
        tuple(probes),
    )


def _stagnated(trend: LossTrend, steps: int, run: Callable[[float], Trial]) -> Diagnosis:
    probes = [run(scale) for scale in STAGNANT_FIRST]
    up, down = probes
    if not (up.trained or down.trained):
        upwards = _better(up, down)
        ladder = [up if upwards else down]
        for scale in STAGNANT_MORE[upwards][: MAX_PROBES - len(probes)]:
            probe = run(scale)
            probes.append(probe)
            ladder.append(probe)
            if probe.trained or probe.diverged or probe.error is not None:
                break
            if _change(probe) >= _change(ladder[-2]):
                break  # no better than the rate before it: further will not help either
    change = trend.relative_change or 0.0
    moved = f"fell only {-change:.1%}" if change < 0 else f"rose {change:.1%}"
    base = f"with {_names(probes)} the loss {moved} in {count(steps, 'step')}"
    listed = "; ".join(f"x{number(p.scale)}: {p.summary()}" for p in probes)
    trained = [p for p in probes if p.trained]
    if trained:
        best = min(trained, key=_change)
        words = "too low" if best.scale > 1 else "too high"
        return Diagnosis(
            "stagnated",
            "lr-too-low" if best.scale > 1 else "lr-too-high",
            f"learning rate {words}: {base}; {_with(best)} {best.summary()} in the same "
            f"{count(best.steps, 'step')}",
            tuple(probes),
        )
    # The rate is not the cause only when the loss did not respond to it at all: every probe,
    # up and down, moved the loss within a tenth of the threshold of the first run's change.
    both_ways = any(p.scale > 1 for p in probes) and any(p.scale < 1 for p in probes)
    band = probes[0].threshold / 10
    flat = all(
        p.error is None and not p.diverged and abs(_change(p) - change) <= band for p in probes
    )
    if both_ways and flat:
        return Diagnosis(
            "stagnated",
            "not-lr",
            f"not the learning rate: with every lr scaled by {_scales(probes)} the loss moved "
            f"as little as before ({listed})",
            tuple(probes),
        )
    ladder = sorted((p for p in probes if p.scale > 1), key=lambda p: p.scale)
    rising = len(ladder) >= 2 and all(
        _change(b) < _change(a) for a, b in itertools.pairwise(ladder)
    )
    hint = (
        "; the loss fell more at each higher rate, so the rate may be far too low: try "
        "`lint-train verify --lr-find`"
        if rising
        else ""
    )
    message = f"the probes do not tell: {listed}{hint}"
    return Diagnosis("stagnated", "unclear", message, tuple(probes))


def _change(trial: Trial) -> float:
    """The relative change of a probe's loss; one that cannot be judged counts as no change."""
    change = trial.trend.relative_change
    return 0.0 if change is None else change


def _better(up: Trial, down: Trial) -> bool:
    """Whether going up looks more promising than going down."""
    if up.diverged or up.error is not None:
        return False
    if down.diverged or down.error is not None:
        return True
    return (up.trend.relative_change or 0.0) <= (down.trend.relative_change or 0.0)


def _names(probes: Sequence[Trial]) -> str:
    """The script's optimizers and their rates, as the probes saw them built."""
    optimizers = next((p.optimizers for p in probes if p.optimizers), ())
    return ", ".join(o.named() for o in optimizers) or "its learning rate"


def _with(trial: Trial) -> str:
    scaled = ", ".join(o.named(trial.scale) for o in trial.optimizers)
    return f"with {scaled} (x{number(trial.scale)})" if scaled else f"with x{trial.scale:g}"


def _scales(probes: Sequence[Trial]) -> str:
    numbers = [number(p.scale) for p in probes]
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]


def number(value: float) -> str:
    """A rate or loss as the reports print it."""
    return f"{value:.3g}"


def count(n: int, noun: str) -> str:
    """`n` and the noun, plural unless n is 1."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def to_lines(diagnosis: Diagnosis) -> tuple[str, str]:
    """The report's two fields: the probes, one per line, and the conclusion."""
    rows = []
    for p in diagnosis.probes:
        verdict = "trained" if p.trained else "diverged" if p.diverged else "did not train"
        rows.append(
            f"x{number(p.scale):<6} {p.summary()}; {verdict}  {sparkline(p.trend.values, 16)}"
        )
    return "\n".join(rows) or "none needed", diagnosis.message


def to_data(diagnosis: Diagnosis) -> dict[str, object]:
    """The diagnosis for the JSON report."""
    return {
        "symptom": diagnosis.symptom,
        "cause": diagnosis.cause,
        "message": diagnosis.message,
        "optimizers": [
            {"type": o.type, "lrs": list(o.lrs)}
            for o in next((p.optimizers for p in diagnosis.probes if p.optimizers), ())
        ],
        "probes": [
            {
                "scale": p.scale,
                "steps": p.steps,
                "relative_change": p.trend.relative_change,
                "diverged": p.diverged,
                "trained": p.trained,
                "error": p.error,
                "seconds": round(p.seconds, 3),
            }
            for p in diagnosis.probes
        ],
    }

"""Which optimizer each loss trains: the run's losses split into objectives (parent side).

A loss trains the optimizers that step on its gradients. In the event log that is the run of
optimizer steps that follows the run of backward calls it belongs to: `backward, step(D)`
gives D its loss, `backward x4, step(opt)` gives opt four accumulated losses, and
`backward, step(enc), step(dec)` gives one loss to two optimizers together. Backward calls no
step follows (a run cut short, a gradient computed for analysis) train nothing and belong to no
objective.

An objective is the set of optimizers such runs name, with every loss given to exactly that
set. A GAN has two: the discriminator's loss, stepped by its optimizer, and the generator's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lint_train.runtime.events import Observation
from lint_train.runtime.trend import ObjectiveTrend, loss_trend, opposition


@dataclass(frozen=True)
class Objective:
    optimizers: tuple[int, ...]  # the optimizers (indices as the probe numbers them)
    losses: tuple[float, ...]
    positions: tuple[int, ...]  # where each loss's backward sits in the event log
    # The optimizers whose parameters its backward calls reached: its own, and any other
    # objective's its loss depends on (the discriminator, for a generator's loss).
    reaches: frozenset[int] = frozenset()


def split_objectives(seen: Observation) -> list[Objective]:
    """The objectives, in the order their first loss was seen; losses that were not scalars
    (backward on a tensor with a gradient argument) are left out."""
    call_at = {position: i for i, position in enumerate(seen.backward_positions)}
    events = sorted(
        [(position, None) for position, i in call_at.items() if seen.losses[i] is not None]
        + [(step.position, step.optimizer) for step in seen.steps]
    )
    pending: list[int] = []  # backward positions waiting for their steps
    stepping: set[int] = set()
    claimed: list[tuple[list[int], set[int]]] = []
    for position, optimizer in events:
        if optimizer is None:
            if stepping:
                pending, stepping = [], set()
            pending.append(position)
        elif pending:
            if not stepping:  # the first step after these backward calls
                claimed.append((pending, stepping))
            stepping.add(optimizer)
    grouped: dict[tuple[int, ...], list[int]] = {}
    for positions, optimizers in claimed:
        grouped.setdefault(tuple(sorted(optimizers)), []).extend(positions)
    objectives = []
    for key, positions in grouped.items():
        calls = [call_at[p] for p in positions]
        reaches = frozenset(o for i in calls for o in seen.reached_by.get(i, ()))
        losses = tuple(v for i in calls if (v := seen.losses[i]) is not None)
        objectives.append(Objective(key, losses, tuple(positions), reaches))
    return objectives


def coupled(first: Objective, second: Objective) -> bool:
    """Whether one objective's loss reached the other's parameters: it depends on them, as a
    generator's loss depends on the discriminator it must fool."""
    return bool(first.reaches & set(second.optimizers) or second.reaches & set(first.optimizers))


def objective_trends(seen: Observation) -> list[ObjectiveTrend]:
    """Each objective's loss trajectory, named, with how it moves against the others."""
    objectives = split_objectives(seen)
    trends = []
    for objective in objectives:
        others = [o for o in objectives if o is not objective]
        correlations = [opposition(*aligned(objective, other)) for other in others]
        known = [c for c in correlations if c is not None]
        trends.append(
            ObjectiveTrend(
                objective_name(seen, objective),
                loss_trend(objective.losses),
                min(known, default=None),
                any(coupled(objective, other) for other in others),
            )
        )
    return trends


def aligned(first: Objective, second: Objective) -> tuple[list[float], list[float]]:
    """The two losses side by side, round by round: each loss of the objective with fewer
    losses (on a tie, the one whose losses come second in each round) paired with the other's
    latest loss before it. So a GAN's discriminator and generator losses of one iteration face
    each other, and a discriminator that steps five times per generator step is read once per
    round, at its last step. The pairing does not depend on the order of the arguments. Pairs
    with a non-finite value are left out."""
    few, many = sorted((first, second), key=lambda o: (len(o.losses), -o.positions[0]))
    pairs: list[tuple[float, float]] = []
    index = -1
    for position, loss in zip(few.positions, few.losses, strict=True):
        while index + 1 < len(many.positions) and many.positions[index + 1] < position:
            index += 1
        if index >= 0 and math.isfinite(loss) and math.isfinite(many.losses[index]):
            pairs.append((loss, many.losses[index]))
    if few is not first:
        pairs = [(b, a) for a, b in pairs]
    return [a for a, _ in pairs], [b for _, b in pairs]


def objective_name(seen: Observation, objective: Objective) -> str:
    """What the report calls an objective: its optimizers' names in the script (`opt_d`), or
    their type and number where the script's line named none (`Adam #2`)."""
    return "+".join(optimizer_name(seen, i) for i in objective.optimizers)


def optimizer_name(seen: Observation, index: int) -> str:
    if index >= len(seen.optimizers):
        return f"optimizer #{index + 1}"
    info = seen.optimizers[index]
    named = [o.name for o in seen.optimizers]
    if info.name and named.count(info.name) == 1:
        return info.name
    return f"{info.type} #{index + 1}"

"""Loops shared by training and evaluation: one loop body serves the training split and the
validation split (`for split in ("train", "valid"):` around it), picks the mode by the split
(`model.train()` or `model.eval()`), and runs backward only `if split == "train":`. On the
validation way the iteration runs the model in eval mode with autograd on and no backward pass:
evaluation that records a graph for nothing (TRN003).

The interpreter records, for each training loop, the forward passes of its own code run in
eval mode (set in view) with autograd on, with the branch facts of each path that ran them
(`TrainingLoop.eval_forwards`), and the facts of the paths that ran each backward pass
(`TrainingLoop.backward_ways`). A forward's path evaluates only when it took a way of a
condition under which no backward pass of the loop ever ran, while each of them ran the other
way: the backward passes are all guarded by that one test, decided before the forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .model import TrainingLoop


@dataclass(frozen=True)
class SharedEvaluation:
    forward: cst.CSTNode  # the forward call
    model: str  # as written
    condition: str  # the test that skips every backward pass, as written
    value: bool  # the way of it that skips them


def evaluating_ways(loop: TrainingLoop) -> list[SharedEvaluation]:
    """The forward passes of `loop` that some path runs as evaluation (see the docstring)."""
    ways = loop.backward_ways
    if not ways or set(ways) != {id(node) for node in loop.backward_nodes}:
        return []  # a backward pass in a helper: the ways it is on are not known
    out = []
    for node, written, seen in loop.eval_forwards.values():
        for facts in seen:
            skipped = _skipping(facts, list(ways.values()))
            if skipped is not None:
                out.append(SharedEvaluation(node, written, *skipped))
                break
    return out


def _skipping(
    facts: frozenset[tuple[str, bool]], backward_ways: list[set[tuple[str, bool]]]
) -> tuple[str, bool] | None:
    for condition, value in sorted(facts):
        if condition.startswith("<"):
            continue  # the interpreter's own facts (a backward ran in this iteration)
        if all(
            (condition, not value) in taken and (condition, value) not in taken
            for taken in backward_ways
        ):
            return condition, value
    return None

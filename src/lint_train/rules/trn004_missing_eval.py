"""TRN004 missing-eval: evaluation code runs with the model in training mode.

In training mode, dropout drops activations at random and batch-norm normalises with the
batch's statistics and updates its running averages. Validation numbers come out noisy and
wrong, and the model's running statistics are changed by the validation data. Call
`model.eval()` (or `model.train(False)`) before evaluating, in the function or in its caller.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.model import LoopModel
from ..types import RuleInfo
from . import Report

INFO = RuleInfo(
    "TRN004",
    "missing-eval",
    "Evaluation code runs while the model is still in training mode.",
)

MESSAGE = (
    "`{model}` is still in training mode in this evaluation code (dropout and batch-norm "
    "behave as in training); call `{model}.eval()` before it"
)


def check(model: LoopModel) -> Iterator[Report]:
    for site in model.eval_sites.values():
        for name, seen in site.modes.items():
            if not model.program.mode_sensitive(site.model_roots.get(name, name)):
                continue  # no dropout or batch-norm in view: the mode changes nothing
            # Some path reaches this evaluation code with the model surely in training mode.
            if any(_training(modes, site.is_loop) for modes in seen):
                yield Report(site.node, MESSAGE.format(model=name))
                break


def _training(modes: frozenset[str], is_loop: bool) -> bool:
    if modes - {"default", "train", "init"}:
        return False
    # With no caller in view, only a loop over data is evidence enough of evaluation.
    return "init" not in modes or is_loop

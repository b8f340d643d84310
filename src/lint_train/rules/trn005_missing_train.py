"""TRN005 missing-train: training resumes with the model left in eval mode.

A loop that evaluates (and so calls `model.eval()`) and then trains again must switch back
with `model.train()`. Otherwise every epoch after the first trains with dropout off and
batch-norm frozen: the loss still falls, but the model is not trained as intended.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.model import LoopModel
from ..types import RuleInfo
from . import Report

INFO = RuleInfo(
    "TRN005",
    "missing-train",
    "A loop trains again after evaluation without switching the model back to train mode.",
)

MESSAGE = (
    "`{model}` can still be in eval mode from the previous evaluation when this loop trains "
    "it; call `{model}.train()` at the start of each training phase"
)


def check(model: LoopModel) -> Iterator[Report]:
    for loop in model.loops.values():
        for name, seen in sorted(loop.train_modes.items()):
            if not model.program.mode_sensitive(loop.model_roots.get(name, name)):
                continue  # no dropout or batch-norm in view: the mode changes nothing
            if any("eval~" in modes and "unk" not in modes for modes in seen):
                yield Report(loop.node, MESSAGE.format(model=name))
                break

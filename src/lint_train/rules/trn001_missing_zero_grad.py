"""TRN001 missing-zero-grad: a loop steps an optimizer on gradients it never clears.

`backward()` adds into `.grad`. If nothing clears the gradients between one step and the next
backward, every step applies the sum of all earlier iterations' gradients and training drifts
or diverges. Clearing once before the loop is this bug; clearing on only one branch of the
loop is this bug too. Gradient accumulation (clearing next to a conditional step) is not.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.model import LoopModel
from ..types import RuleInfo
from . import Report

INFO = RuleInfo(
    "TRN001",
    "missing-zero-grad",
    "A training loop steps an optimizer without clearing its gradients each iteration.",
)

MESSAGE = (
    "`{opt}.step()` runs on gradients that are not cleared each time around this loop, so "
    "they accumulate across iterations; call `{opt}.zero_grad()` in the loop, before the "
    "backward pass"
)


STALE_ON_ENTRY = (
    "`{opt}` enters this loop with gradients an earlier step already used, and the loop "
    "accumulates onto them before its first `{opt}.step()`; call `{opt}.zero_grad()` just "
    "before the loop"
)


def check(model: LoopModel) -> Iterator[Report]:
    for loop in model.loops.values():
        for opt in sorted(loop.polluted_steps):
            root = loop.polluted_roots.get(opt, opt)
            stale = root in loop.entry_stepped and root not in loop.iteration_leaves_stepped
            yield Report(loop.node, (STALE_ON_ENTRY if stale else MESSAGE).format(opt=opt))

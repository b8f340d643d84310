"""TRN003 missing-no-grad: evaluation code runs forward passes with autograd enabled.

With grad on, every forward pass keeps its activations for a backward that never comes: it
costs memory (a common cause of out-of-memory during validation) and time. Wrapping
evaluation in `torch.no_grad()` or `torch.inference_mode()` (or decorating the function)
fixes it. A caller in view that disables grad counts.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.model import LoopModel
from ..types import RuleInfo
from . import Report

INFO = RuleInfo(
    "TRN003",
    "missing-no-grad",
    "Evaluation code runs model forward passes with autograd enabled.",
)

IN_LOOP = (
    "this evaluation loop runs `{model}` with autograd enabled, storing activations for a "
    "backward pass that never happens; wrap it in `with {torch}.no_grad():`"
)
IN_FUNCTION = (
    "`{function}` runs `{model}` for evaluation with autograd enabled, storing activations for "
    "a backward pass that never happens; decorate it with `@{torch}.no_grad()`"
)


def check(model: LoopModel) -> Iterator[Report]:
    for site in model.eval_sites.values():
        # Some path reaches this evaluation code with grad on (or unset by callers not in view).
        if not any(_enabled(grads, site.is_loop) for grads in site.grads):
            continue
        forwarded = next(iter(site.modes), "model")
        if site.is_loop or site.function is None:
            message = IN_LOOP.format(model=forwarded, torch=model.torch_name())
        else:
            function = site.function.split(".")[-1]
            message = IN_FUNCTION.format(
                function=function, model=forwarded, torch=model.torch_name()
            )
        yield Report(site.node, message)


def _enabled(grads: frozenset[str], is_loop: bool) -> bool:
    if grads - {"on", "init"}:
        return False
    # With no caller in view, only a loop over data is evidence enough of evaluation.
    return "on" in grads or is_loop

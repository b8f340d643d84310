"""TRN003 missing-no-grad: evaluation code runs forward passes with autograd enabled.

With grad on, every forward pass keeps its activations for a backward that never comes: it
costs memory (a common cause of out-of-memory during validation) and time. Wrapping
evaluation in `torch.no_grad()` or `torch.inference_mode()` (or decorating the function)
fixes it. A caller in view that disables grad counts.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ..analysis.model import EvalSite, LoopModel
from ..analysis.shared_loops import evaluating_ways
from ..types import RuleInfo
from . import Report, evaluation_code, forward_of
from .fixes import DECORATE, WRAP, Edit, Fix, Layout, describe, no_grad_call

INFO = RuleInfo(
    "TRN003",
    "missing-no-grad",
    "Evaluation code runs model forward passes with autograd enabled.",
)

IN_LOOP = (
    "this evaluation loop runs `{model}` with autograd enabled, storing activations for a "
    "backward pass that never happens; wrap it in `with {torch}.no_grad():`"
)
ELSEWHERE = (
    "`{function}` runs `{model}` for evaluation at {where} with autograd enabled by this "
    "call, storing activations for a backward pass that never happens; wrap the call in "
    "`with {torch}.no_grad():`"
)
IN_FUNCTION = (
    "`{function}` runs `{model}` for evaluation with autograd enabled, storing activations for "
    "a backward pass that never happens; decorate it with `@{torch}.no_grad()`"
)


SHARED = (
    "where `{condition}` is {value}, this loop runs `{model}` in eval mode with autograd enabled "
    "and no backward pass, storing activations for nothing; run that way under "
    "`with {torch}.no_grad():` (or `{torch}.set_grad_enabled(...)` of the test)"
)


def check(model: LoopModel) -> Iterator[Report]:
    yield from _shared(model)
    for site in model.eval_sites.values():
        # Some path reaches this evaluation code with grad on (or unset by callers not in view).
        if not any(_enabled(grads, site.is_loop) for grads in site.grads):
            continue
        forwarded = next(iter(site.modes), "model")
        elsewhere = model.elsewhere.get(id(site.node))
        if elsewhere is not None:
            function, where = elsewhere
            message = ELSEWHERE.format(
                function=function, model=forwarded, where=where, torch=model.torch_name()
            )
        elif site.is_loop or site.function is None:
            message = IN_LOOP.format(model=forwarded, torch=model.torch_name())
        else:
            function = site.function.split(".")[-1]
            message = IN_FUNCTION.format(
                function=function, model=forwarded, torch=model.torch_name()
            )
        fix = _fix(model, site, elsewhere is not None)
        related = evaluation_code(model, site)
        yield Report.with_fix(forward_of(site, forwarded), message, fix, related)


def _shared(model: LoopModel) -> Iterator[Report]:
    """Iterations of a training loop that only evaluate (see shared_loops.py). No fix: the
    loop also trains, so neither it nor its function may run without autograd."""
    for loop in model.loops.values():
        for found in evaluating_ways(loop):
            message = SHARED.format(
                condition=found.condition,
                value=str(found.value).lower(),
                model=found.model,
                torch=model.torch_name(),
            )
            yield Report.with_fix(
                found.forward, message, "the loop also trains on the other way", ()
            )


def _fix(model: LoopModel, site: EvalSite, elsewhere: bool) -> Fix | str:
    """Wrap the evaluation loop in `with torch.no_grad():`, or decorate the evaluation function
    with `@torch.no_grad()`, as the message says. Safe: the values computed do not change,
    only the autograd graph is no longer recorded."""
    code = no_grad_call(model)
    if code is None:
        return "this file imports neither `torch` nor `no_grad` under a name to use"
    layout = Layout.of(model)
    if site.is_loop or site.function is None or elsewhere:
        stmt = layout.statement(site.node)
        if not isinstance(layout.container(stmt), (cst.IndentedBlock, cst.Module)):
            return "the evaluation code shares its line with a compound statement"
        edits = (Edit(WRAP, stmt, code),)
    else:
        function = model.program.functions[site.function].node
        if function.asynchronous is not None:
            return "`no_grad()` cannot decorate an async function"
        edits = (Edit(DECORATE, function, code),)
    return Fix(describe(edits, layout), True, edits)


def _enabled(grads: frozenset[str], is_loop: bool) -> bool:
    if grads - {"on", "init"}:
        return False
    # With no caller in view, only a loop over data is evidence enough of evaluation.
    return "on" in grads or is_loop

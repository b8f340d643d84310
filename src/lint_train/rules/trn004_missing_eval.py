"""TRN004 missing-eval: evaluation code runs with the model in training mode.

In training mode, dropout drops activations at random and batch-norm normalises with the
batch's statistics and updates its running averages. Validation numbers come out noisy and
wrong, and the model's running statistics are changed by the validation data. Call
`model.eval()` (or `model.train(False)`) before evaluating, in the function or in its caller.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ..analysis.model import EvalSite, LoopModel, Trace
from ..analysis.names import dotted
from ..types import RuleInfo
from . import Report, evaluation_code, forward_of
from .fixes import BEFORE, Edit, Fix, Layout, describe

INFO = RuleInfo(
    "TRN004",
    "missing-eval",
    "Evaluation code runs while the model is still in training mode.",
)

MESSAGE = (
    "`{model}` is still in training mode in this evaluation code (dropout and batch-norm "
    "behave as in training); call `{model}.eval()` before it"
)
# Why `model.eval()` is not inserted where `model` may be no module (it would raise there).
TESTED_TYPE = (
    "the code tests `isinstance({model}, ...)` on the way to this forward pass, so `{model}` "
    "may be no module there and `{model}.eval()` would raise for it; switch it in the branch "
    "where it is one"
)
GIVEN_FUNCTION = (
    "a caller in view gives `{function}` a plain function as `{model}`, which has no "
    "`eval()`; switch the module to eval mode where a caller passes it"
)
ELSEWHERE = (
    "`{model}` is still in training mode when `{function}` evaluates it at {where} (dropout "
    "and batch-norm behave as in training); call `{switch}` before this call"
)


def check(model: LoopModel) -> Iterator[Report]:
    # One finding per model per evaluation function (the module's top level counts as one):
    # several evaluation loops after the same missing `.eval()`, or an evaluation function and
    # the loop inside it, are one mistake. The first evaluation to run is the one reported.
    reported: set[tuple[str | None, str]] = set()
    for site in model.eval_sites.values():
        for name, seen in site.modes.items():
            root = site.model_roots.get(name, name)
            if not model.program.mode_sensitive(root):
                continue  # no dropout or batch-norm in view: the mode changes nothing
            if (site.function, root) in reported:
                continue
            # Some path reaches this evaluation code with the model surely in training mode:
            # each model evaluated so gets its own finding.
            if any(_training(modes, site.is_loop) for modes in seen):
                reported.add((site.function, root))
                fix = _fix(model, site, name)
                related = evaluation_code(model, site)
                anchor = forward_of(site, name)
                elsewhere = model.elsewhere.get(id(site.node))
                if elsewhere is not None:
                    function, where = elsewhere
                    switch = _switched(model, name, name)
                    message = ELSEWHERE.format(
                        model=name, function=function, where=where, switch=switch
                    )
                else:
                    message = MESSAGE.format(model=name)
                yield Report.with_fix(anchor, message, fix, related)


def _fix(model: LoopModel, site: EvalSite, name: str) -> Fix | str:
    """`model.eval()` right before the evaluation loop (or the evaluating statement). Unsafe:
    it changes what the evaluation computes, and the model stays in eval mode afterwards, for
    code that may train it and is not in view."""
    root = site.model_roots.get(name, name)
    forwards = [t for t in site.trace if t.root == root and (site.is_loop or t.node is site.node)]
    layout = Layout.of(model)
    spelled = layout.spelled(forwards)
    if not forwards or spelled is None:
        return f"`{name}` has no single name where this evaluation code starts"
    # The loop, or the statement of the evaluation function that leads to the forward pass.
    anchors = {id(site.node if site.is_loop else t.site): t for t in forwards}
    if len(anchors) != 1:
        return "the evaluation code reaches its forward pass from several statements"
    anchor = site.node if site.is_loop else forwards[0].site
    no_module = _may_not_be_a_module(model, layout, site, forwards, anchor, spelled)
    if no_module is not None:
        return no_module
    edits = (Edit(BEFORE, layout.statement(anchor), _switched(model, name, spelled)),)
    return Fix(describe(edits, layout), False, edits)


def _may_not_be_a_module(
    model: LoopModel,
    layout: Layout,
    site: EvalSite,
    forwards: list[Trace],
    anchor: cst.CSTNode,
    spelled: str,
) -> str | None:
    """Why `spelled`, where the fix would call its `eval()`, may be no module at all (a `def`
    has no `eval`, so the fixed script would raise): a caller in view gives the evaluation
    function a plain function for it, or the evaluation code tests `isinstance(spelled, ...)`
    on the way from there to the forward pass. None when neither holds."""
    info = model.program.functions.get(site.function) if site.function else None
    if info is not None and f"{info.key}:{spelled}" in model.given_functions:
        return GIVEN_FUNCTION.format(function=info.name, model=spelled)
    for trace in forwards:
        node: cst.CSTNode | None = trace.site
        while node is not None and node is not anchor:
            parent = layout.parent(node)
            if isinstance(parent, (cst.If, cst.Else)) and node is not getattr(parent, "test", None):
                guard = parent if isinstance(parent, cst.If) else layout.parent(parent)
                if isinstance(guard, cst.If) and _tests_type_of(guard.test, spelled):
                    return TESTED_TYPE.format(model=spelled)
            node = parent
    return None


def _tests_type_of(test: cst.BaseExpression, spelled: str) -> bool:
    """`isinstance(spelled, ...)`, negated or not."""
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test = test.expression
    return (
        isinstance(test, cst.Call)
        and dotted(test.func) == "isinstance"
        and bool(test.args)
        and dotted(test.args[0].value) == spelled
    )


def _switched(model: LoopModel, name: str, spelled: str) -> str:
    """What puts `name` (written `spelled` where the fix goes) in eval mode: the switch its
    holder's class offers (`agent.eval()` for `agent.online_net`), else its own `eval()`."""
    attr, method = model.switches.get(name, ("", ""))
    if method and attr and spelled.endswith(attr):
        return f"{spelled[: -len(attr)]}.{method}()"
    if method and not attr:
        return f"{spelled}.{method}()"
    return f"{spelled}.eval()"


def _training(modes: frozenset[str], is_loop: bool) -> bool:
    if modes - {"default", "train", "init"}:
        return False
    # With no caller in view, only a loop over data is evidence enough of evaluation.
    return "init" not in modes or is_loop

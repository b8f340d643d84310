"""TRN007 loss-graph-accumulation: a loss kept across training iterations with its graph.

`total += loss`, `losses.append(loss)` or `history[step] = loss` in a loop that runs backward
keeps each iteration's loss tensor, and through its `grad_fn` the autograd graph behind it,
alive for as long as the container lives: memory grows with every step until it runs out, and
`total` becomes an ever longer chain of additions. The message says what stays alive: after a
backward pass of the loss that runs in each iteration that keeps it (without `retain_graph`),
the graph's nodes (and the loss tensor, in a list or dict), the activations having been freed,
whether the loss was kept before or after that pass; otherwise the whole graph, activations
included. Only the value a backward pass is called on in that loop counts as the loss;
`.item()`, `.detach()`, `float(...)`, a no-grad block, or a sum that is itself backpropagated
(truncated BPTT, accumulate then one backward) are fine.
Evaluation loops (no backward) that collect outputs with grad on are TRN003's.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ..analysis.model import KeptLoss, LoopModel
from ..types import RuleInfo
from . import Report
from .fixes import REPLACE, Edit, Fix, Layout, describe

INFO = RuleInfo(
    "TRN007",
    "loss-graph-accumulation",
    "A loss is kept across training iterations with its autograd graph attached.",
)

# What stays alive. After a backward pass that ran each time (without `retain_graph`), the
# activations are freed: a sum keeps the graph's nodes, a list or dict the loss tensor too.
# Otherwise the whole graph, activations included.
FREED = "the backward pass freed the activations, but every iteration's {what} stay alive"
WHOLE = "every iteration's whole graph stays alive, activations included"
MESSAGE = {
    "sum": (
        "`{container}` adds up `{loss}` with its autograd graph: {kept}, chained into "
        "`{container}`, so memory grows each step; add `{loss}.item()` (or `{loss}.detach()`)"
    ),
    "append": (
        "`{container}` keeps `{loss}` with its autograd graph: {kept}, so memory grows each "
        "step; keep `{loss}.item()` (or `{loss}.detach()`)"
    ),
    "store": (
        "`{container}` stores `{loss}` with its autograd graph under a new key each iteration: "
        "{kept}, so memory grows each step; store `{loss}.item()` (or `{loss}.detach()`)"
    ),
}
LOOP = "the training loop whose iterations' graphs `{container}` keeps"


def check(model: LoopModel) -> Iterator[Report]:
    for kept in model.kept_losses:
        what = "graph nodes" if kept.how == "sum" else "loss tensor and graph nodes"
        held = FREED.format(what=what) if kept.freed else WHOLE
        message = MESSAGE[kept.how].format(container=kept.container, loss=kept.loss, kept=held)
        related = ((kept.loop, LOOP.format(container=kept.container)),)
        yield Report.with_fix(kept.node, message, _fix(Layout.of(model), kept), related)


def _fix(layout: Layout, kept: KeptLoss) -> Fix | str:
    """Keep `value.detach()` instead of `value`. Safe: the kept numbers and their type (a
    tensor) are the same, so printing, logging, `.item()` and arithmetic on the container
    behave as before; only the graph goes, and the rule stays quiet wherever the container
    feeds a backward pass. (`.item()` would turn a tensor into a float, and `total.item()`
    later would then fail.)"""
    if len(kept.node.body) != 1:
        return "the statement shares its line with other statements"
    value = kept.value
    if not isinstance(value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    detached = cst.Call(func=cst.Attribute(value=value, attr=cst.Name("detach")))
    new = kept.small.deep_replace(kept.value, detached)
    code = layout.module.code_for_node(new).strip()
    if code.endswith(";"):
        code = code[:-1].rstrip()
    edits = (Edit(REPLACE, kept.node, code),)
    return Fix(describe(edits, layout), True, edits)

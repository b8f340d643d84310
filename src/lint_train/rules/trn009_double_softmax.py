"""TRN009 double-softmax: a loss that expects logits is given probabilities.

`cross_entropy` applies `log_softmax` to its input itself, `binary_cross_entropy_with_logits`
a sigmoid, and `nll_loss` expects log-probabilities. Given the output of a softmax (or a
sigmoid) instead, the loss squashes probabilities a second time: the gradients shrink, the
model learns slowly or stalls, and nothing raises. Reported only when the data flow is in view:
a softmax call, a layer or a model of the file whose output is one, a criterion bound once.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ..analysis.model import LoopModel
from ..analysis.probabilities import ProbabilityLoss
from ..types import RuleInfo
from . import Report
from .fixes import REPLACE, Edit, Fix, Layout, describe

INFO = RuleInfo(
    "TRN009",
    "double-softmax",
    "A loss that expects logits (`cross_entropy`, `BCEWithLogitsLoss`) is given probabilities.",
    preview=True,
)

MESSAGE = "`{loss}` is given `{argument}`, the output of a {activation}, but {applies}; {fix}"
APPLIES = {
    "cross_entropy": "it applies log-softmax itself, so the probabilities are squashed twice",
    "bce_with_logits": "it applies a sigmoid itself, so the probabilities are squashed twice",
    "nll_loss": "it expects log-probabilities, not probabilities",
}
FIX = {
    "cross_entropy": "pass the logits from before the softmax",
    "bce_with_logits": "pass the logits from before the sigmoid",
    "nll_loss": "use log_softmax instead of softmax",
}


def check(model: LoopModel) -> Iterator[Report]:
    layout = None
    for found in model.probability_losses():
        layout = layout or Layout.of(model)
        message = MESSAGE.format(
            loss=found.loss_text,
            argument=_short(layout.code(found.argument)),
            activation=found.activation,
            applies=APPLIES[found.loss],
            fix=FIX[found.loss],
        )
        related = ((found.origin, f"the {found.activation} applied here"),)
        yield Report.with_fix(found.call, message, _fix(layout, found), related)


def _short(code: str) -> str:
    return code if len(code) <= 40 else code[:37] + "..."


def _fix(layout: Layout, found: ProbabilityLoss) -> Fix | str:
    """Pass the activation's input instead: `loss_fn(F.softmax(logits, 1), y)` becomes
    `loss_fn(logits, y)`. Unsafe: the loss's value and scale change, and with them the
    training; an `nll_loss` keeps its input (it needs `log_softmax`, a different edit)."""
    if found.inner is None or found.loss == "nll_loss":
        return (
            "the probabilities come from a variable, a layer or a model whose output other code "
            "may use; removing the activation there changes what they get"
        )
    stmt = layout.statement(found.call)
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
        return "the loss call shares its line with other statements"
    if not isinstance(layout.container(stmt), (cst.IndentedBlock, cst.Module)):
        return "the loss call shares its line with a compound statement"
    small = stmt.body[0].deep_replace(found.argument, found.inner)
    edits = (Edit(REPLACE, stmt, layout.module.code_for_node(small).strip()),)
    return Fix(describe(edits, layout), False, edits)

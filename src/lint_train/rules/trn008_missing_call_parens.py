"""TRN008 missing-call-parens: `model.eval` written without `()` does nothing.

A method named without its call is looked up and thrown away: the model stays in training
mode, the gradients are not cleared, the optimizer or the scheduler does not step. Python says
nothing. Assigning the bound method, or passing it as a value (`callbacks.append(opt.step)`), is
not this: only a statement that is the bare attribute and nothing else is reported.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ..analysis.model import BareMethod, LoopModel
from ..types import RuleInfo
from . import Report
from .fixes import REPLACE, Edit, Fix, Layout, describe

INFO = RuleInfo(
    "TRN008",
    "missing-call-parens",
    "`model.eval`, `opt.zero_grad` or `opt.step` written without `()`: nothing happens.",
    preview=True,
)

MESSAGE = "`{receiver}.{method}` without parentheses does nothing, so {effect}; call `{call}`"
EFFECTS = {
    ("model", "eval"): "`{receiver}` stays in the mode it was in (not eval mode)",
    ("model", "train"): "`{receiver}` stays in the mode it was in (not training mode)",
    ("model", "zero_grad"): "the gradients of `{receiver}` are not cleared",
    ("optimizer", "zero_grad"): "the gradients of `{receiver}` are not cleared",
    ("optimizer", "step"): "`{receiver}` does not update the weights",
    ("scheduler", "step"): "the learning rate of `{receiver}` does not change",
}


def check(model: LoopModel) -> Iterator[Report]:
    for bare in model.bare_methods.values():
        call = f"{bare.receiver}.{bare.method}()"
        effect = EFFECTS[(bare.role, bare.method)].format(receiver=bare.receiver)
        message = MESSAGE.format(
            receiver=bare.receiver, method=bare.method, effect=effect, call=call
        )
        yield Report.with_fix(bare.node, message, _fix(model, bare, call))


def _fix(model: LoopModel, bare: BareMethod, call: str) -> Fix | str:
    """Add the parentheses. Safe: the call is what the statement names, and a bare attribute
    has no other use as a statement."""
    layout = Layout.of(model)
    stmt = layout.statement(bare.node)
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) != 1:
        return "the statement shares its line with other statements"
    if not isinstance(layout.container(stmt), (cst.IndentedBlock, cst.Module)):
        return "the statement shares its line with a compound statement"
    edits = (Edit(REPLACE, stmt, call),)
    return Fix(describe(edits, layout), True, edits)

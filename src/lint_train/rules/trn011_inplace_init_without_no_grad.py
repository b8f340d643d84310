"""TRN011 inplace-init-without-no-grad: a parameter changed in place with autograd on.

`fc.weight.normal_()`, `p.zero_()` or `p -= lr * p.grad` on a parameter while grad is enabled
raises "a leaf Variable that requires grad is being used in an in-place operation" (or, on a
view, records the change into the autograd graph). Initialisation and hand-written updates
belong under `torch.no_grad()`. Only objects that are evidently parameters are reported: the
`.weight` / `.bias` of a submodule, the items of a loop over `.parameters()`, a name bound to
`nn.Parameter(...)`; never `.data`, `nn.init.*` (which disables grad itself) or a parameter
made with `requires_grad=False`.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ..analysis.model import InplaceChange, LoopModel
from ..types import RuleInfo
from . import Report
from .fixes import WRAP, Edit, Fix, Layout, describe, no_grad_call

INFO = RuleInfo(
    "TRN011",
    "inplace-init-without-no-grad",
    "A parameter is changed in place (`.normal_()`, `-=`) with autograd enabled.",
    preview=True,
)

MESSAGE = (
    '`{target}` is a parameter changed in place with autograd enabled, which raises "a leaf '
    'Variable that requires grad is being used in an in-place operation"; wrap it in '
    "`with {torch}.no_grad():`"
)
_ON = frozenset({"on"})


def check(model: LoopModel) -> Iterator[Report]:
    for change in model.inplace_changes.values():
        # Some visit surely runs it with grad on: callers in view, none of them disabling it.
        if _ON not in change.grads:
            continue
        message = MESSAGE.format(target=change.target, torch=model.torch_name())
        yield Report.with_fix(change.node, message, _fix(model, change))


def _fix(model: LoopModel, change: InplaceChange) -> Fix | str:
    """Wrap the statement in `with torch.no_grad():`. Safe: the values written are the same;
    only the autograd recording (and the error it raises) goes."""
    code = no_grad_call(model)
    if code is None:
        return "this file imports neither `torch` nor `no_grad` under a name to use"
    layout = Layout.of(model)
    stmt = layout.statement(change.node)
    if not isinstance(layout.container(stmt), (cst.IndentedBlock, cst.Module)):
        return "the change shares its line with a compound statement"
    edits = (Edit(WRAP, stmt, code),)
    return Fix(describe(edits, layout), True, edits)

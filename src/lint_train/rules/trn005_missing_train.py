"""TRN005 missing-train: training resumes with the model left in eval mode.

A loop that evaluates (and so calls `model.eval()`) and then trains again must switch back
with `model.train()`. Otherwise every epoch after the first trains with dropout off and
batch-norm frozen: the loss still falls, but the model is not trained as intended.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.model import LoopModel, Trace, TrainingLoop
from ..types import RuleInfo
from . import Report, site_of
from .fixes import BEFORE, Edit, Fix, Layout, describe

INFO = RuleInfo(
    "TRN005",
    "missing-train",
    "A loop trains again after evaluation without switching the model back to train mode.",
)

MESSAGE = (
    "`{model}` can still be in eval mode from the previous evaluation when this loop trains "
    "it; call `{model}.train()` at the start of each training phase"
)


LOOP = "the training loop that runs `{model}` forward"

# Eval mode that training did not choose: left by evaluation code that ran before it (a
# baseline evaluation before the loop, an evaluation at each epoch's start), or by an earlier
# iteration of the loop. A `model.eval()` written in the training code itself, on the way to
# its training forward, is a choice (a frozen backbone, a linear probe) and is not reported.
_LEFT_BY_EVALUATION = frozenset({"eval~", "evaluated"})


def check(model: LoopModel) -> Iterator[Report]:
    for loop in model.loops.values():
        if loop.stepped and all(model.program.steps_own_tensors(o) for o in loop.stepped):
            continue  # an input (an adversarial patch) is trained through a model kept as it is
        for name, seen in sorted(loop.train_modes.items()):
            if not model.program.mode_sensitive(loop.model_roots.get(name, name)):
                continue  # no dropout or batch-norm in view: the mode changes nothing
            if any(modes & _LEFT_BY_EVALUATION and "unk" not in modes for modes in seen):
                fix = _fix(model, loop, name)
                root = loop.model_roots.get(name, name)
                anchor = site_of(
                    loop.trace, lambda t, root=root: t.kind == "forward" and t.root == root
                )
                yield Report.with_fix(
                    anchor or loop.node,
                    MESSAGE.format(model=name) + _left_elsewhere(model, root),
                    fix,
                    ((loop.node, LOOP.format(model=name)),),
                )
                break


def _left_elsewhere(model: LoopModel, root: str) -> str:
    """Where a function of another module leaves the model in eval mode, if one does."""
    elsewhere = model.left_elsewhere.get(root)
    if elsewhere is None:
        return ""
    function, where = elsewhere
    return f" (`{function}` leaves it in eval mode at {where})"


def _fix(model: LoopModel, loop: TrainingLoop, name: str) -> Fix | str:
    """`model.train()` where training starts: before the loop when the evaluation that left
    eval mode runs outside it, else before the first training forward pass of each iteration.
    Only when that forward pass surely trains (the backward runs whenever it does). Unsafe: it
    also undoes an eval mode set on purpose, such as frozen batch-norm layers."""
    root = loop.model_roots.get(name, name)
    layout = Layout.of(model)
    forwards = [t for t in loop.trace if t.kind == "forward" and t.root == root]
    backwards = [t for t in loop.trace if t.kind == "backward"]
    first = layout.earliest(forwards)
    spelled = layout.spelled(forwards)
    if first is None or spelled is None:
        return f"`{name}` has no single name in the function of this loop"
    if not any(_trains(layout, first, b) for b in backwards):
        return "the forward pass in this loop also runs when it does not train"
    evaluates = any(
        t.kind == "mode" and t.value != "train" and _related(t.root, root) for t in loop.trace
    )
    anchor = layout.statement(first.site) if evaluates else layout.statement(loop.node)
    edits = (Edit(BEFORE, anchor, f"{spelled}.train()"),)
    return Fix(describe(edits, layout), False, edits)


def _related(name: str | None, root: str) -> bool:
    """Whether setting the mode of `name` changes the mode of `root` (one holds the other)."""
    if name is None:
        return False
    return name == root or name.startswith(root + ".") or root.startswith(name + ".")


def _trains(layout: Layout, forward: Trace, backward: Trace) -> bool:
    """Whether the backward pass runs whenever the forward pass does, in one iteration. One
    statement that runs both (`criterion(model(x), y).backward()`) trains whenever it runs."""
    together = layout.statement(forward.site) is layout.statement(backward.site)
    if not together and not layout.precedes(forward, backward):
        return False
    found = layout.common(forward.site, backward.site)
    if found is None:
        return False
    container = found[0]
    return layout.unconditional(forward.site, container) and layout.unconditional(
        backward.site, container
    )

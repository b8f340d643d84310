"""TRN002 missing-optimizer-step: backward runs but the optimizer is never stepped.

Gradients are computed and thrown away: the weights never change, the loss stays flat. The
classic form calls only `scheduler.step()`, which changes the learning rate, not the weights.
With several optimizers, an optimizer that is cleared in the loop but never stepped is the bug.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.model import LoopModel, TrainingLoop
from ..analysis.vocab import is_optimizer_name
from ..types import RuleInfo
from . import Report

INFO = RuleInfo(
    "TRN002",
    "missing-optimizer-step",
    "A training loop runs backward but never steps its optimizer.",
)

NO_STEP = (
    "`{backward}` computes gradients in this loop but no optimizer is ever stepped, so the "
    "weights never change{scheduler}; call `{opt}.step()` after the backward pass"
)
UNSTEPPED = (
    "`{opt}` is cleared in this loop but never stepped, so the weights it owns never change; "
    "call `{opt}.step()` after their backward pass"
)


def check(model: LoopModel) -> Iterator[Report]:
    reported: set[int] = set()
    for site in model.backward_sites:
        if not site.loops:
            continue
        loops = [model.loops[i] for i in site.loops if i in model.loops]
        if not loops:
            continue
        innermost = loops[-1]
        if id(innermost.node) in reported:
            continue
        if any(loop.unknown_step or loop.opaque for loop in loops):
            continue
        stepped = set().union(*(loop.stepped for loop in loops))
        cleared = set().union(*(loop.cleared for loop in loops))
        if not stepped:
            opt = _optimizer_name(model, innermost)
            if opt is None or not _optimizer_in_scope(model, loops[0]):
                continue
            reported.add(id(innermost.node))
            yield Report(
                innermost.node,
                NO_STEP.format(
                    backward=_backward_text(model, innermost),
                    opt=opt,
                    scheduler=" (a scheduler step only changes the learning rate)"
                    if _calls_scheduler(model)
                    else "",
                ),
            )
            continue
        display = {}
        for loop in loops:
            display.update(loop.display)
        for name in sorted(cleared - stepped - {"*"}):
            written = display.get(name, name)
            if is_optimizer_name(written) or written in model.program.optimizers:
                reported.add(id(innermost.node))
                yield Report(innermost.node, UNSTEPPED.format(opt=written))


def _optimizer_name(model: LoopModel, loop: TrainingLoop) -> str | None:
    """The optimizer to name in the message; None when no optimizer is in view at all."""
    cleared = sorted(loop.display[n] for n in loop.cleared if n != "*" and n in loop.display)
    if cleared:
        return cleared[0]
    known = sorted(model.program.optimizers | model.optimizers_seen)
    if len(known) == 1:
        return known[0]
    if known:
        return "optimizer"
    return None


def _optimizer_in_scope(model: LoopModel, outermost: TrainingLoop) -> bool:
    """Evidence that an optimizer belongs to this code, not only to some other part of the file."""
    if outermost.function is None or outermost.cleared:
        return True
    info = model.program.functions[outermost.function]
    names = set(info.params) | info.local_names
    if info.is_method:
        names |= {n for n in model.program.optimizers if n.startswith("self.")}
    return any(is_optimizer_name(n) or n in model.program.optimizers for n in names)


def _backward_text(model: LoopModel, loop: TrainingLoop) -> str:
    node = loop.backward_nodes[0] if loop.backward_nodes else None
    if node is None:
        return "backward()"
    text = model.program.module.code_for_node(node)
    return text if len(text) <= 40 else "backward()"


def _calls_scheduler(model: LoopModel) -> bool:
    return bool(model.program.schedulers)

"""TRN002 missing-optimizer-step: backward runs but the optimizer is never stepped.

Gradients are computed and thrown away: the weights never change, the loss stays flat. The
classic form calls only `scheduler.step()`, which changes the learning rate, not the weights.
With several optimizers, an optimizer that is cleared in the loop but never stepped is the bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import libcst as cst

from ..analysis.events import ALL_OPTIMIZERS
from ..analysis.model import LoopModel, Trace, TrainingLoop
from ..analysis.names import dotted
from ..analysis.vocab import is_optimizer_name
from ..types import RuleInfo

if TYPE_CHECKING:
    from ..analysis.repeated import Repeated
from . import Report, site_of
from .conditions import condition_phrase
from .fixes import AFTER, BEFORE, REPLACE, Edit, Fix, Layout, describe, scaler_of

INFO = RuleInfo(
    "TRN002",
    "missing-optimizer-step",
    "A training loop runs backward but never steps its optimizer.",
)

NO_STEP = (
    "`{backward}` computes gradients in this loop but no optimizer is ever stepped, so the "
    "weights never change{scheduler}; {advice}"
)
# What NO_STEP asks for: one step when one optimizer is in question (the one the fix adds);
# with several, the fix refuses, and the message names them without picking one either.
STEP_ONE = "call `{step}` after the backward pass"
STEP_CLEARED = (
    "after the backward pass, call `step()` on each optimizer this loop clears that owns these "
    "gradients ({names})"
)
STEP_OWNER = (
    "after the backward pass, call `step()` on the optimizer that owns these gradients ({names})"
)
UNSTEPPED = (
    "`{opt}` is cleared in this loop but never stepped, so the weights it owns never change; "
    "call `{opt}.step()` after their backward pass"
)
ONE_WAY = (
    "`{opt}` is stepped only when {stepping}: when {other}, every iteration computes "
    "gradients and steps no optimizer, so the model never trains in that configuration; call "
    "`{opt}.step()` after the backward pass on that path too"
)
ONE_WAY_NO_FIX = (
    "where the step goes on the path without one is for the author to say (after any unscaling "
    "or clipping done there)"
)


SHARED_CLEAR_NO_FIX = (
    "one call clears this optimizer and others, so which backward pass feeds it is for the "
    "author to say"
)
LOOP = "the loop in which `{backward}` runs and no optimizer steps"
# A method that a loop of another module calls once per iteration (see analysis/repeated.py):
# said instead of "in this loop", or after the message when it does not say that.
IN_METHOD = "in `{method}` (which the loop at {where} calls once per iteration)"
REPEATED = " (`{method}` runs once per iteration of the loop at {where})"
METHOD = "`{method}`, which the loop at {where} calls once per iteration"
LOOP_UNSTEPPED = "the loop in which `{opt}` is cleared and never stepped"
LOOP_ONE_WAY = "the loop in which `{opt}` is stepped only when {stepping}"


def check(model: LoopModel) -> Iterator[Report]:
    for report, again in _check(model):
        if again is None:
            yield report
            continue
        # The loop is a stand-in for the caller's: the method is the related place instead.
        method, where = again.info.name, again.where
        message = report.message.replace(
            "in this loop", IN_METHOD.format(method=method, where=where)
        )
        if message == report.message:
            message += REPEATED.format(method=method, where=where)
        yield replace(
            report,
            message=message,
            related=((again.info.node, METHOD.format(method=method, where=where)),),
        )


def _check(model: LoopModel) -> Iterator[tuple[Report, Repeated | None]]:
    reported: set[int] = set()
    every = dict(model.loops)
    stand_ins: dict[int, Repeated] = {}
    for again in model.repeated.values():
        every[id(again.node)] = again.loop
        stand_ins[id(again.node)] = again
    sites = [*model.backward_sites, *(s for r in model.repeated.values() for s in r.sites)]
    for site in sites:
        if not site.loops:
            continue
        again = next((stand_ins[i] for i in site.loops if i in stand_ins), None)
        loops = [every[i] for i in site.loops if i in every]
        if not loops:
            continue
        innermost = loops[-1]
        node = site.node
        if id(innermost.node) in reported:
            continue
        if any(loop.unknown_step or loop.opaque for loop in loops):
            continue
        stepped = set().union(*(loop.stepped for loop in loops))
        cleared = set().union(*(loop.cleared for loop in loops))
        inspected = any(loop.grads_inspected for loop in loops)
        if inspected and (stepped or not _optimizer_cleared(model, loops)):
            # Backward, then gradients looked at, and no optimizer cleared: a gradient test
            # or a study of gradients (`model.zero_grad()`, then norms). A loop that clears
            # its optimizer and steps none is a training loop even when it logs or clips the
            # gradients; where some optimizer steps, which one a gradient moved onto another
            # parameter feeds is not in view.
            continue
        if not stepped:
            names, cleared_here = _optimizer_names(model, innermost)
            if not names or not _optimizer_in_scope(model, loops[0]):
                continue
            reported.add(id(innermost.node))
            fix = _fix(Layout.of(model), loops, None)
            backward = _backward_text(model, innermost)
            anchor = site_of(
                innermost.trace, lambda t, node=node: t.kind == "backward" and t.node is node
            )
            yield (
                Report.with_fix(
                    anchor or innermost.node,
                    NO_STEP.format(
                        backward=backward,
                        advice=_advice(node, names, cleared_here),
                        scheduler=" (a scheduler step only changes the learning rate)"
                        if _calls_scheduler(model)
                        else "",
                    ),
                    fix,
                    ((innermost.node, LOOP.format(backward=backward)),),
                ),
                again,
            )
            continue
        display = {}
        for loop in loops:
            display.update(loop.display)
        for name in sorted(cleared - stepped - {"*"}):
            written = display.get(name, name)
            if _is_optimizer(model, written) and _reached(model, loops, written):
                reported.add(id(innermost.node))
                layout = Layout.of(model)
                fix = _fix(layout, loops, name)
                anchor = _fed_backward(layout, innermost, name)
                yield (
                    Report.with_fix(
                        anchor or innermost.node,
                        UNSTEPPED.format(opt=written),
                        fix,
                        ((innermost.node, LOOP_UNSTEPPED.format(opt=written)),),
                    ),
                    again,
                )
        if id(innermost.node) not in reported:
            for name, (condition, value) in sorted(innermost.branch_unstepped.items()):
                written = display.get(name, name)
                if _is_optimizer(model, written):
                    reported.add(id(innermost.node))
                    stepping = condition_phrase(condition, not value)
                    message = ONE_WAY.format(
                        opt=written,
                        stepping=stepping,
                        other=condition_phrase(condition, value),
                    )
                    # The backward pass on the way that steps nothing (the first one, when
                    # every backward runs before the branch).
                    ways = innermost.backward_ways
                    anchor = site_of(
                        innermost.trace,
                        lambda t, way=(condition, value), ways=ways: (
                            t.kind == "backward" and way in ways.get(id(t.node), ())
                        ),
                    ) or site_of(innermost.trace, lambda t: t.kind == "backward")
                    related = (innermost.node, LOOP_ONE_WAY.format(opt=written, stepping=stepping))
                    yield (
                        Report.with_fix(
                            anchor or innermost.node, message, ONE_WAY_NO_FIX, (related,)
                        ),
                        again,
                    )
                    break


def _step_code(backward: cst.CSTNode, opt: str) -> str:
    """The step to add after `backward`: through its scaler when the loss was scaled."""
    scaler = scaler_of(backward)
    return f"{scaler}.step({opt})" if scaler else f"{opt}.step()"


def _fix(layout: Layout, loops: list[TrainingLoop], root: str | None) -> Fix | str:
    """Step the optimizer after the backward passes that feed it: right before the clear that
    follows them when there is one (accumulation), else right after the last of them (and
    after any unscaling or clipping of the gradients there). Unsafe: the weights now change."""
    innermost = loops[-1]
    if root is None:
        roots = {
            t.root
            for loop in loops
            for t in loop.trace
            if t.kind == "clear" and t.root not in (None, ALL_OPTIMIZERS)
        }
        if len(roots) != 1:
            shown = ", ".join(f"`{innermost.display.get(r, r)}`" for r in sorted(roots))
            return (
                f"several optimizers are cleared in this loop ({shown}), so which of them own "
                "these gradients, and so which to step, is for the author to say"
                if roots
                else "no optimizer is cleared in this loop, so which one to step is not clear"
            )
        root = roots.pop()
    backwards = [t for t in innermost.trace if t.kind == "backward"]
    marks = [t for t in innermost.trace if t.kind in ("clear", "step")]
    if any(
        m.kind == "clear" and m.root == root and o.site is m.site and o.root != root
        for m in marks
        for o in marks
    ):
        return SHARED_CLEAR_NO_FIX
    edits: list[Edit] = []
    for backward in backwards:
        before = layout.latest(m for m in marks if layout.precedes(m, backward))
        if before is not None and before.root not in (root, ALL_OPTIMIZERS):
            continue  # this backward pass feeds another optimizer
        others = [t for t in backwards + marks if t is not backward]
        after = layout.earliest(t for t in others if layout.precedes(backward, t))
        if after is not None and after.kind == "backward":
            continue  # a later backward pass feeds the same step
        edit = _place(layout, loops, root, backward, after, marks)
        if isinstance(edit, str):
            return edit
        edits.append(edit)
    if not edits:
        return "no backward pass in this loop is followed by a place for the step"
    unique = tuple(dict.fromkeys(edits))
    if len({(e.kind, id(e.anchor)) for e in unique}) < len(unique):
        return "the callers of this loop's function name the optimizer differently"
    return Fix(describe(unique, layout), False, unique)


def _fed_backward(layout: Layout, loop: TrainingLoop, root: str) -> cst.CSTNode | None:
    """Where the first backward pass whose gradients `root` owns happens: the first that
    follows a clear of `root` with no other optimizer's mark in between; else the clear."""
    marks = [t for t in loop.trace if t.kind in ("clear", "step")]
    for backward in (t for t in loop.trace if t.kind == "backward"):
        before = layout.latest(m for m in marks if layout.precedes(m, backward))
        # One call that clears several optimizers (`reset_all()`) is one mark for each.
        together = [m for m in marks if before is not None and m.site is before.site]
        if any(m.kind == "clear" and m.root == root for m in together):
            return backward.site
    return site_of(loop.trace, lambda t: t.kind == "clear" and t.root == root)


def _place(
    layout: Layout,
    loops: list[TrainingLoop],
    root: str,
    backward: Trace,
    after: Trace | None,
    marks: list[Trace],
) -> Edit | str:
    name = layout.spelled([backward], root=root)
    if name is None:
        return "the optimizer has no single name in the function of this loop"
    if _is_lbfgs(layout, name):
        return _closure_step(layout, backward, name)
    scaler = scaler_of(backward.node)
    if scaler is not None and len(backward.path) > 1:
        return f"`{scaler}` scales the backward pass inside another function"
    code = f"{scaler}.step({name})" if scaler else f"{name}.step()"
    if after is not None and after.kind == "clear" and after.root == root:
        if layout.statement(after.site) is layout.statement(backward.site):
            return "the backward pass and the clear share one statement"
        return Edit(BEFORE, layout.statement(after.site), code)
    cleared_earlier = any(
        m.kind == "clear" and m.root == root and layout.precedes(m, backward) for m in marks
    )
    if after is None and not cleared_earlier and len(loops) > 1:
        # The backward runs in an inner loop (micro-batches); the clear that ends the
        # accumulation is in the enclosing loop: step right before it.
        outer = loops[-2]
        same = [t for t in outer.trace if t.kind == "backward" and t.node is backward.node]
        clears = [t for t in outer.trace if t.kind == "clear" and t.root == root]
        following = [c for c in clears for b in same if layout.precedes(b, c)]
        clear = layout.earliest(following)
        if clear is not None:
            outer_name = layout.spelled([clear])
            if outer_name is None or (scaler and outer_name != name):
                return "the optimizer has no single name in the function of the outer loop"
            code = f"{scaler}.step({outer_name})" if scaler else f"{outer_name}.step()"
            return Edit(BEFORE, layout.statement(clear.site), code)
    return Edit(AFTER, layout.after_gradient_work(layout.statement(backward.site)), code)


def _is_lbfgs(layout: Layout, name: str) -> bool:
    call = layout.model.program.bound.get(name)
    if call is None:
        return False
    callee = layout.model.program.qualify(dotted(call.func)) or ""
    return callee.split(".")[-1] == "LBFGS"


def _closure_step(layout: Layout, backward: Trace, name: str) -> Edit | str:
    """LBFGS re-evaluates the loss itself: `closure()` becomes `opt.step(closure)`."""
    site = backward.site
    stmt = layout.statement(site)
    if (
        len(backward.path) == 2
        and isinstance(site, cst.Call)
        and isinstance(site.func, cst.Name)
        and not site.args
        and isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and stmt.body[0].value is site
    ):
        return Edit(REPLACE, stmt, f"{name}.step({site.func.value})")
    return f"`{name}` is an LBFGS optimizer, which needs a closure to step"


def _optimizer_names(model: LoopModel, loop: TrainingLoop) -> tuple[list[str], bool]:
    """The optimizers the message may name, as written, and whether the loop clears them: those
    it clears, else every optimizer in view (none: no optimizer is in view at all)."""
    cleared = sorted(loop.display[n] for n in loop.cleared if n != "*" and n in loop.display)
    if cleared:
        return cleared, True
    return sorted(model.program.optimizers | model.optimizers_seen), False


def _advice(backward: cst.CSTNode, names: list[str], cleared: bool) -> str:
    if len(names) == 1:
        return STEP_ONE.format(step=_step_code(backward, names[0]))
    shown = ", ".join(f"`{n}`" for n in names) if cleared else _either(names)
    return (STEP_CLEARED if cleared else STEP_OWNER).format(names=shown)


def _either(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _optimizer_cleared(model: LoopModel, loops: list[TrainingLoop]) -> bool:
    """Whether the loops clear an optimizer through the optimizer itself (`opt.zero_grad()`),
    not only through a model whose optimizer the file builds (`model.zero_grad()`)."""
    for loop in loops:
        for t in loop.trace:
            if t.kind != "clear" or t.root in (None, ALL_OPTIMIZERS):
                continue
            func = t.node.func if isinstance(t.node, cst.Call) else None
            receiver = dotted(func.value) if isinstance(func, cst.Attribute) else None
            if receiver is not None and receiver not in model.program.links:
                return True
    return False


def _optimizer_in_scope(model: LoopModel, outermost: TrainingLoop) -> bool:
    """Evidence that an optimizer belongs to this code, not only to some other part of the file."""
    if outermost.function is None or outermost.cleared:
        return True
    info = model.program.functions[outermost.function]
    names = set(info.params) | info.local_names
    if info.is_method:
        names |= {n for n in model.program.optimizers if n.startswith("self.")}
    return any(_is_optimizer(model, n) for n in names)


def _reached(model: LoopModel, loops: list[TrainingLoop], opt: str) -> bool:
    """Whether the loops' backward passes may reach the parameters of `opt`: unless `opt` is
    built over the parameters of models of the file (`Adam(G.parameters())`) and the loops run
    forward passes, none of them through those models. A helper that clears every model
    (`G.zero_grad(); D.zero_grad()`) in a loop that trains only D does not make G's optimizer
    one the loop should step."""
    owners = {m for m, o in model.program.links.items() if o == opt}
    forwards = [t.root for loop in loops for t in loop.trace if t.kind == "forward"]
    if not owners or not forwards or any(r is None for r in forwards):
        return True
    ran = {r.rpartition(":")[2].rpartition("#")[2] for r in forwards if r is not None}
    return any(r == o or r.startswith(o + ".") for r in ran for o in owners)


def _is_optimizer(model: LoopModel, name: str) -> bool:
    return is_optimizer_name(name) or name in model.program.optimizers


def _backward_text(model: LoopModel, loop: TrainingLoop) -> str:
    node = loop.backward_nodes[0] if loop.backward_nodes else None
    if node is None:
        return "backward()"
    text = model.program.module.code_for_node(node)
    return text if len(text) <= 40 else "backward()"


def _calls_scheduler(model: LoopModel) -> bool:
    return bool(model.program.schedulers)

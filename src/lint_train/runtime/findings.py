"""Runtime findings: the static rules' claims, checked against what the probe saw.

Each finding has the code and name of the static rule that makes the same claim, so a static
finding at line N and a runtime finding can be matched by code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from lint_train.runtime.events import Forward, Observation
from lint_train.runtime.graphs import RISING_STEPS

NAMES = {
    "TRN001": "missing-zero-grad",
    "TRN002": "missing-optimizer-step",
    "TRN003": "missing-no-grad",
    "TRN004": "missing-eval",
    "TRN005": "missing-train",
    "TRN006": "zero-grad-before-step",
    "TRN007": "loss-graph-accumulation",
    "TRN009": "double-softmax",
    "TRN010": "scheduler-before-optimizer",
    "TRN011": "inplace-init-without-no-grad",
}
# torch's error for an in-place change of a parameter (or of a view of one) with grad on.
INPLACE_ERROR = re.compile(
    r"a (view of a )?leaf Variable that requires grad is being used in an in-place"
)
_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


@dataclass(frozen=True)
class RuntimeFinding:
    code: str
    name: str
    message: str
    count: int  # how many times it was seen (steps, backward calls or forward passes)


def find(seen: Observation, cut_short: bool) -> list[RuntimeFinding]:
    """All findings, in code order.

    `cut_short`: the run ended at --max-steps or --timeout, so a forward after the last
    backward may simply not have reached its backward yet; it is not counted as evaluation.
    """
    evaluation = _evaluation_forwards(seen, cut_short)
    found = [
        _stale_steps(seen),
        _no_step(seen),
        _graphs_never_used(evaluation),
        _evaluation_in_training_mode(evaluation),
        _training_in_eval_mode(seen),
        _cleared_before_step(seen),
        _graphs_kept(seen),
        _probabilities_into_logit_loss(seen),
        _scheduler_before_step(seen),
        _inplace_on_parameter(seen),
    ]
    return [f for f in found if f is not None]


def _finding(code: str, message: str, count: int) -> RuntimeFinding:
    return RuntimeFinding(code, NAMES[code], message, count)


def _stale_steps(seen: Observation) -> RuntimeFinding | None:
    stale = [s for s in seen.steps if s.stale]
    if not stale:
        return None
    names = _optimizer_names(seen, {s.optimizer for s in stale})
    return _finding(
        "TRN001",
        f"{names} stepped {_times(len(stale))} on gradients that still held earlier backward "
        f"passes already used by a step (first at step {stale[0].index}); clear them with "
        "zero_grad() before each backward",
        len(stale),
    )


def _no_step(seen: Observation) -> RuntimeFinding | None:
    # Only optimizers that gradients reached: backward without an optimizer may be the whole
    # point (saliency maps, gradient tests), and an optimizer nothing reaches is just unused.
    stepped = {s.optimizer for s in seen.steps}
    idle = seen.optimizers_reached - stepped
    if not idle:
        return None
    names = _optimizer_names(seen, idle)
    return _finding(
        "TRN002",
        f"backward ran {_times(len(seen.losses))} and reached the parameters of {names}, "
        "which never stepped, so those weights never changed",
        len(seen.losses),
    )


def _evaluation_forwards(seen: Observation, cut_short: bool) -> list[Forward]:
    """Forward passes that were not part of training.

    Those run without grad, and, in a run that stepped an optimizer, those whose graph no
    backward used. Without any step the script is not training (a gradient test, an analysis),
    so an unused graph there says nothing about evaluation.
    """
    last_backward = seen.backward_positions[-1] if seen.backward_positions else -1
    evaluation = []
    for forward in seen.forwards:
        if not forward.grad or (
            seen.steps
            and forward.index not in seen.used
            and not (cut_short and forward.position > last_backward)
        ):
            evaluation.append(forward)
    return evaluation


def _graphs_never_used(evaluation: list[Forward]) -> RuntimeFinding | None:
    wasted = [f for f in evaluation if f.grad and f.graph]
    if not wasted:
        return None
    return _finding(
        "TRN003",
        f"{len(wasted)} forward {_passes(len(wasted))} of {_modules(wasted)} built an autograd "
        "graph that no backward used; run evaluation under torch.no_grad()",
        len(wasted),
    )


def _evaluation_in_training_mode(evaluation: list[Forward]) -> RuntimeFinding | None:
    active = [f for f in evaluation if f.active]
    if not active:
        return None
    return _finding(
        "TRN004",
        f"{len(active)} evaluation forward {_passes(len(active))} of {_modules(active)} ran with "
        "dropout/batch-norm layers in training mode; call .eval() before evaluating",
        len(active),
    )


def _training_in_eval_mode(seen: Observation) -> RuntimeFinding | None:
    # Only a backward followed by an optimizer step trains; a saliency map in eval mode is fine.
    last_step = seen.steps[-1].position if seen.steps else -1
    trained = [
        f
        for f in seen.forwards
        if not f.training
        and f.active < f.layers
        and seen.used.get(f.index) is not None
        and seen.backward_positions[seen.used[f.index]] < last_step
    ]
    if not trained:
        return None
    return _finding(
        "TRN005",
        f"{len(trained)} training forward {_passes(len(trained))} of {_modules(trained)} ran in "
        "eval mode with dropout/batch-norm off, and their backward fed an optimizer step; call "
        ".train() after evaluating",
        len(trained),
    )


def _cleared_before_step(seen: Observation) -> RuntimeFinding | None:
    """Steps with no gradient to apply, where since that optimizer's previous step a backward
    pass ran and the last gradient event before the step was a clear: the clear threw the
    backward's gradients away. An optimizer that no backward reached is not this (TRN002)."""
    previous: dict[int, int] = {}
    empty = []
    for step in seen.steps:
        since = previous.get(step.optimizer, -1)
        previous[step.optimizer] = step.position
        if not step.empty:
            continue
        backward = max(
            (p for p in seen.backward_positions if since < p < step.position), default=None
        )
        clear = max(
            (p for p in seen.zero_grad_positions if since < p < step.position), default=None
        )
        if backward is not None and clear is not None and clear > backward:
            empty.append(step)
    if not empty:
        return _cleared_inside_window(seen)
    names = _optimizer_names(seen, {s.optimizer for s in empty})
    return _finding(
        "TRN006",
        f"{names} stepped {_times(len(empty))} with no gradient to apply: a zero_grad() after "
        f"the backward pass had cleared them (first at step {empty[0].index}); clear before the "
        "backward pass or after the step",
        len(empty),
    )


def _graphs_kept(seen: Observation) -> RuntimeFinding | None:
    """The graphs that backward passes were called on stayed alive in growing numbers: from
    step to step their count rose RISING_STEPS times in a row (steps that left it unchanged
    skipped). A loop that rebinds its loss frees each graph, and the count stays flat."""
    rising, start, previous = 0, 0, 0
    for step in seen.steps:
        if step.graphs == previous:
            continue
        if step.graphs < previous:
            rising = 0
        else:
            start = step.index if rising == 0 else start
            rising += 1
        previous = step.graphs
        if rising >= RISING_STEPS:
            break
    else:
        return None
    peak = max(s.graphs for s in seen.steps)
    holder = seen.graph_holder
    where = "the script"
    if holder is not None:
        place = os.path.basename(holder.file)
        where = f"`{holder.name}` at {place}:{holder.line}" if holder.line else f"`{holder.name}`"
    return _finding(
        "TRN007",
        f"{where} kept the autograd graphs of earlier backward passes alive, more of them after "
        f"each step from step {start} on, up to {peak} at once; keep the loss's `.item()` (or "
        "`.detach()`) instead",
        peak,
    )


def _cleared_inside_window(seen: Observation) -> RuntimeFinding | None:
    """Steps that applied only the last of the backward passes since the previous step: a
    clear between them threw the earlier ones' gradients away before any step used them (a
    clear inside a gradient-accumulation window). Only when that is so at two steps or more,
    and at least half of them: a loop that skips its step for some warm-up iterations cuts
    short only its first step. Only in runs where one optimizer steps: with two (a GAN), one's
    backward pass fills the other's gradients, which it then clears on purpose."""
    if len({s.optimizer for s in seen.steps}) != 1:
        return None
    cut = []
    since = -1
    for step in seen.steps:
        window = [
            (i, p) for i, p in enumerate(seen.backward_positions) if since < p < step.position
        ]
        if window and _thrown_away(seen, window, since):
            cut.append(step)
        since = step.position
    if len(cut) < max(2, len(seen.steps) / 2):
        return None
    names = _optimizer_names(seen, {s.optimizer for s in cut})
    return _finding(
        "TRN006",
        f"{names} stepped {_times(len(cut))} on only part of the backward passes run since its "
        "previous step: a zero_grad() between them threw the earlier ones' gradients away "
        f"(first at step {cut[0].index}); with gradient accumulation, clear right after the "
        "step",
        len(cut),
    )


def _thrown_away(seen: Observation, window: list[tuple[int, int]], since: int) -> bool:
    """Whether a clear between the backward passes of `window` (index, position) threw away one
    of the same objective as the last, the one the step applies: a micro-batch of the window.
    The objective is told by the optimizers whose parameters a backward pass reached; a GAN's
    generator loss also reaches the discriminator, whose clear drops those gradients on purpose."""
    last = seen.reached_by.get(window[-1][0])
    return any(
        since < clear < window[-1][1]
        and any(p < clear and seen.reached_by.get(i) == last for i, p in window[:-1])
        for clear in seen.dropping_clears
    )


# What each loss applies to its input itself.
_APPLIES = {
    "cross_entropy": "it applies log-softmax itself",
    "nll_loss": "it expects log-probabilities",
    "binary_cross_entropy_with_logits": "it applies a sigmoid itself",
}


def _probabilities_into_logit_loss(seen: Observation) -> RuntimeFinding | None:
    """A loss that expects logits was given probabilities at every one of its calls from one
    place: inputs summing to 1 along the class dimension (cross_entropy, nll_loss) or all in
    [0, 1] (binary_cross_entropy_with_logits). One call of logits that happen to look so is
    not enough: every call from that place must."""
    sites = [site for site, seen_probs in seen.loss_inputs.items() if all(seen_probs)]
    if not sites:
        return None
    loss, file, line = sites[0]
    kind = "a sigmoid" if loss == "binary_cross_entropy_with_logits" else "a softmax"
    more = f" (and {len(sites) - 1} more places)" if len(sites) > 1 else ""
    return _finding(
        "TRN009",
        f"{loss} at {os.path.basename(file)}:{line}{more} was given probabilities, the output "
        f"of {kind}, at every call, though {_APPLIES[loss]}; pass the logits",
        len(sites),
    )


def _scheduler_before_step(seen: Observation) -> RuntimeFinding | None:
    """torch's own warning: a scheduler stepped before any optimizer step. Not when no optimizer
    step follows it (then the optimizer is the problem, TRN002), nor when another scheduler
    step follows before the optimizer's first (a resume fast-forwarding the schedule)."""
    steps = [s.position for s in seen.steps]
    for position in seen.order_warnings:
        first_step = next((p for p in steps if p > position), None)
        warned = [s for s in seen.lr_steps if s[0] < position]
        if first_step is None or not warned:
            continue
        if any(position < p < first_step for p, _, _ in seen.lr_steps):
            continue
        _, file, line = warned[-1]
        return _finding(
            "TRN010",
            f"a learning-rate scheduler stepped at {os.path.basename(file)}:{line} before the "
            "first optimizer step (torch warned), so the first value of its schedule was "
            "skipped; step the scheduler after the optimizer",
            1,
        )
    return None


def _inplace_on_parameter(seen: Observation) -> RuntimeFinding | None:
    """The script died changing a parameter in place with grad on."""
    if seen.outcome != "error" or not INPLACE_ERROR.search(seen.error_message or ""):
        return None
    frames = _FRAME.findall(seen.error_traceback or "")
    where = f" at {os.path.basename(frames[-1][0])}:{frames[-1][1]}" if frames else ""
    return _finding(
        "TRN011",
        f"the script stopped{where}: a parameter was changed in place with autograd enabled "
        '("a leaf Variable that requires grad is being used in an in-place operation"); do it '
        "under torch.no_grad()",
        1,
    )


def _optimizer_names(seen: Observation, indices: set[int]) -> str:
    names = sorted({seen.optimizers[i].type for i in indices if i < len(seen.optimizers)})
    return " and ".join(names) or "the optimizer"


def _modules(forwards: list[Forward]) -> str:
    return ", ".join(sorted({f.module for f in forwards}))


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _passes(count: int) -> str:
    return "pass" if count == 1 else "passes"

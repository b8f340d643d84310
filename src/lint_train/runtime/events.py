"""Reading the probe's event log back into plain data (parent side, no torch)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Forward:
    """The outermost call of a module with parameters."""

    index: int
    position: int  # where it sits in the event log, to tell what ran before what
    module: str
    training: bool  # the module's own `training` flag
    layers: int  # dropout and batch-norm layers inside the module
    active: int  # how many of them were in training mode
    grad: bool  # torch.is_grad_enabled() during the call
    graph: bool  # the output required grad, so an autograd graph was built


@dataclass(frozen=True)
class Step:
    index: int
    position: int
    optimizer: int
    stale: int  # parameters whose gradient still held what an earlier step had used
    empty: bool = False  # no parameter of the optimizer had a gradient to apply
    graphs: int = 0  # graphs that backward passes were called on, still alive after the step


@dataclass(frozen=True)
class GraphHolder:
    """The script's variable found keeping the graphs of earlier backward passes."""

    name: str
    graphs: int
    file: str
    line: int | None  # where the script adds to it, when found


@dataclass(frozen=True)
class OptimizerInfo:
    type: str
    hyperparameters: dict[str, Any]
    # The variable the script assigned it to (`opt_d`), when its line named one.
    name: str | None = None


@dataclass
class Observation:
    """Everything the probe saw, in the order it saw it."""

    outcome: str | None = None  # finished | stopped | exit | error; None: no end event
    stop_reason: str | None = None
    exit_code: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    torch_version: str | None = None
    optimizers: list[OptimizerInfo] = field(default_factory=list)
    losses: list[float | None] = field(default_factory=list)
    backward_positions: list[int] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    zero_grads: int = 0
    zero_grad_positions: list[int] = field(default_factory=list)
    # positions of the clears that threw away gradients no step had used yet
    dropping_clears: list[int] = field(default_factory=list)
    # optimizers whose parameters some backward reached
    optimizers_reached: set[int] = field(default_factory=set)
    # backward call -> the optimizers whose parameters it reached
    reached_by: dict[int, set[int]] = field(default_factory=dict)
    forwards: list[Forward] = field(default_factory=list)
    # forward index -> the backward call that used its graph (None: torch.autograd.grad)
    used: dict[int, int | None] = field(default_factory=dict)
    # scheduler steps: (position, the file and line that called them)
    lr_steps: list[tuple[int, str, int]] = field(default_factory=list)
    # positions of torch's warnings of a scheduler step before any optimizer step
    order_warnings: list[int] = field(default_factory=list)
    # (loss, file, line) -> whether its inputs looked like probabilities, in the order seen
    loss_inputs: dict[tuple[str, str, int], list[bool]] = field(default_factory=dict)
    # what holds the graphs, looked for once when their number kept rising (None: not found)
    graph_holder: GraphHolder | None = None


def parse_events(lines: Iterable[str]) -> Observation:
    """Build the observation; a line cut short by a killed child is skipped."""
    seen = Observation()
    for position, line in enumerate(lines):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        _apply(seen, position, event)
    return seen


def _apply(seen: Observation, position: int, event: dict[str, Any]) -> None:
    kind = event.get("ev")
    if kind == "start":
        seen.torch_version = event.get("torch")
    elif kind == "optimizer":
        seen.optimizers.append(
            OptimizerInfo(event["type"], event["hyperparameters"], event.get("name"))
        )
    elif kind == "forward":
        seen.forwards.append(
            Forward(
                index=event["i"],
                position=position,
                module=event["module"],
                training=event["training"],
                layers=event["layers"],
                active=event["active"],
                grad=event["grad"],
                graph=event["graph"],
            )
        )
    elif kind == "used":
        seen.used[event["forward"]] = event["backward"]
    elif kind == "backward":
        seen.losses.append(event["loss"])
        seen.backward_positions.append(position)
    elif kind == "reached":
        seen.reached_by[event["backward"]] = set(event["opts"])
    elif kind == "grads":
        seen.optimizers_reached.add(event["opt"])
    elif kind == "zero_grad":
        seen.zero_grads += 1
        seen.zero_grad_positions.append(position)
        if event.get("dropped"):
            seen.dropping_clears.append(position)
    elif kind == "step":
        step = Step(
            event["i"],
            position,
            event["opt"],
            event["stale"],
            event.get("empty", False),
            event.get("graphs", 0),
        )
        seen.steps.append(step)
    elif kind == "kept_graphs":
        holder = event.get("holder")
        if holder is not None:
            seen.graph_holder = GraphHolder(
                holder["name"], holder["graphs"], holder["file"], holder["line"]
            )
    elif kind == "lr_step":
        seen.lr_steps.append((position, event["file"], event["line"]))
    elif kind == "warning":
        seen.order_warnings.append(position)
    elif kind == "loss_input":
        site = (event["loss"], event["file"], event["line"])
        seen.loss_inputs.setdefault(site, []).append(event["probs"])
    elif kind == "end":
        seen.outcome = event["outcome"]
        seen.stop_reason = event.get("reason")
        seen.exit_code = event.get("code")
        seen.error_type = event.get("type")
        seen.error_message = event.get("message")
        seen.error_traceback = event.get("traceback")

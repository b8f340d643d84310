"""The LoopModel: what the analysis learned about a file's training and evaluation code.

Rules read this and nothing else. Names of optimizers and models are kept as the user wrote
them at the place they are reported, so messages can name `opt_d`, not "the optimizer".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .program import Program

# Model mode values: "default" (a fresh model, in training mode), "init" (set by callers that
# are not in view), "train", "eval", "eval~" (eval left over from an earlier iteration of an
# enclosing loop), "unk" (set by code we cannot read).
# Grad values: "on", "off", "init" (set by callers not in view), "unk".


@dataclass
class TrainingLoop:
    """A loop in which backward runs, with what happened during its iterations."""

    node: cst.For | cst.While
    function: str | None
    backward_nodes: list[cst.CSTNode] = field(default_factory=list)
    stepped: set[str] = field(default_factory=set)  # optimizers stepped while the loop ran
    cleared: set[str] = field(default_factory=set)  # optimizers cleared ("*": all of them)
    unknown_step: bool = False  # a `.step()` on an object we cannot classify
    opaque: bool = False  # an optimizer was handed to code not in view
    polluted_steps: dict[str, cst.CSTNode] = field(default_factory=dict)  # display -> step call
    polluted_roots: dict[str, str] = field(default_factory=dict)  # display -> internal name
    # Optimizers whose gradients were already used by a step when the loop was entered.
    entry_stepped: set[str] = field(default_factory=set)
    # Optimizers whose gradients an iteration can leave stepped-on but not cleared.
    iteration_leaves_stepped: set[str] = field(default_factory=set)
    # model -> the mode sets seen at its forward passes, one per path through the code
    train_modes: dict[str, set[frozenset[str]]] = field(default_factory=dict)
    display: dict[str, str] = field(default_factory=dict)  # internal name -> as written
    model_roots: dict[str, str] = field(default_factory=dict)  # model as written -> internal


@dataclass
class BackwardSite:
    node: cst.CSTNode
    loops: tuple[int, ...]  # ids of the loops running when backward ran, outermost first


@dataclass
class EvalSite:
    """Evaluation code (a validation loop or an evaluation function) and what it ran under."""

    node: cst.CSTNode  # the loop header, or the forward call when there is no loop
    is_loop: bool
    function: str | None
    # What each path that reached a forward pass saw: its grad values, each model's modes.
    grads: set[frozenset[str]] = field(default_factory=set)
    modes: dict[str, set[frozenset[str]]] = field(default_factory=dict)  # model as written
    forwards: list[cst.CSTNode] = field(default_factory=list)
    model_roots: dict[str, str] = field(default_factory=dict)  # model as written -> internal


@dataclass
class LoopModel:
    program: Program
    loops: dict[int, TrainingLoop] = field(default_factory=dict)
    backward_sites: list[BackwardSite] = field(default_factory=list)
    eval_sites: dict[int, EvalSite] = field(default_factory=dict)
    optimizers_seen: set[str] = field(default_factory=set)  # optimizer names as written
    complete: bool = True  # False when the analysis gave up (budget); rules then stay quiet

    def torch_name(self) -> str:
        """How this file spells `torch` (`T` after `import torch as T`)."""
        for local in ("torch", "T", "th", "pt"):
            if self.program.qualify(local) == "torch":
                return local
        return "torch"

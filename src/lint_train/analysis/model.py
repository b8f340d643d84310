"""The LoopModel: what the analysis learned about a file's training and evaluation code.

Rules read this and nothing else. Names of optimizers and models are kept as the user wrote
them at the place they are reported, so messages can name `opt_d`, not "the optimizer".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from .probabilities import ProbabilityLoss, find_probability_losses
from .program import Program

if TYPE_CHECKING:
    from .repeated import Repeated

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")

# Model mode values: "default" (a fresh model, in training mode), "init" (set by callers that
# are not in view), "train", "eval", "evaluated" (eval set by evaluation code, left behind),
# "eval~" (eval left over from an earlier iteration of an enclosing loop), "unk" (set by code
# we cannot read), "recalibrate" (train mode set on purpose at the start of evaluation code).
# Grad values: "on", "off", "init" (set by callers not in view), "unk".


@dataclass(frozen=True)
class Scope:
    """A function as one visit ran it: its key (None: the module's top level) and how its names
    mapped to the analysis's names (`optimizer` -> `main:optimizer` for a helper's parameter)."""

    function: str | None
    rename: tuple[tuple[str, str], ...] = ()


TracePath = tuple[tuple[cst.CSTNode, Scope], ...]


@dataclass(frozen=True)
class Trace:
    """One training event seen while a loop (or evaluation code) ran, placed in its code.

    `path` leads from the loop's own function down to the event: at each level, the node of
    that function through which the event happens (the call into the next function, or the
    event's own call at the last level) and the scope that function ran in. Fixes use it to
    put new code next to the right statement, and to name objects as each function does.
    """

    kind: str  # "backward", "step", "clear", "forward", "mode" or "scheduler_step"
    node: cst.CSTNode
    root: str | None  # the object, as the analysis names it (None for a backward)
    path: TracePath
    value: str | None = None  # for "mode": the mode set ("eval", "train", ...)

    @property
    def site(self) -> cst.CSTNode:
        """The node in the loop's own function through which this event happens."""
        return self.path[0][0]


@dataclass
class TrainingLoop:
    """A loop in which backward runs, with what happened during its iterations."""

    node: cst.For | cst.While
    function: str | None
    backward_nodes: list[cst.CSTNode] = field(default_factory=list)
    stepped: set[str] = field(default_factory=set)  # optimizers stepped while the loop ran
    cleared: set[str] = field(default_factory=set)  # optimizers cleared ("*": all of them)
    unknown_step: bool = False  # a `.step()` on an object we cannot classify
    # `.grad` read in ways that apply nothing (`p.grad.norm()` logged, `p.grad.clamp_()`, a
    # copy onto another parameter's gradient): a gradient test, unless an optimizer is cleared.
    grads_inspected: bool = False
    opaque: bool = False  # an optimizer was handed to code not in view
    polluted_steps: dict[str, cst.CSTNode] = field(default_factory=dict)  # display -> step call
    polluted_roots: dict[str, str] = field(default_factory=dict)  # display -> internal name
    # Steps (by node id) reached on some path with gradients that a clear had thrown away
    # since the last backward, and steps reached on some path with any other gradients: a step
    # only ever reached with discarded ones applies nothing (TRN006).
    discarded_steps: dict[int, cst.CSTNode] = field(default_factory=dict)
    kept_steps: set[int] = field(default_factory=set)
    # Steps at the end of a gradient-accumulation window reached (on some path) with gradients
    # that a clear inside the window cut short, by node id: (the step, its optimizer); and the
    # clears that threw a window's gradients away, by optimizer ("*": all), by node id (TRN006).
    window_steps: dict[int, tuple[cst.CSTNode, str]] = field(default_factory=dict)
    window_clears: dict[str, dict[int, cst.CSTNode]] = field(default_factory=dict)
    # Of those steps, the ones that wait for Accelerate's window (`accelerator.accumulate`):
    # the flag the code tests for its last micro-batch (`accelerator.sync_gradients`).
    synced_steps: dict[int, str] = field(default_factory=dict)
    # Window clears that ran in a micro-batch before the window's last (they did not wait).
    unsynced_clears: set[int] = field(default_factory=set)
    # display -> the ways (condition, value) that every path reaching a step of it with
    # uncleared gradients took inside the loop, and the ways of the paths that reached a step
    # with clean ones: a way taken by the former whose opposite the latter took is the way
    # that misses the clear. Only plain conditions of the loop's own code count.
    polluted_paths: dict[str, tuple[tuple[str, bool], ...]] = field(default_factory=dict)
    clean_step_ways: dict[str, set[tuple[str, bool]]] = field(default_factory=dict)
    # Optimizers whose gradients were already used by a step when the loop was entered.
    entry_stepped: set[str] = field(default_factory=set)
    # Optimizers whose gradients an iteration can leave stepped-on but not cleared.
    iteration_leaves_stepped: set[str] = field(default_factory=set)
    # Optimizer -> (condition, value): taking that way, an iteration runs backward and steps
    # nothing, though the other way steps this optimizer; no loop changes the condition.
    branch_unstepped: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # id of a backward node run directly by this loop -> the (condition, value) facts of the
    # paths that ran it: which way of a branch each backward pass is on.
    backward_ways: dict[int, set[tuple[str, bool]]] = field(default_factory=dict)
    # model -> the mode sets seen at its forward passes, one per path through the code
    train_modes: dict[str, set[frozenset[str]]] = field(default_factory=dict)
    # Forward passes of this loop's own code run with autograd on in eval mode set in view:
    # id -> (the call, the model as written, the facts of each path that ran it). Where no
    # backward of the loop runs on such a path, the iteration only evaluates (shared_loops.py).
    eval_forwards: dict[int, tuple[cst.CSTNode, str, set[frozenset[tuple[str, bool]]]]] = field(
        default_factory=dict
    )
    display: dict[str, str] = field(default_factory=dict)  # internal name -> as written
    model_roots: dict[str, str] = field(default_factory=dict)  # model as written -> internal
    # Backward, step, clear, mode and scheduler-step events of its iterations, and its
    # training forwards.
    trace: list[Trace] = field(default_factory=list)


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
    trace: list[Trace] = field(default_factory=list)  # its forwards, from `node`'s function


@dataclass(frozen=True)
class BareMethod:
    """`model.eval` written as a statement without its call: nothing happens. The other
    analyses see no mode switch, clear or step there."""

    node: cst.Expr  # the statement
    receiver: str  # as written: `model`, `self.opt`
    method: str  # "eval", "train", "zero_grad" or "step"
    role: str  # what the receiver is: "model", "optimizer" or "scheduler"


@dataclass
class InplaceChange:
    """An in-place change of a parameter (`fc.weight.normal_()`, `p -= lr * p.grad`) and the
    grad modes it ran under, one set per visit."""

    node: cst.CSTNode  # the call, or the augmented assignment
    target: str  # the parameter as written
    operation: str  # the method (`normal_`) or the operator's class name (`SubtractAssign`)
    function: str | None  # the function that holds it
    grads: set[frozenset[str]] = field(default_factory=set)


@dataclass(frozen=True)
class KeptLoss:
    """`total += loss` in a training loop: the statement, the container, the loss as written."""

    node: cst.SimpleStatementLine  # the line that keeps it
    small: cst.BaseSmallStatement  # the statement on that line
    value: cst.BaseExpression  # the expression kept (`loss`, `loss * len(x)`)
    container: str  # as written: `total`, `losses`
    loss: str  # the loss name
    how: str  # "sum", "append" or "store"
    loop: cst.For | cst.While
    # A backward pass of the loss without `retain_graph` runs in every iteration that keeps it,
    # so it frees the activations the graph saved: only the loss and the graph's nodes are kept.
    freed: bool = False


@dataclass
class LoopModel:
    program: Program
    loops: dict[int, TrainingLoop] = field(default_factory=dict)
    backward_sites: list[BackwardSite] = field(default_factory=list)
    eval_sites: dict[int, EvalSite] = field(default_factory=dict)
    optimizers_seen: set[str] = field(default_factory=set)  # optimizer names as written
    bare_methods: dict[int, BareMethod] = field(default_factory=dict)  # by statement id
    inplace_changes: dict[int, InplaceChange] = field(default_factory=dict)  # by node id
    kept_losses: list[KeptLoss] = field(default_factory=list)  # graphs kept across iterations
    complete: bool = True  # False when the analysis gave up (budget); rules then stay quiet
    # Across modules (see summary.py). Top-level functions (and methods of classes that are
    # not modules) run with their callers out of view; the modes each leaves its parameters
    # (or its object's attributes, as `self.net`) in, with the mode change that left it so;
    # the names of those whose evaluation code saw the state their callers give (whether
    # callers in other files decide it is asked once the file is analysed: see context.py).
    roots: set[str] = field(default_factory=set)
    # The evaluation sites (by node id) each root's run recorded, for the facts of methods,
    # whose object is named alike in every method of their class.
    root_sites: dict[str, set[int]] = field(default_factory=dict)
    exits: dict[str, dict[str, tuple[frozenset[str], cst.CSTNode | None]]] = field(
        default_factory=dict
    )
    asks: set[str] = field(default_factory=set)
    # The exits of a root run again with one flag turned from its default (`is_eval=True`):
    # function -> (flag, value) -> exits, as `exits` holds them.
    variants: dict[
        str, dict[tuple[str, object], dict[str, tuple[frozenset[str], cst.CSTNode | None]]]
    ] = field(default_factory=dict)
    # Calls into other project modules that evaluate (by node id), and models that a function
    # of another module leaves in eval mode: the function's name and where its half of the
    # finding is (`utils.py:12`).
    elsewhere: dict[int, tuple[str, str]] = field(default_factory=dict)
    left_elsewhere: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Top-level functions that are one straight-line training step on the optimizers they
    # are given: their backward passes, steps and clears, in order (see steps.py).
    steps: dict[str, tuple[tuple[str, str, cst.CSTNode], ...]] = field(default_factory=dict)
    # Top-level functions that leave the optimizers they are given alone (see steps.py).
    spares: set[str] = field(default_factory=set)
    # Calls that replay such a function of another module, by node id: its name and where
    # its step is (`engine.py:7`).
    stepped_elsewhere: dict[int, tuple[str, str]] = field(default_factory=dict)
    # The eval switch a held object's class offers for a network evaluated at such a call
    # (`agent.online_net` -> (".online_net", "eval"): `agent.eval()` is what to write).
    switches: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Parameters of the file's functions (`accuracy:net`) that some call in view gives a plain
    # function (`accuracy(loader, linreg)`): no module method can be called on them there.
    given_functions: set[str] = field(default_factory=set)
    # Training-step methods that a loop of another module calls, run as that loop runs them
    # (see repeated.py), by id of their stand-in loop; and the methods whose run would show a
    # missing clear or step, for which the project's loops that call them are asked.
    repeated: dict[int, Repeated] = field(default_factory=dict)
    repeat_asks: set[str] = field(default_factory=set)
    # What the rules compute once for all of them (the statement layout their fixes use).
    shared: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def spell(self, scope: Scope, root: str) -> str | None:
        """How the function of `scope` writes the object the analysis calls `root`; None when
        that function has no name for it."""
        for head, target in scope.rename:
            if root == target:
                return head
            if root.startswith(target + "."):
                return head + root[len(target) :]
        info = self.program.functions.get(scope.function) if scope.function else None
        if info is not None and root.startswith(info.key + ":"):
            return root[len(info.key) + 1 :]
        if not _DOTTED.fullmatch(root):
            return None  # a helper's own name (`fn:x`), `self` of a class, or no name at all
        head = root.partition(".")[0]
        if info is not None and (
            head in info.params or head in info.local_names or head in dict(scope.rename)
        ):
            return None  # a global that this function's own name hides
        return root

    def probability_losses(self) -> list[ProbabilityLoss]:
        """Loss calls given probabilities where they expect logits (a pass of its own, run
        once, from the same parse, only when a rule asks)."""
        found = self.shared.get("probability_losses")
        if not isinstance(found, list):
            found = self.shared["probability_losses"] = find_probability_losses(self.program)
        return found

    def torch_alias(self) -> str | None:
        """The name under which this file imports the `torch` module, if it does."""
        if self.program.qualify("torch") == "torch" and self.program.is_imported("torch"):
            return "torch"
        return self.program.imports.local_name("torch")

    def torch_name(self) -> str:
        """How this file spells `torch` (`T` after `import torch as T`); `torch` when it does
        not import the module. (An unbound name qualifies as itself: `torch` is no evidence.)"""
        return self.torch_alias() or "torch"

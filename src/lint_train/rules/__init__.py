"""The rules: short predicates over the LoopModel, one module per rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..types import RuleInfo

if TYPE_CHECKING:  # only annotations here: listing the rules must not import libcst
    import libcst as cst

    from ..analysis.model import EvalSite, LoopModel, Trace
    from .fixes import Fix


@dataclass(frozen=True)
class Report:
    """A rule's verdict before it has a file position: the node to point at, and why; the fix
    when the rule can name the objects with confidence, else why it offers none."""

    node: cst.CSTNode
    message: str
    fix: Fix | None = None
    no_fix: str | None = None
    related: tuple[tuple[cst.CSTNode, str], ...] = ()  # other nodes to show, and what they are

    @classmethod
    def with_fix(
        cls,
        node: cst.CSTNode,
        message: str,
        fix: Fix | str,
        related: tuple[tuple[cst.CSTNode, str], ...] = (),
    ) -> Report:
        """A report with its fix, or with the reason (a string) why there is none; `related`
        nodes that are `node` itself are dropped (a finding that could only point at its loop)."""
        related = tuple((n, m) for n, m in related if n is not node)
        if isinstance(fix, str):
            return cls(node, message, None, fix, related)
        return cls(node, message, fix, None, related)


def site_of(traces: list[Trace], keep: Callable[[Trace], bool]) -> cst.CSTNode | None:
    """Where the first of `traces` that `keep` accepts happens, in the code that holds the
    loop (or evaluation code) it was traced for: the event itself, or the call into the
    helper that runs it. Findings point there; None when no trace is kept."""
    return next((t.site for t in traces if keep(t)), None)


def forward_of(site: EvalSite, name: str) -> cst.CSTNode:
    """Where evaluation code runs `name` (a model as written) forward first; the evaluation
    code itself when its trace has no such forward pass."""
    root = site.model_roots.get(name, name)
    found = site_of(site.trace, lambda t: t.kind == "forward" and t.root == root)
    return found or site.node


def evaluation_code(model: LoopModel, site: EvalSite) -> tuple[tuple[cst.CSTNode, str], ...]:
    """The evaluation loop, or else the evaluation function, as a related place."""
    if site.is_loop:
        return ((site.node, "the evaluation loop"),)
    info = model.program.functions.get(site.function) if site.function else None
    if info is None:
        return ()
    return ((info.node, f"`{info.node.name.value}`, which evaluates"),)


@dataclass(frozen=True)
class Rule:
    info: RuleInfo
    check: Callable[[LoopModel], Iterator[Report]]


def all_rules() -> list[Rule]:
    from . import (
        trn001_missing_zero_grad,
        trn002_missing_optimizer_step,
        trn003_missing_no_grad,
        trn004_missing_eval,
        trn005_missing_train,
        trn006_zero_grad_before_step,
        trn007_loss_graph_accumulation,
        trn008_missing_call_parens,
        trn009_double_softmax,
        trn010_scheduler_before_optimizer,
        trn011_inplace_init_without_no_grad,
    )

    modules = [
        trn001_missing_zero_grad,
        trn002_missing_optimizer_step,
        trn003_missing_no_grad,
        trn004_missing_eval,
        trn005_missing_train,
        trn006_zero_grad_before_step,
        trn007_loss_graph_accumulation,
        trn008_missing_call_parens,
        trn009_double_softmax,
        trn010_scheduler_before_optimizer,
        trn011_inplace_init_without_no_grad,
    ]
    return [Rule(m.INFO, m.check) for m in modules]


def rule_table() -> dict[str, RuleInfo]:
    return {r.info.code: r.info for r in all_rules()}

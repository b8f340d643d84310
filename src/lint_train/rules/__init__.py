"""The rules: short predicates over the LoopModel, one module per rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..types import RuleInfo

if TYPE_CHECKING:  # only annotations here: listing the rules must not import libcst
    import libcst as cst

    from ..analysis.model import LoopModel
    from .fixes import Fix


@dataclass(frozen=True)
class Report:
    """A rule's verdict before it has a file position: the node to point at, and why; the fix
    when the rule can name the objects with confidence, else why it offers none."""

    node: cst.CSTNode
    message: str
    fix: Fix | None = None
    no_fix: str | None = None

    @classmethod
    def with_fix(cls, node: cst.CSTNode, message: str, fix: Fix | str) -> Report:
        """A report with its fix, or with the reason (a string) why there is none."""
        if isinstance(fix, str):
            return cls(node, message, None, fix)
        return cls(node, message, fix, None)


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
        trn008_missing_call_parens,
        trn010_scheduler_before_optimizer,
        trn011_inplace_init_without_no_grad,
    )

    modules = [
        trn001_missing_zero_grad,
        trn002_missing_optimizer_step,
        trn003_missing_no_grad,
        trn004_missing_eval,
        trn005_missing_train,
        trn008_missing_call_parens,
        trn010_scheduler_before_optimizer,
        trn011_inplace_init_without_no_grad,
    ]
    return [Rule(m.INFO, m.check) for m in modules]


def rule_table() -> dict[str, RuleInfo]:
    return {r.info.code: r.info for r in all_rules()}

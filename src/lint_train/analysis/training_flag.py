"""Tests of a model's own `training` flag: `if model.training:` (or `not model.training`, or
`model.training and other` / `or other`) takes the way the path's mode of that model says,
when the path knows it. Code run only `if self.net.training and self.augment:` does not run
after `self.net.eval()`, so a module it calls there is not evaluated in that mode.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from .names import dotted

# Modes in which `model.training` is False, and in which it is True.
_EVAL = frozenset({"eval", "evaluated", "eval~"})
_TRAIN = frozenset({"train", "default", "recalibrate"})


def value(test: cst.BaseExpression, mode_of: Callable[[str], frozenset[str]]) -> bool | None:
    """The truth of `test` from the modes `mode_of` gives each model (as written), where it is
    decided by `.training` flags alone; None where it is not."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = value(test.expression, mode_of)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left, right = value(test.left, mode_of), value(test.right, mode_of)
        if isinstance(test.operator, cst.And):
            if left is False or right is False:
                return False
            return True if left and right else None
        if left is True or right is True:
            return True
        return False if left is False and right is False else None
    if (
        isinstance(test, cst.Comparison)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, (cst.Is, cst.IsNot))
        and isinstance(test.comparisons[0].comparator, cst.Name)
        and test.comparisons[0].comparator.value in ("True", "False")
    ):
        # `model.training is False`: the flag itself, read one way or the other.
        inner = value(test.left, mode_of)
        if inner is None:
            return None
        same = test.comparisons[0].comparator.value == "True"
        is_not = isinstance(test.comparisons[0].operator, cst.IsNot)
        return inner if same != is_not else not inner
    if isinstance(test, cst.Attribute) and test.attr.value == "training":
        owner = dotted(test.value)
        if owner is None:
            return None
        modes = mode_of(owner)
        if modes and modes <= _EVAL:
            return False
        if modes and modes <= _TRAIN:
            return True
    return None

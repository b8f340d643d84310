"""Branch conditions said as a reader would: the way a path took at each `if` it passed."""

from __future__ import annotations

import libcst as cst

# Each comparison operator, its text, and the operator that holds exactly when it does not.
_OPERATORS: dict[type[cst.BaseCompOp], tuple[str, type[cst.BaseCompOp]]] = {
    cst.Equal: ("==", cst.NotEqual),
    cst.NotEqual: ("!=", cst.Equal),
    cst.LessThan: ("<", cst.GreaterThanEqual),
    cst.GreaterThanEqual: (">=", cst.LessThan),
    cst.GreaterThan: (">", cst.LessThanEqual),
    cst.LessThanEqual: ("<=", cst.GreaterThan),
    cst.In: ("in", cst.NotIn),
    cst.NotIn: ("not in", cst.In),
    cst.Is: ("is", cst.IsNot),
    cst.IsNot: ("is not", cst.Is),
}
_CONSTANTS = ("None", "True", "False")


def condition_phrase(condition: str, holds: bool) -> str:
    """`condition` taken one way, said without a double negative: "`scaler` is None" for
    `scaler is not None` that does not hold, "`rank != 0`" for `rank == 0` that does not,
    "`args.amp` is false" for a plain name. (A leading `not` is already folded into `holds`.)"""
    try:
        expr = cst.parse_expression(condition)
    except cst.ParserSyntaxError:
        expr = None
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        target = expr.comparisons[0]
        op = type(target.operator)
        if op in _OPERATORS:
            if not holds:
                op = _OPERATORS[op][1]
            text = _OPERATORS[op][0]
            code = cst.Module([]).code_for_node
            left, right = code(expr.left), code(target.comparator)
            if op in (cst.Is, cst.IsNot) and right in _CONSTANTS:
                return f"`{left}` {text} {right}"
            return f"`{left} {text} {right}`"
    return f"`{condition}` is {'true' if holds else 'false'}"


def path_phrase(conditions: tuple[tuple[str, bool], ...]) -> str:
    """The ways a path took, in order: "`use_amp` is false and `rank == 0`"."""
    return " and ".join(condition_phrase(text, holds) for text, holds in conditions)

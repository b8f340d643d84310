"""Accumulation windows read off a loop's modular conditions on a counter.

Gradient accumulation often clears at a window's start and steps at its end, under two tests of
one counter: `if i % k == 0:` and `if (i + 1) % k == 0:`. When the counter advances by exactly
one each iteration, the end test taken in one iteration decides the start test of the next:
`(c + 1) % k == 0` now is `c % k == 0` then. `Windows.carried` turns what an iteration learnt
of its end tests into what the next one knows of its start tests, so the replay does not try
the next iteration without its clear after a step. Only plain shapes are read: a counter that
is a name, a modulus that is a name, an attribute or an integer, and an offset that is an
integer literal; anything else is not a window test and carries nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .names import dotted
from .walk import walk


@dataclass(frozen=True)
class WindowTest:
    """A test whose truth is `(counter + shift) % modulus == 0` (or its negation when
    `zero_when` is False), `modulus` as the code spells it."""

    counter: str
    modulus: str
    shift: int
    zero_when: bool


def window_test(test: cst.BaseExpression) -> WindowTest | None:
    """`c % k == 0`, `(c + 1) % k != 0`, `c % k == k - 1`, or a bare `(c + 1) % k` (true when
    the remainder is not 0); `test` has its `not`s already taken off."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        if not isinstance(target.operator, cst.Equal | cst.NotEqual):
            return None
        remainder = _remainder(test.left)
        if remainder is None:
            return None
        counter, modulus, shift = remainder
        equal = isinstance(target.operator, cst.Equal)
        if _integer(target.comparator) == 0:
            return WindowTest(counter, modulus, shift, equal)
        if _is_modulus_less_one(target.comparator, modulus):
            # (c + a) % k == k - 1 exactly when (c + a + 1) % k == 0.
            return WindowTest(counter, modulus, shift + 1, equal)
        return None
    remainder = _remainder(test)
    if remainder is None:
        return None
    counter, modulus, shift = remainder
    return WindowTest(counter, modulus, shift, False)


@dataclass(frozen=True)
class Windows:
    """A loop's window tests, by the text its facts are keyed on, on counters that advance by
    one each iteration: at the loop's head (an enumerate index) or at a `c += 1` statement of
    its body (`increments`: the statement's id -> the counter)."""

    tests: tuple[tuple[str, WindowTest], ...]
    at_head: frozenset[str]
    increments: dict[int, str]
    from_zero: frozenset[str]  # counters that are 0 on the loop's first iteration

    def carried(self, facts: dict[str, bool]) -> dict[str, bool]:
        """What the next iteration knows of its window tests at its start, from the facts an
        iteration ends with (a counter advanced by its statement already has its next value)."""
        return {
            **self.shifted(facts, frozenset(self.increments.values()), 0),
            **self.shifted(facts, self.at_head, 1),
        }

    def shifted(self, facts: dict[str, bool], counters: frozenset[str], by: int) -> dict[str, bool]:
        """What the window tests say once `counters` have grown by `by`, from `facts`:
        `(c + a) % k == 0` before is `(c + a - by) % k == 0` after."""
        out: dict[str, bool] = {}
        for text, value in facts.items():
            known = self._test(text)
            if known is None or known.counter not in counters:
                continue
            at_zero = value == known.zero_when
            for other, test in self.tests:
                same = (test.counter, test.modulus) == (known.counter, known.modulus)
                if same and test.shift == known.shift - by:
                    out[other] = at_zero == test.zero_when
        return out

    def on_entry(self) -> dict[str, bool]:
        """What the first iteration knows: a counter that starts at 0 is a multiple of any k."""
        return {
            text: test.zero_when
            for text, test in self.tests
            if test.counter in self.from_zero and test.shift == 0
        }

    def _test(self, text: str) -> WindowTest | None:
        for known, test in self.tests:
            if known == text:
                return test
        return None


def windows(
    loop: cst.For | cst.While, tests: list[tuple[str, cst.BaseExpression]], assigned: set[str]
) -> Windows | None:
    """The window tests of `loop` (`tests`: each `if` test's fact text and its expression
    without `not`) on counters that advance by one each iteration, with moduli the loop does
    not change (`assigned`: every name the loop binds, its target included)."""
    at_head, increments, from_zero = _counters(loop)
    advanced = at_head | set(increments.values())
    if not advanced:
        return None
    found = []
    for text, expression in tests:
        test = window_test(expression)
        if test is None or test.counter not in advanced:
            continue
        if any(part in assigned for part in test.modulus.split(".")):
            continue
        found.append((text, test))
    if not found:
        return None
    return Windows(tuple(found), at_head, increments, from_zero)


def _counters(
    loop: cst.For | cst.While,
) -> tuple[frozenset[str], dict[int, str], frozenset[str]]:
    """Names that advance by exactly one each iteration of `loop`: the index of
    `for i, ... in enumerate(...)` that the body never assigns; and a name whose only binding
    in the loop is a `c += 1` statement of the body itself (not under an `if`), in a loop with
    no `continue` that could skip it (by the statement's id). Then those that start at 0."""
    bindings = _Bindings()
    walk(loop.body, bindings)
    at_head: set[str] = set()
    from_zero: set[str] = set()
    index = _enumerate_index(loop)
    if index is not None and bindings.count.get(index[0], 0) == 0:
        at_head.add(index[0])
        if index[1]:
            from_zero.add(index[0])
    increments: dict[int, str] = {}
    if bindings.continues or not isinstance(loop.body, cst.IndentedBlock):
        return frozenset(at_head), increments, frozenset(from_zero)
    target = {n.value for n in _names(loop.target)} if isinstance(loop, cst.For) else set()
    for statement in loop.body.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            name = _increment(small)
            if name is not None and bindings.count.get(name) == 1 and name not in target:
                increments[id(small)] = name
    return frozenset(at_head), increments, frozenset(from_zero)


def steady_counters(loop: cst.For | cst.While) -> frozenset[str]:
    """Names that `loop` (its target, its body, nested loops and functions included) binds
    only by `c += 1` statements, under any condition: a step counter kept across epochs."""
    bindings = _Bindings(nested=True)
    walk(loop, bindings)
    return frozenset(
        name for name, count in bindings.increments.items() if bindings.count[name] == count
    )


def _enumerate_index(loop: cst.For | cst.While) -> tuple[str, bool] | None:
    """The index name of `for i, item in enumerate(items)`, and whether it starts at 0."""
    if not isinstance(loop, cst.For) or not isinstance(loop.iter, cst.Call):
        return None
    if dotted(loop.iter.func) != "enumerate" or not loop.iter.args:
        return None
    target = loop.target
    if not isinstance(target, cst.Tuple | cst.List) or len(target.elements) != 2:
        return None
    first = target.elements[0].value
    if not isinstance(first, cst.Name):
        return None
    start = [a.value for a in loop.iter.args[1:]]
    return first.value, not start or (len(start) == 1 and _integer(start[0]) == 0)


def _increment(small: cst.BaseSmallStatement) -> str | None:
    if (
        isinstance(small, cst.AugAssign)
        and isinstance(small.operator, cst.AddAssign)
        and isinstance(small.target, cst.Name)
        and _integer(small.value) == 1
    ):
        return small.target.value
    return None


class _Bindings(cst.CSTVisitor):
    """How often each name is bound in a loop body (nested functions and classes aside), and
    whether a `continue` of this loop (not of an inner one) is there."""

    def __init__(self, nested: bool = False) -> None:
        self.count: dict[str, int] = {}
        self.increments: dict[str, int] = {}  # of the bindings, the `c += 1` statements
        self.continues = False
        self._inner = 0
        self._nested = nested  # whether nested functions and classes are counted too

    def _bind(self, target: cst.BaseExpression) -> None:
        for name in _names(target):
            self.count[name.value] = self.count.get(name.value, 0) + 1

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)
        name = _increment(node)
        if name is not None:
            self.increments[name] = self.increments.get(name, 0) + 1

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)  # type: ignore[arg-type]

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)
        self._inner += 1

    def leave_For(self, original_node: cst.For) -> None:
        self._inner -= 1

    def visit_While(self, node: cst.While) -> None:
        self._inner += 1

    def leave_While(self, original_node: cst.While) -> None:
        self._inner -= 1

    def visit_Continue(self, node: cst.Continue) -> None:
        if not self._inner:
            self.continues = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._nested

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return self._nested


def _names(target: cst.BaseExpression) -> list[cst.Name]:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, cst.Tuple | cst.List):
        return [n for e in target.elements for n in _names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _names(target.value)
    return []


def _remainder(expression: cst.BaseExpression) -> tuple[str, str, int] | None:
    """`c % k` or `(c + a) % k` (`(a + c) % k`): the counter, the modulus's code, and a."""
    if not isinstance(expression, cst.BinaryOperation) or not isinstance(
        expression.operator, cst.Modulo
    ):
        return None
    modulus = _modulus(expression.right)
    if modulus is None:
        return None
    left = expression.left
    if isinstance(left, cst.Name):
        return left.value, modulus, 0
    if isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.Add):
        for name, offset in ((left.left, left.right), (left.right, left.left)):
            shift = _integer(offset)
            if isinstance(name, cst.Name) and shift is not None:
                return name.value, modulus, shift
    return None


def _modulus(expression: cst.BaseExpression) -> str | None:
    """A name, a dotted attribute of names, or a positive integer, spelled without spaces."""
    if isinstance(expression, cst.Name | cst.Attribute):
        return dotted(expression)
    value = _integer(expression)
    return str(value) if value is not None and value > 0 else None


def _is_modulus_less_one(expression: cst.BaseExpression, modulus: str) -> bool:
    return (
        isinstance(expression, cst.BinaryOperation)
        and isinstance(expression.operator, cst.Subtract)
        and _modulus(expression.left) == modulus
        and _integer(expression.right) == 1
    )


def _integer(expression: cst.BaseExpression) -> int | None:
    if not isinstance(expression, cst.Integer):
        return None
    try:
        return int(expression.value, 0)
    except ValueError:
        return None

"""Models whose parameters need no gradient: `model.requires_grad_(False)`, or a loop that
sets `p.requires_grad = False` for each of `model.parameters()`. Autograd records nothing for
such a model's computation when its inputs need no gradient either, so evaluating it with
autograd on stores no graph: there is nothing for TRN003 to report. (Inputs that need a
gradient, `x.requires_grad_()`, already make the code differentiate, and so no evaluation.)

A path knows an object is frozen through one of its facts (keyed by `fact`): facts survive a
join only where every path agrees, they end when the name is assigned again, and their keys
never read as a branch condition (a condition is code, without this key's parentheses).
`requires_grad_(True)` or `requires_grad_()` ends it.
"""

from __future__ import annotations

import libcst as cst

from .names import dotted

_PREFIX = "requires_grad_(False) on "


def fact(root: str) -> str:
    """The path fact that says the object the analysis calls `root` is frozen."""
    return _PREFIX + root


def is_frozen(facts: dict[str, bool], root: str) -> bool:
    """Whether `root` (or an object it is a part of: `model` for `model.backbone`) is frozen."""
    probe = root
    while True:
        if facts.get(fact(probe)):
            return True
        if "." not in probe:
            return False
        probe = probe.rpartition(".")[0]


def unfreeze(facts: dict[str, bool], root: str) -> None:
    """`root.requires_grad_(True)`: it and its parts need gradients again, and an object it
    is a part of is no longer frozen as a whole."""
    owners = {fact(root.rsplit(".", n)[0]) for n in range(root.count(".") + 1)}
    for key in [k for k in facts if k in owners or k.startswith(fact(root) + ".")]:
        del facts[key]


def flag(call: cst.Call) -> bool | None:
    """What `requires_grad_(...)` sets: True without an argument (its default), the literal
    given (positionally or as `requires_grad=`), None when it is not a literal."""
    if not call.args:
        return True
    arg = call.args[0]
    if arg.star or (arg.keyword is not None and arg.keyword.value != "requires_grad"):
        return None
    if isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False"):
        return arg.value.value == "True"
    return None


def frozen_by_loop(stmt: cst.For) -> str | None:
    """The object whose parameters a loop freezes, all of them: `for p in x.parameters():`
    (or `for name, p in x.named_parameters():`) whose body sets `p.requires_grad = False` (or
    calls `p.requires_grad_(False)`) as a statement of its own, not under a test."""
    call = stmt.iter
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
        return None
    method = call.func.attr.value
    if method not in ("parameters", "named_parameters") or call.args:
        return None
    target = stmt.target
    if method == "named_parameters" and isinstance(target, cst.Tuple):
        target = target.elements[-1].value
    if not isinstance(target, cst.Name):
        return None
    body = stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else [stmt.body]
    for line in body:
        if not isinstance(line, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            continue
        if any(_freezes(small, target.value) for small in line.body):
            return dotted(call.func.value)
    return None


def _freezes(small: cst.BaseSmallStatement, name: str) -> bool:
    if isinstance(small, cst.Assign):
        return (
            len(small.targets) == 1
            and dotted(small.targets[0].target) == f"{name}.requires_grad"
            and isinstance(small.value, cst.Name)
            and small.value.value == "False"
        )
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        return dotted(call.func) == f"{name}.requires_grad_" and flag(call) is False
    return False

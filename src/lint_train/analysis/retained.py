"""Losses kept across iterations of a training loop with their autograd graph (TRN007).

In a loop that runs backward, the loss is the value a backward pass is called on, in that same
loop. Kept is: `total += loss` (or `total = total + loss`), `losses.append(loss)`,
`history[step] = loss` (a key that changes), `stats["loss"] += loss`, where the container is not
bound again inside the loop (so it outlives the iteration) and the value is the loss itself or
arithmetic on it: `loss.item()`, `loss.detach()`, `float(loss)` or any other call or attribute
takes the value off the graph (or might), and is not kept. Quiet when the code is under a
no-grad block, when the loss name was bound to a detached value in the loop, and when the
container itself is backpropagated in the function (truncated BPTT, accumulate then one
backward), directly or through a name assigned from it.

What is kept differs. A backward pass without `retain_graph=True` frees the activations its
graph saved, whether the loss was kept before or after it in the iteration; when such a pass of
the loss runs in every iteration that keeps it, only the loss tensor and the graph's nodes
(autograd's bookkeeping) stay alive (`KeptLoss.freed`). Otherwise (`retain_graph=True`, or a
backward pass on some iterations only) the whole graph is kept, activations included.
"""

from __future__ import annotations

import libcst as cst

from .model import KeptLoss, LoopModel, TrainingLoop
from .names import dotted
from .walk import children

# Calls and attributes that take a value off the graph when bound to the loss name in the loop.
_DETACHING = frozenset({"item", "detach", "tolist", "cpu", "numpy", "data", "float", "int"})
_NO_GRAD = ("no_grad", "inference_mode")


def kept_losses(model: LoopModel) -> list[KeptLoss]:
    out: list[KeptLoss] = []
    training = {id(loop.node) for loop in model.loops.values()}
    for loop in model.loops.values():
        scope = _scope(model, loop)
        out.extend(_kept_in(model, loop, scope, training))
    return out


def _scope(model: LoopModel, loop: TrainingLoop) -> cst.CSTNode:
    info = model.program.functions.get(loop.function) if loop.function else None
    return info.node if info is not None else model.program.module


def _kept_in(
    model: LoopModel, loop: TrainingLoop, scope: cst.CSTNode, training: set[int]
) -> list[KeptLoss]:
    losses = set()
    for call in _nodes(loop.node.body, cst.Call, enter_loops=True):
        losses.update(_backward_targets(call))
    if not losses:
        return []
    bound_in_loop = _bound_names(loop.node)
    detached = _detached_rebindings(loop.node, losses)
    differentiated = _differentiated(scope)
    guards = _guards(loop.node)
    found = []
    for line, small in _own_statements(model, loop.node, training):
        kept = _keeps(small, losses - detached)
        if kept is None:
            continue
        container, value, loss, how = kept
        if container in differentiated:
            continue  # the sum is itself backpropagated
        if container in bound_in_loop:
            continue  # a fresh total, list or dict each iteration
        freed = _freed_each_time(guards, line, loss)
        found.append(KeptLoss(line, small, value, container, loss, how, loop.node, freed))
    return found


def _guards(
    loop: cst.For | cst.While,
) -> list[tuple[cst.SimpleStatementLine, tuple[int, ...]]]:
    """Each statement line of the loop, with the ids of the blocks around it, from the loop's
    body in, that an iteration may skip (a branch, a handler, a nested loop's body). The body
    of a `with` or a `try` always runs."""
    out = []
    stack: list[tuple[cst.CSTNode, tuple[int, ...]]] = [(loop.body, ())]
    while stack:
        node, around = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.SimpleStatementLine):
            out.append((node, around))
            continue
        for child in children(node):
            runs = isinstance(node, (cst.With, cst.Try)) and child is node.body  # type: ignore[union-attr]
            if isinstance(child, cst.BaseSuite) and not runs:
                stack.append((child, (*around, id(child))))
            else:
                stack.append((child, around))
    return out


def _freed_each_time(
    guards: list[tuple[cst.SimpleStatementLine, tuple[int, ...]]], keep: cst.CSTNode, loss: str
) -> bool:
    """Whether a backward pass of `loss` that frees its graph (no `retain_graph` or
    `create_graph` other than False) runs whenever the keeping line does: the blocks around
    it are among the keeping line's."""
    kept_in = next((around for line, around in guards if line is keep), None)
    if kept_in is None:
        return False
    for line, around in guards:
        if around != kept_in[: len(around)]:
            continue
        for call in _nodes(line, cst.Call, enter_loops=True):
            if loss in _backward_targets(call) and not _keeps_graph(call):
                return True
    return False


def _keeps_graph(call: cst.Call) -> bool:
    return any(
        arg.keyword is not None
        and arg.keyword.value in ("retain_graph", "create_graph")
        and not (isinstance(arg.value, cst.Name) and arg.value.value in ("False", "None"))
        for arg in call.args
    )


def _backward_targets(call: cst.Call) -> set[str]:
    """`loss.backward()`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`."""
    func = call.func
    if not (isinstance(func, cst.Attribute) and func.attr.value in ("backward", "manual_backward")):
        return set()
    receiver = func.value
    if isinstance(receiver, cst.Name):
        if call.args and isinstance(call.args[0].value, cst.Name) and call.args[0].keyword is None:
            return {call.args[0].value.value}  # `accelerator.backward(loss)`
        return {receiver.value}
    if (
        isinstance(receiver, cst.Call)
        and isinstance(receiver.func, cst.Attribute)
        and receiver.func.attr.value == "scale"
        and receiver.args
        and isinstance(receiver.args[0].value, cst.Name)
    ):
        return {receiver.args[0].value.value}
    if call.args and isinstance(call.args[0].value, cst.Name) and call.args[0].keyword is None:
        return {call.args[0].value.value}  # `self.accelerator.backward(loss)`
    return set()


def _keeps(
    small: cst.BaseSmallStatement, losses: set[str]
) -> tuple[str, cst.BaseExpression, str, str] | None:
    if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign):
        container = _container(small.target)
        loss = _attached(small.value, losses)
        if container and loss:
            return container, small.value, loss, "sum"
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Name) and isinstance(small.value, cst.BinaryOperation):
            value = small.value
            if (
                isinstance(value.operator, cst.Add)
                and isinstance(value.left, cst.Name)
                and value.left.value == target.value
            ):
                loss = _attached(value.right, losses)
                if loss:
                    return target.value, value.right, loss, "sum"
        if isinstance(target, cst.Subscript) and not _constant_key(target):
            container = _container(target)
            loss = _attached(small.value, losses)
            if container and loss:
                return container, small.value, loss, "store"
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        if (
            isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "append"
            and len(call.args) == 1
            and call.args[0].keyword is None
        ):
            container = dotted(call.func.value)
            loss = _attached(call.args[0].value, losses)
            if container and loss:
                return container, call.args[0].value, loss, "append"
    return None


def _container(target: cst.BaseExpression) -> str | None:
    """The name a kept value goes into: `total`, `self.total`, `stats` of `stats["loss"]`."""
    if isinstance(target, cst.Subscript):
        target = target.value
    return dotted(target)


def _constant_key(target: cst.Subscript) -> bool:
    """`stats["loss"] = loss` overwrites one entry each iteration: only the latest graph is
    held, nothing grows."""
    return all(
        isinstance(e.slice, cst.Index)
        and isinstance(e.slice.value, (cst.SimpleString, cst.Integer, cst.ConcatenatedString))
        for e in target.slice
    )


def _attached(value: cst.BaseExpression, losses: set[str]) -> str | None:
    """The loss name when `value` is the loss, or arithmetic on it; None for anything a call
    or an attribute may have taken off the graph."""
    if isinstance(value, cst.Name):
        return value.value if value.value in losses else None
    if isinstance(value, cst.BinaryOperation):
        return _attached(value.left, losses) or _attached(value.right, losses)
    if isinstance(value, cst.UnaryOperation):
        return _attached(value.expression, losses)
    return None


def _differentiated(scope: cst.CSTNode) -> set[str]:
    """Names that a backward pass of the function is called on or through (`total.backward()`,
    `torch.stack(losses).mean().backward()`), and names assigned into those."""
    names: set[str] = set()
    for call in _nodes(scope, cst.Call, enter_loops=True):
        func = call.func
        method = func.attr.value if isinstance(func, cst.Attribute) else None
        if method in ("backward", "manual_backward", "grad"):
            names |= _names_in(call)
    for assign in _nodes(scope, cst.Assign, enter_loops=True):
        targets = set().union(*(_names_in(t.target) for t in assign.targets))
        if targets & names:
            names |= _names_in(assign.value)
    return names


def _names_in(node: cst.CSTNode) -> set[str]:
    out = set()
    for item in _nodes(node, (cst.Name, cst.Attribute), enter_loops=True):
        name = dotted(item)  # type: ignore[arg-type]
        if name:
            out.add(name)
    return out


def _bound_names(loop: cst.For | cst.While) -> set[str]:
    """Names the loop binds afresh (its header included): `total = 0`, `losses = []`; adding
    to a name (`total += x`, `total = total + x`) does not count."""
    out: set[str] = set()

    def add(target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Subscript):
            return
        for item in _nodes(target, (cst.Name, cst.Attribute), enter_loops=True):
            name = dotted(item)  # type: ignore[arg-type]
            if name:
                out.add(name)

    if isinstance(loop, cst.For):
        add(loop.target)
    kinds = (cst.Assign, cst.AnnAssign, cst.For, cst.AsName)
    for node in _nodes(loop.body, kinds, enter_loops=True):
        if isinstance(node, cst.Assign):
            for t in node.targets:
                if not _adds_to(t.target, node.value):
                    add(t.target)
        elif isinstance(node, (cst.AnnAssign, cst.For)):
            add(node.target)
        elif isinstance(node, cst.AsName):
            add(node.name)  # type: ignore[arg-type]
    return out


def _adds_to(target: cst.BaseExpression, value: cst.BaseExpression) -> bool:
    return (
        isinstance(target, cst.Name)
        and isinstance(value, cst.BinaryOperation)
        and isinstance(value.operator, cst.Add)
        and isinstance(value.left, cst.Name)
        and value.left.value == target.value
    )


def _detached_rebindings(loop: cst.For | cst.While, losses: set[str]) -> set[str]:
    """Loss names the loop binds to a detached value (`loss = loss.item()`) somewhere."""
    out = set()
    for assign in _nodes(loop.body, cst.Assign, enter_loops=True):
        for t in assign.targets:
            target = t.target
            if isinstance(target, cst.Name) and target.value in losses and _detaching(assign.value):
                out.add(target.value)
    return out


def _detaching(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Call):
        func = value.func
        if isinstance(func, cst.Attribute) and func.attr.value in _DETACHING:
            return True
        if isinstance(func, cst.Name) and func.value in _DETACHING:
            return True
    return isinstance(value, cst.Attribute) and value.attr.value in _DETACHING


def _own_statements(
    model: LoopModel, loop: cst.For | cst.While, training: set[int]
) -> list[tuple[cst.SimpleStatementLine, cst.BaseSmallStatement]]:
    """The loop's single-statement lines, outside nested training loops (they are checked on
    their own), nested functions and no-grad blocks."""
    out = []
    stack: list[cst.CSTNode] = [loop.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, (cst.For, cst.While)) and id(node) in training:
            continue
        if isinstance(node, cst.With) and _no_grad(model, node):
            continue
        if isinstance(node, cst.SimpleStatementLine):
            out.extend((node, small) for small in node.body)
            continue
        stack.extend(children(node))
    return out


def _no_grad(model: LoopModel, node: cst.With) -> bool:
    for item in node.items:
        call = item.item
        func = call.func if isinstance(call, cst.Call) else call
        name = model.program.qualify(dotted(func)) or ""  # type: ignore[arg-type]
        if name.endswith(_NO_GRAD) or name.endswith("set_grad_enabled"):
            return True
    return False


def _nodes(
    root: cst.CSTNode, kind: type | tuple[type, ...], enter_loops: bool
) -> list[cst.CSTNode]:
    """Nodes of `kind` under `root`, not inside nested function or class definitions."""
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node is not root and isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, kind):
            out.append(node)
        if not enter_loops and node is not root and isinstance(node, (cst.For, cst.While)):
            continue
        stack.extend(children(node))
    return out

"""Whether a function's forward passes only produce metrics and outputs: evaluation by what the
code does with a model's result, whatever the function is called.

Each forward call's result is followed, inside the function, through the expressions and names
that hold it. It may end in a call the knowledge table marks as an output (`.argmax()`,
`.item()`, `.numpy()`, `.detach()`, `.decode(...)`), in a comparison (`pred == y`), in a
printed or formatted value, or in a list it is appended to, itself followed the same way. Any
other fate (returned, stored on an object, handed to code not in view or to a loss) means the
result may be trained on: the function is not evaluation. Flow-insensitive and by name, so
it errs towards "not evaluation".
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from . import knowledge as kn
from .names import dotted
from .program import Program
from .walk import children

# Collections a result is added to: the collection then holds it.
_COLLECTS = frozenset({"append", "extend", "add", "insert"})
# Python calls whose result is a number or text for a report, not a tensor to train on.
_REPORTS = frozenset({"print", "float", "int", "str", "round", "len", "bool"})
# Python calls that keep the tensors they are given.
_KEEPS = frozenset({"sum", "max", "min", "list", "tuple", "zip", "enumerate", "sorted", "abs"})

_SINK = "sink"
_ESCAPE = "escape"
_STORE = "store"  # the name itself written to: not a use of its value


def only_outputs(
    body: cst.CSTNode,
    forwards: Iterable[cst.CSTNode],
    program: Program,
    named: bool = False,
) -> bool:
    """Whether every forward result in `body` ends as a metric or an output, and one does.

    `named`: the function is called like evaluation (`test`), so a loss computed on the
    result, or a call of the file's own code (`accuracy(out, y)`), is followed as a metric."""
    starts = list(forwards)
    if not starts:
        return False
    parents, names, acts = _index(body)
    if acts:
        return False  # `env.step(action)`: a rollout that acts, collecting data to train on
    return _Follow(parents, program, named).run(starts, names)


def _index(body: cst.CSTNode) -> tuple[dict[int, cst.CSTNode], dict[str, list[cst.Name]], bool]:
    """One pass over `body` with the analysis's child table (walk.children): each node's
    parent, the uses of each variable name in visiting order, and whether the code acts
    (`env.step(action)`)."""
    parents: dict[int, cst.CSTNode] = {}
    names: dict[str, list[cst.Name]] = {}
    acts = False
    stack = [body]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "step"
            and node.args
        ):
            acts = True
        if isinstance(node, cst.Name):
            up = parents.get(id(node))
            if not _is_label(node, [] if up is None else [up]):
                names.setdefault(node.value, []).append(node)
        kids = children(node)
        for kid in kids:
            parents[id(kid)] = node
        stack.extend(reversed(kids))
    return parents, names, acts


class _Follow:
    def __init__(self, parents: dict[int, cst.CSTNode], program: Program, named: bool) -> None:
        self.parents = parents
        self.program = program
        self.named = named
        self.sinks = 0

    def run(self, starts: list[cst.CSTNode], names_of: dict[str, list[cst.Name]]) -> bool:
        work = list(starts)
        seen_names: set[str] = set()
        seen: set[int] = set()
        while work:
            node = work.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            fate = self._fate(node)
            if fate == _ESCAPE:
                return False
            if fate == _SINK:
                self.sinks += 1
            elif isinstance(fate, set):
                for name in fate - seen_names:
                    seen_names.add(name)
                    work.extend(names_of.get(name, []))
        return self.sinks > 0

    def _fate(self, node: cst.CSTNode) -> str | set[str]:
        """What becomes of the value of `node`: a sink, an escape, a store, or the names that
        now hold it."""
        cur = node
        while True:
            parent = self.parents.get(id(cur))
            if parent is None:
                return _ESCAPE
            if isinstance(parent, cst.Attribute) and parent.value is cur:
                grand = self.parents.get(id(parent))
                if isinstance(grand, cst.Call) and grand.func is parent:
                    if _is_output(kn.method("any", parent.attr.value)):
                        return _SINK
                    cur = grand  # `out.softmax(1)`, `out.cpu()`: still the model's result
                    continue
                cur = parent  # `out.logits`
                continue
            if isinstance(parent, cst.Arg):
                call = self.parents.get(id(parent))
                if not isinstance(call, cst.Call):
                    return _ESCAPE
                return self._argument_fate(call)
            if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
                return _SINK
            if isinstance(parent, cst.FormattedStringExpression):
                return _SINK  # formatted for a report
            if isinstance(parent, cst.Expr):
                return _ESCAPE  # `model(x)` alone, as a batch-norm recalibration runs it
            if isinstance(parent, cst.AssignTarget | cst.For) and _target_of(parent, cur):
                return _STORE
            if isinstance(parent, cst.AugAssign) and parent.target is cur:
                return _STORE
            if isinstance(parent, (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.For)):
                return self._bound(parent)
            if isinstance(
                parent,
                (
                    cst.BinaryOperation,
                    cst.UnaryOperation,
                    cst.BooleanOperation,
                    cst.IfExp,
                    cst.Subscript,
                    cst.SubscriptElement,
                    cst.Index,
                    cst.Slice,
                    cst.Element,
                    cst.StarredElement,
                    cst.Tuple,
                    cst.List,
                ),
            ):
                cur = parent
                continue
            return _ESCAPE  # returned, yielded, in a dict, a lambda, ...

    def _argument_fate(self, call: cst.Call) -> str | set[str]:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _COLLECTS:
            receiver = func.value
            return {receiver.value} if isinstance(receiver, cst.Name) else _ESCAPE
        if isinstance(func, cst.Attribute) and _is_output(kn.method("any", func.attr.value)):
            return _SINK  # `tokenizer.decode(out)`
        text = dotted(func)
        if text is None:
            return _ESCAPE
        if text in _REPORTS:
            return _SINK
        full = self.program.qualify(text) or text
        if _is_output(kn.lookup(full)):
            return _SINK
        own = text in self.program.module_functions
        if text in _KEEPS or (full.startswith("torch.") and not _is_loss(full)):
            return self._fate(call)  # `torch.cat(preds)`, `F.softmax(out, 1)`
        if self.named and (own or (full.startswith("torch.") and _is_loss(full))):
            return self._fate(call)  # `acc = accuracy(out, y)`, a validation loss: reported
        return _ESCAPE  # a loss, a metric object, code not in view: it may be trained on

    def _bound(self, statement: cst.CSTNode) -> str | set[str]:
        targets: list[cst.BaseExpression] = []
        if isinstance(statement, cst.Assign):
            targets = [t.target for t in statement.targets]
        elif isinstance(statement, (cst.AugAssign, cst.AnnAssign, cst.For)):
            targets = [statement.target]
        names: set[str] = set()
        for target in targets:
            held = _names(target)
            if held is None:
                return _ESCAPE  # `self.out = model(x)`: kept where we do not follow it
            names |= held
        return names


def _is_label(name: cst.Name, parent: list[cst.CSTNode]) -> bool:
    """A name that is no variable: an attribute (`x.preds`), a keyword (`dim=1`), a
    parameter or a definition's name."""
    if not parent:
        return False
    up = parent[0]
    return (
        (isinstance(up, cst.Attribute) and up.attr is name)
        or (isinstance(up, cst.Arg) and up.keyword is name)
        or isinstance(up, (cst.Param, cst.FunctionDef, cst.ClassDef, cst.ImportAlias))
    )


def _target_of(parent: cst.CSTNode, cur: cst.CSTNode) -> bool:
    return getattr(parent, "target", None) is cur


def _names(target: cst.BaseExpression) -> set[str] | None:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        out: set[str] = set()
        for element in target.elements:
            inner = _names(element.value)
            if inner is None:
                return None
            out |= inner
        return out
    return None


def _is_output(effect: kn.Effect | None) -> bool:
    return effect is not None and effect.output


def _is_loss(full: str) -> bool:
    last = full.rpartition(".")[2].lower()
    return "loss" in last or "entropy" in last or "divergence" in last or last == "kl_div"

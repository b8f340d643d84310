"""Autograd graphs the script keeps alive across steps (TRN007's runtime side), in the child.

Each tensor a backward pass is called on gets a small token in its `grad_fn`'s metadata. The
metadata lives exactly as long as that graph node, so a weak reference to the token says
whether the script still holds the graph: in a healthy loop the loss is rebound each iteration
and its graph freed, so the count of live tokens stays flat; `losses.append(loss)` or
`total += loss` keeps every iteration's graph reachable, and the count rises with every step.
(Graph nodes themselves cannot be weakly referenced; their metadata dict can hold what can.)
This costs one token and one weak reference per backward pass and nothing per operation.

When the count has risen at RISING_STEPS steps in a row, the holder is looked for once, in the
script's frames: the variable (a tensor whose graph reaches the tokens, or a list or dict of
tagged losses) and the line that adds to it. Deciding what is a finding is findings.py's job.
"""

from __future__ import annotations

import os
import re
import weakref
from dataclasses import dataclass, field
from typing import Any

# The count of live graphs must rise this many times in a row, from step to step, to count as
# growing with the step count: a healthy loop keeps it flat, or lets it wobble and fall back.
# Steps that leave it unchanged do not break the run (with two optimizers, one step of each
# iteration adds nothing).
RISING_STEPS = 5
# The metadata key of the token, chosen not to clash with anything a script stores there.
KEY = "lint_train.graph"
# Bounds on the one search for the holder, so that a huge graph costs little.
MAX_NODES = 20_000
MAX_ITEMS = 10_000


class Token:
    """Lives as long as the graph node whose metadata holds it."""

    __slots__ = ("__weakref__",)


@dataclass
class Holder:
    """The variable found holding the graphs, and where the script adds to it."""

    name: str
    graphs: int
    file: str
    line: int | None


@dataclass
class KeptGraphs:
    live: int = 0
    rising: int = 0
    previous: int = 0
    refs: set[Any] = field(default_factory=set)
    searched: bool = False

    def tag(self, tensors: Any) -> None:
        """Give each graph a backward pass is called on a token."""
        import torch

        if isinstance(tensors, torch.Tensor):
            tensors = (tensors,)
        if not isinstance(tensors, (list, tuple)):
            return
        for tensor in tensors:
            node = getattr(tensor, "grad_fn", None)
            if node is None:
                continue
            token = Token()
            try:
                # A second backward pass through the same graph replaces its token: one per
                # graph.
                node.metadata[KEY] = token
            except Exception:  # a node without metadata is not counted
                continue
            self.live += 1
            self.refs.add(weakref.ref(token, self._freed))

    def _freed(self, ref: Any) -> None:
        self.refs.discard(ref)
        self.live -= 1

    def after_step(self) -> bool:
        """Note the count at this step; True the first time it has risen RISING_STEPS times in
        a row (then the holder is worth looking for, once)."""
        if self.live != self.previous:
            self.rising = self.rising + 1 if self.live > self.previous else 0
        self.previous = self.live
        if self.rising < RISING_STEPS or self.searched:
            return False
        self.searched = True
        return True


def find_holder(frame: Any) -> Holder | None:
    """The script's variable holding the most tagged graphs, among the locals of the script's
    frames on the stack (module globals included) and the attributes of their `self`; None
    when none is found. It never raises: the search must not break the script it observes,
    and a frame holding an object that raises when looked at is passed over."""
    best: Holder | None = None
    skip = _library_folders()
    while frame is not None:
        file = frame.f_code.co_filename
        if not os.path.abspath(file).startswith(skip) and not file.startswith("<"):
            try:
                found = _best_in(frame, file)
            except Exception:  # a strange object in the script's frame
                found = None
            if found is not None and (best is None or found.graphs > best.graphs):
                best = found
        frame = frame.f_back
    return best


def _best_in(frame: Any, file: str) -> Holder | None:
    best: Holder | None = None
    for name, value in _candidates(frame.f_locals):
        graphs = _graphs_in(value)
        if graphs >= 2 and (best is None or graphs > best.graphs):
            best = Holder(name, graphs, file, _adding_line(frame, name))
    return best


def _library_folders() -> tuple[str, ...]:
    import torch

    here = os.path.dirname(os.path.abspath(__file__))
    return (os.path.dirname(os.path.abspath(torch.__file__)), here, os.path.dirname(os.__file__))


def _candidates(names: dict[str, Any]) -> list[tuple[str, Any]]:
    found = list(names.items())
    owner = names.get("self")
    attributes = getattr(owner, "__dict__", None)
    if isinstance(attributes, dict):
        found += [(f"self.{key}", value) for key, value in attributes.items()]
    return found


def _graphs_in(value: Any) -> int:
    """How many tagged graphs a value keeps: through the graph of a tensor, or as the direct
    items of a list, tuple or dict."""
    import torch

    if isinstance(value, torch.Tensor):
        return _reachable_tokens(value.grad_fn) if value.grad_fn is not None else 0
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        return 0
    return sum(
        _tagged(item.grad_fn)
        for item in value[:MAX_ITEMS]
        if isinstance(item, torch.Tensor) and item.grad_fn is not None
    )


def _tagged(node: Any) -> bool:
    return KEY in node.metadata


def _reachable_tokens(root: Any) -> int:
    # The wrappers are held in `seen` during the walk, so their ids stay unique.
    seen: dict[int, Any] = {id(root): root}
    stack = [root]
    found = 0
    while stack and len(seen) < MAX_NODES:
        node = stack.pop()
        found += _tagged(node)
        for child, _ in node.next_functions:
            if child is not None and id(child) not in seen:
                seen[id(child)] = child
                stack.append(child)
    return found


def _adding_line(frame: Any, name: str) -> int | None:
    """The line of the frame's function (then of its file) that adds to `name`: `name += ...`,
    `name = name + ...`, `name.append(...)`, `name[...] = ...`."""
    import linecache

    target = re.escape(name)
    adds = re.compile(
        rf"^\s*(?:{target}\s*\+=|{target}\s*=\s*{target}\s*\+|{target}\.append\(|"
        rf"{target}\[[^\]]+\]\s*\+?=)"
    )
    code = frame.f_code
    lines = linecache.getlines(code.co_filename)
    numbers = [n for _, _, n in code.co_lines() if n is not None]
    first, last = code.co_firstlineno, max(numbers, default=code.co_firstlineno)
    ranges = (range(first, last + 1), range(1, len(lines) + 1))
    for numbers_in in ranges:
        for number in numbers_in:
            if number <= len(lines) and adds.match(lines[number - 1]):
                return number
    return None

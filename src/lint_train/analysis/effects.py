"""What each top-level function of a module does to its parameters, and each method of a class
that is not a module to its object's models (`self.net`), read from the module's own analysis
(which runs them with their callers out of view): the function facts of its summary, which
callers in other modules apply to their own state (see summary.py). Methods are keyed
`Class.method`; their object is the parameter `self`."""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from ..positions import locate
from .interpret import ENTRY
from .model import LoopModel
from .summary import Evaluation, FunctionFacts, Leaves

_INIT = frozenset({"init"})


def function_facts(model: LoopModel) -> dict[str, FunctionFacts]:
    """The facts of the functions that evaluate a parameter's model or leave one in another
    mode; positions are computed only for the lines those facts name."""
    program = model.program
    raw: dict[str, tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[Variant]]] = {}
    nodes: list[cst.CSTNode] = []
    for key in sorted(model.roots):
        info = program.functions[key]
        prefix = key + ":"
        owner = f"{info.class_name}#" if info.is_method else None
        evaluations: list[tuple[object, ...]] = []
        for site in model.eval_sites.values():
            if owner is not None and id(site.node) not in model.root_sites.get(key, ()):
                continue  # its object is named alike in every method: only this one's run
            grads = _said(frozenset().union(*site.grads))
            for written, root in site.model_roots.items():
                if owner is not None:
                    if not root.startswith(owner + "self."):
                        continue
                    param, dot, rest = "self", ".", root[len(owner) + 5 :]
                else:
                    param, dot, rest = root.removeprefix(prefix).partition(".")
                    if not root.startswith(prefix) or param not in info.params:
                        continue
                forward = next(
                    (t.node for t in site.trace if t.kind == "forward" and t.root == root), None
                )
                if forward is None:
                    continue
                modes = _said(frozenset().union(*site.modes.get(written, ())))
                evaluations.append((param, dot + rest, forward, site.is_loop, grads, modes))
                nodes.append(forward)
        leaves = _left(model.exits.get(key, {}), info.node, nodes)
        variants = [
            (param, value, _left(exits, info.node, nodes))
            for (param, value), exits in sorted(model.variants.get(key, {}).items())
        ]
        variants = [item for item in variants if item[2] != leaves]
        if owner is not None and not evaluations and not leaves and not variants:
            continue
        if evaluations or leaves or variants:
            raw[key] = (evaluations, leaves, variants)
    for steps in model.steps.values():
        nodes += [node for _, _, node in steps]
    if not raw and not model.steps and not model.spares:
        return {}
    lines = {id(node): where.start.line for node, where in locate(program.module, nodes).items()}
    out: dict[str, FunctionFacts] = {}
    for key, (evaluations, leaves, variants) in raw.items():
        out[key] = FunctionFacts(
            tuple(program.functions[key].params),
            tuple(
                Evaluation(p, a, lines[id(n)], loop, g, m)  # type: ignore[arg-type]
                for p, a, n, loop, g, m in evaluations
            ),
            _leaves(leaves, lines),
            variants=tuple((p, v, _leaves(left, lines)) for p, v, left in variants),
        )
    for key, steps in model.steps.items():
        trains = tuple((kind, param, lines[id(node)]) for kind, param, node in steps)
        out[key] = FunctionFacts(tuple(program.functions[key].params), trains=trains)
    for key in model.spares:
        facts = out.get(key) or FunctionFacts(tuple(program.functions[key].params))
        out[key] = replace(facts, spares_optimizers=True)
    return out


Variant = tuple[str, object, list[tuple[object, ...]]]


def _left(
    exits: dict[str, tuple[frozenset[str], cst.CSTNode | None]],
    fallback: cst.CSTNode,
    nodes: list[cst.CSTNode],
) -> list[tuple[object, ...]]:
    """(parameter, modes, node) of each parameter an exit leaves in another mode."""
    out: list[tuple[object, ...]] = []
    for param, (modes, node) in exits.items():
        if modes != _INIT:
            out.append((param, modes, node or fallback))
            nodes.append(node or fallback)
    return out


def _leaves(raw: list[tuple[object, ...]], lines: dict[int, int]) -> tuple[Leaves, ...]:
    return tuple(
        Leaves(p.partition(".")[0], _attr(p), m, lines[id(n)])  # type: ignore[arg-type, union-attr]
        for p, m, n in raw
    )


def _said(values: frozenset[str]) -> frozenset[str]:
    """ "elsewhere" is "init" to the callers: each gives its own state."""
    return (values - ENTRY) | _INIT if values & ENTRY else values


def _attr(name: str) -> str:
    """`self.net` -> `.net`; `model` -> ""."""
    _, dot, rest = name.partition(".")
    return dot + rest

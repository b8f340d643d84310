"""Two shapes where autograd records nothing the rules would worry about: a hand-written
scalar autograd engine that resets its gradients by assigning the number 0 (torch refuses a
number as a tensor's `.grad`), and a model frozen by its caller with `requires_grad_(False)`
before it is evaluated. Each quiet shape has a twin, one change away, that is still flagged."""

from __future__ import annotations

import textwrap

import pytest

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


# A tiny engine of its own: each number remembers how to push its gradient to its inputs.
SCALAR_ENGINE = """
    import random

    import torch


    class Num:
        def __init__(self, data, inputs=()):
            self.data = data
            self.grad = 0.0
            self.inputs = inputs
            self.push = lambda: None

        def __add__(self, other):
            other = other if isinstance(other, Num) else Num(other)
            out = Num(self.data + other.data, (self, other))

            def push():
                self.grad += out.grad
                other.grad += out.grad

            out.push = push
            return out

        def __mul__(self, other):
            other = other if isinstance(other, Num) else Num(other)
            out = Num(self.data * other.data, (self, other))

            def push():
                self.grad += other.data * out.grad
                other.grad += self.data * out.grad

            out.push = push
            return out

        def backward(self):
            order, seen = [], set()

            def visit(node):
                if id(node) not in seen:
                    seen.add(id(node))
                    for parent in node.inputs:
                        visit(parent)
                    order.append(node)

            visit(self)
            self.grad = 1.0
            for node in reversed(order):
                node.push()


    class Affine:
        def __init__(self):
            self.w = Num(random.uniform(-1, 1))
            self.b = Num(0.0)

        def __call__(self, x):
            return self.w * x + self.b

        def parameters(self):
            return [self.w, self.b]


    fit = Affine()
    pairs = [(x, 2 * x - 1) for x in range(-3, 4)]
    for it in range(40):
        outs = [fit(x) for x, _ in pairs]
        loss = sum(((o + (-y)) * (o + (-y)) for o, (_, y) in zip(outs, pairs)), Num(0.0))
        for p in fit.parameters():
            p.grad = {reset}
        loss.backward()
        for p in fit.parameters():
            p.data += -0.01 * p.grad
    print(torch.tensor([fit.w.data, fit.b.data]))
"""


@pytest.mark.parametrize("reset", ["0.0", "0"])
def test_a_scalar_engine_resetting_grads_to_the_number_zero_is_quiet(reset: str) -> None:
    assert _codes(SCALAR_ENGINE.format(reset=reset)) == []


def test_a_scalar_engine_that_never_resets_its_grads_is_flagged() -> None:
    source = SCALAR_ENGINE.format(reset="0.0").replace(
        "        for p in fit.parameters():\n            p.grad = 0.0\n", ""
    )
    assert "p.grad = 0.0" not in source
    assert [code for _, code in _codes(source)] == ["TRN001"]


def test_a_gradient_set_to_another_number_is_no_clear() -> None:
    assert [code for _, code in _codes(SCALAR_ENGINE.format(reset="0.5"))] == ["TRN001"]


# A detector evaluated by a helper without `no_grad`, after the caller froze it.
FROZEN = """
    import numpy as np
    import torch
    from torch import nn


    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))

        def forward(self, x):
            return self.body(x)


    def count_hits(model, images):
        hits = []
        for image in images:
            x = torch.from_numpy(image).float().unsqueeze(0)
            hits.append(model(x).argmax(1).item())
        return hits


    if __name__ == "__main__":
        model = Detector()
        model.load_state_dict(torch.load("weights.pt"))
        {freeze}
        model.eval()
        print(count_hits(model, [np.zeros(4, dtype=np.float32) for _ in range(3)]))
"""
FORWARD_LINE = 20


def _frozen(freeze: str) -> str:
    return FROZEN.format(freeze=textwrap.indent(textwrap.dedent(freeze), " " * 8).strip())


@pytest.mark.parametrize(
    "freeze",
    [
        "model.requires_grad_(False)",
        "model.requires_grad_(requires_grad=False)",
        "model.cpu().requires_grad_(False)",
        "for p in model.parameters():\n    p.requires_grad = False",
        "for name, p in model.named_parameters():\n    p.requires_grad_(False)",
    ],
)
def test_evaluating_a_frozen_model_stores_no_graph(freeze: str) -> None:
    assert _codes(_frozen(freeze)) == []


@pytest.mark.parametrize(
    "freeze",
    [
        "pass",
        # gradients on, or not known to be off
        "model.requires_grad_(True)",
        "model.requires_grad_()",
        "model.requires_grad_(flag)",
        # frozen, then a part needs gradients again
        "model.requires_grad_(False)\nmodel.body.requires_grad_(True)",
        # only some parameters
        "for name, p in model.named_parameters():\n    if 'body.0' in name:\n"
        "        p.requires_grad = False",
        # another model, or the name bound to a new model after the freeze
        "teacher = Detector()\nteacher.requires_grad_(False)",
        "model.requires_grad_(False)\nmodel = Detector()",
        # not on every way
        "if np.random.rand() > 0.5:\n    model.requires_grad_(False)",
    ],
)
def test_evaluating_a_model_that_still_needs_gradients_is_flagged(freeze: str) -> None:
    assert _codes(_frozen(freeze)) == [(FORWARD_LINE, "TRN003")]

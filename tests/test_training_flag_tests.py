"""A test of a model's own `training` flag takes the way the path's mode of that model says:
an augmenting module called only `if self.net.training` does not run in the validation that
follows `self.net.eval()`, so it is not evaluated in training mode there. Its twin, guarded by
a setting instead, is still flagged."""

from __future__ import annotations

import textwrap

import pytest

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


SEGMENTER = """
    import torch
    from torch import nn


    class Jitter(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.1)

        def forward(self, x):
            return self.drop(x) + 0.01 * torch.randn_like(x)


    class Run:
        def __init__(self, augment=True):
            self.net = nn.Sequential(nn.Linear(5, 5), nn.BatchNorm1d(5))
            self.jitter = Jitter()
            self.augment = augment
            self.opt = torch.optim.SGD(self.net.parameters(), lr=0.1)

        def batch_loss(self, x):
            if {guard}:
                x = self.jitter(x)
            return self.net(x).pow(2).mean()

        def validate(self, batches):
            self.net.eval()
            total = 0.0
            with torch.no_grad():
                for x in batches:
                    total += self.batch_loss(x).item()
            return total

        def fit(self, batches):
            for epoch in range(2):
                self.net.train()
                for x in batches:
                    self.opt.zero_grad()
                    self.batch_loss(x).backward()
                    self.opt.step()
                print(self.validate(batches))


    if __name__ == "__main__":
        Run().fit([torch.randn(4, 5) for _ in range(3)])
"""


@pytest.mark.parametrize(
    "guard",
    [
        "self.net.training and self.augment",
        "self.net.training",
        "self.augment and self.net.training",
        "not (not self.net.training)",
    ],
)
def test_a_module_run_only_while_the_model_trains_is_not_evaluated(guard: str) -> None:
    assert _codes(SEGMENTER.format(guard=guard)) == []


@pytest.mark.parametrize("guard", ["self.augment", "self.augment or self.net.training"])
def test_a_module_run_whatever_the_mode_is_evaluated_in_training_mode(guard: str) -> None:
    assert [code for _, code in _codes(SEGMENTER.format(guard=guard))] == ["TRN004"]

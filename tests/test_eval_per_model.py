"""TRN004 once per evaluated model per evaluation function (issue 11, family D): each model
left in training mode gets its own finding, and one missing `.eval()` is not reported again
for each later evaluation loop, nor for an evaluation function and the loop inside it."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source

SCRIPT = """
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
predictor = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
opt = torch.optim.SGD(list(model.parameters()) + list(predictor.parameters()), lr=0.1)

def train(loader):
    for x, y in loader:
        opt.zero_grad()
        nn.functional.cross_entropy(predictor(model(x)), y).backward()
        opt.step()

@torch.no_grad()
def evaluate(val_loader, test_loader):
    {switch}
    for x, y in val_loader:
        print(predictor(model(x)).argmax(1))
    for x, y in test_loader:
        print(predictor(model(x)).argmax(1))
    print(model(sample).argmax(1))

train(data)
evaluate(val_data, test_data)
"""
FIRST_EVAL = 19


def _found(switch: str) -> list[tuple[int, int, str]]:
    source = textwrap.dedent(SCRIPT.format(switch=switch))
    return sorted((f.line, f.column, f.code) for f in lint_source(source))


def test_each_evaluated_model_gets_its_own_finding_once() -> None:
    # Column 15 is `predictor(...)`, column 25 `model(x)`: both at the first evaluation only.
    assert _found("pass") == [(FIRST_EVAL, 15, "TRN004"), (FIRST_EVAL, 25, "TRN004")]


def test_a_model_switched_is_not_reported_with_the_other() -> None:
    assert _found("model.eval()") == [(FIRST_EVAL, 15, "TRN004")]


def test_both_models_switched_is_quiet() -> None:
    assert _found("model.eval(); predictor.eval()") == []

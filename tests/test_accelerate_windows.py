"""Accelerate's gradient accumulation (`with accelerator.accumulate(model):`), read from the
knowledge table: the optimizer `accelerator.prepare` returned steps and clears only in the
window's last micro-batch (`accelerator.sync_gradients` true), so the usual loop is quiet, and
a clear that does not wait (`model.zero_grad()`, `p.grad = None`) throws the window away
(TRN006). An `Accelerator` without `gradient_accumulation_steps` has one micro-batch a window."""

from __future__ import annotations

import textwrap

import pytest

from lint_train.engine import lint_source

HEAD = """\
import torch
from accelerate import Accelerator
from torch import nn

accelerator = Accelerator({arguments})
model = nn.Linear(10, 1)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
for epoch in range(3):
    for x, y in loader:
"""
WINDOW = "gradient_accumulation_steps=4"


def _found(body: str, arguments: str = WINDOW) -> list[tuple[int, str, str]]:
    source = HEAD.format(arguments=arguments) + textwrap.indent(textwrap.dedent(body), " " * 8)
    return [(f.line, f.code, f.message) for f in lint_source(source)]


QUIET = {
    "step_then_clear_in_the_block": """
        with accelerator.accumulate(model):
            loss = nn.functional.mse_loss(model(x), y)
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
    """,
    "prepared_clear_after_the_block": """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
        optimizer.zero_grad()
    """,
    "step_and_clear_under_sync_gradients": """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            if accelerator.sync_gradients:
                optimizer.step()
                optimizer.zero_grad()
    """,
    "module_clear_under_sync_gradients_after_the_step": """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
            if accelerator.sync_gradients:
                model.zero_grad()
    """,
    "module_clear_under_sync_gradients_after_the_block": """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
        if accelerator.sync_gradients:
            model.zero_grad()
    """,
}


@pytest.mark.parametrize("name", QUIET)
def test_clears_that_wait_for_the_window_are_quiet(name: str) -> None:
    assert _found(QUIET[name]) == []


@pytest.mark.parametrize("arguments", ["", "gradient_accumulation_steps=1", "cpu=True"])
def test_an_accelerator_with_one_micro_batch_a_window_defers_nothing(arguments: str) -> None:
    body = """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
            model.zero_grad()
    """
    assert _found(body, arguments) == []


FLAGGED = {
    "module_clear_after_the_step": (
        """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
            model.zero_grad()
        """,
        15,
        "`model.zero_grad()` clears the gradients at every micro-batch",
    ),
    "module_clear_first": (
        """
        with accelerator.accumulate(model):
            model.zero_grad()
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
        """,
        13,
        "`model.zero_grad()` clears the gradients at every micro-batch",
    ),
    "module_clear_after_the_block": (
        """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
        model.zero_grad()
        """,
        15,
        "`model.zero_grad()` clears the gradients at every micro-batch",
    ),
    "grads_set_to_none": (
        """
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
            for p in model.parameters():
                p.grad = None
        """,
        16,
        "clears the gradients at every micro-batch",
    ),
    "prepared_clear_before_the_backward_pass": (
        """
        with accelerator.accumulate(model):
            optimizer.zero_grad()
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            optimizer.step()
        """,
        13,
        "`optimizer.zero_grad()` waits for the accumulation window's last micro-batch",
    ),
}


@pytest.mark.parametrize("name", FLAGGED)
def test_a_clear_that_throws_the_window_away_is_flagged(name: str) -> None:
    body, line, message = FLAGGED[name]
    found = _found(body)
    assert [(f[0], f[1]) for f in found] == [(line, "TRN006")]
    assert message in found[0][2]
    assert "`accelerator.sync_gradients`" in found[0][2]


def test_sync_gradients_guarding_a_step_that_is_never_cleared_is_still_trn001() -> None:
    body = """
        accelerator.backward(nn.functional.mse_loss(model(x), y))
        if accelerator.sync_gradients:
            optimizer.step()
    """
    assert [(f[0], f[1]) for f in _found(body)] == [(14, "TRN001")]

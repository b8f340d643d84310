"""Near misses of the preview rules TRN006, TRN007, TRN008, TRN010 and TRN011, as small
sources: each shape either is reported with the expected code and line, or must stay quiet."""

from __future__ import annotations

import textwrap

import pytest

from lint_train.engine import lint_source

HEAD = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)
loader = [(torch.randn(2, 4), torch.randn(2, 1))]
"""
STEP = """\
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
"""


def found(body: str, code: str) -> list[int]:
    """Lines (counted in `body`) of the findings with `code`."""
    text = HEAD + textwrap.dedent(body)
    offset = HEAD.count("\n")
    return [f.line - offset for f in lint_source(text) if f.code == code]


QUIET_TRN008 = {
    "an environment's step": "env = object()\nenv.step\n",
    "a trainer of unknown kind": "trainer = object()\ntrainer.train\n",
    "a bound method kept": "clear = optimizer.zero_grad\nclear()\n",
    "a bound method passed": "hooks = []\nhooks.append(model.eval)\n",
}


@pytest.mark.parametrize("body", QUIET_TRN008.values(), ids=list(QUIET_TRN008))
def test_trn008_quiet_shapes(body: str) -> None:
    assert found(body, "TRN008") == []


def test_trn008_reports_each_bare_method_and_offers_no_fix_on_a_shared_line() -> None:
    text = HEAD + "model.train; model.eval\nscheduler.step\n"
    findings = [f for f in lint_source(text) if f.code == "TRN008"]
    assert [(f.line, f.fixable) for f in findings] == [(8, False), (8, False), (9, True)]


def test_trn010_scheduler_first_in_the_batch_loop_is_reported() -> None:
    body = "for epoch in range(2):\n    for x, y in loader:\n        scheduler.step()\n" + STEP
    assert found(body, "TRN010") == [3]


QUIET_TRN010 = {
    "stepped after the optimizer": "for epoch in range(2):\n    for x, y in loader:\n"
    + STEP
    + "        scheduler.step()\n",
    "stepped per epoch after the batch loop": "for epoch in range(2):\n    for x, y in loader:\n"
    + STEP
    + "    scheduler.step()\n",
    "skipping the first epoch on purpose": "for epoch in range(2):\n    if epoch > 0:\n"
    "        scheduler.step()\n    for x, y in loader:\n" + STEP,
    "a resume fast-forward": "for _ in range(3):\n    scheduler.step()\n"
    "for epoch in range(3, 5):\n    for x, y in loader:\n" + STEP,
    "stepped on a metric": "for epoch in range(2):\n    scheduler.step(0.5)\n"
    "    for x, y in loader:\n" + STEP,
}


@pytest.mark.parametrize("body", QUIET_TRN010.values(), ids=list(QUIET_TRN010))
def test_trn010_quiet_shapes(body: str) -> None:
    assert found(body, "TRN010") == []


def test_trn010_loop_with_two_optimizers_is_not_checked() -> None:
    body = (
        "other = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for x, y in loader:\n    scheduler.step()\n"
        "    optimizer.zero_grad()\n    other.zero_grad()\n"
        "    nn.functional.mse_loss(model(x), y).backward()\n"
        "    optimizer.step()\n    other.step()\n"
    )
    assert found(body, "TRN010") == []


def test_trn011_named_parameters_and_nn_parameter_are_reported() -> None:
    body = (
        "for name, p in model.named_parameters():\n    p.uniform_(-0.1, 0.1)\n"
        "scale = nn.Parameter(torch.ones(1))\nscale.fill_(2.0)\n"
    )
    assert found(body, "TRN011") == [2, 4]


QUIET_TRN011 = {
    "through .data": "for p in model.parameters():\n    p.data.uniform_(-0.1, 0.1)\n",
    "through nn.init": "for p in model.parameters():\n    nn.init.uniform_(p, -0.1, 0.1)\n",
    "under no_grad": "with torch.no_grad():\n    for p in model.parameters():\n        p.zero_()\n",
    "a frozen parameter": "frozen = nn.Parameter(torch.ones(1), False)\nfrozen.fill_(2.0)\n",
    "a plain tensor": "t = torch.zeros(3)\nt.fill_(1.0)\nt += 1\n",
    "a gradient": "for p in model.parameters():\n    p.grad = torch.zeros_like(p)\n"
    "    p.grad.zero_()\n",
    "a name outside its loop": "for p in model.parameters():\n    pass\np = torch.zeros(1)\n"
    "p.zero_()\n",
    "an init function passed to apply": "def init(m):\n    for p in m.parameters():\n"
    "        p.zero_()\nmodel.apply(init)\n",
    "a decorated init": "@torch.no_grad()\ndef init(m):\n    for p in m.parameters():\n"
    "        p.zero_()\ninit(model)\n",
}


@pytest.mark.parametrize("body", QUIET_TRN011.values(), ids=list(QUIET_TRN011))
def test_trn011_quiet_shapes(body: str) -> None:
    assert found(body + "loss = model(torch.randn(1, 4)).sum()\nloss.backward()\n", "TRN011") == []


def test_trn006_clear_between_backward_and_step_is_reported_at_the_clear() -> None:
    body = """\
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        model.zero_grad()
        optimizer.step()
    """
    assert found(body, "TRN006") == [4]


def test_trn006_clear_in_the_helper_that_steps_is_reported_at_its_call() -> None:
    body = """\
    def update():
        optimizer.zero_grad()
        optimizer.step()
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        update()
    """
    assert found(body, "TRN006") == [7]


QUIET_TRN006 = {
    "clear right after the step": (
        "for x, y in loader:\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
        "    optimizer.zero_grad()\n"
    ),
    "accumulation": (
        "for i, (x, y) in enumerate(loader):\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    if (i + 1) % 4 == 0:\n"
        "        optimizer.step()\n"
        "        optimizer.zero_grad()\n"
    ),
    "a bad batch skipped on one way": (
        "for x, y in loader:\n"
        "    optimizer.zero_grad()\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    if not torch.isfinite(loss):\n"
        "        optimizer.zero_grad()\n"
        "    optimizer.step()\n"
    ),
    "a second backward after the clear": (
        "for x, y in loader:\n"
        "    nn.functional.mse_loss(model(x), y).backward()\n"
        "    optimizer.zero_grad()\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
    ),
    "an engine that steps and clears": (
        "import deepspeed\n"
        "engine, opt, _, _ = deepspeed.initialize(model=model, optimizer=optimizer)\n"
        "for x, y in loader:\n"
        "    loss = nn.functional.mse_loss(engine(x), y)\n"
        "    engine.backward(loss)\n"
        "    engine.step()\n"
        "    optimizer.step()\n"
    ),
    "another optimizer cleared": (
        "other = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for x, y in loader:\n"
        "    optimizer.zero_grad()\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    other.zero_grad()\n"
        "    optimizer.step()\n"
    ),
}


@pytest.mark.parametrize("body", QUIET_TRN006.values(), ids=list(QUIET_TRN006))
def test_trn006_quiet_shapes(body: str) -> None:
    assert found(body, "TRN006") == []


def test_trn007_kept_losses_are_reported_at_the_keeping_statement() -> None:
    body = """\
    total, losses, history, stats = 0.0, [], {}, {"loss": 0.0}
    for step, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        total = total + loss * len(x)
        losses.append(loss)
        history[step] = loss
        stats["loss"] += loss
    """
    assert found(body, "TRN007") == [7, 8, 9, 10]


QUIET_TRN007 = {
    "item": "total += loss.item()\n",
    "detach": "losses.append(loss.detach())\n",
    "float": "total += float(loss)\n",
    "a constant key": "stats['loss'] = loss\n",
    "not the loss": "total += loss_fn\n",
    "a fresh container each iteration": "fresh = []\n    fresh.append(loss)\n",
    "under no_grad": "with torch.no_grad():\n        total += loss\n",
}


@pytest.mark.parametrize("line", QUIET_TRN007.values(), ids=list(QUIET_TRN007))
def test_trn007_quiet_shapes(line: str) -> None:
    body = (
        "total, losses, stats, loss_fn = 0.0, [], {}, 1.0\n"
        "for x, y in loader:\n"
        "    optimizer.zero_grad()\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
        "    " + line
    )
    assert found(body, "TRN007") == []


def test_trn007_a_detached_rebinding_of_the_loss_is_quiet() -> None:
    body = """\
    losses = []
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        loss = loss.item()
        losses.append(loss)
    """
    assert found(body, "TRN007") == []


def test_trn007_a_sum_that_is_backpropagated_is_quiet() -> None:
    body = """\
    for epoch in range(2):
        total = 0.0
        for x, y in loader:
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward(retain_graph=True)
            total += loss
        objective = total / 2
        objective.backward()
    """
    assert found(body, "TRN007") == []


def test_trn007_evaluation_loops_are_left_to_trn003() -> None:
    body = """\
    outputs = []
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        outputs.append(loss)
    """
    assert found(body, "TRN007") == []

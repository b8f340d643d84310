"""Near misses of the preview rules TRN006 to TRN011, as small sources: each shape either
is reported with the expected code and line, or must stay quiet."""

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


ACCUMULATION = "for i, (x, y) in enumerate(loader):\n"
BACKWARD = "    nn.functional.mse_loss(model(x), y).backward()\n"


@pytest.mark.parametrize(
    ("body", "line"),
    [
        pytest.param(
            ACCUMULATION
            + "    optimizer.zero_grad()\n"
            + BACKWARD
            + "    if (i + 1) % 4 == 0:\n        optimizer.step()\n",
            2,
            id="a clear at the top of every micro-batch",
        ),
        pytest.param(
            ACCUMULATION
            + BACKWARD
            + "    if (i + 1) % 4 == 0:\n        optimizer.step()\n    model.zero_grad()\n",
            5,
            id="a clear after the if that steps",
        ),
        pytest.param(
            ACCUMULATION
            + "    optimizer.zero_grad()\n"
            + BACKWARD
            + "    if (i + 1) % 4 != 0:\n        continue\n    optimizer.step()\n",
            2,
            id="a clear before continue skips the step",
        ),
        pytest.param(
            "def reset():\n    optimizer.zero_grad()\n"
            + ACCUMULATION
            + "    reset()\n"
            + BACKWARD
            + "    if not (i + 1) % 4:\n        optimizer.step()\n",
            4,
            id="a clear in a helper, the window's end written with not",
        ),
    ],
)
def test_trn006_clear_inside_the_accumulation_window_is_reported(body: str, line: int) -> None:
    assert found(body, "TRN006") == [line]
    (message,) = _messages(body, "TRN006")
    assert "clears the gradients inside the accumulation window" in message


def _messages(body: str, code: str) -> list[str]:
    return [f.message for f in lint_source(HEAD + textwrap.dedent(body)) if f.code == code]


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
    "accumulation cleared right after the step, inside the if": (
        ACCUMULATION + BACKWARD + "    if (i + 1) % 4 == 0:\n"
        "        optimizer.step()\n"
        "        optimizer.zero_grad()\n"
    ),
    "accumulation cleared at the start of the window": (
        ACCUMULATION + "    if i % 4 == 0:\n"
        "        optimizer.zero_grad()\n" + BACKWARD + "    if (i + 1) % 4 == 0:\n"
        "        optimizer.step()\n"
    ),
    "a bad batch's gradients dropped instead of stepped": (
        ACCUMULATION + BACKWARD + "    if torch.isfinite(model.weight).all():\n"
        "        optimizer.step()\n"
        "    optimizer.zero_grad()\n"
    ),
    "a clear between two backward passes of one iteration, then accumulation": (
        ACCUMULATION
        + BACKWARD
        + "    optimizer.zero_grad()\n"
        + BACKWARD
        + "    if (i + 1) % 4 == 0:\n"
        "        optimizer.step()\n"
        "        optimizer.zero_grad()\n"
    ),
    "a GAN whose generator steps every n-th iteration, cleared before": (
        "opt_g = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        + ACCUMULATION
        + "    opt_g.zero_grad()\n"
        "    optimizer.zero_grad()\n" + BACKWARD + "    optimizer.step()\n"
        "    if i % 5 == 0:\n" + BACKWARD.replace("    ", "        ", 1) + "        opt_g.step()\n"
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


CLASSIFIER = """\
import torch
import torch.nn.functional as F
from torch import nn

x, y = torch.randn(4, 8), torch.randint(0, 3, (4,))
"""


def found_trn009(body: str) -> list[int]:
    """Lines (counted in `body`) of the TRN009 findings."""
    text = CLASSIFIER + textwrap.dedent(body)
    offset = CLASSIFIER.count("\n")
    return [f.line - offset for f in lint_source(text) if f.code == "TRN009"]


REPORTED_TRN009 = {
    "a softmax layer bound in __init__": (
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(8, 3)\n"
        "        self.softmax = nn.Softmax(dim=1)\n"
        "    def forward(self, x):\n"
        "        return self.softmax(self.fc(x))\n"
        "model = Net()\n"
        "criterion = nn.CrossEntropyLoss()\n"
        "loss = criterion(model(x), y)\n",
        [10],
    ),
    "torch.softmax in a variable": "probs = torch.softmax(x, dim=1)\n"
    "loss = F.cross_entropy(probs, y)\n",
    "a tensor method": "loss = F.cross_entropy(x.softmax(dim=1), y)\n",
    "softmax into nll_loss": "loss = nn.NLLLoss()(F.softmax(x, dim=1), y)\n",
    "a sigmoid into the functional BCE with logits": "p = torch.sigmoid(x)\n"
    "loss = F.binary_cross_entropy_with_logits(p, y.float())\n",
    "a moved Sequential": "model = nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1)).to('cpu')\n"
    "loss = F.cross_entropy(input=model(x), target=y)\n",
    "a criterion of a trainer class": (
        "class Trainer:\n"
        "    def __init__(self):\n"
        "        self.criterion = nn.CrossEntropyLoss()\n"
        "    def step(self, x, y):\n"
        "        return self.criterion(F.softmax(x, dim=1), y)\n",
        [5],
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


def trn007_messages(body: str) -> list[str]:
    text = HEAD + textwrap.dedent(body)
    return [f.message for f in lint_source(text) if f.code == "TRN007"]


FREED_NODES = "the backward pass freed the activations, but every iteration's graph nodes"
FREED_LOSSES = "the backward pass freed the activations, but every iteration's loss tensor"
WHOLE_GRAPH = "every iteration's whole graph stays alive, activations included"


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        pytest.param(
            "total = 0.0\nfor x, y in loader:\n"
            "    loss = nn.functional.mse_loss(model(x), y)\n"
            "    loss.backward()\n"
            "    total += loss\n",
            FREED_NODES,
            id="a sum after the backward pass keeps the nodes",
        ),
        pytest.param(
            "total = 0.0\nfor x, y in loader:\n"
            "    loss = nn.functional.mse_loss(model(x), y)\n"
            "    total += loss\n"
            "    loss.backward()\n",
            FREED_NODES,
            id="a sum before the backward pass keeps the nodes too",
        ),
        pytest.param(
            "losses = []\nfor x, y in loader:\n"
            "    loss = nn.functional.mse_loss(model(x), y)\n"
            "    with torch.autocast('cpu'):\n"
            "        loss.backward(retain_graph=False)\n"
            "    if len(losses) < 100:\n"
            "        losses.append(loss)\n",
            FREED_LOSSES,
            id="a list keeps the loss tensors, the backward pass in a with block",
        ),
        pytest.param(
            "total = 0.0\nfor x, y in loader:\n"
            "    loss = nn.functional.mse_loss(model(x), y)\n"
            "    loss.backward(retain_graph=True)\n"
            "    total += loss\n",
            WHOLE_GRAPH,
            id="retain_graph keeps the whole graph",
        ),
        pytest.param(
            "losses, train = [], True\nfor x, y in loader:\n"
            "    loss = nn.functional.mse_loss(model(x), y)\n"
            "    if train:\n"
            "        loss.backward()\n"
            "    losses.append(loss)\n",
            WHOLE_GRAPH,
            id="a backward pass on some iterations only",
        ),
        pytest.param(
            "losses = []\nfor x, y in loader:\n"
            "    loss = nn.functional.mse_loss(model(x), y)\n"
            "    if len(losses) < 100:\n"
            "        losses.append(loss)\n"
            "    else:\n"
            "        loss.backward()\n",
            WHOLE_GRAPH,
            id="a backward pass in the other branch",
        ),
    ],
)
def test_trn007_says_whether_the_backward_pass_freed_the_activations(body: str, kept: str) -> None:
    (message,) = trn007_messages(body)
    assert kept in message


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


@pytest.mark.parametrize("case", REPORTED_TRN009.values(), ids=list(REPORTED_TRN009))
def test_trn009_reported_shapes(case: str | tuple[str, list[int]]) -> None:
    body, lines = case if isinstance(case, tuple) else (case, [case.count("\n")])
    assert found_trn009(body) == lines


QUIET_TRN009 = {
    "log_softmax into nll_loss": "loss = F.nll_loss(F.log_softmax(x, dim=1), y)\n",
    "log_softmax into KLDivLoss": "loss = nn.KLDivLoss(reduction='batchmean')"
    "(F.log_softmax(x, dim=1), F.softmax(x, dim=1))\n",
    "log_softmax into cross_entropy (idempotent)": "loss = F.cross_entropy(x.log_softmax(1), y)\n",
    "a softmax into BCELoss": "loss = nn.BCELoss()(torch.sigmoid(x), torch.rand(4, 8))\n",
    "a softmax into MSELoss": "loss = F.mse_loss(F.softmax(x, dim=1), torch.rand(4, 8))\n",
    "a softmax for accuracy only": "loss = F.cross_entropy(x, y)\n"
    "acc = (F.softmax(x, dim=1).argmax(1) == y).float().mean()\n",
    "a variable rebound to logits": "p = F.softmax(x, dim=1)\np = x * 2\n"
    "loss = F.cross_entropy(p, y)\n",
    "a softmax on one branch only": "p = x\nif x.sum() > 0:\n    p = F.softmax(x, dim=1)\n"
    "loss = F.cross_entropy(p, y)\n",
    "rebound at the end of a loop body": "p = F.softmax(x, dim=1)\nfor _ in range(2):\n"
    "    loss = F.cross_entropy(p, y)\n    p = x\n",
    "a forward with a return_probs switch": (
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(8, 3)\n"
        "    def forward(self, x, return_probs=False):\n"
        "        logits = self.fc(x)\n"
        "        if return_probs:\n"
        "            return F.softmax(logits, dim=1)\n"
        "        return logits\n"
        "model = Net()\n"
        "loss = F.cross_entropy(model(x), y)\n"
    ),
    "a model received as a parameter": "def train(model):\n"
    "    return F.cross_entropy(model(x), y)\n",
    "a name that merely says softmax": "softmax_out = x\nloss = F.cross_entropy(softmax_out, y)\n",
    "a criterion rebound by another method": (
        "class Trainer:\n"
        "    def __init__(self):\n"
        "        self.head = nn.Softmax(dim=1)\n"
        "    def unfreeze(self):\n"
        "        self.head = nn.Identity()\n"
        "    def step(self, x, y):\n"
        "        return F.cross_entropy(self.head(x), y)\n"
    ),
    "a library softmax of its own": "from mylib import softmax\n"
    "loss = F.cross_entropy(softmax(x), y)\n",
}


@pytest.mark.parametrize("body", QUIET_TRN009.values(), ids=list(QUIET_TRN009))
def test_trn009_quiet_shapes(body: str) -> None:
    assert found_trn009(body) == []


def test_trn009_fix_passes_the_logits_only_for_an_inline_activation() -> None:
    inline = CLASSIFIER + "loss = F.cross_entropy(F.softmax(x, dim=1), y)\n"
    (finding,) = [f for f in lint_source(inline) if f.code == "TRN009"]
    assert (finding.fixable, finding.fix_applicability) == (True, "unsafe")
    variable = CLASSIFIER + "p = F.softmax(x, dim=1)\nloss = F.cross_entropy(p, y)\n"
    (finding,) = [f for f in lint_source(variable) if f.code == "TRN009"]
    assert not finding.fixable

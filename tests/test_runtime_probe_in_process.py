"""The probe's hooks, installed in this process for one test at a time, on small torch code.

test_runtime_probe.py proves the probe end to end, in the child process `verify` starts. These
tests read the events the hooks write as torch code runs right here, so that each fact the probe
records (grad mode, training flags, stale gradients, the end of a run) is stated on its own, and
so that a mutation tester, which only sees code run in the test process, sees the probe run.
"""

from __future__ import annotations

import io
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import require

torch = require("torch")

from torch import nn  # noqa: E402
from torch.nn.modules import module as module_hooks  # noqa: E402
from torch.optim import optimizer as optimizer_hooks  # noqa: E402

from lint_train.runtime import probe as probe_module  # noqa: E402
from lint_train.runtime.graphs import RISING_STEPS  # noqa: E402
from lint_train.runtime.probe import EventLog, Probe, StopRun, install, run_script  # noqa: E402

HOOK_TABLES = (
    module_hooks._global_forward_pre_hooks,
    module_hooks._global_forward_hooks,
    optimizer_hooks._global_optimizer_pre_hooks,
    optimizer_hooks._global_optimizer_post_hooks,
)


class Recorded:
    """A probe installed in this process, and the events it wrote so far."""

    def __init__(self, max_steps: int) -> None:
        self.stream = io.StringIO()
        self.probe = Probe(log=EventLog(self.stream), max_steps=max_steps)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return [e for e in found if kind is None or e["ev"] == kind]


@pytest.fixture
def hooked(monkeypatch: pytest.MonkeyPatch):
    """Install a probe; undo every hook and wrapper afterwards."""
    for owner, name in (
        (torch.autograd, "backward"),
        (torch.optim.Optimizer, "__init__"),
        (torch.optim.Optimizer, "zero_grad"),
        (torch.nn.Module, "zero_grad"),
    ):
        monkeypatch.setattr(owner, name, getattr(owner, name))
    before = [set(table) for table in HOOK_TABLES]

    def start(max_steps: int = 1000) -> Recorded:
        recorded = Recorded(max_steps)
        install(recorded.probe)
        return recorded

    yield start
    for table, keys in zip(HOOK_TABLES, before, strict=True):
        for key in set(table) - keys:
            del table[key]


def net(*layers: nn.Module) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), *layers, nn.ReLU(), nn.Linear(8, 1))


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(8, 4, generator=generator), torch.randn(8, 1, generator=generator)


# -- forward passes ----------------------------------------------------------------------------


def test_a_forward_records_grad_mode_and_whether_it_built_a_graph(hooked) -> None:
    run = hooked()
    model = net()
    x, _ = batch()
    model(x)
    with torch.no_grad():
        model(x)
    first, second = run.events("forward")
    assert (first["i"], first["grad"], first["graph"]) == (0, True, True)
    assert (second["i"], second["grad"], second["graph"]) == (1, False, False)
    assert first["module"] == "Sequential"


def test_a_forward_under_enable_grad_inside_no_grad_records_grad_on(hooked) -> None:
    run = hooked()
    model = net()
    with torch.no_grad(), torch.enable_grad():
        model(batch()[0])
    assert [e["grad"] for e in run.events("forward")] == [True]


def test_a_forward_counts_dropout_and_batch_norm_layers_and_those_in_training_mode(hooked) -> None:
    run = hooked()
    model = net(nn.BatchNorm1d(8), nn.Dropout(0.5))
    x, _ = batch()
    model(x)
    model[2].eval()  # dropout off, batch-norm still in training mode
    model(x)
    model.eval()
    model(x)
    forwards = run.events("forward")
    assert [(e["training"], e["layers"], e["active"]) for e in forwards] == [
        (True, 2, 2),
        (True, 2, 1),
        (False, 2, 0),
    ]


def test_inner_modules_and_parameter_free_modules_are_not_separate_forwards(hooked) -> None:
    run = hooked()
    model = net(nn.Dropout(0.1))
    loss_fn = nn.MSELoss()
    x, y = batch()
    loss_fn(model(x), y)
    model(x)
    assert [e["i"] for e in run.events("forward")] == [0, 1]


def test_outputs_inside_tuples_and_dicts_count_as_graphs(hooked) -> None:
    class Heads(nn.Module):
        def __init__(self, nesting: int) -> None:
            super().__init__()
            self.layer = nn.Linear(4, 2)
            self.nesting = nesting

        def forward(self, x):
            out: Any = self.layer(x)
            for _ in range(self.nesting):
                out = ({"logits": out},)
            return out

    run = hooked()
    x, _ = batch()
    Heads(1)(x)  # a tuple holding a dict holding the tensor
    Heads(2)(x)  # nested deeper than the probe looks
    Heads(0)(x).sum().backward()
    assert [e["graph"] for e in run.events("forward")] == [True, False, True]


# -- backward and the graphs it uses -----------------------------------------------------------


def test_backward_records_its_scalar_loss_and_which_forward_it_used(hooked) -> None:
    run = hooked()
    model = net()
    x, y = batch()
    model(x)  # never used
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    (backward,) = run.events("backward")
    assert backward["i"] == 0
    assert backward["loss"] == pytest.approx(loss.item())
    assert run.events("used") == [{"ev": "used", "forward": 1, "backward": 0}]


def test_backward_of_a_vector_records_no_loss(hooked) -> None:
    run = hooked()
    out = net()(batch()[0])
    torch.autograd.backward([out], [torch.ones_like(out)])
    assert [e["loss"] for e in run.events("backward")] == [None]


def test_backward_of_a_one_element_list_records_its_loss(hooked) -> None:
    run = hooked()
    loss = net()(batch()[0]).sum()
    torch.autograd.backward([loss])
    assert [e["loss"] for e in run.events("backward")] == [pytest.approx(loss.item())]


def test_a_graph_used_by_autograd_grad_is_used_by_no_backward(hooked) -> None:
    run = hooked()
    x = batch()[0].requires_grad_(True)
    torch.autograd.grad(net()(x).sum(), x)
    assert run.events("used") == [{"ev": "used", "forward": 0, "backward": None}]
    assert run.events("backward") == []


# -- optimizers --------------------------------------------------------------------------------


def test_a_built_optimizer_records_its_type_and_plain_hyperparameters(hooked) -> None:
    run = hooked()
    torch.optim.Adam(net().parameters(), lr=0.01, betas=(0.8, 0.9))
    (built,) = run.events("optimizer")
    assert (built["i"], built["type"]) == (0, "Adam")
    assert built["hyperparameters"]["lr"] == 0.01
    assert built["hyperparameters"]["betas"] == [0.8, 0.9]
    assert built["hyperparameters"]["amsgrad"] is False


def test_grads_is_logged_once_and_only_for_the_optimizer_backward_reached(hooked) -> None:
    run = hooked()
    trained, idle = net(), net()
    torch.optim.SGD(idle.parameters(), lr=0.1)
    torch.optim.SGD(trained.parameters(), lr=0.1)
    x, _ = batch()
    for _ in range(3):
        trained(x).sum().backward()
    assert run.events("grads") == [{"ev": "grads", "opt": 1}]


def _train(run: Recorded, steps: int, clear: Any) -> list[int]:
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = batch()
    for _ in range(steps):
        clear(model, opt)
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    return [e["stale"] for e in run.events("step")]


def test_steps_after_zero_grad_are_not_stale(hooked) -> None:
    run = hooked()
    assert _train(run, 3, lambda model, opt: opt.zero_grad()) == [0, 0, 0]
    assert [e["by"] for e in run.events("zero_grad")] == ["optimizer"] * 3
    assert [(e["i"], e["opt"]) for e in run.events("step")] == [(0, 0), (1, 0), (2, 0)]


def test_steps_without_clearing_count_the_stale_gradients(hooked) -> None:
    run = hooked()
    parameters = 4  # two weights and two biases
    assert _train(run, 3, lambda model, opt: None) == [0, parameters, parameters]


def test_module_zero_grad_clears_too(hooked) -> None:
    run = hooked()
    assert _train(run, 3, lambda model, opt: model.zero_grad()) == [0, 0, 0]
    assert [e["by"] for e in run.events("zero_grad")] == ["module"] * 3


def _by_hand(value: str):
    def clear(model: nn.Module, opt: Any) -> None:
        for p in model.parameters():
            if p.grad is not None:
                if value == "none":
                    p.grad = None
                else:
                    p.grad.zero_()

    return clear


@pytest.mark.parametrize("value", ["none", "zero_"])
def test_gradients_cleared_by_hand_are_not_stale(hooked, value: str) -> None:
    run = hooked()
    assert _train(run, 3, _by_hand(value)) == [0, 0, 0]


def test_a_second_backward_into_cleared_gradients_is_not_stale(hooked) -> None:
    # Accumulating two micro-batches after clearing is not stale: only a used gradient is.
    run = hooked()
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, _ = batch()
    for _ in range(2):
        opt.zero_grad()
        for half in (x[:4], x[4:]):
            model(half).sum().backward()
        opt.step()
    assert [e["stale"] for e in run.events("step")] == [0, 0]


def test_an_optimizer_built_before_the_probe_is_registered_at_its_first_step(hooked) -> None:
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = hooked()
    model(batch()[0]).sum().backward()
    opt.step()
    assert [e["type"] for e in run.events("optimizer")] == ["SGD"]
    assert [(e["i"], e["opt"]) for e in run.events("step")] == [(0, 0)]


def test_a_clear_records_whether_it_dropped_gradients_no_step_used(hooked) -> None:
    run = hooked()
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, _ = batch()
    opt.zero_grad()  # nothing there yet
    model(x).sum().backward()
    opt.zero_grad()  # the backward pass's gradients, unused
    model(x).sum().backward()
    opt.step()
    opt.zero_grad()  # gradients the step used
    model(x).sum().backward()
    model.zero_grad()  # unused again, through the module
    assert [e["dropped"] for e in run.events("zero_grad")] == [False, True, False, True]


def test_clears_inside_an_optimizer_step_are_not_dropping(hooked) -> None:
    # LBFGS's closure clears and runs backward again and again inside one step.
    run = hooked()
    model = net()
    opt = torch.optim.LBFGS(model.parameters(), lr=0.1, max_iter=3)
    x, y = batch()

    def closure() -> Any:
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    clears = run.events("zero_grad")
    assert len(clears) >= 2
    assert not any(e["dropped"] for e in clears)


# -- graphs kept across steps (TRN007) -----------------------------------------------------------


def _kept(run: Recorded, steps: int, keep: Any) -> list[int]:
    """Train `steps` steps, handing each loss to `keep`; the live graphs after each step."""
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = batch()
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        keep(loss)
    return [e["graphs"] for e in run.events("step")]


def test_losses_kept_in_a_list_keep_one_more_graph_alive_each_step(hooked) -> None:
    run = hooked()
    losses: list[Any] = []
    assert _kept(run, 4, losses.append) == [1, 2, 3, 4]


def test_losses_kept_as_numbers_leave_one_graph_alive(hooked) -> None:
    # The last loss is still bound when its step runs; the one before was freed by rebinding.
    run = hooked()
    numbers: list[float] = []
    assert _kept(run, 4, lambda loss: numbers.append(loss.item())) == [1, 1, 1, 1]


def test_a_running_sum_keeps_every_graph_through_its_own(hooked) -> None:
    run = hooked()
    total: dict[str, Any] = {"sum": 0.0}

    def add(loss: Any) -> None:
        total["sum"] = total["sum"] + loss

    assert _kept(run, 4, add) == [1, 2, 3, 4]
    assert run.events("kept_graphs") == []  # not yet risen RISING_STEPS times


def test_a_second_backward_through_the_same_graph_counts_it_once(hooked) -> None:
    run = hooked()
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = model(batch()[0]).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    opt.step()
    assert [e["graphs"] for e in run.events("step")] == [1]


def test_the_holder_of_a_growing_sum_is_found_with_the_line_that_adds_to_it(hooked) -> None:
    run = hooked()
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = batch()
    total = 0.0
    for _ in range(RISING_STEPS + 3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        total += loss
    (event,) = run.events("kept_graphs")
    line = next(n for n, text in enumerate(_this_file(), 1) if text.strip() == "total += loss")
    # One more live graph after each of steps 0 to RISING_STEPS - 1; at the last, `total` holds
    # every loss but the current one.
    assert event["step"] == RISING_STEPS - 1
    assert event["holder"] == {
        "name": "total",
        "graphs": RISING_STEPS - 1,
        "file": __file__,
        "line": line,
    }


def test_the_holder_of_kept_losses_is_an_attribute_of_self(hooked) -> None:
    class Trainer:
        def __init__(self) -> None:
            self.model = net()
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)
            self.history: list[Any] = []

        def fit(self, steps: int) -> None:
            x, y = batch()
            for _ in range(steps):
                self.opt.zero_grad()
                loss = ((self.model(x) - y) ** 2).mean()
                loss.backward()
                self.history.append(loss)
                self.opt.step()

    run = hooked()
    Trainer().fit(RISING_STEPS + 2)
    (event,) = run.events("kept_graphs")
    line = next(
        n for n, text in enumerate(_this_file(), 1) if text.strip() == "self.history.append(loss)"
    )
    assert (event["holder"]["name"], event["holder"]["line"]) == ("self.history", line)
    assert event["holder"]["graphs"] == RISING_STEPS  # appended before each step


def test_no_holder_is_looked_for_when_the_graphs_stay_flat(hooked) -> None:
    run = hooked()
    previous: list[Any] = []

    def keep_last(loss: Any) -> None:
        previous[:] = [loss]  # one loss kept for one iteration: nothing grows

    assert set(_kept(run, RISING_STEPS + 3, keep_last)) == {1, 2}
    assert run.events("kept_graphs") == []


def test_the_holder_search_passes_over_a_frame_whose_objects_raise(hooked) -> None:
    class Hostile:
        @property
        def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
            raise RuntimeError("no attributes here")

    def train(keep: Any) -> list[int]:
        self = Hostile()  # noqa: F841 - the search reads the attributes of a local named self
        return _kept(run, RISING_STEPS + 1, keep)

    run = hooked()
    losses: list[Any] = []
    assert train(losses.append)[-1] == RISING_STEPS + 1
    (event,) = run.events("kept_graphs")
    assert event["holder"]["name"] == "losses"


def _this_file() -> list[str]:
    return Path(__file__).read_text(encoding="utf-8").splitlines()


# -- bounds ------------------------------------------------------------------------------------


def test_the_run_stops_at_max_steps_and_stays_stopped(hooked) -> None:
    run = hooked(max_steps=2)
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, _ = batch()
    with pytest.raises(StopRun):
        for _ in range(5):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    assert len(run.events("step")) == 2
    assert run.probe.stop_reason == "max-steps"
    # A script that swallows the stop and goes on is stopped again, at backward or at step.
    with pytest.raises(StopRun):
        model(x).sum().backward()
    with pytest.raises(StopRun):
        opt.step()
    assert len(run.events("step")) == 2
    assert len(run.events("backward")) == 2


def test_a_run_that_never_steps_stops_after_max_steps_backward_calls(hooked) -> None:
    run = hooked(max_steps=3)
    model = net()
    x, _ = batch()
    with pytest.raises(StopRun):
        for _ in range(10):
            model(x).sum().backward()
    assert len(run.events("backward")) == 3
    assert run.probe.stop_reason == "max-steps"


def test_a_forward_that_raised_does_not_hide_the_forwards_after_the_next_step(hooked) -> None:
    class Fails(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(4, 1)

        def forward(self, x):
            raise ValueError("bad batch")

    run = hooked()
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, _ = batch()
    with pytest.raises(ValueError):
        Fails()(x)
    model(x).sum().backward()  # still inside the failed call: not recorded as its own forward
    opt.step()
    model(x)
    assert [e["i"] for e in run.events("forward")] == [1]


# -- running a script --------------------------------------------------------------------------


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    handler = signal.getsignal(signal.SIGTERM)
    written = []

    def write(text: str) -> str:
        path = tmp_path / f"script{len(written)}.py"
        path.write_text(text)
        written.append(path)
        return str(path)

    yield write
    signal.signal(signal.SIGTERM, handler)


def _end(run: Recorded) -> dict[str, Any]:
    (end,) = run.events("end")
    return end


def test_a_script_that_runs_to_its_end_is_finished_and_sees_its_arguments(hooked, script) -> None:
    run = hooked()
    run_script(
        script("import sys\nassert sys.argv[1:] == ['--epochs', '2']\n"),
        ["--epochs", "2"],
        run.probe,
    )
    assert _end(run) == {"ev": "end", "outcome": "finished"}


@pytest.mark.parametrize(
    ("exit_", "code"), [("sys.exit()", 0), ("sys.exit(3)", 3), ("sys.exit('no data')", 1)]
)
def test_a_script_that_exits_records_its_status(hooked, script, exit_: str, code: int) -> None:
    run = hooked()
    run_script(script(f"import sys\n{exit_}\n"), [], run.probe)
    assert _end(run) == {"ev": "end", "outcome": "exit", "code": code}


def test_a_script_that_fails_records_its_error_from_its_own_frames(hooked, script) -> None:
    run = hooked()
    path = script("def load():\n    raise KeyError('weights')\n\n\nload()\n")
    run_script(path, [], run.probe)
    end = _end(run)
    assert (end["outcome"], end["type"], end["message"]) == ("error", "KeyError", "'weights'")
    assert end["traceback"].startswith("Traceback (most recent call last):\n")
    assert path in end["traceback"]
    assert "in load" in end["traceback"]
    assert probe_module.__file__ not in end["traceback"]
    assert "runpy" not in end["traceback"]


def test_a_script_stopped_at_max_steps_records_why(hooked, script) -> None:
    run = hooked(max_steps=2)
    text = (
        "import torch\n"
        "model = torch.nn.Linear(4, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for _ in range(10):\n"
        "    opt.zero_grad()\n"
        "    model(torch.ones(2, 4)).sum().backward()\n"
        "    opt.step()\n"
    )
    run_script(script(text), [], run.probe)
    assert _end(run) == {"ev": "end", "outcome": "stopped", "reason": "max-steps"}


def test_sigterm_stops_the_script_with_the_reason_timeout(hooked, script) -> None:
    run = hooked()
    text = "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\nraise SystemExit(9)\n"
    run_script(script(text), [], run.probe)
    assert _end(run) == {"ev": "end", "outcome": "stopped", "reason": "timeout"}


# -- what makes a step stale, in detail ---------------------------------------------------------


def test_gradients_zeroed_after_backward_and_before_the_step_are_not_stale(hooked) -> None:
    # The second backward adds to a used gradient, but the script zeroes it before stepping:
    # that step applies no stale gradient.
    run = hooked()
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, _ = batch()
    for _ in range(2):
        model(x).sum().backward()
        if run.events("step"):
            for p in model.parameters():
                p.grad.zero_()
        opt.step()
    assert [e["stale"] for e in run.events("step")] == [0, 0]


def test_two_steps_on_one_backward_are_not_stale(hooked) -> None:
    run = hooked()
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model(batch()[0]).sum().backward()
    opt.step()
    opt.step()
    assert [e["stale"] for e in run.events("step")] == [0, 0]


def test_a_parameter_without_gradient_does_not_hide_the_stale_ones_after_it(hooked) -> None:
    run = hooked()
    model = net()
    unused = nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([unused, *model.parameters()], lr=0.01)
    x, _ = batch()
    for _ in range(2):
        model(x).sum().backward()
        opt.step()
    assert [e["stale"] for e in run.events("step")] == [0, 4]


def test_sparse_gradients_zeroed_by_zero_grad_are_not_stale(hooked) -> None:
    # A sparse gradient zeroed in place cannot be checked cheaply for zeros; the probe relies on
    # seeing zero_grad called.
    run = hooked()
    torch.manual_seed(0)
    table = nn.Embedding(10, 3, sparse=True)
    opt = torch.optim.SGD(table.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad(set_to_none=False)
        table(torch.tensor([1, 2, 3])).sum().backward()
        opt.step()
    assert [e["stale"] for e in run.events("step")] == [0, 0, 0]


def test_the_stop_says_why(hooked) -> None:
    run = hooked(max_steps=2)
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model(batch()[0]).sum().backward()
    opt.step()
    with pytest.raises(StopRun) as first:
        opt.step()
    with pytest.raises(StopRun) as again:
        opt.step()
    assert first.value.args == again.value.args == ("max-steps",)
    assert run.probe.stop_reason == "max-steps"


def test_the_script_runs_as_main(hooked, script) -> None:
    run = hooked()
    run_script(script("if __name__ == '__main__':\n    raise SystemExit(7)\n"), [], run.probe)
    assert _end(run) == {"ev": "end", "outcome": "exit", "code": 7}


def test_an_exit_message_is_printed_to_stderr(hooked, script, capsys) -> None:
    run = hooked()
    run_script(script("import sys\nsys.exit('no data found')\n"), [], run.probe)
    assert capsys.readouterr().err == "no data found\n"


def test_the_error_traceback_reads_as_python_prints_it(hooked, script) -> None:
    run = hooked()
    path = script("def load():\n    raise KeyError('weights')\n\n\nload()\n")
    run_script(path, [], run.probe)
    lines = _end(run)["traceback"].splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == f'  File "{path}", line 5, in <module>'
    assert lines[-1] == "KeyError: 'weights'"


def test_backward_keeps_its_keyword_arguments_and_a_graph_is_used_once(hooked) -> None:
    run = hooked()
    loss = net()(batch()[0]).sum()
    torch.autograd.backward(loss, retain_graph=True)
    loss.backward()
    assert len(run.events("backward")) == 2
    assert run.events("used") == [{"ev": "used", "forward": 0, "backward": 0}]


def test_only_gradients_a_backward_added_to_are_stale(hooked) -> None:
    # Both models step together; the second backward reaches only `first`, so only its two
    # parameters step on gradients that still held the used ones.
    run = hooked()
    torch.manual_seed(0)
    first, second = nn.Linear(4, 1), nn.Linear(4, 1)
    opt = torch.optim.SGD([*first.parameters(), *second.parameters()], lr=0.01)
    x, _ = batch()
    (first(x) + second(x)).sum().backward()
    opt.step()
    first(x).sum().backward()
    opt.step()
    assert [e["stale"] for e in run.events("step")] == [0, 2]

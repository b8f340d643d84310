"""The exact words and counts of each runtime finding, from event logs written by hand.

test_runtime_findings.py says which findings a log gives; these say what each one tells the
user: how many times, which optimizers and modules, and "once"/"pass" against "times"/"passes".
"""

from __future__ import annotations

from typing import Any

from test_runtime_findings import events, forward, optimizer, train_step

from lint_train.runtime.events import parse_events
from lint_train.runtime.findings import RuntimeFinding, find


def only(*items: dict[str, Any], cut_short: bool = False) -> RuntimeFinding:
    (found,) = find(parse_events(events(*items)), cut_short)
    return found


def step(i: int, stale: int, opt: int = 0) -> dict[str, Any]:
    return {"ev": "step", "i": i, "opt": opt, "stale": stale}


def named(i: int, module: str, **kw: Any) -> dict[str, Any]:
    return {**forward(i, **kw), "module": module}


def test_stale_steps_say_how_often_and_from_which_step() -> None:
    found = only(optimizer(0, "Adam"), step(0, 0), step(1, 0), step(2, 3), step(3, 3))
    assert found == RuntimeFinding(
        "TRN001",
        "missing-zero-grad",
        "Adam stepped 2 times on gradients that still held earlier backward passes already "
        "used by a step (first at step 2); clear them with zero_grad() before each backward",
        2,
    )


def test_one_stale_step_is_once_and_names_every_stale_optimizer() -> None:
    found = only(optimizer(0, "SGD"), optimizer(1, "Adam"), step(0, 1, opt=1), step(1, 0))
    assert found.message.startswith("Adam stepped once on gradients")
    assert found.count == 1
    found = only(optimizer(0, "SGD"), optimizer(1, "Adam"), step(0, 1, opt=1), step(1, 2))
    assert found.message.startswith("Adam and SGD stepped 2 times")


def test_an_optimizer_the_log_never_built_is_called_the_optimizer() -> None:
    assert only(step(0, 1)).message.startswith("the optimizer stepped once")


def test_no_step_says_how_many_backward_calls_reached_which_optimizer() -> None:
    backward = {"ev": "backward", "i": 0, "loss": 1.0}
    found = only(optimizer(0, "AdamW"), backward, {"ev": "grads", "opt": 0}, backward)
    assert found == RuntimeFinding(
        "TRN002",
        "missing-optimizer-step",
        "backward ran 2 times and reached the parameters of AdamW, which never stepped, so "
        "those weights never changed",
        2,
    )
    found = only(optimizer(0, "AdamW"), backward, {"ev": "grads", "opt": 0})
    assert found.message.startswith("backward ran once and reached")


def test_unused_graphs_count_the_passes_and_name_the_modules() -> None:
    found = only(
        optimizer(),
        *train_step(0, 0, 0, layers=0),
        named(1, "Encoder", training=False, layers=0),
        named(2, "Decoder", training=False, layers=0),
    )
    assert found == RuntimeFinding(
        "TRN003",
        "missing-no-grad",
        "2 forward passes of Decoder, Encoder built an autograd graph that no backward used; "
        "run evaluation under torch.no_grad()",
        2,
    )
    one = only(optimizer(), *train_step(0, 0, 0), named(1, "Net", training=False))
    assert one.message.startswith("1 forward pass of Net built")


def test_evaluation_in_training_mode_counts_passes_with_active_layers_only() -> None:
    found = only(
        optimizer(),
        *train_step(0, 0, 0),
        named(1, "Net", grad=False),
        named(2, "Net", grad=False),
        named(3, "Net", grad=False, training=False),
    )
    assert found == RuntimeFinding(
        "TRN004",
        "missing-eval",
        "2 evaluation forward passes of Net ran with dropout/batch-norm layers in training "
        "mode; call .eval() before evaluating",
        2,
    )
    one = only(optimizer(), *train_step(0, 0, 0), named(1, "Net", grad=False))
    assert one.message.startswith("1 evaluation forward pass of Net ran")


def test_training_in_eval_mode_counts_the_passes_that_fed_a_step() -> None:
    found = only(
        optimizer(),
        *train_step(0, 0, 0),
        *train_step(1, 1, 1, training=False),
        *train_step(2, 2, 2, training=False),
    )
    assert found == RuntimeFinding(
        "TRN005",
        "missing-train",
        "2 training forward passes of Net ran in eval mode with dropout/batch-norm off, and "
        "their backward fed an optimizer step; call .train() after evaluating",
        2,
    )
    one = only(optimizer(), *train_step(0, 0, 0), *train_step(1, 1, 1, training=False))
    assert one.message.startswith("1 training forward pass of Net ran")

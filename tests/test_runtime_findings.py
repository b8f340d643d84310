"""Runtime findings drawn from event logs written by hand (no torch, no child process).

Each test builds the event log the probe would write for one situation; the probe itself is
tested on real scripts in test_runtime_probe.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lint_train.runtime.events import parse_events
from lint_train.runtime.findings import find


def events(*items: dict[str, Any]) -> list[str]:
    return [json.dumps(item) for item in items]


def codes(lines: list[str], cut_short: bool = False) -> list[str]:
    return [f.code for f in find(parse_events(lines), cut_short)]


def optimizer(i: int = 0, type_: str = "SGD") -> dict[str, Any]:
    return {"ev": "optimizer", "i": i, "type": type_, "hyperparameters": {"lr": 0.1}}


def forward(i: int, *, training: bool = True, grad: bool = True, layers: int = 1) -> dict:
    return {
        "ev": "forward",
        "i": i,
        "module": "Net",
        "training": training,
        "layers": layers,
        "active": layers if training else 0,
        "grad": grad,
        "graph": grad,
    }


def train_step(forward_index: int, backward_index: int, step_index: int, **kw: Any) -> list:
    """forward, backward (using that forward), step: one correct iteration."""
    return [
        forward(forward_index, **kw),
        {"ev": "backward", "i": backward_index, "loss": 1.0},
        {"ev": "used", "forward": forward_index, "backward": backward_index},
        {"ev": "grads", "opt": 0},
        {"ev": "step", "i": step_index, "opt": 0, "stale": 0},
    ]


def test_a_correct_loop_with_evaluation_under_no_grad_has_no_finding() -> None:
    log = events(
        optimizer(),
        *train_step(0, 0, 0),
        *train_step(1, 1, 1),
        forward(2, training=False, grad=False),
        {"ev": "end", "outcome": "finished"},
    )
    assert codes(log) == []


def test_a_step_on_stale_gradients_is_trn001() -> None:
    log = events(optimizer(), {"ev": "step", "i": 0, "opt": 0, "stale": 0})
    log += events({"ev": "step", "i": 1, "opt": 0, "stale": 4})
    found = find(parse_events(log), cut_short=False)
    assert [f.code for f in found] == ["TRN001"]
    assert "SGD" in found[0].message
    assert found[0].count == 1


def test_backward_reaching_an_optimizer_that_never_steps_is_trn002() -> None:
    log = events(
        optimizer(),
        forward(0),
        {"ev": "backward", "i": 0, "loss": 1.0},
        {"ev": "used", "forward": 0, "backward": 0},
        {"ev": "grads", "opt": 0},
    )
    assert codes(log) == ["TRN002"]


def test_one_of_two_optimizers_never_stepping_is_trn002() -> None:
    log = events(optimizer(0, "Adam"), optimizer(1, "SGD"), *train_step(0, 0, 0))
    log += events({"ev": "grads", "opt": 1})
    found = find(parse_events(log), cut_short=False)
    assert [f.code for f in found] == ["TRN002"]
    assert "SGD" in found[0].message
    assert "Adam" not in found[0].message


def test_backward_without_any_optimizer_is_not_trn002() -> None:
    log = events(forward(0, training=False), {"ev": "backward", "i": 0, "loss": 1.0})
    log += events({"ev": "used", "forward": 0, "backward": 0})
    assert codes(log) == []


def test_an_unused_graph_built_in_eval_mode_is_trn003_only() -> None:
    log = events(optimizer(), *train_step(0, 0, 0), forward(1, training=False, grad=True))
    assert codes(log) == ["TRN003"]


def test_evaluation_under_no_grad_in_training_mode_is_trn004_only() -> None:
    log = events(optimizer(), *train_step(0, 0, 0), forward(1, training=True, grad=False))
    assert codes(log) == ["TRN004"]


def test_evaluation_with_neither_is_trn003_and_trn004() -> None:
    log = events(optimizer(), *train_step(0, 0, 0), forward(1, training=True, grad=True))
    assert codes(log) == ["TRN003", "TRN004"]


def test_an_unused_graph_in_a_run_that_never_steps_is_not_evaluation() -> None:
    # A gradient unit test: forward passes, some detached, no optimizer anywhere.
    log = events(forward(0), {"ev": "backward", "i": 0, "loss": 1.0}, forward(1))
    log += events({"ev": "used", "forward": 0, "backward": 0})
    assert codes(log) == []


def test_training_mode_without_dropout_or_batch_norm_is_not_trn004() -> None:
    log = events(optimizer(), *train_step(0, 0, 0, layers=0), forward(1, grad=False, layers=0))
    assert codes(log) == []


def test_a_forward_cut_off_by_a_bound_is_not_taken_for_evaluation() -> None:
    log = events(optimizer(), *train_step(0, 0, 0), forward(1))
    assert codes(log, cut_short=True) == []
    assert codes(log, cut_short=False) == ["TRN003", "TRN004"]


def test_training_through_a_model_in_eval_mode_is_trn005() -> None:
    log = events(optimizer(), *train_step(0, 0, 0), *train_step(1, 1, 1, training=False))
    assert codes(log) == ["TRN005"]


def test_backward_in_eval_mode_without_a_later_step_is_not_trn005() -> None:
    log = events(optimizer(), *train_step(0, 0, 0), forward(1, training=False))
    log += events(
        {"ev": "backward", "i": 1, "loss": 1.0}, {"ev": "used", "forward": 1, "backward": 1}
    )
    assert codes(log) == []


def test_a_graph_used_only_by_autograd_grad_is_not_trn003_or_trn005() -> None:
    log = events(optimizer(), *train_step(0, 0, 0), forward(1, training=False))
    log += events(
        {"ev": "used", "forward": 1, "backward": None},
        {"ev": "step", "i": 1, "opt": 0, "stale": 0},
    )
    assert codes(log) == []


def test_a_line_cut_short_by_a_kill_is_skipped() -> None:
    log = [*events(optimizer(), *train_step(0, 0, 0)), '{"ev": "step", "i": 1, "o']
    seen = parse_events(log)
    assert len(seen.steps) == 1
    assert seen.outcome is None


def cleared_step(index: int, *, empty: bool = True, clear_first: bool = False) -> list:
    """forward, backward and a step, with a zero_grad after the backward (or before it)."""
    clear = {"ev": "zero_grad", "by": "optimizer"}
    backward = [
        forward(index),
        {"ev": "backward", "i": index, "loss": 1.0},
        {"ev": "used", "forward": index, "backward": index},
        {"ev": "grads", "opt": 0},
    ]
    body = [clear, *backward] if clear_first else [*backward, clear]
    return [*body, {"ev": "step", "i": index, "opt": 0, "stale": 0, "empty": empty}]


def test_a_step_with_no_gradient_after_a_clear_that_followed_backward_is_trn006() -> None:
    log = events(optimizer(), *cleared_step(0), *cleared_step(1))
    found = find(parse_events(log), cut_short=False)
    assert [f.code for f in found] == ["TRN006"]
    assert found[0].count == 2
    assert "SGD stepped 2 times with no gradient to apply" in found[0].message


def test_a_step_with_gradients_after_a_clear_is_not_trn006() -> None:
    # Another model's gradients cleared between the backward pass and this step.
    assert codes(events(optimizer(), *cleared_step(0, empty=False))) == []


def test_an_empty_step_after_a_clear_before_the_backward_is_not_trn006() -> None:
    # The backward reached none of this optimizer's parameters: not a clear that emptied it.
    assert codes(events(optimizer(), *cleared_step(0, clear_first=True))) == []


def test_an_empty_step_without_a_backward_since_the_last_step_is_not_trn006() -> None:
    log = events(optimizer(), *train_step(0, 0, 0))
    log += events({"ev": "zero_grad", "by": "optimizer"})
    log += events({"ev": "step", "i": 1, "opt": 0, "stale": 0, "empty": True})
    assert codes(log) == []


def lr_step(line: int = 20) -> dict[str, Any]:
    return {"ev": "lr_step", "file": "/work/train.py", "line": line}


WARNED = {"ev": "warning"}


def test_scheduler_stepped_before_the_first_optimizer_step_is_trn010() -> None:
    log = events(
        optimizer(),
        lr_step(),
        WARNED,
        *train_step(0, 0, 0),
        lr_step(),
        *train_step(1, 1, 1),
        {"ev": "end", "outcome": "finished"},
    )
    (finding,) = find(parse_events(log), cut_short=False)
    assert finding.code == "TRN010"
    assert "train.py:20" in finding.message


def test_scheduler_stepped_after_the_optimizer_has_no_finding() -> None:
    log = events(
        optimizer(),
        *train_step(0, 0, 0),
        lr_step(),
        *train_step(1, 1, 1),
        lr_step(),
        {"ev": "end", "outcome": "finished"},
    )
    assert codes(log) == []


def test_resume_fast_forward_of_the_schedule_is_not_trn010() -> None:
    # torch warns at the first of several scheduler steps taken before any optimizer step.
    log = events(
        optimizer(),
        lr_step(10),
        WARNED,
        lr_step(10),
        lr_step(10),
        *train_step(0, 0, 0),
        lr_step(30),
        {"ev": "end", "outcome": "finished"},
    )
    assert codes(log) == []


def test_order_warning_without_any_optimizer_step_is_left_to_trn002() -> None:
    log = events(
        optimizer(),
        forward(0),
        {"ev": "backward", "i": 0, "loss": 1.0},
        {"ev": "used", "forward": 0, "backward": 0},
        {"ev": "grads", "opt": 0},
        lr_step(),
        WARNED,
        {"ev": "end", "outcome": "finished"},
    )
    assert codes(log) == ["TRN002"]


def test_in_place_error_on_a_leaf_is_trn011_at_the_script_line() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/work/train.py", line 31, in <module>\n'
        "    p -= lr * p.grad\n"
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.\n"
    )
    log = events(
        optimizer(),
        {
            "ev": "end",
            "outcome": "error",
            "type": "RuntimeError",
            "message": "a leaf Variable that requires grad is being used in an in-place operation.",
            "traceback": trace,
        },
    )
    (finding,) = find(parse_events(log), cut_short=False)
    assert finding.code == "TRN011"
    assert "train.py:31" in finding.message


def test_other_errors_are_not_trn011() -> None:
    log = events(
        optimizer(),
        {"ev": "end", "outcome": "error", "type": "RuntimeError", "message": "shape mismatch"},
    )
    assert codes(log) == []


def loss_input(probs: bool, line: int = 40, loss: str = "cross_entropy") -> dict[str, Any]:
    return {
        "ev": "loss_input",
        "loss": loss,
        "file": "/work/train.py",
        "line": line,
        "probs": probs,
    }


def test_a_loss_given_probabilities_at_every_call_is_trn009_at_its_line() -> None:
    log = events(
        optimizer(),
        loss_input(True),
        *train_step(0, 0, 0),
        loss_input(False, line=55, loss="binary_cross_entropy_with_logits"),
        {"ev": "end", "outcome": "finished"},
    )
    (finding,) = find(parse_events(log), cut_short=False)
    assert finding.code == "TRN009"
    assert "cross_entropy at train.py:40" in finding.message
    assert "log-softmax" in finding.message


def test_logits_that_once_looked_like_probabilities_are_not_trn009() -> None:
    # The probe logs a place again when its answer changes: a later call took logits.
    log = events(
        optimizer(),
        loss_input(True, loss="binary_cross_entropy_with_logits"),
        *train_step(0, 0, 0),
        loss_input(False, loss="binary_cross_entropy_with_logits"),
        {"ev": "end", "outcome": "finished"},
    )
    assert codes(log) == []


def graph_steps(*counts: int, opt: int = 0) -> list[dict[str, Any]]:
    """Steps after which `counts` graphs that backward passes were called on were alive."""
    return [
        {"ev": "step", "i": i, "opt": opt, "stale": 0, "graphs": count}
        for i, count in enumerate(counts)
    ]


def test_graphs_alive_rising_at_every_step_are_trn007_at_the_holder() -> None:
    holder = {"name": "running", "graphs": 4, "file": "/work/train.py", "line": 35}
    log = events(
        optimizer(),
        *graph_steps(1, 2, 3, 4, 5, 6),
        {"ev": "kept_graphs", "step": 4, "holder": holder},
    )
    found = find(parse_events(log), cut_short=False)
    assert [f.code for f in found] == ["TRN007"]
    assert found[0].count == 6
    assert found[0].message.startswith(
        "`running` at train.py:35 kept the autograd graphs of earlier backward passes alive, "
        "more of them after each step from step 0 on, up to 6 at once"
    )


def test_graphs_kept_without_a_holder_found_name_the_script() -> None:
    log = events(optimizer(), *graph_steps(1, 2, 3, 4, 5, 6), {"ev": "kept_graphs", "step": 4})
    (finding,) = find(parse_events(log), cut_short=False)
    assert finding.message.startswith("the script kept the autograd graphs")


def test_a_holder_without_its_line_is_named_alone() -> None:
    holder = {"name": "losses", "graphs": 4, "file": "/work/train.py", "line": None}
    log = events(
        optimizer(), *graph_steps(1, 2, 3, 4, 5), {"ev": "kept_graphs", "step": 4, "holder": holder}
    )
    (finding,) = find(parse_events(log), cut_short=False)
    assert finding.message.startswith("`losses` kept the autograd graphs")


def test_steps_that_leave_the_live_graphs_unchanged_do_not_break_the_rise() -> None:
    # Two optimizers (a GAN): the second step of each iteration adds no graph.
    assert codes(events(optimizer(), *graph_steps(1, 1, 2, 2, 3, 3, 4, 4, 5, 5))) == ["TRN007"]


@pytest.mark.parametrize(
    "counts",
    [
        (1, 1, 1, 1, 1, 1, 1, 1),  # each loss freed when the next one is bound
        (1, 2, 1, 2, 1, 2, 1, 2),  # the previous loss kept one iteration more
        (1, 2, 3, 4, 1, 2, 3, 4),  # a window of four kept and then let go: not five rises
        (0, 0, 0, 0, 0, 0),  # an older log without the count
    ],
)
def test_graphs_alive_that_do_not_keep_rising_are_not_trn007(counts: tuple[int, ...]) -> None:
    assert codes(events(optimizer(), *graph_steps(*counts))) == []


def test_the_rise_is_found_after_a_fall() -> None:
    assert codes(events(optimizer(), *graph_steps(1, 2, 1, 2, 3, 4, 5, 6))) == ["TRN007"]


def backward(i: int) -> dict[str, Any]:
    return {"ev": "backward", "i": i, "loss": 1.0}


def clear(dropped: bool) -> dict[str, Any]:
    return {"ev": "zero_grad", "by": "optimizer", "dropped": dropped}


def step(i: int, opt: int = 0) -> dict[str, Any]:
    return {"ev": "step", "i": i, "opt": opt, "stale": 0}


def window(i: int, clears_inside: bool, opt: int = 0) -> list[dict[str, Any]]:
    """Four micro-batches and a step; the clear at the top of each one drops the gradients of
    the one before when `clears_inside`."""
    first = 4 * i
    events_ = []
    for k in range(4):
        events_ += [clear(clears_inside and k > 0), backward(first + k)]
    return [*events_, step(i, opt)]


def test_steps_on_part_of_a_window_a_clear_cut_short_are_trn006() -> None:
    found = find(parse_events(events(optimizer(), *window(0, True), *window(1, True))), False)
    assert [f.code for f in found] == ["TRN006"]
    assert found[0].count == 2
    assert found[0].message.startswith(
        "SGD stepped 2 times on only part of the backward passes run since its previous step"
    )


def test_a_window_whose_clears_dropped_nothing_is_not_trn006() -> None:
    assert codes(events(optimizer(), *window(0, False), *window(1, False))) == []


def test_a_dropping_clear_before_the_first_backward_since_the_step_is_not_trn006() -> None:
    # Gradients left from before the previous step, thrown away before the window starts.
    log = events(optimizer(), step(0), clear(True), backward(0), backward(1), step(1))
    assert codes(log) == []


def test_a_dropping_clear_with_two_optimizers_stepping_is_not_trn006() -> None:
    # A GAN: the generator's backward pass fills the discriminator's gradients, which are
    # cleared on purpose before its own backward pass.
    log = events(
        optimizer(0),
        optimizer(1),
        backward(0),
        step(0, opt=1),
        clear(True),
        backward(1),
        step(1, opt=0),
    )
    assert codes(log) == []


def reached(i: int, *opts: int) -> dict[str, Any]:
    return {"ev": "reached", "backward": i, "opts": list(opts)}


def test_a_clear_dropping_another_objectives_gradients_is_not_trn006() -> None:
    # A GAN whose generator optimizer never steps (TRN002's bug): only the discriminator's
    # steps, and its clear drops what the generator's loss left in it, as every GAN does.
    rounds = []
    for r in range(3):
        g, d = 2 * r, 2 * r + 1
        rounds += [backward(g), reached(g, 0, 1), clear(True), backward(d), reached(d, 1)]
        rounds += [step(r, opt=1)]
    assert codes(events(optimizer(0), optimizer(1), *rounds)) == []
    # The same log whose dropped backward passes reached only the stepped optimizer is a
    # window cut short.
    cut = [{**e, "opts": [1]} if e["ev"] == "reached" else e for e in rounds]
    assert codes(events(optimizer(0), optimizer(1), *cut)) == ["TRN006"]


def test_a_first_step_cut_short_after_warm_up_iterations_is_not_trn006() -> None:
    # Steps skipped while warming up: the clears of those iterations drop their gradients, so
    # only the first step follows dropped ones; every later one is a plain iteration.
    warm_up = [item for i in range(3) for item in (clear(i > 0), backward(i))]
    plain = [item for i in range(3) for item in (clear(False), backward(3 + i), step(i))]
    assert codes(events(optimizer(), *warm_up, *plain)) == []

"""Edges of the runtime findings' judgement, from event logs written by hand: where evaluation
begins and ends in a run cut short, and what does not count as wasted graphs or as training in
eval mode."""

from __future__ import annotations

from typing import Any

from test_runtime_findings import codes, events, forward, optimizer, train_step

START = {"ev": "start", "python": "3.11", "torch": "2.13.0"}


def test_an_unused_forward_before_the_last_backward_of_a_cut_run_is_evaluation() -> None:
    # The run was stopped, but a backward came after this forward: it was not waiting for one.
    log = events(
        START, optimizer(), *train_step(0, 0, 0), forward(1), *train_step(2, 1, 1), forward(3)
    )
    assert codes(log, cut_short=True) == ["TRN003", "TRN004"]


def test_in_a_cut_run_with_no_backward_yet_no_forward_is_taken_for_evaluation() -> None:
    step = {"ev": "step", "i": 0, "opt": 0, "stale": 0}
    log = events(START, forward(0), step, forward(1))
    assert codes(log, cut_short=True) == []
    assert codes(log, cut_short=False) == ["TRN003", "TRN004"]


def test_an_evaluation_forward_that_built_no_graph_wastes_nothing() -> None:
    # Grad was on, but nothing in the model required grad (frozen weights): no graph was kept.
    frozen = {**forward(1, training=False), "graph": False}
    assert codes(events(START, optimizer(), *train_step(0, 0, 0), frozen)) == []


def _eval_mode(i: int, layers: int, active: int) -> dict[str, Any]:
    return {**forward(i, training=False, layers=layers), "active": active}


def _trained_through(forward_event: dict[str, Any]) -> list[str]:
    i = forward_event["i"]
    log = events(
        START,
        optimizer(),
        *train_step(0, 0, 0),
        forward_event,
        {"ev": "backward", "i": 1, "loss": 1.0},
        {"ev": "used", "forward": i, "backward": 1},
        {"ev": "step", "i": 1, "opt": 0, "stale": 0},
    )
    return codes(log)


def test_training_in_eval_mode_is_trn005_when_some_layer_is_off() -> None:
    assert _trained_through(_eval_mode(1, layers=2, active=1)) == ["TRN005"]


def test_eval_mode_with_every_dropout_layer_switched_back_on_is_not_trn005() -> None:
    assert _trained_through(_eval_mode(1, layers=2, active=2)) == []


def test_eval_mode_in_a_model_without_dropout_or_batch_norm_is_not_trn005() -> None:
    assert _trained_through(_eval_mode(1, layers=0, active=0)) == []


def test_a_step_by_an_optimizer_the_log_never_built_is_still_reported() -> None:
    log = events(START, optimizer(0, "SGD"), {"ev": "step", "i": 0, "opt": 1, "stale": 2})
    assert codes(log) == ["TRN001"]

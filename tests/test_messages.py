"""Messages name the user's objects and give the fix that fits the shape of the bug."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from lint_train.engine import lint_file
from lint_train.rules.conditions import condition_phrase


def _message(name: str, code: str) -> str:
    findings = [f for f in lint_file(FIXTURES / "buggy" / name) if f.code == code]
    assert len(findings) == 1
    return findings[0].message


def test_zero_grad_once_before_loop_asks_to_clear_inside_the_loop() -> None:
    message = _message("trn001_plain_loop_zero_grad_before_loop.py", "TRN001")
    assert "`optimizer.zero_grad()` in the loop" in message


def test_stale_gradients_from_an_earlier_phase_ask_to_clear_before_the_loop() -> None:
    message = _message("trn001_second_phase_starts_with_stale_grads.py", "TRN001")
    assert "just before the loop" in message
    assert "`optimizer`" in message


def test_gan_names_the_optimizer_that_is_never_stepped() -> None:
    message = _message("trn002_gan_d_cleared_never_stepped.py", "TRN002")
    # opt_g is stepped; opt_d, the discriminator's, is the one left out.
    assert message.startswith("`opt_d` is cleared in this loop but never stepped")
    assert "call `opt_d.step()`" in message
    assert "opt_g" not in message


def test_missing_eval_names_the_model_and_the_call() -> None:
    message = _message("trn004_module_predict.py", "TRN004")
    assert "`self.eval()`" in message


@pytest.mark.parametrize(
    ("condition", "holds", "phrase"),
    [
        ("scaler is not None", False, "`scaler` is None"),
        ("scaler is not None", True, "`scaler` is not None"),
        ("scaler is None", False, "`scaler` is not None"),
        ("rank == 0", False, "`rank != 0`"),
        ("rank != 0", False, "`rank == 0`"),
        ("args.world_size > 1", False, "`args.world_size <= 1`"),
        ("mode in MODES", False, "`mode not in MODES`"),
        ("args.amp", True, "`args.amp` is true"),
        ("args.amp", False, "`args.amp` is false"),
        ("a < b < c", False, "`a < b < c` is false"),
    ],
)
def test_one_way_step_says_the_condition_without_a_double_negative(
    condition: str, holds: bool, phrase: str
) -> None:
    assert condition_phrase(condition, holds) == phrase


def test_one_way_step_names_the_path_without_the_step() -> None:
    message = _message("trn002_amp_branch_steps_plain_branch_forgets.py", "TRN002")
    assert "stepped only when `args.amp` is true: when `args.amp` is false," in message


def test_scaled_step_is_named_as_the_code_writes_it() -> None:
    # The loop steps through the GradScaler; a message saying `optimizer.step()` would point
    # at a line that does not exist.
    message = _message("trn001_amp_grad_scaler.py", "TRN001")
    assert message.startswith("`scaler.step(optimizer)` runs on gradients")
    assert "`optimizer.zero_grad()`" in message


def test_missing_step_after_a_scaled_backward_asks_for_the_scaled_step() -> None:
    message = _message("trn002_amp_scaler_update_without_step.py", "TRN002")
    assert message.endswith("call `scaler.step(optimizer)` after the backward pass")

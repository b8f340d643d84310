"""The loss trend and the trained verdict (pure arithmetic, no torch)."""

from __future__ import annotations

import math

import pytest

from lint_train.runtime.trend import THRESHOLD, judge, loss_trend, sparkline


def test_windows_are_the_first_and_last_fifth_of_the_run() -> None:
    values = [10.0] * 5 + [7.0] * 10 + [4.0] * 5
    trend = loss_trend(values)
    assert trend.window == 4
    assert trend.first == 10.0
    assert trend.last == 4.0
    assert trend.relative_change == pytest.approx(-0.6)


def test_a_fall_just_past_the_threshold_counts_as_trained() -> None:
    falls = [1.0] * 10 + [1.0 - THRESHOLD - 0.01] * 10
    assert judge(loss_trend(falls)).trained


def test_a_fall_just_short_of_the_threshold_does_not_count() -> None:
    almost = [1.0] * 10 + [1.0 - THRESHOLD + 0.01] * 10
    verdict = judge(loss_trend(almost))
    assert not verdict.trained
    assert "fell only" in verdict.reason


def test_a_rising_loss_did_not_train() -> None:
    verdict = judge(loss_trend([1.0 + 0.1 * i for i in range(10)]))
    assert not verdict.trained
    assert "rose" in verdict.reason


def test_too_few_values_are_not_judged_as_trained() -> None:
    verdict = judge(loss_trend([4.0, 3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.1]))
    assert not verdict.trained
    assert "too few" in verdict.reason


def test_no_values_means_no_backward_was_seen() -> None:
    verdict = judge(loss_trend([]))
    assert not verdict.trained
    assert "no backward" in verdict.reason


def test_a_nan_loss_did_not_train_and_names_the_call() -> None:
    verdict = judge(loss_trend([4.0, 3.0, 2.0, math.nan, 1.0]))
    assert not verdict.trained
    assert "backward call 3" in verdict.reason


def test_negative_losses_use_the_magnitude_of_the_first_window() -> None:
    trend = loss_trend([-1.0] * 5 + [-2.0] * 5)
    assert trend.relative_change == pytest.approx(-1.0)
    assert judge(trend).trained


def test_a_fall_within_the_batch_to_batch_noise_does_not_count() -> None:
    # Four batches of very different difficulty, no learning: the run stops mid-epoch, so the
    # first window holds the hard batches and the last window the easy ones.
    values = [25.0, 12.0, 6.5, 13.7] * 3
    trend = loss_trend(values)
    assert trend.relative_change is not None
    assert trend.relative_change <= -THRESHOLD
    verdict = judge(trend)
    assert not verdict.trained
    assert "noise" in verdict.reason


def test_a_custom_threshold_is_applied() -> None:
    values = [1.0] * 10 + [0.7] * 10
    assert judge(loss_trend(values), threshold=0.25).trained
    assert not judge(loss_trend(values), threshold=0.5).trained


def test_sparkline_runs_from_the_lowest_to_the_highest_block() -> None:
    line = sparkline([3.0, 2.0, 1.0])
    assert line == "█▅▁"


def test_sparkline_squeezes_long_runs_into_its_width() -> None:
    assert len(sparkline([float(i) for i in range(1000)], width=32)) == 32


def test_sparkline_marks_non_finite_values() -> None:
    assert sparkline([1.0, math.inf, 0.0]) == "█!▁"

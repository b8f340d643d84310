"""The reference loop itself: it trains, and its evaluation leaves training untouched."""

from __future__ import annotations

import pytest
from conftest import require

torch = require("torch")

from torch import nn  # noqa: E402
from torch.nn import functional  # noqa: E402

from lint_train.runtime import reference  # noqa: E402
from lint_train.runtime.trend import judge, loss_trend  # noqa: E402


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3)
    )


def make_data() -> tuple[list, list]:
    gen = torch.Generator().manual_seed(0)
    centers = 2.0 * torch.randn(3, 4, generator=gen)
    y = torch.randint(0, 3, (192,), generator=gen)
    x = centers[y] + torch.randn(192, 4, generator=gen)
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 192, 32)]
    return batches[:4], batches[4:]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny models run far faster on one thread than on a contended pool.
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


class Fixture:
    """What a fixture module offers the reference loop."""

    make_model = staticmethod(make_model)
    make_data = staticmethod(make_data)


def run(steps: int, with_validation: bool = True) -> reference.ReferenceRun:
    model = make_model()
    train_batches, val_batches = make_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    val = val_batches if with_validation else []
    return reference.train(model, train_batches, val, optimizer, functional.cross_entropy, steps)


def test_the_reference_loop_trains() -> None:
    result = run(steps=40)
    assert len(result.train_losses) == 40
    assert judge(loss_trend(result.train_losses)).trained
    assert len(result.val_losses) == 10
    assert result.val_losses[-1] < result.val_losses[0]


def test_steps_need_not_be_a_whole_number_of_passes() -> None:
    result = run(steps=10)
    assert len(result.train_losses) == 10
    assert len(result.val_losses) == 3


def test_evaluation_does_not_change_the_training_trajectory() -> None:
    # Dropout left on during evaluation would draw random numbers and shift every later step.
    assert run(steps=24).train_losses == run(steps=24, with_validation=False).train_losses


def test_evaluation_runs_without_grad_in_eval_mode_and_restores_train_mode() -> None:
    model = make_model()
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append((m.training, torch.is_grad_enabled())))
    _, val_batches = make_data()
    reference.evaluate(model, val_batches, functional.cross_entropy)
    assert seen == [(False, False)] * len(val_batches)
    assert model.training


def test_optimizer_like_rebuilds_the_recorded_optimizer() -> None:
    recorded = {"lr": 0.01, "betas": [0.8, 0.9], "eps": 1e-8, "not_an_argument": 1}
    optimizer = reference.optimizer_like("Adam", recorded, make_model().parameters())
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["betas"] == (0.8, 0.9)
    assert optimizer.defaults["lr"] == 0.01


def test_the_loss_follows_the_target_type() -> None:
    assert reference.loss_for(torch.tensor([0, 2])) is functional.cross_entropy
    assert reference.loss_for(torch.tensor([0.5, 2.0])) is functional.mse_loss


def test_train_fixture_uses_the_fixture_model_data_and_optimizer() -> None:
    result = reference.train_fixture(Fixture, "SGD", {"lr": 0.1}, steps=24)
    assert result.train_losses == run(steps=24).train_losses

"""The canonical, correct training loop, to compare a script's loss curve with.

    for each pass over the training batches:
        for x, y in batches: zero_grad, forward, loss, backward, step
        evaluate: eval mode, under no_grad; then back to train mode

A fixture's make_model() and make_data() (see fixtures/README.md) feed it the same seeded model
and data as the script, and the optimizer is rebuilt from what the probe recorded, so a correct
script and this loop produce the same losses, step for step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Batch = tuple[Any, Any]


@dataclass(frozen=True)
class ReferenceRun:
    train_losses: list[float]  # the loss each backward was called on, in order
    val_losses: list[float]  # mean validation loss after each pass over the training batches


def train(
    model: Any,
    train_batches: Sequence[Batch],
    val_batches: Sequence[Batch],
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    steps: int,
) -> ReferenceRun:
    """Train for `steps` optimizer steps, evaluating after each pass over the batches."""
    train_losses: list[float] = []
    val_losses: list[float] = []
    model.train()
    while len(train_losses) < steps:
        for x, y in train_batches[: steps - len(train_losses)]:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            train_losses.append(loss.item())
        val_losses.append(evaluate(model, val_batches, loss_fn))
    return ReferenceRun(train_losses, val_losses)


def evaluate(model: Any, batches: Sequence[Batch], loss_fn: Callable[[Any, Any], Any]) -> float:
    """Mean loss over `batches` in eval mode without autograd; leaves the model training."""
    import torch

    model.eval()
    with torch.no_grad():
        losses = [loss_fn(model(x), y).item() for x, y in batches]
    model.train()
    return sum(losses) / max(1, len(losses))


def loss_for(targets: Any) -> Callable[[Any, Any], Any]:
    """Cross-entropy for class indices, mean squared error for real-valued targets."""
    import torch
    from torch.nn import functional

    if targets.dtype in (torch.int64, torch.int32):
        return functional.cross_entropy
    return functional.mse_loss


def optimizer_like(type_name: str, hyperparameters: dict[str, Any], params: Any) -> Any:
    """A torch.optim optimizer of the recorded type, built with the recorded hyperparameters."""
    import torch

    kind = getattr(torch.optim, type_name)
    accepted = inspect.signature(kind).parameters
    kwargs = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in hyperparameters.items()
        if key in accepted
    }
    return kind(params, **kwargs)


def train_fixture(
    fixture: Any, type_name: str, hyperparameters: dict[str, Any], steps: int
) -> ReferenceRun:
    """The reference loop on a fixture's make_model() and make_data()."""
    model = fixture.make_model()
    train_batches, val_batches = fixture.make_data()
    optimizer = optimizer_like(type_name, hyperparameters, model.parameters())
    loss_fn = loss_for(train_batches[0][1])
    return train(model, train_batches, val_batches, optimizer, loss_fn, steps)

"""The probe's test of a loss input: probabilities, or logits (torch, no child process)."""

from __future__ import annotations

from conftest import require

torch = require("torch")

from lint_train.runtime.probe import _looks_like_probabilities  # noqa: E402

CE, NLL, BCE = "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits"


def logits() -> torch.Tensor:
    return torch.randn(16, 3, generator=torch.Generator().manual_seed(0))


def test_softmax_output_is_probabilities_for_cross_entropy_and_nll_loss() -> None:
    probs = torch.softmax(logits(), dim=1)
    assert _looks_like_probabilities(CE, probs)
    assert _looks_like_probabilities(NLL, probs)


def test_logits_and_log_probabilities_are_not() -> None:
    assert not _looks_like_probabilities(CE, logits())
    assert not _looks_like_probabilities(CE, torch.log_softmax(logits(), dim=1))
    assert not _looks_like_probabilities(NLL, torch.log_softmax(logits(), dim=1))


def test_softmax_over_the_wrong_dimension_is_not_taken_for_class_probabilities() -> None:
    assert not _looks_like_probabilities(CE, torch.softmax(logits(), dim=0))


def test_sigmoid_output_is_probabilities_for_bce_with_logits() -> None:
    assert _looks_like_probabilities(BCE, torch.sigmoid(logits()))
    assert not _looks_like_probabilities(BCE, logits())


def test_one_unbatched_sample_uses_its_only_dimension() -> None:
    assert _looks_like_probabilities(CE, torch.softmax(logits()[0], dim=0))
    assert not _looks_like_probabilities(CE, logits()[0])

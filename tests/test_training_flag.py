"""A test of a model's `training` flag (`if model.training:`) where the path knows the model's
mode takes the way that mode gives, for grad mode and modes alike: a forward helper that turns
autograd off itself when the model is not training is fine after `model.eval()`."""

from __future__ import annotations

import textwrap

import pytest

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


# `run_batch` trains when the model trains and runs under no_grad otherwise; `{before}` is
# what `validate` does first. Line 31 is the validation loop's call of the helper.
HELPER = """
    import torch
    from torch import nn


    def run_batch(model, x, y):
        {test}
            out = model(x)
        else:
            with torch.no_grad():
                out = model(x)
        return nn.functional.cross_entropy(out, y)


    class Trainer:
        def __init__(self, model, opt):
            self.model = model
            self.opt = opt

        def train_epoch(self, batches):
            self.model.train()
            for x, y in batches:
                self.opt.zero_grad()
                run_batch(self.model, x, y).backward()
                self.opt.step()

        def validate(self, val_batches):
            {before}
            total = 0.0
            for x, y in val_batches:
                loss = run_batch(self.model, x, y)
                total += loss.item()
            return total


    def main(model, opt, batches, val_batches):
        trainer = Trainer(model, opt)
        for epoch in range(3):
            trainer.train_epoch(batches)
            print(trainer.validate(val_batches))
"""


@pytest.mark.parametrize(
    "test",
    ["if model.training:", "if model.training is True:", "if not model.training is False:"],
)
def test_helper_that_turns_grad_off_when_the_model_does_not_train_is_quiet_after_eval(
    test: str,
) -> None:
    assert _codes(HELPER.format(test=test, before="self.model.eval()")) == []


def test_the_negated_test_takes_the_other_way() -> None:
    source = HELPER.format(test="if not model.training:", before="self.model.eval()")
    # Now the plain forward is the one that runs in eval mode: autograd stays on.
    assert _codes(source) == [(31, "TRN003")]


def test_helper_run_in_training_mode_by_the_evaluation_takes_the_training_way() -> None:
    # No `eval()` before validating: the model is still in training mode from the epoch, so
    # the helper runs it plainly, with autograd on and dropout active.
    source = HELPER.format(test="if model.training:", before="pass")
    assert _codes(source) == [(31, "TRN003"), (31, "TRN004")]

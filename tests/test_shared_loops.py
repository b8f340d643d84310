"""One loop body for the training and the validation split: on the way that skips every
backward pass after `model.eval()`, the iteration only evaluates, and autograd must be off
there (TRN003 at the forward pass, with no fix: the loop also trains)."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _found(source: str) -> list[tuple[int, str, str]]:
    return sorted((f.line, f.code, f.message) for f in lint_source(textwrap.dedent(source)))


def _codes(source: str) -> list[tuple[int, str]]:
    return [(line, code) for line, code, _ in _found(source)]


# `{forward}` computes the loss (line 18); `{update}` is the update under its test (line 20).
SPLITS = """
    import torch
    from torch import nn
    from torch.utils.data import DataLoader


    def run(model, datasets, epochs):
        opt = torch.optim.Adam(model.parameters())
        for epoch in range(epochs):
            for split in ("train", "valid"):
                loader = DataLoader(datasets[split], batch_size=32, shuffle=split == "train")
                if split == "train":
                    model.train()
                else:
                    model.eval()
                total = 0.0
                for x, y in loader:
                    {forward}
                    if split == "train":
                        {update}
                    total += loss.item()
                print(split, total / len(loader))


    if __name__ == "__main__":
        run(torch.nn.Linear(2, 2), dict(), 3)
"""
LOSS = "loss = nn.functional.cross_entropy(model(x), y)"
UPDATE = "opt.zero_grad(); loss.backward(); opt.step()"


def test_validation_way_of_a_shared_loop_with_autograd_on_is_reported() -> None:
    ((line, code, message),) = _found(SPLITS.format(forward=LOSS, update=UPDATE))
    assert (line, code) == (18, "TRN003")
    assert 'where `split == "train"` is false' in message and "`model`" in message


def test_the_finding_offers_no_fix() -> None:
    (finding,) = lint_source(textwrap.dedent(SPLITS.format(forward=LOSS, update=UPDATE)))
    assert not finding.fixable and finding.fix_message == "the loop also trains on the other way"


def test_autograd_chosen_by_the_split_is_quiet() -> None:
    # As the PyTorch transfer-learning tutorial writes it.
    forward = "with torch.set_grad_enabled(split == 'train'):\n" + " " * 24 + LOSS
    assert _codes(SPLITS.format(forward=forward, update=UPDATE)) == []


def test_backward_on_every_way_is_training() -> None:
    # A model kept in eval mode (frozen batch-norm) still trains when backward always runs.
    source = SPLITS.format(forward=LOSS, update="opt.step(); opt.zero_grad()").replace(
        "                    total += loss.item()",
        "                    loss.backward()\n                    total += loss.item()",
    )
    assert _codes(source) == []


def test_backward_in_a_helper_is_not_judged() -> None:
    # Which ways a helper's backward runs on is not known: nothing is reported.
    source = SPLITS.format(forward=LOSS, update="update(opt, loss)").replace(
        "    def run(",
        "    def update(opt, loss):\n        opt.zero_grad()\n        loss.backward()\n"
        "        opt.step()\n\n\n    def run(",
    )
    assert _codes(source) == []


def test_no_eval_on_the_validation_way_is_not_this_shape() -> None:
    # Without `model.eval()` the way is not known to evaluate: not reported here.
    source = SPLITS.format(forward=LOSS, update=UPDATE).replace("model.eval()", "pass")
    assert _codes(source) == []


def test_shared_loop_whose_callers_are_out_of_view_is_not_judged() -> None:
    # Autograd is on inside the loop only by its backward pass, which proves nothing on the
    # validation way: a caller out of view may run that way under no_grad.
    source = SPLITS.format(forward=LOSS, update=UPDATE).split("    if __name__")[0]
    assert _codes(source) == []

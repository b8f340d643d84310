"""The state a function starts in (issue 11, family D): a `@property` analysed first does not
leave the methods after it with an unknown grad mode, and a loop that runs backward proves
autograd is on in it, whoever calls its function. Functions handed to launchers are proven
by the knowledge table's cases (tests/test_knowledge.py)."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


TRAINER = """
    import torch
    from torch import nn

    class Trainer:
        def __init__(self, model, opt):
            self.model = model
            self.opt = opt

        @property
        def lr(self):
            return self.opt.param_groups[0]["lr"]

        def fit(self, train_loader, val_loader):
            for x, y in train_loader:
                self.opt.zero_grad()
                nn.functional.cross_entropy(self.model(x), y).backward()
                self.opt.step()
                print(self.lr)
            {guard}
            for x, y in val_loader:
                print(self.model(x).argmax(1))
"""
TRAINER_EVAL = 22


def test_a_property_read_does_not_hide_the_methods_after_it() -> None:
    found = _codes(TRAINER.format(guard="pass"))
    assert found == [(TRAINER_EVAL, "TRN003"), (TRAINER_EVAL, "TRN004")]


def test_a_property_read_with_evaluation_done_right_is_quiet() -> None:
    guard = "self.model.eval(); torch.set_grad_enabled(False)"
    assert _codes(TRAINER.format(guard=guard)) == []


HANDED_OVER = """
    import torch
    from torch import nn

    def train(model, opt, train_loader, val_loader):
        for epoch in range(3):
            for x, y in train_loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            model.eval()
            {guard}
            for x, y in val_loader:
                print(model(x).argmax(1))
            model.train()

    register(train)
"""
HANDED_OVER_EVAL = 14


def test_a_loop_that_runs_backward_proves_grad_is_on() -> None:
    # `train` is handed to code not in view: its callers' grad mode is unknown, but its own
    # training loop could not run backward with grad off.
    assert _codes(HANDED_OVER.format(guard="pass")) == [(HANDED_OVER_EVAL, "TRN003")]


def test_grad_turned_off_for_evaluation_inside_the_loop_is_quiet() -> None:
    assert _codes(HANDED_OVER.format(guard="torch.set_grad_enabled(False)")) == []


def test_a_loop_that_turns_grad_on_itself_proves_nothing() -> None:
    # Its callers may run it under no_grad: only the backward's own context is proven on.
    source = """
    import torch
    from torch import nn

    def adapt(model, opt, loader, val_loader):
        for x, y in loader:
            with torch.enable_grad():
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            model.eval()
            for v, w in val_loader:
                print(model(v).argmax(1))
            model.train()

    register(adapt)
    """
    assert _codes(source) == []

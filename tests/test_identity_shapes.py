"""What each object is, decided by where it comes from (issue 11, families A and B): a model
keeps its identity and mode through moves, inline mode switches, aliases and the Python 2
spelling of `super`; a method defined twice is its later definition. Each shape that must be
flagged has a quiet twin one change away, and the other way round."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


NET = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            {super_call}.__init__()
            self.fc = nn.Linear(4, 2)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.fc(self.drop(x))

    @torch.no_grad()
    def evaluate(model, loader):
        for x, y in loader:  # line 16
            model(x)

"""
EVAL_LINE = 16


def _script(main: str, super_call: str = "super()") -> str:
    return textwrap.dedent(NET).format(super_call=super_call) + textwrap.dedent(main)


TRAIN_THEN_EVALUATE = """
    def main(train_loader, val_loader):
        model = {built}
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        evaluate({evaluated}, val_loader)
"""


def _train_then_evaluate(built: str, evaluated: str = "model", super_call: str = "super()"):
    main = TRAIN_THEN_EVALUATE.format(built=built, evaluated=evaluated)
    return _codes(_script(main, super_call))


def test_python2_super_spelling_keeps_the_model_in_training_mode() -> None:
    assert _train_then_evaluate("Net()", super_call="super(Net, self)") == [(EVAL_LINE, "TRN004")]
    assert _train_then_evaluate("Net()", super_call="super()") == [(EVAL_LINE, "TRN004")]


def test_a_model_moved_where_it_is_built_keeps_its_training_mode() -> None:
    assert _train_then_evaluate('Net().to("cpu")') == [(EVAL_LINE, "TRN004")]
    assert _train_then_evaluate("Net().cpu().float()") == [(EVAL_LINE, "TRN004")]


def test_a_model_put_in_eval_mode_where_it_is_passed_is_evaluated_in_eval_mode() -> None:
    assert _train_then_evaluate("Net()", evaluated="model.eval()") == []
    assert _train_then_evaluate("Net()", evaluated='model.eval().to("cpu")') == []
    assert _train_then_evaluate("Net()", evaluated="model.train(False)") == []
    assert _train_then_evaluate("Net()", evaluated="model.train()") == [(EVAL_LINE, "TRN004")]


INFERENCE = """
    def main(val_loader):
        model = {built}
        evaluate(model, val_loader)
"""


def test_a_model_built_in_eval_mode_is_evaluated_in_eval_mode() -> None:
    assert _codes(_script(INFERENCE.format(built="Net().eval()"))) == []
    assert _codes(_script(INFERENCE.format(built='Net().to("cpu").eval()'))) == []
    assert _codes(_script(INFERENCE.format(built="Net().train(False)"))) == []
    assert _codes(_script(INFERENCE.format(built="Net()"))) == [(EVAL_LINE, "TRN004")]
    assert _codes(_script(INFERENCE.format(built="Net().eval().train()"))) == [
        (EVAL_LINE, "TRN004")
    ]


def test_a_mode_set_from_a_flag_is_unknown() -> None:
    main = """
        def main(val_loader, flag):
            model = Net()
            model.train(mode=flag)
            evaluate(model, val_loader)
    """
    assert _codes(_script(main)) == []

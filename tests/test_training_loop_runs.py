"""A loop that trains runs at least once: the code after it sees the state its iterations end
in (and its `break` exits), never the state it was entered with. Loops that do not train keep
the way where they never run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from test_notebooks import _notebook

from lint_train.cli import main
from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


def _line(source: str, text: str, nth: int = 1) -> int:
    """The line of the `nth` line of `source` that holds `text`."""
    found = [i for i, line in enumerate(textwrap.dedent(source).splitlines(), 1) if text in line]
    return found[nth - 1]


TEST_FORWARD = "hits += (model(x)"


# Each epoch trains, then `{ending}`; after the loop, a test under no_grad (TEST_FORWARD) with no
# switch of its own. `switch_off` is a helper of the file that switches to eval mode.
EPOCHS = """
    import torch
    from torch import nn

    def run(train_batches, test_batches):
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(10):
            model.train()
            for x, y in train_batches:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            {ending}
        with torch.no_grad():
            hits = 0
            for x, y in test_batches:
                hits += (model(x).argmax(1) == y).sum().item()
        return hits

    def switch_off(m):
        m.eval()
"""


@pytest.mark.parametrize(
    "ending",
    ["model.eval()", "model.train(False)", "switch_off(model)"],
)
def test_epochs_that_all_end_in_eval_mode_leave_the_final_test_quiet(ending: str) -> None:
    assert _codes(EPOCHS.format(ending=ending)) == []


def test_an_eval_switch_on_some_epochs_only_still_leaves_the_final_test_in_train_mode() -> None:
    source = EPOCHS.format(ending="if epoch % 3 == 0:\n                model.eval()")
    assert _codes(source) == [(_line(source, TEST_FORWARD), "TRN004")]


def test_an_early_stop_before_the_epoch_ends_in_eval_mode_is_still_reported() -> None:
    # `break` leaves the loop in training mode: that way after the loop is a real one.
    ending = "if opt.param_groups[0]['lr'] < 1e-4:\n                break\n            model.eval()"
    source = EPOCHS.format(ending=ending)
    assert _codes(source) == [(_line(source, TEST_FORWARD), "TRN004")]


def test_a_while_loop_that_trains_runs_at_least_once_too() -> None:
    source = EPOCHS.replace("for epoch in range(10):", "while opt.param_groups[0]['lr'] > 0:")
    source = source.replace(
        "opt.step()", "opt.step()\n                opt.param_groups[0]['lr'] -= 0.01"
    )
    assert _codes(source.format(ending="model.eval()")) == []


def test_a_loop_that_does_not_train_keeps_the_way_where_it_never_runs() -> None:
    # A loop over checkpoints that only evaluates: when there are none, the test after it runs
    # on the model as trained, in training mode.
    source = """
        import torch
        from torch import nn

        def run(train_batches, test_batches, checkpoints):
            model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in train_batches:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            for state in checkpoints:
                model.load_state_dict(state)
                model.eval()
            with torch.no_grad():
                for x, y in test_batches:
                    print(model(x).argmax(1))
    """
    assert _codes(source) == [(17, "TRN004")]


def test_a_second_training_phase_after_epochs_that_end_in_eval_mode_is_still_reported() -> None:
    # The mode the first loop's iterations leave reaches the second loop: TRN005 as before.
    source = EPOCHS.format(ending="model.eval()").replace(
        "        with torch.no_grad():\n            hits = 0",
        "        for x, y in train_batches:\n"
        "            opt.zero_grad()\n"
        "            nn.functional.cross_entropy(model(x), y).backward()\n"
        "            opt.step()\n"
        "        with torch.no_grad():\n"
        "            hits = 0",
    )
    # The second loop's training forward.
    assert _codes(source) == [(_line(source, "cross_entropy(model(x), y)", nth=2), "TRN005")]


def test_epochs_that_end_with_grad_disabled_leave_the_final_test_quiet() -> None:
    # Grad mode is part of the state after the loop, as the models' modes are.
    source = """
        import torch
        from torch import nn

        def run(train_batches, test_batches):
            model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for epoch in range(10):
                torch.set_grad_enabled(True)
                model.train()
                for x, y in train_batches:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
                torch.set_grad_enabled(False)
                model.eval()
            for x, y in test_batches:
                print(model(x).argmax(1))
    """
    assert _codes(source) == []


def test_a_notebook_whose_epochs_end_in_eval_mode_tests_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = (
        ("code", "import torch\nfrom torch import nn"),
        (
            "code",
            "model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))\n"
            "opt = torch.optim.Adam(model.parameters())\n"
            "train_batches = [(torch.randn(8, 4), torch.randint(0, 2, (8,)))] * 4\n"
            "test_batches = train_batches[:1]",
        ),
        (
            "code",
            "for epoch in range(5):\n"
            "    model.train()\n"
            "    for x, y in train_batches:\n"
            "        opt.zero_grad()\n"
            "        nn.functional.cross_entropy(model(x), y).backward()\n"
            "        opt.step()\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        for x, y in test_batches:\n"
            "            print(epoch, (model(x).argmax(1) == y).float().mean())",
        ),
        ("markdown", "## Test"),
        (
            "code",
            "with torch.no_grad():\n"
            "    for x, y in test_batches:\n"
            "        print(model(x).argmax(1))",
        ),
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.ipynb").write_text(_notebook(*cells), encoding="utf-8")
    assert main(["--output-format", "json", "train.ipynb"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_helper_that_returns_from_inside_no_grad_leaves_autograd_on_for_its_caller() -> None:
    # `return` inside `with torch.no_grad():` leaves the context: the epoch's test loop after
    # the training loop that calls the helper still runs with autograd on. (Once the training
    # loop runs at least once, only the helper's way out says what grad mode follows it.)
    source = """
        import torch
        from torch import nn

        def batch_accuracy(logits, y):
            with torch.no_grad():
                return (logits.argmax(1) == y).float().mean()

        def run(train_batches, test_batches):
            model = nn.Linear(4, 2)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for epoch in range(10):
                for x, y in train_batches:
                    logits = model(x)
                    print(batch_accuracy(logits, y))
                    opt.zero_grad()
                    nn.functional.cross_entropy(logits, y).backward()
                    opt.step()
                for x, y in test_batches:
                    print(batch_accuracy(model(x), y))
    """
    assert _codes(source) == [(_line(source, "batch_accuracy(model(x), y)"), "TRN003")]


# A method called once per chunk from an epoch loop: it clears the gradients once at its start
# when it accumulates over several micro-batches, or before each micro-batch when there is only
# one; it steps after each micro-batch in the second configuration, after all of them in the
# first. `{clear_first}` is the clear at its start.
MICRO_BATCHES = """
    import torch


    class Learner:
        def __init__(self, net, opt, micro_batches):
            self.net = net
            self.opt = opt
            self.micro_batches = micro_batches

        def fit(self, loader, epochs):
            for _ in range(epochs):
                for chunk in loader:
                    self.update(chunk)

        def update(self, chunk):
            {clear_first}
            for piece in chunk:
                if self.micro_batches == 1:
                    self.net.zero_grad()
                self.net(piece).mean().backward()
                if self.micro_batches == 1:
                    self.opt.step()
            if self.micro_batches > 1:
                self.opt.step()
"""


def test_a_clear_and_a_step_chosen_by_the_accumulation_count_leave_the_call_site_quiet() -> None:
    # The micro-batch loop's ends for `micro_batches > 1` and `micro_batches == 1` meet in the
    # same state after the step; joining them by the conditions they share (none) let a later
    # call take `> 1` false and `== 1` false on gradients stepped by an earlier call, and step
    # them uncleared: a TRN001 at the call.
    source = MICRO_BATCHES.format(
        clear_first="if self.micro_batches > 1:\n                self.net.zero_grad()"
    )
    assert "TRN001" not in {code for _, code in _codes(source)}


def test_no_clear_when_accumulating_over_micro_batches_is_still_reported() -> None:
    source = MICRO_BATCHES.format(clear_first="pass")
    assert (_line(source, "self.update(chunk)"), "TRN001") in _codes(source)

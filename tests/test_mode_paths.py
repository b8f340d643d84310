"""Model modes along paths: ways that stop the script, tests of one flag written two ways,
modes chosen by a caller's argument, and eval mode left behind by evaluation code."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lint_train.engine import lint_source
from lint_train.fix import fix_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


# The mode picked at each epoch's start; the third way is `{other}`. Evaluation at each
# epoch's end sets eval mode. Line 18 is the training forward.
PICKED = """
    import sys
    import torch
    from torch import nn

    def run(args, data, val_data):
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            if args.mode == "finetune":
                model.train()
            elif args.mode == "probe":
                model.eval()
            else:
                {other}
            for x in data:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for x in val_data:
                    model(x)
"""


@pytest.mark.parametrize(
    "other",
    [
        "raise ValueError(args.mode)",
        "assert False, args.mode",
        "assert 0",
        "sys.exit(1)",
        "exit()",
        "quit()",
        "print('unknown mode'); sys.exit('unknown mode')",
    ],
)
def test_a_way_that_stops_the_script_does_not_train_in_eval_mode(other: str) -> None:
    assert _codes(PICKED.format(other=other)) == []


@pytest.mark.parametrize("other", ["pass", "print(args.mode)", "args.mode or sys.exit(1)"])
def test_a_way_that_goes_on_without_a_mode_trains_in_eval_mode(other: str) -> None:
    # `ok or sys.exit(1)` stops only when `ok` is false: the way may go on.
    assert _codes(PICKED.format(other=other)) == [(18, "TRN005")]


def test_the_programs_own_exit_function_is_followed_not_assumed() -> None:
    source = PICKED.format(other="exit()").replace(
        "    def run(", "    def exit():\n        print('bye')\n\n    def run("
    )
    assert _codes(source) == [(21, "TRN005")]


def _with_own(define: str) -> list[tuple[int, str]]:
    """PICKED whose third way calls the file's own `die`, defined as `define`; the lines of
    the findings are counted as in PICKED."""
    source = PICKED.format(other="die(args.mode)").replace(
        "    def run(", f"    {define}\n\n    def run("
    )
    extra = define.count("\n") + 2
    return [(line - extra, code) for line, code in _codes(source)]


@pytest.mark.parametrize(
    "define",
    [
        "def die(message):\n        print(message)\n        sys.exit(1)",
        "def die(message): sys.exit(message)",
        "def die(message):\n        raise SystemExit(message)",
        "def die(message):\n        if message:\n            raise ValueError(message)\n"
        "        else:\n            fail()\n\n    def fail():\n        assert False",
        "def die(message):\n        with open('error.log', 'a') as log:\n"
        "            log.write(message)\n            quit()",
    ],
)
def test_the_files_own_function_that_never_returns_ends_the_way(define: str) -> None:
    assert _with_own(define) == []


@pytest.mark.parametrize(
    "define",
    [
        "def die(message):\n        print(message)",
        "def die(message):\n        if message:\n            sys.exit(1)",
        "def die(message):\n        if not message:\n            return\n        sys.exit(1)",
        "def die(message):\n        raise NotImplementedError",  # a stub, replaced elsewhere
        "def die(message):\n        try:\n            sys.exit(1)\n"
        "        except SystemExit:\n            pass",
        "def die(message):\n        for line in message:\n            sys.exit(line)",
    ],
)
def test_the_files_own_function_that_may_return_leaves_the_way_open(define: str) -> None:
    assert _with_own(define) == [(18, "TRN005")]


# `assert` of a condition: past it, only the ways where it holds go on.
ASSERTED = """
    import torch
    from torch import nn

    def run(args, data, val_data):
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        {check}
        for epoch in range(3):
            if args.probe:
                model.eval()
            for x in data:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for x in val_data:
                    model(x)
"""


def test_an_asserted_condition_ends_the_ways_that_contradict_it() -> None:
    assert _codes(ASSERTED.format(check="assert args.probe, 'only probing here'")) == []


def test_without_the_assert_the_other_way_trains_in_eval_mode() -> None:
    assert _codes(ASSERTED.format(check="pass")) == [(14, "TRN005")]
    assert _codes(ASSERTED.format(check="assert not args.probe")) == [(14, "TRN005")]


# Evaluation whose mode its caller picks (no caller in view): `{pick}` before a loop over data.
PICKED_BY_CALLER = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.2)

        def forward(self, x):
            return self.drop(x)

    @torch.no_grad()
    def test(model, loader, train=False, split="val"):
        {pick}
        for x, y in loader:
            print(model(x).argmax(1).eq(y).sum().item())
"""


@pytest.mark.parametrize(
    "pick",
    [
        "if train == True: model.train()\n        if train == False: model.eval()",
        "if train is True: model.train()\n        if train is False: model.eval()",
        "if train: model.train()\n        if train != True: model.eval()",
        "if not train: model.eval()\n        if train is not False: model.train()",
        "model.train(train)",
        "model.train(mode=train)",
        "if split == 'train': model.train()\n        if split == 'val': model.eval()",
        "if split in ('val', 'test'): model.eval()",
    ],
)
def test_evaluation_in_the_mode_its_callers_argument_picks_is_quiet(pick: str) -> None:
    assert _codes(PICKED_BY_CALLER.format(pick=pick)) == []


@pytest.mark.parametrize("pick", ["pass", "if verbose: print('testing')"])
def test_evaluation_that_leaves_the_mode_to_its_caller_is_still_reported(pick: str) -> None:
    assert _codes(PICKED_BY_CALLER.format(pick=pick)) == [(17, "TRN004")]


# The same evaluation, called after training with the model in train mode: `{call}`.
CALLED = """
    import torch
    from torch import nn

    @torch.no_grad()
    def evaluate(model, loader, set_eval=True, split="val"):
        if set_eval and split != "train":
            model.eval()
        for x, y in loader:
            print(model(x).argmax(1).eq(y).sum().item())

    def main(data, val_data):
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            model.train()
            for x in data:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            {call}
"""


@pytest.mark.parametrize(
    "call",
    [
        "evaluate(model, val_data)",
        "evaluate(model, val_data, True)",
        "evaluate(model, val_data, set_eval=1, split='test')",
    ],
)
def test_constants_the_caller_passes_decide_the_evaluations_mode(call: str) -> None:
    assert _codes(CALLED.format(call=call)) == []


@pytest.mark.parametrize(
    "call",
    [
        "evaluate(model, val_data, set_eval=False)",
        "evaluate(model, val_data, split='train')",
        "evaluate(model, val_data, False, 'val')",
    ],
)
def test_constants_that_skip_the_switch_leave_the_model_in_train_mode(call: str) -> None:
    assert _codes(CALLED.format(call=call)) == [(10, "TRN004")]


def test_a_flag_the_caller_does_not_know_keeps_both_ways() -> None:
    # `flag` is not a constant: the way without the switch may run, in train mode.
    assert _codes(CALLED.format(call="evaluate(model, val_data, set_eval=flag)")) == [
        (10, "TRN004")
    ]


# A model evaluated before training: `{between}` runs between the evaluation and the loop.
BEFORE = """
    import torch
    from torch import nn

    @torch.no_grad()
    def evaluate(model, loader):
        model.eval()
        return sum(model(x).argmax(1).eq(y).sum().item() for x, y in loader)

    def main(data, val_data):
        model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        print(evaluate(model, val_data))
        {between}
        for epoch in range(3):
            for x in data:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
"""


def test_training_after_a_baseline_evaluation_runs_in_eval_mode() -> None:
    assert _codes(BEFORE.format(between="pass")) == [(18, "TRN005")]


@pytest.mark.parametrize(
    "between",
    ["model.train()", "model.train(True)", "model.eval()  # frozen batch-norm, on purpose"],
)
def test_a_mode_the_training_code_sets_itself_is_its_choice(between: str) -> None:
    assert _codes(BEFORE.format(between=between)) == []


def test_a_mode_free_model_is_not_reported_after_a_baseline_evaluation() -> None:
    source = BEFORE.format(between="pass").replace("nn.BatchNorm1d(2)", "nn.ReLU()")
    assert _codes(source) == []


# An agent whose acting method switches to eval mode only while a test flag is up. `{train}`
# starts the training method; `{after_test}` ends the test method. Line 33 is the training
# loop's first statement.
FLAGGED_AGENT = """
    import torch
    from torch import nn

    class Agent:
        def __init__(self):
            self.net = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5))
            self.opt = torch.optim.Adam(self.net.parameters())
            self.testing = False

        @torch.no_grad()
        def act(self, state):
            if self.testing:
                self.net.eval()
            return self.net(state).argmax().item()

        def learn(self, batch):
            self.opt.zero_grad()
            self.net(batch).pow(2).mean().backward()
            self.opt.step()

        def test(self, env):
            self.testing = True
            state = env.reset()
            for _ in range(100):
                state = env.step(self.act(state))
            {after_test}

        def fit(self, env, batches):
            {train}
            state = env.reset()
            for batch in batches:
                state = env.step(self.act(state))
                self.learn(batch)
"""


def test_a_flag_set_before_training_answers_the_test_in_the_method_it_calls() -> None:
    source = FLAGGED_AGENT.format(train="self.testing = False", after_test="pass")
    assert _codes(source) == []


@pytest.mark.parametrize("train", ["self.testing = True", "self.testing = flag"])
def test_a_flag_that_may_be_up_during_training_still_leaves_eval_mode(train: str) -> None:
    source = FLAGGED_AGENT.format(train=train, after_test="pass")
    assert _codes(source) == [(34, "TRN005")]


# TRN005's fix where one statement runs the forward pass and the backward pass: `{line}` is the
# training statement; the validation `{where}` leaves eval mode behind.
ONE_STATEMENT = """
    import torch
    from torch import nn

    @torch.no_grad()
    def evaluate(model, loader):
        model.eval()
        return sum(model(x).argmax(1).eq(y).sum().item() for x, y in loader)

    def main(data, val_data):
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
        criterion = nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        for epoch in range(3):
            for step, (x, y) in enumerate(data):
                opt.zero_grad()
                {line}
                opt.step()
                {inside}
            {after}
"""


@pytest.mark.parametrize(
    ("line", "inside", "after", "message", "inserted"),
    [
        (
            "criterion(model(x), y).backward()",
            "pass",
            "evaluate(model, val_data)",
            "insert `model.train()` before `for step, (x, y) in enumerate(data):`",
            "        model.train()\n        for step, (x, y) in enumerate(data):",
        ),
        (
            "nn.functional.cross_entropy(model(x), y).backward()",
            "if step % 100 == 0: evaluate(model, val_data)",
            "pass",
            "insert `model.train()` before `nn.functional.cross_entropy(model(x), y).backward()`",
            "            model.train()\n            nn.functional.cross_entropy(model(x), y)",
        ),
    ],
)
def test_a_forward_and_backward_in_one_statement_get_train_mode_before_it(
    line: str, inside: str, after: str, message: str, inserted: str
) -> None:
    source = textwrap.dedent(ONE_STATEMENT.format(line=line, inside=inside, after=after))
    (finding,) = lint_source(source)
    assert (finding.code, finding.fix_message) == ("TRN005", message)
    outcome = fix_source(source, unsafe=True)
    assert outcome.after is not None, outcome.rejected
    ast.parse(outcome.after)
    assert inserted in outcome.after
    assert [f.code for f in lint_source(outcome.after)] == []


# The mode picked once, before the epoch loop; evaluation at each epoch's end leaves eval mode
# (`{after}` follows it). Line 14 is the training forward (`{other}` counted as one line).
PICKED_BEFORE = """
    import torch
    from torch import nn

    def run(args, data, val_data):
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        if args.freeze:
            model.eval()
        {other}
        for epoch in range(3):
            for x in data:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for x in val_data:
                    model(x)
            {after}
"""


def _picked_before(other: str = "else:\n            model.train()", after: str = "pass") -> list:
    source = PICKED_BEFORE.format(other=other, after=after)
    extra = other.count("\n")
    return [(line - extra, code) for line, code in _codes(source)]


def test_a_mode_picked_before_the_epochs_is_judged_on_each_way() -> None:
    # Frozen, eval mode is the choice on every epoch; not frozen, every epoch after the first
    # trains in the eval mode the evaluation left: that way is reported.
    assert _picked_before() == [(14, "TRN005")]
    assert _picked_before(other="pass") == [(14, "TRN005")]


@pytest.mark.parametrize(
    "after",
    [
        "if not args.freeze:\n                model.train()",
        "model.train(not args.freeze)",
        "if args.freeze:\n                model.eval()\n"
        "            else:\n                model.train()",
    ],
)
def test_a_mode_picked_before_the_epochs_and_restored_after_evaluation_is_quiet(
    after: str,
) -> None:
    assert _picked_before(after=after) == []


def test_evaluation_helper_called_in_the_epoch_loop_is_no_training_forward() -> None:
    """`predict()` sets eval mode and runs the model with autograd on, inside the epoch loop
    that trains through `fit()`; `fit()` sets train mode itself. The forward in `predict` is
    evaluation (TRN003), not training in eval mode (TRN005)."""
    source = """
        import torch
        from torch import nn

        def fit(model, criterion, opt, x, y):
            model.train()
            opt.zero_grad()
            cost = criterion(model(x), y)
            cost.backward()
            opt.step()

        def predict(model, x):
            model.eval()
            return model(x).argmax(1)

        def main(batches, x_val):
            model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.2))
            opt = torch.optim.Adam(model.parameters())
            for epoch in range(10):
                for x, y in batches:
                    fit(model, nn.CrossEntropyLoss(), opt, x, y)
                labels = predict(model, x_val)
    """
    assert _codes(source) == [(14, "TRN003")]
    without = source.replace("            model.train()\n", "")
    assert _codes(without) == [(13, "TRN003"), (20, "TRN005")]


def test_two_tests_of_one_comparison_written_both_ways_are_one_condition() -> None:
    """`if opt is not None: opt.zero_grad()` ... `if opt is None: <update elsewhere>` else
    `opt.step()`: the step runs only where the clear did; no path steps uncleared."""
    source = textwrap.dedent("""
        import torch
        import helpers
        def train(net, data, params=None, optimizer=None):
            for x, y in data:
                loss = ((net(x) - y) ** 2).mean()
                if optimizer is not None:
                    optimizer.zero_grad()
                loss.backward()
                if optimizer is None:
                    helpers.sgd(params)
                else:
                    optimizer.step()
        net = torch.nn.Linear(2, 1)
        train(net, [], list(net.parameters()))
    """)
    assert [(f.line, f.code) for f in lint_source(source)] == []
    swapped = source.replace("optimizer is not None", "optimizer is None", 1)
    assert (13, "TRN001") in [(f.line, f.code) for f in lint_source(swapped)]


# Not a fixture: at runtime the probe sees a training forward in eval mode whose backward fed
# an optimizer step (it cannot tell that the step updates only the perturbation), so static
# and runtime verdicts would differ; see docs/verify.md's known limits.
PERTURBATION = '''"""An adversarial perturbation is trained through a model that was
trained, evaluated, then kept frozen in eval mode on purpose: the optimizer holds only the
perturbation, so the model's weights are not trained and eval mode is what the attack wants."""

import torch
from torch import nn


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))


def make_data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(320, 8, generator=gen)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 320, 32)]
    return batches[:8], batches[8:]


def accuracy(model, batches):
    model.eval()
    with torch.no_grad():
        hits = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
    return hits / sum(len(y) for _, y in batches)


def learn_perturbation(model, batches, target, epochs=5):
    delta = nn.Parameter(torch.zeros(8))
    optimizer = torch.optim.SGD([delta], lr=0.1)
    for epoch in range(epochs):
        for x, _ in batches:
            wanted = torch.full((len(x),), target)
            loss = nn.functional.cross_entropy(model(x + delta), wanted)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: attack loss {loss.item():.3f}")
    return delta.detach()


def main():
    model = make_model()
    train_batches, val_batches = make_data()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(5):
        model.train()
        for x, y in train_batches:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        print(f"epoch {epoch}: accuracy {accuracy(model, val_batches):.2f}")
    for p in model.parameters():
        p.requires_grad_(False)
    learn_perturbation(model, train_batches, target=2)


if __name__ == "__main__":
    main()
'''


def test_an_input_trained_through_a_model_left_in_eval_mode_is_not_reported() -> None:
    """The optimizer holds only a perturbation its function makes itself: the model is not
    trained, so the eval mode its evaluation left is not reported. Once the optimizer holds
    the model's parameters too, it is."""
    source = PERTURBATION
    assert _codes(source) == []
    both = source.replace("SGD([delta]", "SGD([delta, *model.parameters()]")
    assert both != source
    assert _codes(both) == [(35, "TRN005")]

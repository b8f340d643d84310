"""Which objects are torch models (issue 11, family A): a plain function is none, and a model
that a function builds for itself and never trains, loads or hands on is no trained model to
evaluate. Each quiet shape has a flagged twin one change away."""

from __future__ import annotations

import textwrap
from pathlib import Path

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


# An accuracy helper given `net` by its caller; line 18 is its forward pass.
HELPER = """
    import functools
    import torch
    import torch.nn.functional as F
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))

    def linreg(X, w, b):
        return X @ w + b

    def wrapped(X):
        return model(X)

    def evaluate_accuracy(batches, net):
        right = 0.0
        for X, y in batches:
            right += (net(X).argmax(dim=1) == y).sum().item()
        return right

    def main(batches, w, b):
        {setup}
        print(evaluate_accuracy(batches, {given}))
"""
FORWARD = 18
BOTH = [(FORWARD, "TRN003"), (FORWARD, "TRN004")]


def _helper(given: str, setup: str = "pass") -> list[tuple[int, str]]:
    return _codes(HELPER.format(given=given, setup=setup))


# The knowledge table's entries for plain functions, each proven in tests/test_knowledge.py:
# with the entry the helper's `net` is a function; without it, a model.
FUNCTION_CASES = {
    "torch.nn.functional.*": (HELPER.format(given="F.softmax", setup="pass"), []),
    "functools.partial": (HELPER.format(given="functools.partial(linreg, w=w, b=b)", setup=""), []),
}


def test_a_function_given_as_net_is_no_model() -> None:
    assert _helper("linreg") == []
    assert _helper("lambda X: linreg(X, w, b)") == []
    assert _helper("functools.partial(linreg, w=w, b=b)") == []
    assert _helper("F.softmax") == []
    assert _helper("max") == []  # a builtin


def test_a_module_given_as_net_is_still_evaluated() -> None:
    assert _helper("model") == BOTH
    assert _helper("nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.3))") == BOTH


def test_a_name_bound_to_a_function_in_the_caller_is_no_model() -> None:
    assert _helper("net", setup="net = lambda X: linreg(X, w, b)") == []
    assert _helper("net", setup="net = functools.partial(linreg, w=w, b=b)") == []
    assert _helper("net", setup="net = linreg") == []
    # Bound to a function on one way and to the module on the other: maybe a model.
    either = "net = linreg if w is None else model"
    assert _helper("net", setup=either) == BOTH


def test_the_files_own_function_given_as_net_runs_its_code() -> None:
    # `wrapped` is followed: the module it runs is evaluated where the helper calls `net`.
    found = _codes(HELPER.format(given="wrapped", setup="pass"))
    assert found == BOTH


def test_callers_that_give_a_function_and_a_module_report_the_module() -> None:
    source = HELPER.format(given="model", setup="evaluate_accuracy(batches, linreg)")
    assert _codes(source) == BOTH
    source = HELPER.format(given="linreg", setup="evaluate_accuracy(batches, linreg)")
    assert _codes(source) == []


def test_a_parameter_with_no_caller_in_view_is_judged_as_before() -> None:
    source = """
        import torch

        def evaluate_accuracy(batches, net):
            right = 0.0
            for X, y in batches:
                right += (net(X).argmax(dim=1) == y).sum().item()
            return right
    """
    assert _codes(source) == [(7, "TRN003"), (7, "TRN004")]


def test_a_partial_of_a_class_is_still_a_factory() -> None:
    # `partial(Net, ...)` builds when called: no forward pass; and the parameter `net` of
    # another function is not judged by it.
    source = """
        import functools
        import torch
        from torch import nn

        def evaluate(batches, net):
            for x, y in batches:
                print(net(x).argmax(1))

        def main(batches):
            net = functools.partial(nn.Sequential, nn.Linear(4, 2))
            evaluate(batches, net)
            {call}
    """
    assert _codes(source.format(call="pass")) == []
    module = "evaluate(batches, nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.3)))"
    assert _codes(source.format(call=module)) == [(8, "TRN003"), (8, "TRN004")]


# A function that builds a model and runs it on made-up input; line 18 is the forward pass.
SMOKE = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, hidden=8):
            super().__init__()
            self.fc = nn.Linear(4, hidden)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(self.fc(x))

    def test({params}):
        net = {built}
        {line}
        for x in [torch.randn(2, 4)]:
            print(net(x).size())
"""
SMOKE_FORWARD = 18
SMOKE_BOTH = [(SMOKE_FORWARD, "TRN003"), (SMOKE_FORWARD, "TRN004")]


def _smoke(line: str = "pass", built: str = "Net()", params: str = "") -> list[tuple[int, str]]:
    return _codes(SMOKE.format(line=line, built=built, params=params))


def test_a_model_built_and_run_once_is_a_smoke_check() -> None:
    assert _smoke() == []
    assert _smoke(built="Net(hidden=16).to('cpu')") == []
    assert _smoke(built="nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.2))") == []
    assert _smoke(line="print(net, sum(p.numel() for p in net.parameters()))") == []
    assert _smoke(line="net = net.to('cpu')") == []


def test_a_model_loaded_before_it_runs_is_evaluated() -> None:
    assert _smoke(line="net.load_state_dict(torch.load('net.pt'))") == SMOKE_BOTH
    assert _smoke(line="net.fc.weight.data.copy_(torch.ones(8, 4))") == SMOKE_BOTH
    assert _smoke(line="net.fc.weight = nn.Parameter(torch.ones(8, 4))") == SMOKE_BOTH
    # Bound again to what `torch.load` returns: a model of unknown mode, grad still on.
    assert _smoke(line="net = torch.load('net.pt')") == [(SMOKE_FORWARD, "TRN003")]


def test_a_model_asking_for_pretrained_weights_is_evaluated() -> None:
    source = """
        import torch
        import torchvision

        def test(images):
            net = torchvision.models.resnet18({weights})
            for x in images:
                print(net(x).argmax(1))
    """
    assert _codes(source.format(weights="")) == []
    assert _codes(source.format(weights="pretrained=True")) == [(8, "TRN003"), (8, "TRN004")]
    assert _codes(source.format(weights="weights='DEFAULT'")) == [(8, "TRN003"), (8, "TRN004")]
    assert _codes(source.format(weights="weights=None")) == []


def test_a_model_handed_on_or_given_a_model_may_be_trained() -> None:
    assert _smoke(line="restore(net)") == [(SMOKE_FORWARD, "TRN003")]  # its mode is unknown
    assert _smoke(line="other = net") == SMOKE_BOTH
    assert _smoke(line="net.fit(torch.randn(2, 4))") == SMOKE_BOTH
    assert _smoke(built="Net(model)", params="model") == SMOKE_BOTH


def test_a_function_that_builds_and_trains_its_model_is_unaffected() -> None:
    source = """
        import torch
        from torch import nn

        def main(train_loader, val_loader):
            net = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5))
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            for x, y in train_loader:
                opt.zero_grad()
                net(x).sum().backward()
                opt.step()
            for x, y in val_loader:
                print(net(x).argmax(1))
    """
    assert _codes(source) == [(13, "TRN003"), (13, "TRN004")]


def test_names_unpacked_from_a_tuple_of_functions_are_no_model() -> None:
    assert _helper("net", setup="net, loss = linreg, abs") == []
    assert _helper("net", setup="loss, net = abs, lambda X: linreg(X, w, b)") == []
    # Unpacked from a tuple that holds the module at that place, or from a call: maybe a model.
    assert _helper("net", setup="loss, net = linreg, model") == BOTH
    assert _helper("net", setup="net, loss = make(), abs") == BOTH


# A project: a helper module with a function and a model, and a script that gives one of
# them to `evaluate_loss` of another module (line 7 of run.py is the call).
PROJECT_RUN = """\
import torch
from kit.model import linreg, trained
from kit.loop import evaluate_loss


def main(batches, w, b):
    print(evaluate_loss({given}, batches, w, b))
"""
PROJECT_FILES = {
    "kit/__init__.py": "",
    "kit/model.py": (
        "from torch import nn\n\n\ndef linreg(X, w, b):\n    return X @ w + b\n\n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.drop = nn.Dropout(0.5)\n\n    def forward(self, X, w, b):\n"
        "        return self.drop(X @ w + b)\n\n\ntrained = Net()\n"
    ),
    "kit/loop.py": (
        "def evaluate_loss(net, batches, w, b):\n    total = 0.0\n    for X, y in batches:\n"
        "        total += ((net(X, w, b) - y) ** 2).mean().item()\n    return total\n"
    ),
}


def _project(tmp_path: Path, given: str) -> list[tuple[int, str]]:
    from lint_train.engine import lint_paths

    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    for name, text in PROJECT_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "run.py").write_text(PROJECT_RUN.format(given=given), encoding="utf-8")
    return sorted((f.line, f.code) for f in lint_paths([str(tmp_path / "run.py")]).findings)


def test_a_function_of_another_project_module_given_as_net_is_no_model(tmp_path: Path) -> None:
    assert _project(tmp_path, "linreg") == []


def test_a_module_of_another_project_module_given_as_net_is_evaluated(tmp_path: Path) -> None:
    assert _project(tmp_path, "trained") == [(7, "TRN003"), (7, "TRN004")]

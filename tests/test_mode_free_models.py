"""Models that train and eval mode compute alike, and models whose mode is already eval, are no
TRN004 (issue 11, A: mode sensitivity is judged per object, by what it is built from). The
shapes were found on the fourth held-out set; each is proven here in both directions: the
mode-free (or already evaluated) model is left alone, and the same code with dropout, or
without the `eval()`, is still reported."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from lint_train.analysis import knowledge as kn
from lint_train.analysis.program import build_program
from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


# A module whose constructor computes a buffer with a numeric library, trained, then
# evaluated without `eval()` (TRN004 at line 27 unless the library is known to build no layer).
ARRAY_BUFFER = """
    import torch
    import numpy
    import scipy.signal
    import pandas
    import librosa.filters


    class Filterbank(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("basis", torch.as_tensor({call}))
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) @ self.basis


    model = Filterbank()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in data:
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    with torch.no_grad():
        for x in val_loader:
            print(model(x).argmax(1))
"""

# A module wrapped by a call the table knows, trained, then evaluated without `eval()`
# (TRN004 at line 16 when what is wrapped is mode-sensitive).
WRAPPED = """
    import torch
    import torch.nn.utils
    import torch.nn.utils.parametrizations
    import pyro

    model = {model}
    part = {call}
    opt = torch.optim.SGD(part.parameters(), lr=0.1)
    for x in data:
        opt.zero_grad()
        part(x).sum().backward()
        opt.step()
    with torch.no_grad():
        for x in val_loader:
            print(part(x).argmax(1))
"""
DROPPING = "torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))"
PLAIN = "torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh())"

# Pyro lifts a network's weights to random variables; each sample is a copy of the network.
LIFTED = """
    import torch
    import pyro

    net = {model}
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for x in data:
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    lifted_module = pyro.random_module("module", net, priors)
    with torch.no_grad():
        for x in val_loader:
            sampled_model = lifted_module()
            print(sampled_model(x).argmax(1))
"""

# Every entry added for these shapes, with a snippet whose verdict depends on it (see
# tests/test_knowledge.py, which checks each with and without the entry).
MODE_FREE_CASES: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "numpy.*": (ARRAY_BUFFER.format(call="numpy.eye(2)"), []),
    "scipy.*": (ARRAY_BUFFER.format(call="scipy.signal.get_window('hann', 2)"), []),
    "pandas.*": (ARRAY_BUFFER.format(call="pandas.DataFrame([[1.0, 0.0], [0.0, 1.0]])"), []),
    "librosa.*": (ARRAY_BUFFER.format(call="librosa.filters.mel(sr=8000, n_fft=2, n_mels=2)"), []),
    "torch.nn.utils.weight_norm": (
        WRAPPED.format(model=DROPPING, call="torch.nn.utils.weight_norm(model)"),
        [(16, "TRN004")],
    ),
    "torch.nn.utils.parametrizations.weight_norm": (
        WRAPPED.format(model=DROPPING, call="torch.nn.utils.parametrizations.weight_norm(model)"),
        [(16, "TRN004")],
    ),
    "pyro.random_module": (LIFTED.format(model=PLAIN), []),
}


# Shape 1: models with no mode-sensitive layer ----------------------------------------------


def test_a_weight_normed_module_is_as_sensitive_as_what_it_wraps() -> None:
    source = WRAPPED.format(model=PLAIN, call="torch.nn.utils.weight_norm(model)")
    assert _codes(source) == []


def test_a_lifted_module_with_dropout_is_still_reported() -> None:
    assert _codes(LIFTED.format(model=DROPPING)) == [(14, "TRN004")]


def test_a_numeric_library_does_not_hide_a_dropout_layer() -> None:
    source = ARRAY_BUFFER.format(call="numpy.eye(2)").replace(
        "self.fc = torch.nn.Linear(2, 2)", "self.fc = torch.nn.Dropout(0.2)"
    )
    assert _codes(source) == [(27, "TRN004")]


# An agent's network: layers appended to a list in a loop, then wrapped in `nn.Sequential`.
LISTED = """
    import torch
    import torch.nn as nn


    class Mlp(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = []
            for width in sizes:
                layer = nn.Linear(width, width)
                self.layers.append(layer)
                self.layers.append({extra})
            self.layers += [nn.Linear(sizes[-1], 1)]
            self.layers = nn.Sequential(*self.layers)

        def forward(self, x):
            return self.layers(x)

        def restore(self, path):
            self.load_state_dict(torch.load(path))


    def fit(model, opt, batches, val_batches):
        for x, y in batches:
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
        with torch.no_grad():
            for x, y in val_batches:
                print(model(x).argmax(1))
"""


def test_a_sequential_of_layers_listed_in_a_loop_is_judged_by_them() -> None:
    assert _codes(LISTED.format(extra="nn.ReLU()")) == []


def test_a_sequential_of_listed_layers_with_dropout_is_reported() -> None:
    assert _codes(LISTED.format(extra="nn.Dropout(0.3)")) == [(31, "TRN004")]


def test_a_list_that_holds_a_model_given_from_outside_is_unknown() -> None:
    source = LISTED.replace("def __init__(self, sizes):", "def __init__(self, sizes, backbone):")
    source = source.replace("self.layers = []", "self.layers = [backbone]")
    assert _codes(source.format(extra="nn.ReLU()")) == [(31, "TRN004")]


def test_loading_a_state_dict_builds_no_layer() -> None:
    effect = kn.method("any", "load_state_dict")
    assert effect is not None and effect.takes_state
    program = build_program(cst.parse_module(textwrap.dedent(LISTED.format(extra="nn.ReLU()"))))
    assert program.mode_sensitive("fit:model") is False


# An object of the file's own plain class holding an embedding table.
HELD = """
    import torch
    import torch.nn as nn


    class Ensemble:
        def __init__(self, n):
            self.learners = []
            self.embeddings = {table} if n else None

        def to_cuda(self):
            self.embeddings = self.embeddings.cuda()


    ensemble = Ensemble(3)
    opt = torch.optim.SGD(ensemble.embeddings.parameters(), lr=0.1)
    for x in data:
        opt.zero_grad()
        ensemble.embeddings(x).sum().backward()
        opt.step()
    with torch.no_grad():
        for x in val_loader:
            print(ensemble.embeddings(x).argmax(1))
"""


def test_an_attribute_is_judged_by_what_its_class_builds_into_it() -> None:
    program = build_program(
        cst.parse_module(textwrap.dedent(HELD.format(table="nn.Embedding(9, 2)")))
    )
    assert program.mode_sensitive("ensemble.embeddings") is False
    dropping = HELD.format(table="nn.Sequential(nn.Embedding(9, 2), nn.Dropout(0.1))")
    assert build_program(cst.parse_module(textwrap.dedent(dropping))).mode_sensitive(
        "ensemble.embeddings"
    )


def test_an_attribute_set_from_outside_the_class_is_not_judged_by_the_class() -> None:
    source = textwrap.dedent(HELD.format(table="nn.Embedding(9, 2)")).replace(
        "ensemble = Ensemble(3)\n",
        'ensemble = Ensemble(3)\nensemble.embeddings = torch.load(p)["emb"]\n',
    )
    program = build_program(cst.parse_module(source))
    assert program.mode_sensitive("ensemble.embeddings") is True


# A notebook that rebinds `net` from cell to cell: a function defined after the last plain
# rebinding sees only that object (or a later one).
REBOUND = """
    import torch
    import pyro

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    net = {last}

    def guide():
        lifted_module = pyro.random_module("module", net, priors)
        return lifted_module()
"""


@pytest.mark.parametrize(
    ("last", "sensitive"),
    [
        ("torch.nn.Linear(2, 2)", False),
        ("torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))", True),
    ],
)
def test_a_module_level_binding_overwritten_before_the_use_is_not_judged(
    last: str, sensitive: bool
) -> None:
    program = build_program(cst.parse_module(textwrap.dedent(REBOUND.format(last=last))))
    assert program.mode_sensitive("guide:lifted_module") is sensitive


def test_a_rebinding_in_a_branch_overwrites_nothing() -> None:
    source = textwrap.dedent(REBOUND.format(last="torch.nn.Linear(2, 2)")).replace(
        "net = torch.nn.Linear", "if small:\n    net = torch.nn.Linear"
    )
    program = build_program(cst.parse_module(source))
    assert program.mode_sensitive("guide:lifted_module") is True


# Shape 3: a shape check through the file's factory function ------------------------------

SMOKE = (
    Path(__file__).resolve().parent.parent / "fixtures" / "quiet" / "smoke_check_through_factory.py"
)


def test_a_smoke_check_through_a_factory_that_only_constructs_is_quiet() -> None:
    assert _codes(SMOKE.read_text(encoding="utf-8")) == []


def test_a_factory_that_loads_weights_makes_the_check_an_evaluation() -> None:
    source = SMOKE.read_text(encoding="utf-8").replace(
        "    return ResidualNet(6, width=32)",
        "    net = ResidualNet(6, width=32)\n"
        "    net.load_state_dict(torch.load('deep.pt'))\n"
        "    return net",
    )
    assert "TRN004" in {code for _, code in _codes(source)}


def test_a_factory_returning_a_trained_model_is_no_constructor() -> None:
    source = SMOKE.read_text(encoding="utf-8").replace(
        "    return ResidualNet(6, width=32)", "    return torch.load('deep.pt')"
    )
    assert "TRN004" in {code for _, code in _codes(source)}


# Shape 2: a model returned by the file's helper after `.eval()` ----------------------------

LOADER_SOURCE = '''"""A prediction script loads the trained weights through its own helper,
`load_model()`, which builds the network, restores the state, moves it to the device and
returns it, all in a `try:` block that turns a missing file into a clear error. Nothing puts
it in eval mode, so the predictions run with dropout active and batch-norm on batch statistics."""

import torch
from torch import nn


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2)
    )


def make_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(192, 8, generator=g)
    y = (x.sum(1) > 0).long()
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 192, 32)]
    return batches[:4], batches[4:]


def load_model(state, device):
    try:
        model = make_model()
        model.load_state_dict(state)
        model.to(device)
    except RuntimeError as error:
        raise SystemExit(f"the checkpoint does not fit the model: {error}")
    return model


def train(train_batches):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in train_batches:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.state_dict()


def main():
    train_batches, val_batches = make_data()
    state = train(train_batches)
    model = load_model(state, "cpu")
    labels = []
    with torch.no_grad():
        for x, _ in val_batches:
            labels.append(model(x).argmax(1))  # expect: TRN004
    print(torch.cat(labels).tolist())


if __name__ == "__main__":
    main()
'''
FORGOT = [(52, "TRN004")]


@pytest.mark.parametrize(
    ("switch", "expected"),
    [
        ("model.eval()", []),
        ("model.to(device).eval()", []),
        ("model.eval()\n        model.train()", FORGOT),  # switched back before returning
        ("teacher.eval()", FORGOT),  # another object's mode: the model stays fresh
    ],
)
def test_the_mode_a_helper_leaves_reaches_its_caller(
    switch: str, expected: list[tuple[int, str]]
) -> None:
    source = LOADER_SOURCE.replace(
        "        model.to(device)\n", f"        model.to(device)\n        {switch}\n"
    )
    # The inserted lines move the evaluation down.
    moved = [(line + switch.count("\n") + 1, code) for line, code in expected]
    assert _codes(source) == moved


def test_the_helper_without_a_switch_leaves_a_fresh_model() -> None:
    assert _codes(LOADER_SOURCE) == FORGOT


def test_an_attribute_set_from_outside_in_a_function_is_not_judged_by_the_class() -> None:
    body = textwrap.dedent(HELD.format(table="nn.Embedding(9, 2)"))
    head, _, loop = body.partition("ensemble = Ensemble(3)\n")
    source = (
        head
        + "def main(p):\n"
        + textwrap.indent(
            'ensemble = Ensemble(3)\nensemble.embeddings = torch.load(p)["emb"]\n' + loop, "    "
        )
    )
    program = build_program(cst.parse_module(source))
    assert program.mode_sensitive("main:ensemble.embeddings") is True

"""Names that hold `None` until a loader builds the network (see analysis/absent.py): a path on
which the name still holds `None` runs no model, and a loader method that builds the network
and switches it to eval mode leaves it so for the methods called after it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lint_train.engine import lint_paths, lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


# A feature extractor whose encoder exists only once `attach` ran; `{attach}` is its body
# after the network is built. `main` attaches it only when asked. Line 31 is the forward.
SCORER = """
    import torch
    from torch import nn


    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 3), nn.BatchNorm1d(3))

        def forward(self, x):
            return self.body(x)


    class Scorer:
        def __init__(self, use_features):
            self.use_features = use_features
            self.encoder = None

        def attach(self, state):
            if self.encoder is None:
                self.encoder = Encoder()
            self.encoder.load_state_dict(state)
            {attach}

        @torch.no_grad()
        def test(self, batches):
            found = []
            for x in batches:
                if self.use_features:
                    x = self.encoder(x)
                found.append(x.sum().item())
            return found


    def main(state, batches, use_features):
        scorer = Scorer(use_features)
        if use_features and state is not None:
            scorer.attach(state)
        return scorer.test(batches)


    if __name__ == "__main__":
        main(None, [torch.randn(4, 6)], False)
"""


def test_network_switched_to_eval_by_its_loader_or_still_none_is_quiet() -> None:
    assert _codes(SCORER.format(attach="self.encoder.eval()")) == []


def test_network_its_loader_leaves_in_training_mode_is_reported() -> None:
    assert _codes(SCORER.format(attach="pass")) == [(31, "TRN004")]


def test_network_bound_in_a_way_not_followed_is_no_longer_taken_for_none() -> None:
    # `self.encoder = self.pool[0]`: a model the analysis does not follow, whose mode nothing
    # set on the way to the evaluation (`freeze` is never called): it is reported as before.
    source = SCORER.format(attach="pass").replace(
        "self.encoder = Encoder()", "self.encoder = self.pool[0]"
    )
    source = source.replace(
        "self.encoder = None",
        "self.encoder = None\n            self.pool = [Encoder()]",
    ).replace(
        "    @torch.no_grad()",
        "    def freeze(self):\n            self.encoder.eval()\n\n        @torch.no_grad()",
    )
    assert _codes(source) == [(35, "TRN004")]


@pytest.mark.parametrize("where", ["module", "function"])
def test_model_loaded_only_when_asked_and_evaluated_only_then_is_quiet(where: str) -> None:
    body = """
        model = None
        if args.checkpoint:
            model = Net()
            model.load_state_dict(torch.load(args.checkpoint))
            model.eval()
        if model is not None:
            with torch.no_grad():
                for x in val_batches:
                    print(model(x).argmax(1))
    """
    head = """
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5))

            def forward(self, x):
                return self.body(x)
    """
    body = textwrap.dedent(body)
    if where == "function":
        source = (
            textwrap.dedent(head)
            + "\n\ndef main(args, val_batches):\n"
            + textwrap.indent(body, "    ")
        )
    else:
        source = textwrap.dedent(head) + "\nargs, val_batches = object(), []\n" + body
    assert _codes(source) == []
    # The same without `model.eval()` is reported.
    assert [code for _, code in _codes(source.replace("model.eval()", "pass"))] == ["TRN004"]


# The class in another module of the project; `{bind}` is what the script does after making it.
HELD = """
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 3), nn.BatchNorm1d(3))

    def forward(self, x):
        return self.body(x)


class Scorer:
    def __init__(self):
        self.encoder = None

    def attach(self, state):
        self.encoder = Encoder()
        self.encoder.load_state_dict(state)
        self.encoder.eval()

    def test(self, batches):
        with torch.no_grad():
            return [self.encoder(x).sum().item() for x in batches]
"""
SCRIPT = """import torch
from scorer import Scorer, Encoder


def main(state, batches, attach):
    scorer = Scorer()
    if attach:
        scorer.attach(state)
    {bind}
    print(scorer.test(batches))


if __name__ == "__main__":
    main(None, [torch.randn(4, 6)], False)
"""


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("pass", []),
        # The script binds the network itself, to a model whose mode nothing set: the `None`
        # the constructor left is gone, and the evaluation is judged as before.
        ("scorer.encoder = [Encoder()][0]", [(10, "TRN004")]),
    ],
)
def test_none_left_by_a_constructor_of_another_module(
    bind: str, expected: list[tuple[int, str]], tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "scorer.py").write_text(HELD, encoding="utf-8")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(bind=bind), encoding="utf-8")
    found = lint_paths([str(tmp_path)]).findings
    assert sorted((f.line, f.code) for f in found if f.path.endswith("run.py")) == expected

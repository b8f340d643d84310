"""A wrapper object whose constructor puts the model it is given (or builds) in eval mode: its
methods then run the model in eval mode, and the model given is the caller's own, so the
caller's model is in eval mode too. Built directly, by a factory of the file, or with a flag
(`is_eval=True`) that the constructor tests. Each quiet shape has a flagged twin one change
away. (The cross-module forms are fixtures/projects/wrapper_*_elsewhere.)"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lint_train.engine import lint_paths, lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


WRAPPER = """
    import torch
    from torch import nn


    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(6, 12), nn.Dropout(0.3), nn.Linear(12, 4))

        def forward(self, x):
            return self.layers(x)


    class Labeller:
        def __init__(self, net):
            self.net = net
            {switch}

        def predict(self, x):
            with torch.no_grad():
                return self.net(x).argmax(1)


    def make_labeller(net):
        return Labeller(net)


    def evaluate(model, batches):
        hits = 0
        with torch.no_grad():
            for x, y in batches:
                hits += (model(x).argmax(1) == y).sum().item()
        return hits


    def main():
        tagger = Tagger()
        opt = torch.optim.SGD(tagger.parameters(), lr=0.1)
        batches = [(torch.randn(3, 6), torch.tensor([0, 1, 2]))]
        for x, y in batches:
            opt.zero_grad()
            nn.functional.cross_entropy(tagger(x), y).backward()
            opt.step()
        {use}


    if __name__ == "__main__":
        main()
"""
PREDICT_LINE = 22
EVALUATE_LINE = 33

USES = {
    "built directly": "labeller = Labeller(tagger)\n"
    "        print([labeller.predict(x) for x, _ in batches], evaluate(tagger, batches))",
    "built by a factory": "labeller = make_labeller(tagger)\n"
    "        print([labeller.predict(x) for x, _ in batches], evaluate(tagger, batches))",
}


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
def test_a_wrapper_that_sets_eval_in_its_constructor_leaves_the_model_in_eval(use: str) -> None:
    # Both in the wrapper's method and for the caller's own name for the model.
    assert _codes(WRAPPER.format(switch="self.net.eval()", use=use)) == []


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
def test_a_wrapper_that_never_sets_eval_leaves_the_model_in_training(use: str) -> None:
    assert _codes(WRAPPER.format(switch="pass", use=use)) == [
        (PREDICT_LINE, "TRN004"),
        (EVALUATE_LINE, "TRN004"),
    ]


def test_a_wrapper_given_another_model_leaves_the_caller_s_own_in_training() -> None:
    use = "labeller = Labeller(Tagger())\n        print(evaluate(tagger, batches), labeller)"
    assert _codes(WRAPPER.format(switch="self.net.eval()", use=use)) == [(EVALUATE_LINE, "TRN004")]


FLAGGED = """
    import torch
    from torch import nn


    class Half(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.3))

        def forward(self, x):
            return self.layers(x)


    class Pair:
        def __init__(self, path=None, is_eval=False):
            encoder = Half()
            decoder = Half()
            if is_eval:
                encoder = encoder.eval()
                decoder = decoder.eval()
            self.encoder = encoder
            self.decoder = decoder
            if path is not None:
                self.encoder.load_state_dict(torch.load(path))


    class Checker:
        def __init__(self, path):
            self.model = Pair(path{flag})

        def evaluate(self, batches):
            total = 0.0
            with torch.no_grad():
                for x in batches:
                    total += self.model.decoder(self.model.encoder(x)).sum().item()
            return total


    if __name__ == "__main__":
        checker = Checker("pair.pt")
        print(checker.evaluate([torch.randn(2, 6)]))
"""


def test_a_constructor_told_to_set_eval_leaves_its_models_in_eval() -> None:
    assert _codes(FLAGGED.format(flag=", is_eval=True")) == []


@pytest.mark.parametrize("flag", ["", ", is_eval=False"])
def test_a_constructor_left_in_training_leaves_its_models_in_training(flag: str) -> None:
    assert _codes(FLAGGED.format(flag=flag)) == [(36, "TRN004"), (36, "TRN004")]


@pytest.mark.parametrize(
    ("flag", "flagged"),
    [(", is_eval=True", False), ("", True), (", is_eval=False", True)],
)
def test_the_flag_decides_across_modules_too(tmp_path: Path, flag: str, flagged: bool) -> None:
    """The constructor in another module: its summary says what it leaves with its flag's
    default and with the flag turned, and the caller picks by the literal it passes."""
    code = textwrap.dedent(FLAGGED.format(flag=flag))
    split = code.index("class Checker")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "pair"\nversion = "0"\n')
    (tmp_path / "pair.py").write_text(code[:split])
    (tmp_path / "check.py").write_text("import torch\n\nfrom pair import Pair\n\n\n" + code[split:])
    for paths in ([tmp_path], [tmp_path / "check.py"]):
        found = [(Path(f.path).name, f.code) for f in lint_paths([str(p) for p in paths]).findings]
        assert found == ([("check.py", "TRN004")] * 2 if flagged else [])


BUILDER = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 3))

        def forward(self, x):
            return self.layers(x)


    class Pipeline:
        def __init__(self, paths, use_third=False):
            self.paths = paths
            self.use_third = use_third
            self.seg_model, self.cls_model, self.aux_model = self.load_models()

        def load_models(self):
            seg_model = Net()
            seg_model.load_state_dict(torch.load(self.paths[0]))
            {seg_switch}
            cls_model = Net()
            cls_model.load_state_dict(torch.load(self.paths[1]))
            cls_model.eval()
            if torch.cuda.is_available():
                seg_model = nn.DataParallel(seg_model)
            if self.use_third:
                aux_model = Net()
                aux_model.eval()
            else:
                aux_model = None
            return seg_model, cls_model, aux_model

        def find(self, batches):
            found = []
            with torch.no_grad():
                for x in batches:
                    found.append(self.seg_model(x).argmax(1))
            return found

        def grade(self, batches):
            scores = []
            with torch.no_grad():
                for x in batches:
                    scores.append(self.cls_model(x).softmax(1))
                    if self.aux_model is not None:
                        scores.append(self.aux_model(x).softmax(1))
            return scores

        def run(self):
            batches = [torch.randn(2, 4)]
            print(self.find(batches), self.grade(batches))


    if __name__ == "__main__":
        pipeline = Pipeline(["seg.pt", "cls.pt"])
        pipeline.run()
"""


def test_models_a_builder_returns_in_eval_mode_stay_in_eval_when_unpacked() -> None:
    # Through a tuple unpacked into attributes, a wrapper around one of them, and a model
    # that is `None` on one way.
    assert _codes(BUILDER.format(seg_switch="seg_model.eval()")) == []


@pytest.mark.parametrize("switch", ["pass", "seg_model.train()"])
def test_a_model_the_builder_leaves_in_training_is_still_flagged(switch: str) -> None:
    assert _codes(BUILDER.format(seg_switch=switch)) == [(41, "TRN004")]

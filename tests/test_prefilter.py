"""The text prefilter only ever skips files that could not produce a finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, quick_form

from lint_train.engine import lint_source
from lint_train.prefilter import could_matter

CORPUS = sorted(FIXTURES.rglob("*.py")) + sorted((ROOT / "src").rglob("*.py"))


# Every file in `pytest -m slow`; the default run, a few of them (conftest.quick_form).
@pytest.mark.parametrize("path", quick_form(CORPUS, lambda p: str(p.relative_to(ROOT))))
def test_prefilter_never_changes_findings(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert lint_source(text, prefilter=True) == lint_source(text, prefilter=False)


def test_file_with_training_or_evaluation_words_is_analysed() -> None:
    assert could_matter("loss.backward()\n")
    assert could_matter("for x in valLoader:\n    pass\n")
    assert could_matter("def estimate_loss():\n    pass\n")


def test_model_definition_without_training_words_is_skipped() -> None:
    source = (
        "import torch\nclass Block(torch.nn.Module):\n    def forward(self, x):\n        return x\n"
    )
    assert not could_matter(source)


def test_model_file_that_initialises_weights_in_place_is_analysed() -> None:
    # TRN011 needs no backward: the weights are drawn when the model is built.
    source = (
        "import torch\nfrom torch import nn\nclass Block(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n"
        "        self.fc.weight.normal_(0, 0.02)\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
        "block = Block()\n"
    )
    assert could_matter(source)
    assert [f.code for f in lint_source(source)] == ["TRN011"]


def test_model_file_whose_loss_takes_probabilities_is_analysed() -> None:
    # TRN009 needs no backward: a model's own loss method may be given its softmax output.
    source = (
        "import torch\nfrom torch import nn\nclass Head(nn.Module):\n"
        "    def loss(self, x, y):\n"
        "        return nn.functional.cross_entropy(torch.softmax(x, 1), y)\n"
    )
    assert could_matter(source)
    assert [f.code for f in lint_source(source)] == ["TRN009"]

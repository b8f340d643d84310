"""The text prefilter only ever skips files that could not produce a finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, quick_form

from lint_train.analysis.events import _INPLACE_METHODS
from lint_train.engine import FileOutcome, Selection, check_files, lint_source
from lint_train.prefilter import could_matter, needed_words

CORPUS = sorted(FIXTURES.rglob("*.py")) + sorted((ROOT / "src").rglob("*.py"))


# Every file in `pytest -m slow`; the default run, a few of them (conftest.quick_form).
@pytest.mark.parametrize("path", quick_form(CORPUS, lambda p: str(p.relative_to(ROOT))))
def test_prefilter_never_changes_findings(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert lint_source(text, prefilter=True) == lint_source(text, prefilter=False)


DEFAULT_RULES = Selection().rules()


# The rules that run by default skip more files (no preview rule's words are needed): the
# skipping must not change what those rules find either.
@pytest.mark.parametrize("path", quick_form(CORPUS, lambda p: str(p.relative_to(ROOT))))
def test_prefilter_for_default_rules_never_changes_findings(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    with_filter = lint_source(text, rules=DEFAULT_RULES, prefilter=True)
    assert with_filter == lint_source(text, rules=DEFAULT_RULES, prefilter=False)


def test_preview_rules_words_are_needed_only_when_those_rules_run() -> None:
    source = (
        "import torch\nfrom torch import nn\nclass Head(nn.Module):\n"
        "    def forward(self, x):\n        return torch.softmax(self.fc(x), 1)\n"
        "    def load(self, other):\n        self.fc.weight.copy_(other)\n"
    )
    assert could_matter(source)
    assert could_matter(source, needed_words(["TRN009"]))
    assert could_matter(source, needed_words(["TRN011"]))
    assert not could_matter(source, needed_words(["TRN001", "TRN003", "TRN004"]))
    assert not could_matter(source, needed_words(r.info.code for r in DEFAULT_RULES))


def test_run_of_default_rules_does_not_analyse_files_only_preview_rules_need(
    tmp_path: Path,
) -> None:
    model = tmp_path / "head.py"
    model.write_text(
        "import torch\nfrom torch import nn\nclass Head(nn.Module):\n"
        "    def loss(self, x, y):\n"
        "        return nn.functional.cross_entropy(torch.softmax(x, 1), y)\n"
    )
    default = check_files([str(model)], Selection())
    preview = check_files([str(model)], Selection(preview=True))
    assert default == [FileOutcome()]
    assert default[0].summary is None  # never parsed: an analysed file carries its summary
    assert [f.code for f in preview[0].findings] == ["TRN009"]


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


@pytest.mark.parametrize("method", sorted(_INPLACE_METHODS))
def test_a_parameter_changed_in_place_by_any_method_the_analysis_knows_is_analysed(
    method: str,
) -> None:
    # The prefilter once knew only five of these: `self.gain.add_(1.0)` in a model's
    # `__init__`, reported TRN011 when parsed, was skipped unparsed.
    source = (
        "import torch\nfrom torch import nn\nclass Gain(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.gain = nn.Parameter(torch.ones(4))\n"
        f"        self.gain.{method}()\n"
        "    def forward(self, x):\n        return x * self.gain\n"
        "block = Gain()\n"
    )
    assert could_matter(source)
    assert [(f.line, f.code) for f in lint_source(source)] == [(7, "TRN011")]


def test_model_file_whose_loss_takes_probabilities_is_analysed() -> None:
    # TRN009 needs no backward: a model's own loss method may be given its softmax output.
    source = (
        "import torch\nfrom torch import nn\nclass Head(nn.Module):\n"
        "    def loss(self, x, y):\n"
        "        return nn.functional.cross_entropy(torch.softmax(x, 1), y)\n"
    )
    assert could_matter(source)
    assert [f.code for f in lint_source(source)] == ["TRN009"]


# A caller whose own words cannot lead to a finding: its link to evaluation is a helper it
# imports from the project, under a name that says nothing (`count_errors` in scoring.py).
SCORING = """\
import torch


def count_errors(model, batches):
    wrong = 0
    with torch.no_grad():
        for x, y in batches:
            wrong += (model(x).argmax(1) != y).sum().item()
    return wrong
"""
RUN = """\
import torch
from scoring import count_errors
from torch import nn

model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 3))
batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(2)]
print(count_errors(model, batches))
"""


def _two_files(root: Path, run: str = RUN) -> Path:
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    (root / "scoring.py").write_text(SCORING, encoding="utf-8")
    (root / "run.py").write_text(run, encoding="utf-8")
    return root


def test_a_caller_handed_a_finding_by_an_imported_helper_is_not_skipped(tmp_path: Path) -> None:
    from lint_train.engine import check_files, lint_paths

    root = _two_files(tmp_path)
    assert not could_matter(RUN)
    for paths in ([root], [root / "run.py"]):
        found = lint_paths([str(p) for p in paths]).findings
        assert [(Path(f.path).name, f.line, f.code) for f in found] == [("run.py", 7, "TRN004")]
    files = [str(root / "run.py")]
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [7]
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [7]  # cached
    (root / "run.py").write_text(RUN.replace("print(", "model.eval()\nprint("), encoding="utf-8")
    assert check_files(files, cache_root=root)[0].findings == ()


def test_a_caller_that_imports_only_modules_without_facts_is_still_not_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lint_train import engine

    run = RUN.replace("count_errors(model, batches)", "len(batches)")
    root = _two_files(tmp_path, run.replace("from scoring import count_errors", "import scoring"))
    analysed: list[str] = []
    real = engine._analyse_file

    def spy(name: str, *args: object, **kwargs: object) -> object:
        analysed.append(Path(name).name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_analyse_file", spy)
    assert engine.lint_paths([str(root / "run.py")]).findings == []
    assert analysed == []


def test_a_module_whose_text_cannot_hand_facts_is_not_parsed_for_a_skipped_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller is skipped from its text and the text of what it imports, without parsing
    either: the prefilter stays cheap for files that only import plain project code."""
    from lint_train import context, engine

    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "shapes.py").write_text("def flat(x):\n    return x.view(-1)\n", encoding="utf-8")
    (tmp_path / "run.py").write_text("from shapes import flat\nprint(flat(x))\n", encoding="utf-8")
    parsed: list[str] = []
    real = context.summary_of_text

    def spy(text: str, view: object = None) -> object:
        parsed.append(text)
        return real(text, view)  # type: ignore[arg-type]

    monkeypatch.setattr(context, "summary_of_text", spy)
    assert engine.lint_paths([str(tmp_path / "run.py")]).findings == []
    assert parsed == []
    # The same caller of a module that evaluates is analysed (and that module parsed).
    (tmp_path / "shapes.py").write_text(SCORING, encoding="utf-8")
    (tmp_path / "run.py").write_text(RUN.replace("scoring", "shapes"), encoding="utf-8")
    assert [f.code for f in engine.lint_paths([str(tmp_path / "run.py")]).findings] == ["TRN004"]
    assert parsed

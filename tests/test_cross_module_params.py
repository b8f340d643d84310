"""Objects handed to another file's functions as parameters: a model passed on through two
modules is judged by the first caller that gives it a state (the module in between hands it on
and is not judged for it), and a class of a third module decides whether its mode matters."""

from __future__ import annotations

from pathlib import Path

from conftest import copy_project as _copy
from conftest import edit_file as _edit
from conftest import project_findings as _found

from lint_train.engine import check_files


def test_the_module_in_between_is_judged_by_its_callers(tmp_path: Path) -> None:
    root = _copy("model_through_two_modules", tmp_path)
    assert _found(root, ".") == [("train.py", 21, "TRN004")]
    assert _found(root, "validation.py") == []
    # With no project file calling it, it is judged alone, as before.
    _edit(root / "train.py", "validate_splits(model, ", "dict(")
    _edit(root / "train.py", "from validation import validate_splits\n", "")
    assert _found(root, "validation.py") == [("validation.py", 7, "TRN004")]


def test_a_caller_that_sets_eval_mode_fixes_both_hops(tmp_path: Path) -> None:
    root = _copy("model_through_two_modules", tmp_path)
    _edit(
        root / "train.py",
        "    print(epoch, validate_splits",
        "    model.eval()\n    print(epoch, validate_splits",
    )
    assert _found(root, ".") == []


def test_editing_the_module_two_imports_away_rechecks_the_caller(tmp_path: Path) -> None:
    root = _copy("model_through_two_modules", tmp_path)
    files = [str(root / "train.py")]
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [21]
    _edit(root / "metrics.py", "    hits = total = 0\n", "    model.eval()\n    hits = total = 0\n")
    # Now `accuracy` leaves the model in eval mode: the next epoch's `model.train()` undoes it.
    assert check_files(files, cache_root=root)[0].findings == ()


# Optimizers handed to a training step of another module -------------------------------------
BACKWARD_ONLY = """\
from torch import nn


def backward_on(model, batch, scale):
    inputs, targets = batch
    (nn.functional.mse_loss(model(inputs), targets) / scale).backward()
"""

ACCUMULATING = """\
import torch
from engine import backward_on
from torch import nn

regressor = nn.Linear(3, 1)
sgd = torch.optim.SGD(regressor.parameters(), lr=0.01)
batches = [(torch.randn(16, 3), torch.randn(16, 1)) for _ in range(12)]
for epoch in range(5):
    for i, batch in enumerate(batches):
        backward_on(regressor, batch, 4)
        if (i + 1) % 4 == 0:
            sgd.step()
{clear}"""


def test_the_fix_clears_in_the_caller_s_loop_and_then_it_is_quiet(tmp_path: Path) -> None:
    root = _copy("step_function_missing_zero_grad", tmp_path)
    from lint_train.cli import main

    assert main(["--no-cache", "--fix", str(root / "train.py")]) == 0
    text = (root / "train.py").read_text(encoding="utf-8")
    assert "        sgd.zero_grad()\n        total += train_step(regressor, sgd, batch)" in text
    assert _found(root, ".") == []


def test_a_step_under_a_branch_of_the_callee_stays_out_of_view(tmp_path: Path) -> None:
    root = _copy("step_function_missing_zero_grad", tmp_path)
    _edit(
        root / "engine.py",
        "    optimizer.step()\n",
        "    if loss.item() < 1e3:\n        optimizer.step()\n",
    )
    assert _found(root, ".") == []


def test_an_optimizer_of_the_callee_s_own_is_not_the_caller_s(tmp_path: Path) -> None:
    root = _copy("step_function_missing_zero_grad", tmp_path)
    _edit(root / "engine.py", "    optimizer.step()\n", "    OPTIMIZERS[0].step()\n")
    _edit(root / "engine.py", "from torch import nn\n", "from torch import nn\n\nOPTIMIZERS = []\n")
    assert _found(root, ".") == []


def test_a_backward_only_helper_feeds_the_caller_s_accumulation_window(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "engine.py").write_text(BACKWARD_ONLY, encoding="utf-8")
    script = tmp_path / "train.py"
    script.write_text(ACCUMULATING.format(clear="            sgd.zero_grad()\n"), encoding="utf-8")
    assert _found(tmp_path, ".") == []
    script.write_text(ACCUMULATING.format(clear=""), encoding="utf-8")
    assert [code for _, _, code in _found(tmp_path, ".")] == ["TRN001"]


def test_editing_the_step_function_rechecks_its_caller(tmp_path: Path) -> None:
    root = _copy("step_function_missing_zero_grad", tmp_path)
    files = [str(root / "train.py")]
    assert [f.code for f in check_files(files, cache_root=root)[0].findings] == ["TRN001"]
    _edit(
        root / "engine.py",
        "    loss.backward()\n",
        "    optimizer.zero_grad()\n    loss.backward()\n",
    )
    assert check_files(files, cache_root=root)[0].findings == ()


# Notebooks importing project modules -------------------------------------------------------
EVALUATE = """\
import torch


def evaluate(model, batches):
    wrong = 0
    with torch.no_grad():
        for x, y in batches:
            wrong += (model(x).argmax(1) != y).sum().item()
    return wrong
"""


def test_a_helper_a_notebook_calls_is_judged_by_the_notebook_once(tmp_path: Path) -> None:
    """The notebook's call is reported, in the notebook; the helper, which alone would be
    reported for its evaluation in the state its callers give, is left to the notebook."""
    root = _copy("notebook_calls_helper", tmp_path)
    (root / "scoring.py").write_text(EVALUATE, encoding="utf-8")
    notebook = root / "explore.ipynb"
    _edit(notebook, "correct_predictions", "evaluate")
    assert _found(root, ".") == [("explore.ipynb", 7, "TRN004")]
    files = [str(root / "scoring.py")]
    assert check_files(files, cache_root=root)[0].findings == ()
    # The notebook no longer imports it: judged alone again, also from the cache's view.
    _edit(notebook, "from scoring import evaluate", "import scoring")
    _edit(notebook, "print(epoch, evaluate(", "print(epoch, len(")
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [8]

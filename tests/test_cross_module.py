"""Calls across modules behave like calls within a file: arguments bind, the caller's grad and
modes decide the callee's evaluation, the modes a callee leaves flow back, a function passed in
is followed, and a finding that needs two files is reported once, where its fix belongs, naming
the other half. Cached results follow edits of either file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train import context
from lint_train.cli import main
from lint_train.engine import check_files, lint_paths

# A helper module: `evaluate` runs the model it is given on held-out data, with autograd off;
# {mode} is what it does to the model's mode first.
HELPER = """\
import torch


def evaluate(model, batches):
{mode}    wrong = 0
    with torch.no_grad():
        for x, y in batches:
            wrong += (model(x).argmax(1) != y).sum().item()
    return wrong
"""

# A script training a model with dropout, calling the helper after each epoch; {before} is
# what it does right before the call, {train} what it does at the start of each epoch.
SCRIPT = """\
import torch
from torch import nn
from helpers import evaluate

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
{train}    for x, y in train_batches:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
{before}    print(evaluate({call}))
"""


def _project(
    root: Path,
    mode: str = "",
    train: str = "    model.train()\n",
    before: str = "",
    call: str = "model, val_batches",
) -> Path:
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    (root / "helpers.py").write_text(HELPER.format(mode=mode), encoding="utf-8")
    script = SCRIPT.format(train=train, before=before, call=call)
    (root / "train.py").write_text(script, encoding="utf-8")
    return root


def _found(root: Path, *names: str) -> list[tuple[str, int, str]]:
    result = lint_paths([str(root / name) for name in names])
    assert not result.errors
    return [(Path(f.path).name, f.line, f.code) for f in result.findings]


def _messages(root: Path, *names: str) -> list[str]:
    return [f.message for f in lint_paths([str(root / name) for name in names]).findings]


CALL_LINE = 13


def test_a_helper_elsewhere_evaluating_in_training_mode_is_reported_at_the_call(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path)
    expected = [("train.py", CALL_LINE, "TRN004")]
    assert _found(root, ".") == expected
    assert _found(root, "train.py") == expected
    (message,) = _messages(root, "train.py")
    assert "`evaluate` evaluates it at helpers.py:8" in message
    assert "call `model.eval()` before this call" in message


@pytest.mark.parametrize(
    "before",
    ["    model.eval()\n", "    model.train(False)\n"],
)
def test_a_caller_that_sets_eval_mode_makes_the_helper_fine(tmp_path: Path, before: str) -> None:
    root = _project(tmp_path, before=before, train="    model.train()\n")
    assert _found(root, ".") == []
    assert _found(root, "train.py") == []
    assert _found(root, "helpers.py") == []


def test_a_helper_that_sets_eval_mode_itself_is_fine_and_its_mode_flows_back(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path, mode="    model.eval()\n", train="")
    expected = [("train.py", 10, "TRN005")]  # the training forward pass, in train.py
    assert _found(root, ".") == expected
    assert _found(root, "train.py") == expected
    (message,) = _messages(root, "train.py")
    assert "(`evaluate` leaves it in eval mode at helpers.py:5)" in message
    # Switching back at the start of each epoch fixes it.
    _project(tmp_path, mode="    model.eval()\n")
    assert _found(root, ".") == []


def test_a_helper_that_restores_the_mode_it_was_given_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    mode = "    was_training = model.training\n    model.eval()\n"
    root = _project(tmp_path, mode=mode, train="")
    helper = (root / "helpers.py").read_text(encoding="utf-8")
    helper = helper.replace("    return wrong", "    model.train(was_training)\n    return wrong")
    (root / "helpers.py").write_text(helper, encoding="utf-8")
    assert _found(root, ".") == []


def test_arguments_bind_by_keyword(tmp_path: Path) -> None:
    root = _project(tmp_path, call="batches=val_batches, model=model")
    assert _found(root, "train.py") == [("train.py", CALL_LINE, "TRN004")]
    root = _project(tmp_path, call="batches=val_batches, model=model", before="    model.eval()\n")
    assert _found(root, "train.py") == []


def test_a_caller_that_trains_on_the_result_is_not_evaluating(tmp_path: Path) -> None:
    root = _project(tmp_path)
    script = (root / "train.py").read_text(encoding="utf-8")
    script = script.replace(
        "        opt.step()\n",
        "        opt.step()\n        penalty = evaluate(model, val_batches)\n"
        "        (penalty * model(x).sum()).backward()\n",
    ).replace("    print(evaluate(model, val_batches))\n", "")
    (root / "train.py").write_text(script, encoding="utf-8")
    assert [code for _, _, code in _found(root, "train.py")] == []


def test_grad_left_on_by_the_caller_is_reported_at_the_call(tmp_path: Path) -> None:
    root = _project(tmp_path, before="    model.eval()\n")
    helper = (root / "helpers.py").read_text(encoding="utf-8")
    helper = helper.replace("    with torch.no_grad():\n        for", "    if True:\n        for")
    (root / "helpers.py").write_text(helper, encoding="utf-8")
    expected = [("train.py", CALL_LINE + 1, "TRN003")]  # after `model.eval()`
    assert _found(root, ".") == expected
    assert _found(root, "train.py") == expected
    (message,) = _messages(root, "train.py")
    assert "`evaluate` runs `model` for evaluation at helpers.py:8" in message
    script = (root / "train.py").read_text(encoding="utf-8")
    script = script.replace(
        "    print(evaluate(", "    with torch.no_grad():\n        print(evaluate("
    ).replace("val_batches))\n", "val_batches))\n")
    (root / "train.py").write_text(script, encoding="utf-8")
    assert _found(root, ".") == []


def test_a_helper_with_its_own_training_stays_out_of_view(tmp_path: Path) -> None:
    """A function that steps or runs backward is not summarised: calling it is as calling
    unseen code, and the caller's loop is not blamed for what the helper does."""
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "steps.py").write_text(
        "def train_step(model, opt, x, y):\n"
        "    opt.zero_grad()\n"
        "    model(x).sum().backward()\n"
        "    opt.step()\n",
        encoding="utf-8",
    )
    (tmp_path / "train.py").write_text(
        "import torch\nfrom steps import train_step\n\n"
        "model = torch.nn.Linear(2, 2)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for x, y in loader:\n"
        "    train_step(model, opt, x, y)\n"
        "    loss = model(x).sum()\n"
        "    loss.backward()\n",
        encoding="utf-8",
    )
    assert _found(tmp_path, ".") == []


# Who judges a helper ----------------------------------------------------------------------
def test_a_helper_is_judged_alone_until_a_project_file_calls_it(tmp_path: Path) -> None:
    root = _project(tmp_path)
    helper = (root / "helpers.py").read_text(encoding="utf-8")
    helper = helper.replace("def evaluate", "def validate").replace("in batches", "in val_batches")
    helper = helper.replace("(model, batches)", "(model, val_batches)")
    (root / "helpers.py").write_text(helper, encoding="utf-8")
    # `validate` loops over validation data; no project file calls it: its own file reports.
    assert _found(root, "helpers.py") == [("helpers.py", 8, "TRN004")]
    script = (root / "train.py").read_text(encoding="utf-8").replace("evaluate", "validate")
    (root / "train.py").write_text(script, encoding="utf-8")
    # Now train.py calls it in training mode: reported once, at the call.
    expected = [("train.py", CALL_LINE, "TRN004")]
    assert _found(root, ".") == expected
    assert _found(root, "helpers.py") == []
    assert _found(root, "train.py") == expected


def test_past_the_budget_of_the_importer_scan_nothing_is_assumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    helper = (root / "helpers.py").read_text(encoding="utf-8").replace("in batches", "in val_b")
    (root / "helpers.py").write_text(helper.replace("batches)", "val_b)"), encoding="utf-8")
    assert _found(root, "helpers.py") == []
    monkeypatch.setattr(context, "IMPORTERS_BUDGET", 1)
    assert _found(root, "helpers.py") == [("helpers.py", 8, "TRN004")]


# Functions passed in ----------------------------------------------------------------------
FIT = """\
import torch
from torch import nn
{imports}

def fit(model, opt, batches, check):
    for epoch in range(3):
        model.train()
        for x, y in batches:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        print(check(model, val_batches))

{local}
net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
fit(net, torch.optim.SGD(net.parameters(), lr=0.1), batches, {callback})
"""

LOCAL_CHECK = """\
def local_check(model, batches):
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
"""


def test_a_callback_from_another_module_is_followed(tmp_path: Path) -> None:
    root = _project(tmp_path)
    script = FIT.format(imports="from helpers import evaluate", local="", callback="evaluate")
    (root / "train.py").write_text(script, encoding="utf-8")
    assert _found(root, "train.py") == [("train.py", 12, "TRN004")]
    script = script.replace("        model.train()\n", "        model.train()\n", 1).replace(
        "        print(check(", "        model.eval()\n        print(check("
    )
    (root / "train.py").write_text(script, encoding="utf-8")
    assert _found(root, "train.py") == []


def test_a_callback_of_the_same_file_is_followed(tmp_path: Path) -> None:
    script = FIT.format(imports="", local=LOCAL_CHECK, callback="local_check")
    (tmp_path / "train.py").write_text(script, encoding="utf-8")
    assert [code for _, _, code in _found(tmp_path, "train.py")] == ["TRN004"]


def test_a_callback_not_in_view_is_unseen_code(tmp_path: Path) -> None:
    script = FIT.format(imports="from elsewhere import check_fn", local="", callback="check_fn")
    (tmp_path / "train.py").write_text(script, encoding="utf-8")
    assert _found(tmp_path, "train.py") == []


# Limits ----------------------------------------------------------------------------------
def test_an_imported_module_that_does_not_parse_is_noted_under_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path)
    (root / "helpers.py").write_text(HELPER.format(mode="") + "def broken(:\n", encoding="utf-8")
    assert main(["--no-cache", str(root / "train.py")]) == 0
    assert "does not parse" not in capsys.readouterr().err
    try:
        assert main(["--no-cache", "--debug", str(root / "train.py")]) == 0
    finally:
        context.DEBUG = False
    assert "helpers.py: note: does not parse" in capsys.readouterr().err


# The cache -------------------------------------------------------------------------------
def test_editing_the_helper_rechecks_the_caller(tmp_path: Path) -> None:
    root = _project(tmp_path, mode="    model.eval()\n")
    files = [str(root / "train.py")]
    assert check_files(files, cache_root=root)[0].findings == ()
    assert check_files(files, cache_root=root)[0].findings == ()  # from the cache
    (root / "helpers.py").write_text(HELPER.format(mode=""), encoding="utf-8")
    assert [f.code for f in check_files(files, cache_root=root)[0].findings] == ["TRN004"]
    (root / "helpers.py").write_text(HELPER.format(mode="    model.eval()\n"), encoding="utf-8")
    assert check_files(files, cache_root=root)[0].findings == ()


def test_editing_the_caller_rechecks_the_helper_it_judges(tmp_path: Path) -> None:
    root = _project(tmp_path, before="    model.eval()\n")
    helper = (root / "helpers.py").read_text(encoding="utf-8").replace("in batches", "in val_b")
    (root / "helpers.py").write_text(helper.replace("batches)", "val_b)"), encoding="utf-8")
    files = [str(root / "helpers.py")]
    assert check_files(files, cache_root=root)[0].findings == ()
    assert check_files(files, cache_root=root)[0].findings == ()  # from the cache
    (root / "train.py").write_text("print('no call any more')\n", encoding="utf-8")
    assert [f.code for f in check_files(files, cache_root=root)[0].findings] == ["TRN004"]


def test_fix_of_a_two_file_finding_sees_the_project(tmp_path: Path) -> None:
    folder = FIXTURES / "projects" / "cross_module_missing_train"
    for name in ("pyproject.toml", "helpers.py", "train.py"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    assert main(["--no-cache", "--fix", "--unsafe-fixes", str(tmp_path / "train.py")]) == 0
    fixed = (tmp_path / "train.py").read_text(encoding="utf-8")
    assert "for epoch in range(3):\n    model.train()\n    for x, y in batches[:4]:" in fixed
    assert _found(tmp_path, ".") == []

"""Findings point at the statement their message names; the loop around it is a related place,
in the JSON (`related`) and SARIF (`relatedLocations`) reports."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train.cli import main
from lint_train.engine import lint_file, lint_source

PLAIN = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
LINES = PLAIN.read_text(encoding="utf-8").splitlines()
STEP = next(n for n, text in enumerate(LINES, start=1) if "optimizer.step()" in text)
LOOP = next(n for n, text in enumerate(LINES, start=1) if "for x, y in train_batches" in text)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copyfile(PLAIN, tmp_path / "train.py")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_missing_zero_grad_points_at_the_step_and_relates_the_loop() -> None:
    (finding,) = lint_file(PLAIN)
    assert (finding.line, finding.column) == (STEP, LINES[STEP - 1].index("optimizer") + 1)
    (loop,) = finding.related
    assert (loop.location.line, loop.location.column) == (LOOP, LINES[LOOP - 1].index("for") + 1)
    assert "`optimizer`" in loop.message


def test_json_lists_the_related_loop(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output-format", "json", "train.py"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert finding["line"] == STEP
    (loop,) = finding["related"]
    assert set(loop) == {"line", "column", "end_line", "end_column", "message"}
    assert (loop["line"], loop["column"], loop["end_line"]) == (LOOP, 9, STEP)
    assert loop["message"].startswith("the loop")


def test_sarif_gives_the_loop_as_a_related_location(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--output-format", "sarif", "train.py"]) == 1
    (result,) = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == STEP
    (related,) = result["relatedLocations"]
    assert related["id"] == 1
    assert related["physicalLocation"]["region"]["startLine"] == LOOP
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "train.py"
    assert related["message"]["text"].startswith("the loop")


def test_a_one_branch_miss_points_at_the_step_on_that_branch_and_names_it() -> None:
    path = FIXTURES / "buggy" / "trn001_use_amp_branch_clears_only_amp.py"
    lines = path.read_text(encoding="utf-8").splitlines()
    (finding,) = lint_file(path)
    # The `else:` branch's `optimizer.step()`, not the scaler's step on the clearing branch.
    assert lines[finding.line - 1].strip().startswith("optimizer.step()")
    assert lines[finding.line - 2].strip() == "loss.backward()"
    assert finding.message.startswith("when `use_amp` is false, `optimizer.step()` runs on")


def test_a_branch_that_steps_through_the_scaler_names_the_other_way() -> None:
    path = FIXTURES / "buggy" / "trn001_scaler_branch_accumulates_plain_branch_forgets.py"
    (finding,) = lint_file(path)
    assert finding.message.startswith("when `scaler` is None, `optimizer.step()` runs on")


def test_a_loop_that_never_clears_does_not_name_a_branch() -> None:
    # The step is under the accumulation condition, which changes every iteration: no path to
    # name, the loop as a whole misses the clear.
    (finding,) = lint_file(FIXTURES / "buggy" / "trn001_grad_accumulation_never_cleared.py")
    assert finding.message.startswith("`optimizer.step()` runs on gradients")


def test_one_way_step_points_at_the_backward_on_the_way_without_a_step() -> None:
    path = FIXTURES / "buggy" / "trn002_amp_branch_steps_plain_branch_forgets.py"
    lines = path.read_text(encoding="utf-8").splitlines()
    (finding,) = lint_file(path)
    assert lines[finding.line - 1].strip().startswith("loss.backward()")
    assert "scaler" not in lines[finding.line - 1]
    (loop,) = finding.related
    assert lines[loop.location.line - 1].strip().startswith("for x, y in batches:")


def test_fix_applies_to_the_finding_at_its_new_anchor(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--fix", "train.py"]) == 0
    assert "optimizer.zero_grad()\n            loss.backward()" in (work / "train.py").read_text()
    assert main(["train.py"]) == 0


ONE_BRANCH_CLEARS = """
    import torch
    from torch import nn

    def train(model, loader, optimizer, scaler, use_amp, args):
        for x, y in loader:
            if args.verbose:
                model.eval()
                model.train()
            loss = nn.functional.mse_loss(model(x), y)
            if use_amp:
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
"""


def test_a_one_branch_miss_names_only_the_way_that_decides() -> None:
    # `args.verbose` leaves the paths apart (the mode switches), but the step misses its clear
    # whichever way it goes: only `use_amp` is named.
    (finding,) = lint_source(textwrap.dedent(ONE_BRANCH_CLEARS))
    assert finding.code == "TRN001"
    assert finding.message.startswith("when `use_amp` is false, `optimizer.step()`")
    assert finding.line == 18


def test_a_loop_that_clears_on_no_way_names_no_way() -> None:
    source = ONE_BRANCH_CLEARS.replace("optimizer.zero_grad()", "pass")
    (finding,) = lint_source(textwrap.dedent(source))
    # Neither way clears: the finding names the first step as written, and points at it.
    assert finding.message.startswith("`scaler.step(optimizer)` runs on gradients")
    assert finding.line == 14  # `scaler.step(optimizer)`, not the plain branch's step


def test_every_finding_of_a_loop_rule_relates_its_loop() -> None:
    """Each buggy fixture's findings of the loop rules (all but TRN008 and TRN011, which are
    about one statement) carry the loop or evaluation code around them as a related place."""
    loop_rules = {"TRN001", "TRN002", "TRN003", "TRN004", "TRN005", "TRN010"}
    checked = 0
    for path in sorted((FIXTURES / "buggy").glob("*.py")):
        for finding in lint_file(path):
            if finding.code in loop_rules:
                assert finding.related, f"{path.name}:{finding.line} {finding.code}"
                checked += 1
    assert checked > 50

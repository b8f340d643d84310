"""Objects handed to another file's functions as parameters: a model passed on through two
modules is judged by the first caller that gives it a state (the module in between hands it on
and is not judged for it), and a class of a third module decides whether its mode matters."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES

from lint_train.engine import check_files, lint_paths


def _copy(name: str, into: Path) -> Path:
    shutil.copytree(FIXTURES / "projects" / name, into, dirs_exist_ok=True)
    return into


def _found(root: Path, *names: str) -> list[tuple[str, int, str]]:
    result = lint_paths([str(root / name) for name in names])
    assert not result.errors
    return sorted((Path(f.path).name, f.line, f.code) for f in result.findings)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


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

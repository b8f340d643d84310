"""Methods a class inherits from a project base class of another module: `self.validate()` in
the subclass applies what the base's method does to `self`'s models (its evaluation is judged
by the subclass's state, the modes it leaves flow back), as a base in the same file is
followed; and the base's method is left to the subclasses that call it."""

from __future__ import annotations

from pathlib import Path

from conftest import copy_project as _copy
from conftest import edit_file as _edit
from conftest import project_findings as _found

from lint_train.engine import check_files, lint_paths


def test_the_base_s_validation_is_judged_at_the_subclass_call_not_in_the_base(
    tmp_path: Path,
) -> None:
    root = _copy("base_class_missing_eval", tmp_path)
    assert _found(root, ".") == [("train.py", 15, "TRN004")]
    assert _found(root, "trainers/base.py") == []
    (finding,) = lint_paths([str(root / "train.py")]).findings
    assert "call `self.model.eval()` before this call" in finding.message


def test_a_base_only_derived_without_calling_the_method_still_judges_it_itself(
    tmp_path: Path,
) -> None:
    root = _copy("base_class_missing_eval", tmp_path)
    _edit(root / "train.py", "self.validate()", "0.0")
    assert _found(root, ".") == [("base.py", 26, "TRN004")]


def test_a_subclass_overriding_the_method_in_its_own_file_is_followed_there(
    tmp_path: Path,
) -> None:
    root = _copy("base_class_leaves_eval", tmp_path)
    override = "    def validate(self):\n        return 0\n\n    def fit(self, epochs):\n"
    _edit(root / "train.py", "    def fit(self, epochs):\n", override)
    assert _found(root, "train.py") == []


def test_an_intermediate_base_defining_the_method_hides_the_one_above(tmp_path: Path) -> None:
    root = _copy("base_class_leaves_eval", tmp_path)
    (root / "trainers" / "middle.py").write_text(
        "from trainers.base import HeldOutTrainer\n\n\n"
        "class QuietTrainer(HeldOutTrainer):\n"
        "    def validate(self):\n        return 0\n",
        encoding="utf-8",
    )
    _edit(
        root / "train.py",
        "from trainers.base import HeldOutTrainer",
        "from trainers.middle import QuietTrainer",
    )
    _edit(root / "train.py", "(HeldOutTrainer)", "(QuietTrainer)")
    assert _found(root, "train.py") == []
    # Through a middle class that defines nothing, the base's method is found again.
    _edit(
        root / "trainers" / "middle.py", "    def validate(self):\n        return 0\n", "    pass\n"
    )
    assert _found(root, "train.py") == [("train.py", 15, "TRN005")]


def test_editing_the_base_rechecks_the_subclass(tmp_path: Path) -> None:
    root = _copy("base_class_train_by_subclass", tmp_path)
    files = [str(root / "train.py")]
    assert check_files(files, cache_root=root)[0].findings == ()
    _edit(root / "train.py", "            self.model.train()\n", "")
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [15]
    _edit(root / "trainers" / "base.py", "        self.model.eval()\n", "")
    # The base no longer leaves eval mode behind; it now evaluates in the callers' mode, so
    # the call reports instead.
    assert [(f.line, f.code) for f in check_files(files, cache_root=root)[0].findings] == [
        (18, "TRN004")
    ]

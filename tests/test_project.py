"""The project view: its root, module names, where imports inside it lead, and what the
analysis of one file learns from the class bodies of the modules it imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from lint_train import project
from lint_train.engine import check_files, lint_paths


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


# Root and module names -----------------------------------------------------------------------
def test_root_is_the_nearest_folder_with_a_project_marker(tmp_path: Path) -> None:
    _write(tmp_path, {"repo/setup.cfg": "", "repo/pkg/deep/train.py": ""})
    assert project.find_root([tmp_path / "repo/pkg/deep/train.py"]) == (tmp_path / "repo").resolve()


def test_root_of_paths_in_two_folders_is_above_both(tmp_path: Path) -> None:
    _write(tmp_path, {"repo/.git/HEAD": "", "repo/a/x.py": "", "repo/b/y.py": ""})
    root = project.find_root([tmp_path / "repo/a/x.py", tmp_path / "repo/b/y.py"])
    assert root == (tmp_path / "repo").resolve()


def test_module_names_follow_packages_and_a_src_layout(tmp_path: Path) -> None:
    root = _write(tmp_path, {"src/pkg/__init__.py": "", "src/pkg/sub/mod.py": "", "run.py": ""})
    assert project.module_name(root / "src/pkg/sub/mod.py", root) == "pkg.sub.mod"
    assert project.module_name(root / "src/pkg/__init__.py", root) == "pkg"
    assert project.module_name(root / "run.py", root) == "run"
    assert project.module_name(tmp_path.parent / "elsewhere.py", root) is None


# The import scan -------------------------------------------------------------------------------
def test_scan_finds_every_form_of_import_in_order() -> None:
    text = (
        "import os, pkg.mod as m\n"
        "from models import Net, Head as H  # a comment\n"
        "from .metrics import validate\n"
        "from .. import base\n"
        "if True:\n    from pkg.sub import (f,\n        g)\n"
    )
    assert project.scan_imports(text) == [
        project.Import("os", 0, ()),
        project.Import("pkg.mod", 0, ()),
        project.Import("models", 0, ("Net", "Head")),
        project.Import("metrics", 1, ("validate",)),
        project.Import("", 2, ("base",)),
        project.Import("pkg.sub", 0, ("f",)),
    ]


# Resolution --------------------------------------------------------------------------------------
@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "train.py": "",
            "models.py": "",
            "pkg/__init__.py": "",
            "pkg/base.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/metrics.py": "",
            "pkg/sub/engine.py": "",
            "scripts/run.py": "",
            "scripts/helpers.py": "",
            ".venv/lib/site-packages/torch/__init__.py": "",
        },
    )


def _resolve(tree: Path, importer: str, module: str, level: int = 0) -> str | None:
    found = project.resolve(tree / importer, module, level, tree)
    return None if found is None else found.relative_to(tree.resolve()).as_posix()


def test_absolute_imports_resolve_to_modules_and_packages(tree: Path) -> None:
    assert _resolve(tree, "train.py", "models") == "models.py"
    assert _resolve(tree, "train.py", "pkg.sub.metrics") == "pkg/sub/metrics.py"
    assert _resolve(tree, "train.py", "pkg.sub") == "pkg/sub/__init__.py"
    assert _resolve(tree, "pkg/sub/engine.py", "pkg.base") == "pkg/base.py"


def test_relative_imports_resolve_from_the_importers_package(tree: Path) -> None:
    assert _resolve(tree, "pkg/sub/engine.py", "metrics", 1) == "pkg/sub/metrics.py"
    assert _resolve(tree, "pkg/sub/engine.py", "base", 2) == "pkg/base.py"
    assert _resolve(tree, "pkg/sub/engine.py", "", 2) == "pkg/__init__.py"
    assert _resolve(tree, "pkg/sub/engine.py", "missing", 1) is None


def test_a_scripts_own_folder_is_on_the_import_path(tree: Path) -> None:
    assert _resolve(tree, "scripts/run.py", "helpers") == "scripts/helpers.py"
    assert _resolve(tree, "scripts/run.py", "models") == "models.py"  # the root, as installed


def test_an_implicit_relative_import_resolves_only_when_unambiguous(tree: Path) -> None:
    assert _resolve(tree, "pkg/sub/engine.py", "metrics") == "pkg/sub/metrics.py"
    _write(tree, {"metrics.py": ""})  # now a top-level `metrics` exists too
    project.forget()  # as each run does: the file system changed
    assert _resolve(tree, "pkg/sub/engine.py", "metrics") is None


def test_a_src_layout_is_searched(tmp_path: Path) -> None:
    tree = _write(tmp_path, {"pyproject.toml": "", "src/lib/models.py": "", "tools/t.py": ""})
    assert _resolve(tree, "tools/t.py", "lib.models") == "src/lib/models.py"


def test_code_outside_the_project_is_never_named(tree: Path) -> None:
    assert _resolve(tree, "train.py", "torch") is None
    assert _resolve(tree, "train.py", "os") is None
    assert _resolve(tree, "pkg/base.py", "x", 3) is None  # above the root


def test_closure_follows_imports_through_files_and_stops_at_cycles(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "train.py": "from pkg import nets\nimport torch\n",
            "pkg/__init__.py": "",
            "pkg/nets.py": "from .layers import Block\n",
            "pkg/layers.py": "from . import nets  # a cycle\n",
        },
    )

    def read(path: Path) -> str:
        return path.read_text(encoding="utf-8")

    found = project.closure(tree / "train.py", tree.resolve(), read)
    names = [p.relative_to(tree.resolve()).as_posix() for p in found]
    assert names == ["pkg/__init__.py", "pkg/nets.py", "pkg/layers.py"]
    assert len(project.closure(tree / "train.py", tree.resolve(), read, budget=1)) == 1


# What the analysis learns from other modules ------------------------------------------------------
EVALUATE = """\
import torch
from {source} import {name}

model = {name}()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
for x, y in train_loader:
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
with torch.no_grad():
    for x, y in val_loader:
        print(model(x))
"""

NET = """\
from torch import nn
{imports}

class {name}({base}):
    def __init__(self):
        super().__init__()
        self.layer = {layer}
"""


def _codes(root: Path, *paths: str, jobs: int = 1) -> list[tuple[str, str]]:
    result = lint_paths([str(root / p) for p in paths], jobs=jobs)
    assert not result.errors
    return [(Path(f.path).name, f.code) for f in result.findings]


def _net(name: str, layer: str, base: str = "nn.Module", imports: str = "") -> str:
    return NET.format(name=name, layer=layer, base=base, imports=imports)


@pytest.mark.parametrize(
    ("layer", "flagged"),
    [("nn.Linear(2, 2)", False), ("nn.Dropout(0.1)", True), ("nn.BatchNorm1d(2)", True),
     ("nn.Dropout(0)", False), ("Unknown()", True)],
)  # fmt: skip
def test_an_imported_model_is_judged_by_its_class_body(
    tmp_path: Path, layer: str, flagged: bool
) -> None:
    imports = "from somewhere import Unknown" if "Unknown" in layer else ""
    _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "nets.py": _net("Net", layer, imports=imports),
            "train.py": EVALUATE.format(source="nets", name="Net"),
        },
    )
    expected = [("train.py", "TRN004")] if flagged else []
    assert _codes(tmp_path, ".") == expected
    assert _codes(tmp_path, "train.py") == expected


def test_project_base_classes_and_parts_are_followed(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": "",
        "lib/__init__.py": "from .heads import Head\n",
        "lib/heads.py": _net("Head", "Block()", imports="from .blocks import Block"),
        "lib/blocks.py": _net("Block", "nn.Linear(2, 2)"),
        "lib/nets.py": _net("Net", "Head()", base="Base", imports="from .base import Base\n"
                            "from . import Head"),
        "lib/base.py": _net("Base", "nn.Linear(2, 2)"),
        "train.py": EVALUATE.format(source="lib.nets", name="Net"),
    }  # fmt: skip
    _write(tmp_path, files)
    assert _codes(tmp_path, ".") == []
    (tmp_path / "lib/base.py").write_text(_net("Base", "nn.Dropout(0.2)"), encoding="utf-8")
    assert _codes(tmp_path, ".") == [("train.py", "TRN004")]
    (tmp_path / "lib/base.py").write_text(_net("Base", "nn.Linear(2, 2)"), encoding="utf-8")
    (tmp_path / "lib/blocks.py").write_text(_net("Block", "nn.Dropout(0.2)"), encoding="utf-8")
    assert _codes(tmp_path, "train.py") == [("train.py", "TRN004")]


def test_a_cycle_of_imports_between_model_modules_ends(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "a.py": _net("A", "B()", imports="from b import B"),
            "b.py": _net("B", "A()", imports="from a import A"),
            "train.py": EVALUATE.format(source="a", name="A"),
        },
    )
    assert _codes(tmp_path, ".") == []
    assert _codes(tmp_path, ".") == _codes(tmp_path, "train.py")


def test_a_module_that_does_not_parse_leaves_the_import_unseen(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "nets.py": _net("Net", "nn.Linear(2, 2)") + "def broken(:\n",
            "train.py": EVALUATE.format(source="nets", name="Net"),
        },
    )
    assert _codes(tmp_path, "train.py") == [("train.py", "TRN004")]


def test_the_projects_own_trainer_base_is_not_a_library_trainer(tmp_path: Path) -> None:
    subclass = (
        "import torch\nfrom {source} import Trainer\n\n"
        "class MyTrainer(Trainer):\n"
        "    def run(self):\n"
        "        for epoch in range(3):\n"
        "            self.model.train()\n"
        "            for x in self.loader:\n"
        "                self.opt.zero_grad()\n"
        "                self.model(x).sum().backward()\n"
        "                self.opt.step()\n"
        "            self.evaluate()\n\n"
        "    def evaluate(self):\n"
        "        with torch.no_grad():\n"
        "            for x in self.val_loader:\n"
        "                print(self.model(x))\n"
    )
    _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "base.py": "class Trainer:\n    pass\n",
            "library_base.py": (
                "from transformers import Trainer\n\nclass Base(Trainer):\n    pass\n"
            ),
            "own.py": subclass.format(source="base"),
            "through.py": subclass.format(source="library_base").replace(
                "import Trainer", "import Base as Trainer"
            ),
        },
    )
    assert _codes(tmp_path, "own.py") == [("own.py", "TRN004")]
    assert _codes(tmp_path, "through.py") == []  # a project class above a library trainer


# The cache ----------------------------------------------------------------------------------------
def test_editing_an_imported_module_rechecks_its_importer(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "nets.py": _net("Net", "nn.Linear(2, 2)"),
            "train.py": EVALUATE.format(source="nets", name="Net"),
        },
    )
    files = [str(tmp_path / "train.py")]
    assert check_files(files, cache_root=tmp_path)[0].findings == ()
    assert check_files(files, cache_root=tmp_path)[0].findings == ()  # from the cache
    (tmp_path / "nets.py").write_text(_net("Net", "nn.Dropout(0.5)"), encoding="utf-8")
    (outcome,) = check_files(files, cache_root=tmp_path)
    assert [f.code for f in outcome.findings] == ["TRN004"]
    (tmp_path / "nets.py").write_text(_net("Net", "nn.Linear(2, 2)"), encoding="utf-8")
    assert check_files(files, cache_root=tmp_path)[0].findings == ()


def test_results_on_several_processes_match_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lint_train import parallel

    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    files = {"pyproject.toml": ""}
    for number in range(6):
        layer = "nn.Dropout(0.1)" if number % 2 else "nn.Linear(2, 2)"
        files[f"nets{number}.py"] = _net("Net", layer)
        files[f"train{number}.py"] = EVALUATE.format(source=f"nets{number}", name="Net")
    _write(tmp_path, files)
    one = _codes(tmp_path, ".")
    assert one == [(f"train{n}.py", "TRN004") for n in (1, 3, 5)]
    assert _codes(tmp_path, ".", jobs=3) == one

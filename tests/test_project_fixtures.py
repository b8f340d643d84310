"""Multi-file fixtures (fixtures/projects/<name>/): each reports exactly its `# expect:` lines,
whether its folder is checked or one file alone (as pre-commit passes only staged files), on
one process or several; and each shows what the project view changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXPECT, FIXTURES, expected_findings

from lint_train.engine import lint_paths

PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir())


def _files(folder: Path) -> list[Path]:
    return sorted([*folder.rglob("*.py"), *folder.rglob("*.ipynb")])


def _expected(folder: Path) -> set[tuple[str, int, str]]:
    return {
        (str(path.relative_to(folder)), line, code)
        for path in _files(folder)
        for line, code in (_in_cells(path) if path.suffix == ".ipynb" else expected_findings(path))
    }


def _in_cells(path: Path) -> set[tuple[int, str]]:
    """A notebook's `# expect:` comments, by line in their cell (as its findings are placed)."""
    expected = set()
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            for number, line in enumerate("".join(cell["source"]).splitlines(), start=1):
                match = EXPECT.search(line)
                if match:
                    expected |= {(number, code.strip()) for code in match.group(1).split(",")}
    return expected


def _found(folder: Path, paths: list[Path], jobs: int = 1) -> set[tuple[str, int, str]]:
    result = lint_paths([str(p) for p in paths], jobs=jobs)
    assert not result.errors
    return {
        (str(Path(f.path).resolve().relative_to(folder)), f.line, f.code) for f in result.findings
    }


@pytest.mark.parametrize("folder", PROJECTS, ids=[p.name for p in PROJECTS])
def test_project_folder_reports_exactly_its_expected_findings(folder: Path) -> None:
    assert _found(folder.resolve(), [folder]) == _expected(folder)


@pytest.mark.parametrize("folder", PROJECTS, ids=[p.name for p in PROJECTS])
def test_each_file_checked_alone_still_sees_the_rest_of_its_project(folder: Path) -> None:
    folder = folder.resolve()
    for path in _files(folder):
        expected = {item for item in _expected(folder) if item[0] == str(path.relative_to(folder))}
        assert _found(folder, [path]) == expected, path


def test_projects_give_the_same_findings_on_several_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lint_train import parallel

    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)  # small files: workers all the same
    folders = [p.resolve() for p in PROJECTS]
    one = lint_paths([str(p) for p in folders], jobs=1)
    several = lint_paths([str(p) for p in folders], jobs=3)
    assert one.findings == several.findings and one.files_checked == several.files_checked


def test_there_are_buggy_and_quiet_projects() -> None:
    buggy = [p for p in PROJECTS if _expected(p)]
    assert len(buggy) >= 4 and len(PROJECTS) - len(buggy) >= 4


@pytest.mark.parametrize(
    "name",
    ["eval_with_project_loss", "mode_free_model_elsewhere", "relative_package_mode_free",
     "src_layout_mode_free", "factory_metric_mode_free", "metric_helpers_mode_free",
     "optimizer_wrapper_elsewhere"],
)  # fmt: skip
def test_quiet_projects_are_quiet_only_because_the_other_files_are_read(
    name: str, tmp_path: Path
) -> None:
    """The same train.py, with the modules it imports out of view, is reported: the class
    bodies in the other files are what make it quiet."""
    folder = (FIXTURES / "projects" / name).resolve()
    (script,) = [p for p in folder.rglob("train.py")]
    alone = tmp_path / "train.py"
    alone.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    assert lint_paths([str(alone)]).findings
    assert not lint_paths([str(script)]).findings


def test_the_helper_its_caller_makes_fine_is_reported_when_read_alone(tmp_path: Path) -> None:
    """metrics.py relies on its caller for eval mode and no_grad: with train.py out of view
    it is reported; in its project it is quiet, whichever file is checked."""
    folder = (FIXTURES / "projects" / "caller_makes_helper_fine").resolve()
    alone = tmp_path / "metrics.py"
    alone.write_text((folder / "metrics.py").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    assert sorted(f.code for f in lint_paths([str(alone)]).findings) == ["TRN003", "TRN004"]
    assert not lint_paths([str(folder / "metrics.py")]).findings


@pytest.mark.parametrize(
    ("name", "other"),
    [("cross_module_missing_eval", "evaluation.py:11"),
     ("cross_module_missing_train", "helpers.py:7"),
     ("callback_evaluation", "scoring.py:11"),
     ("import_cycle", "loop/probes.py:9"),
     ("star_import_evaluation", "tools.py:12"),
     ("agent_missing_eval", "agent.py:28"),
     ("base_class_missing_eval", "trainers/base.py:26"),
     ("base_class_leaves_eval", "trainers/base.py:16"),
     ("model_through_two_modules", "validation.py:7"),
     ("step_function_missing_zero_grad", "engine.py:11"),
     ("notebook_calls_helper", "scoring.py:11")],
)  # fmt: skip
def test_a_finding_that_needs_two_files_names_the_other_half(name: str, other: str) -> None:
    folder = (FIXTURES / "projects" / name).resolve()
    (finding,) = lint_paths([str(folder)]).findings
    assert other in finding.message

"""Configuration in pyproject.toml and file discovery, as a ruff user sets them up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train.cli import main
from lint_train.discover import DiscoverOptions, discover

BUGGY = (FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py").read_text()
EVAL_BUGGY = (FIXTURES / "buggy" / "trn003_script_val_loop.py").read_text()


def _project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _reported(out: str) -> set[str]:
    """The `path CODE` pairs in text output."""
    return {f"{line.split(':')[0]} {line.split(': ')[1].split()[0]}" for line in out.splitlines()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_ignore_in_pyproject_silences_a_code(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(project, {"train.py": BUGGY})
    assert main(["train.py"]) == 1
    (project / "pyproject.toml").write_text('[tool.lint-train]\nignore = ["TRN001"]\n')
    assert main(["train.py"]) == 0
    capsys.readouterr()


def test_select_in_pyproject_runs_only_those_codes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "train.py": BUGGY,
            "evaluate.py": EVAL_BUGGY,
            "pyproject.toml": '[tool.lint-train]\nselect = ["TRN003"]\n',
        },
    )
    assert main(["."]) == 1
    assert {code.split()[1] for code in _reported(capsys.readouterr().out)} == {"TRN003"}


def test_nearest_pyproject_with_the_table_wins_and_others_are_passed_over(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "pyproject.toml": '[tool.lint-train]\nignore = ["TRN001"]\n',
            "pkg/pyproject.toml": '[project]\nname = "pkg"\n',
            "pkg/sub/train.py": BUGGY,
            "other/pyproject.toml": '[tool.lint-train]\nselect = ["TRN001"]\n',
            "other/train.py": BUGGY,
        },
    )
    assert main(["pkg/sub/train.py"]) == 0
    assert main(["other/train.py"]) == 1
    capsys.readouterr()


def test_config_is_found_upward_from_the_checked_paths_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        tmp_path,
        {"repo/pyproject.toml": '[tool.lint-train]\nignore = ["TRN"]\n', "repo/a/train.py": BUGGY},
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main([str(tmp_path / "repo" / "a")]) == 0
    capsys.readouterr()


def test_per_file_ignores_match_gitignore_style_patterns(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "pyproject.toml": (
                "[tool.lint-train.per-file-ignores]\n"
                '"scripts/*" = ["TRN001"]\n'
                '"legacy_*.py" = ["TRN00"]\n'
            ),
            "scripts/train.py": BUGGY,
            "deep/scripts/train.py": BUGGY,
            "src/legacy_train.py": BUGGY,
            "src/train.py": BUGGY,
        },
    )
    assert main(["."]) == 1
    assert _reported(capsys.readouterr().out) == {
        "deep/scripts/train.py TRN001",
        "src/train.py TRN001",
    }


def test_extend_exclude_skips_while_searching_but_not_named_files(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "pyproject.toml": '[tool.lint-train]\nextend-exclude = ["legacy/", "old_*.py"]\n',
            "legacy/train.py": BUGGY,
            "old_train.py": BUGGY,
            "train.py": BUGGY,
            "build/train.py": BUGGY,
        },
    )
    assert main(["."]) == 1
    assert _reported(capsys.readouterr().out) == {"train.py TRN001"}
    assert main(["legacy/train.py", "old_train.py"]) == 1
    assert _reported(capsys.readouterr().out) == {"legacy/train.py TRN001", "old_train.py TRN001"}


def test_force_exclude_applies_excludes_to_named_files(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "pyproject.toml": '[tool.lint-train]\nextend-exclude = ["legacy/", "old_*.py"]\n',
            "legacy/deep/train.py": BUGGY,
            "old_train.py": BUGGY,
            "build/train.py": BUGGY,
            "train.py": BUGGY,
        },
    )
    named = ["legacy/deep/train.py", "old_train.py", "build/train.py", "train.py"]
    assert main(["--force-exclude", *named]) == 1
    assert _reported(capsys.readouterr().out) == {"train.py TRN001"}
    assert main(["--force-exclude", "legacy/deep/train.py"]) == 0
    err = capsys.readouterr().err
    assert "warning: no Python files found under the given paths" in err
    assert "0 files checked" in err


def test_exclude_replaces_the_defaults(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(
        project,
        {"pyproject.toml": '[tool.lint-train]\nexclude = ["dist/"]\n', "build/train.py": BUGGY},
    )
    assert main(["."]) == 1
    assert _reported(capsys.readouterr().out) == {"build/train.py TRN001"}


def test_config_option_points_at_another_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "pyproject.toml": '[tool.lint-train]\nselect = ["TRN003"]\n',
            "ci/lint-train.toml": 'ignore = ["TRN003"]\n',
            "train.py": BUGGY,
        },
    )
    assert main(["train.py"]) == 0
    assert main(["--config", "ci/lint-train.toml", "train.py"]) == 1
    assert main(["--isolated", "train.py"]) == 1
    capsys.readouterr()


def test_command_line_flags_win_over_the_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "pyproject.toml": '[tool.lint-train]\nselect = ["TRN003"]\nignore = ["TRN001"]\n',
            "train.py": BUGGY,
        },
    )
    assert main(["train.py"]) == 0
    assert main(["--select", "TRN001", "train.py"]) == 1
    assert main(["--select", "TRN001", "--ignore", "TRN001", "train.py"]) == 0
    capsys.readouterr()


def test_ignore_on_the_command_line_adds_to_the_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        project,
        {
            "pyproject.toml": '[tool.lint-train]\nignore = ["TRN001"]\n',
            "train.py": BUGGY,
            "evaluate.py": EVAL_BUGGY,
        },
    )
    assert main(["."]) == 1
    assert main(["--ignore", "TRN003,TRN004", "."]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("table", "names"),
    [
        ('selct = ["TRN001"]', ["selct", "did you mean 'select'?"]),
        ('select = "TRN001"', ["select", "expected a list of rule codes"]),
        ('ignore = ["E501"]', ["ignore", "'E501' is not a lint-train rule code"]),
        ("exclude = [1]", ["exclude", "expected a list of patterns"]),
        ('extend-exclude = "build/"', ["extend-exclude", "expected a list of patterns"]),
        ('per-file-ignores = ["tests/*"]', ["per-file-ignores", "expected a table"]),
        ('per-file-ignores = { "tests/*" = ["X1"] }', ['per-file-ignores."tests/*"', "'X1'"]),
        ('per-file-ignores = { "tests/*" = "TRN001" }', ['per-file-ignores."tests/*"', "list"]),
    ],
)
def test_bad_configuration_names_the_key_and_the_file_and_exits_2(
    project: Path, capsys: pytest.CaptureFixture[str], table: str, names: list[str]
) -> None:
    _project(project, {"pyproject.toml": f"[tool.lint-train]\n{table}\n", "train.py": BUGGY})
    assert main(["train.py"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{project / 'pyproject.toml'}: error: [tool.lint-train] ")
    for name in names:
        assert name in lines[0]
    assert "Traceback" not in err


def test_invalid_toml_and_missing_config_file_are_errors(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(project, {"pyproject.toml": "[tool.lint-train\nselect = [\n", "train.py": BUGGY})
    assert main(["train.py"]) == 2
    assert "pyproject.toml: error: invalid TOML" in capsys.readouterr().err
    assert main(["--config", "nope.toml", "train.py"]) == 2
    assert "nope.toml: error: cannot read" in capsys.readouterr().err


def test_config_naming_a_pyproject_without_the_table_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(project, {"other/pyproject.toml": "[project]\nname = 'x'\n", "train.py": BUGGY})
    assert main(["--config", "other/pyproject.toml", "train.py"]) == 2
    assert "no [tool.lint-train] table" in capsys.readouterr().err


# Discovery


def _found(*paths: str) -> set[str]:
    return {p.as_posix() for p in discover(paths or (".",))}


def test_default_excludes_and_virtualenvs_of_any_name_are_skipped(project: Path) -> None:
    _project(
        project,
        {
            "train.py": "",
            "pkg/model.py": "",
            ".venv/lib/site.py": "",
            "build/lib/train.py": "",
            "pkg/__pycache__/x.py": "",
            "node_modules/x.py": "",
            "lint_train.egg-info/x.py": "",
            "my-env/pyvenv.cfg": "home = /usr/bin\n",
            "my-env/lib/python3.11/site-packages/torch/x.py": "",
            "notes.txt": "",
        },
    )
    assert _found() == {"train.py", "pkg/model.py"}


def test_gitignore_is_respected_as_git_does(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    _project(
        project,
        {
            ".gitignore": "generated/\n*_autogen.py\n/top_only.py\n",
            "generated/train.py": "",
            "a_autogen.py": "",
            "keep.py": "",
            "top_only.py": "",
            "other/top_only.py": "",
            "sub/.gitignore": "*.py\n!kept.py\n",
            "sub/dropped.py": "",
            "sub/kept.py": "",
            "sub/deeper/also_dropped.py": "",
            "info_excluded.py": "",
        },
    )
    (project / ".git" / "info").mkdir(exist_ok=True)
    (project / ".git" / "info" / "exclude").write_text("info_excluded.py\n")
    git = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = set(git.stdout.split())
    assert expected == {"keep.py", "other/top_only.py", "sub/kept.py"}
    assert _found() == expected


def test_gitignore_whitelist_of_folders_and_files_is_read_as_git_does(project: Path) -> None:
    # Ignore everything, then take back every folder and some files: a folder is decided by the
    # last pattern that matches it, not hidden by the first `*`.
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    _project(
        project,
        {
            ".gitignore": "*\n!*/\n!*.py\nbuild/\n",
            "train.py": "",
            "models/net.py": "",
            "models/deep/er.py": "",
            "models/README": "",
            "build/gen.py": "",
            "sub/.gitignore": "*\n!keep/\n!*.py\n",
            "sub/keep/a.py": "",
            "sub/b.py": "",
        },
    )
    git = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = set(git.stdout.split())
    assert expected == {
        "train.py",
        "models/net.py",
        "models/deep/er.py",
        "sub/keep/a.py",
        "sub/b.py",
    }
    assert _found() == expected


def test_gitignore_above_the_searched_folder_applies(project: Path) -> None:
    (project / ".git").mkdir()
    _project(project, {".gitignore": "scratch_*.py\n", "src/scratch_1.py": "", "src/train.py": ""})
    assert _found("src") == {"src/train.py"}


def test_explicitly_named_ignored_file_is_still_found(project: Path) -> None:
    (project / ".git").mkdir()
    _project(project, {".gitignore": "*.py\n", "train.py": "", "build/x.py": ""})
    assert _found() == set()
    assert _found("train.py", "build/x.py") == {"train.py", "build/x.py"}


def test_named_folder_inside_an_ignored_folder_is_checked_below_it(project: Path) -> None:
    (project / ".git").mkdir()
    _project(
        project,
        {
            ".gitignore": "experiments/\n*_autogen.py\n",
            "experiments/run1/train.py": "",
            "experiments/run1/model_autogen.py": "",
            "experiments/run1/deeper/eval.py": "",
            "experiments/run2/train.py": "",
        },
    )
    assert _found() == set()
    # What ignores the named folder does not hide it; the rest of the patterns still apply.
    assert _found("experiments/run1") == {
        "experiments/run1/train.py",
        "experiments/run1/deeper/eval.py",
    }


def test_named_folder_inside_an_excluded_folder_is_checked_unless_forced(project: Path) -> None:
    _project(project, {"build/gen/train.py": "", "build/gen/dist/x.py": "", "build/y.py": ""})
    assert _found() == set()
    assert _found("build/gen") == {"build/gen/train.py"}
    options = DiscoverOptions(project, force_exclude=True)
    assert list(discover(["build/gen"], options)) == []


def test_folders_above_a_path_outside_the_root_do_not_exclude_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(
        tmp_path, {"build/project/train.py": "", "build/project/dist/x.py": "", "cwd/a.py": ""}
    )
    monkeypatch.chdir(tmp_path / "cwd")
    project = tmp_path / "build" / "project"
    assert {p.name for p in discover([str(project)])} == {"train.py"}
    options = DiscoverOptions(force_exclude=True)
    assert [p.name for p in discover([str(project / "train.py")], options)] == ["train.py"]

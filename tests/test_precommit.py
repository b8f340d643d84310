"""The pre-commit hook, the way a user meets it: real git, real pre-commit, a commit that is
blocked by a finding, passes once the script is fixed, and passes quietly with no Python staged.

The full test installs the hook from a git snapshot of this checkout (pre-commit builds its own
virtualenv and pip-installs lint-train into it, which takes about 20 s). The quick form runs the
same commits with the hook definition from .pre-commit-hooks.yaml as a local `system` hook, so
only the installation step differs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, require
from test_notebooks import BUGGY_CELLS, _notebook

yaml = require("yaml")
clientlib = require("pre_commit.clientlib")

HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"
BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
FIXED = FIXTURES / "fixed" / "trn001_plain_loop_zero_grad_before_loop.py"
# What pip needs to build and install lint-train from a clone of this repository.
PROJECT_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "src", "rules")


def _env(tmp: Path) -> dict[str, str]:
    gitconfig = tmp / "gitconfig"
    gitconfig.touch()
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PRE_COMMIT_HOME": str(tmp / "pre-commit-home"),
        # Keep the user's own git settings (a global hooksPath, signing) out of the test.
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _git(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = _run(["git", *args], repo, env)
    assert done.returncode == 0, done.stderr
    return done


def _snapshot_of_this_repository(dest: Path, env: dict[str, str]) -> str:
    """A git repository holding the working tree's project files; returns its commit."""
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, dest / name)
    _git(dest, env, "init", "-q")
    _git(dest, env, "add", "-A")
    _git(dest, env, "commit", "-q", "-m", "snapshot")
    return _git(dest, env, "rev-parse", "HEAD").stdout.strip()


def _user_repo(repo: Path, env: dict[str, str], config: dict[str, object]) -> None:
    repo.mkdir()
    _git(repo, env, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (repo / "README.md").write_text("# experiments\n", encoding="utf-8")
    _git(repo, env, "add", "-A")
    _git(repo, env, "commit", "-q", "--no-verify", "-m", "start")
    installed = _run([sys.executable, "-m", "pre_commit", "install"], repo, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr


def _commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    return _run(["git", "commit", "-m", message], repo, env)


def _check_the_three_commits(repo: Path, env: dict[str, str]) -> None:
    train = repo / "train.py"
    shutil.copy(BUGGY, train)
    _git(repo, env, "add", "train.py")
    blocked = _commit(repo, env, "add a training script")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "lint-train" in output
    assert "Failed" in output
    assert "train.py:32:13: TRN001 missing-zero-grad" in output
    assert _run(["git", "rev-parse", "--verify", "-q", "HEAD~1"], repo, env).returncode != 0

    shutil.copy(FIXED, train)
    _git(repo, env, "add", "train.py")
    passed = _commit(repo, env, "add a training script")
    output = passed.stdout + passed.stderr
    assert passed.returncode == 0, output
    assert "lint-train" in output
    assert "Passed" in output
    assert "TRN" not in output

    (repo / "README.md").write_text("# experiments\n\nNotes.\n", encoding="utf-8")
    _git(repo, env, "add", "README.md")
    quiet = _commit(repo, env, "document")
    output = quiet.stdout + quiet.stderr
    assert quiet.returncode == 0, output
    assert "(no files to check)Skipped" in output
    assert "TRN" not in output
    assert "Traceback" not in output and "error" not in output.lower()
    log = _git(repo, env, "log", "--format=%s").stdout.split("\n")
    assert log[:3] == ["document", "add a training script", "start"]


TWO_FILES = FIXTURES / "projects" / "cross_module_missing_train"


def _check_the_two_file_commits(repo: Path, env: dict[str, str]) -> None:
    """Only the staged script is checked, with the committed helper it imports as context: the
    helper leaves the model in eval mode and the script never switches back."""
    shutil.copy(TWO_FILES / "helpers.py", repo / "helpers.py")
    _git(repo, env, "add", "helpers.py")
    helper = _commit(repo, env, "add the validation helper")
    assert helper.returncode == 0, helper.stdout + helper.stderr

    script = (TWO_FILES / "train.py").read_text(encoding="utf-8")
    (repo / "train.py").write_text(script, encoding="utf-8")
    _git(repo, env, "add", "train.py")
    blocked = _commit(repo, env, "add the training script")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "train.py:17:44: TRN005 missing-train" in output
    assert "(`validate` leaves it in eval mode at helpers.py:7)" in output
    assert "Found 1 problem (1 file checked)." in output

    fixed = script.replace(
        "for epoch in range(3):\n", "for epoch in range(3):\n    model.train()\n"
    )
    (repo / "train.py").write_text(fixed, encoding="utf-8")
    _git(repo, env, "add", "train.py")
    passed = _commit(repo, env, "add the training script")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    log = _git(repo, env, "log", "--format=%s").stdout.split("\n")
    assert log[:3] == ["add the training script", "add the validation helper", "start"]


def _manifest_hook() -> dict[str, object]:
    hooks = clientlib.load_manifest(str(HOOKS_FILE))
    assert [h["id"] for h in hooks] == ["lint-train"]
    return hooks[0]


def test_hook_manifest_is_valid_and_runs_lint_train_on_python_files() -> None:
    hook = _manifest_hook()
    assert hook["language"] == "python"
    assert hook["entry"].split()[0] == "lint-train"
    assert "--force-exclude" in hook["entry"].split()
    # Python files and notebooks ("file" is pre-commit's default for `types`: any file).
    assert hook["types"] == ["file"]
    assert set(hook["types_or"]) == {"python", "jupyter"}
    assert hook["pass_filenames"] is True


def test_hook_runs_one_process_for_all_files() -> None:
    """lint-train runs its own workers and analyses modules together, so pre-commit must not
    split the staged files over several processes (each would print its own summary)."""
    assert _manifest_hook()["require_serial"] is True


def test_one_hook_run_over_several_files_prints_one_summary(tmp_path: Path) -> None:
    env = _env(tmp_path)
    hook = _manifest_hook()
    local = {"id": "lint-train", "name": "lint-train", "entry": hook["entry"]}
    local |= {"language": "system", "types": hook["types"], "types_or": hook["types_or"]}
    local |= {"require_serial": hook["require_serial"]}
    repo = tmp_path / "work"
    _user_repo(repo, env, {"repos": [{"repo": "local", "hooks": [local]}]})
    for number in range(6):
        shutil.copy(BUGGY, repo / f"train_{number}.py")
    _git(repo, env, "add", "-A")
    done = _commit(repo, env, "add training scripts")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    summaries = [line for line in output.splitlines() if line.startswith(("Found ", "All checks"))]
    assert summaries == ["Found 6 problems (6 files checked)."], output


def test_commits_through_the_hook_definition_as_a_local_hook(tmp_path: Path) -> None:
    """The quick form: real git and pre-commit, the manifest's hook run from this environment."""
    env = _env(tmp_path)
    hook = _manifest_hook()
    local = {
        "id": hook["id"],
        "name": hook["name"],
        "entry": hook["entry"],
        "language": "system",
        "types": hook["types"],
        "types_or": hook["types_or"],
    }
    _user_repo(tmp_path / "work", env, {"repos": [{"repo": "local", "hooks": [local]}]})
    _check_the_three_commits(tmp_path / "work", env)


def test_a_staged_script_is_checked_with_the_project_module_it_imports(tmp_path: Path) -> None:
    """The quick form of the two-file commits: the manifest's hook run from this environment."""
    env = _env(tmp_path)
    hook = _manifest_hook()
    local = {"id": "lint-train", "name": "lint-train", "entry": hook["entry"]}
    local |= {"language": "system", "types": hook["types"], "types_or": hook["types_or"]}
    local |= {"require_serial": hook["require_serial"]}
    repo = tmp_path / "work"
    _user_repo(repo, env, {"repos": [{"repo": "local", "hooks": [local]}]})
    _check_the_two_file_commits(repo, env)


def test_a_staged_buggy_notebook_blocks_the_commit(tmp_path: Path) -> None:
    env = _env(tmp_path)
    hook = _manifest_hook()
    local = {"id": "lint-train", "name": "lint-train", "entry": hook["entry"]}
    local |= {"language": "system", "types": hook["types"], "types_or": hook["types_or"]}
    repo = tmp_path / "work"
    _user_repo(repo, env, {"repos": [{"repo": "local", "hooks": [local]}]})
    (repo / "train.ipynb").write_text(_notebook(*BUGGY_CELLS), encoding="utf-8")
    _git(repo, env, "add", "train.ipynb")
    done = _commit(repo, env, "add a notebook")
    assert done.returncode != 0
    assert "train.ipynb:cell 5:6:9: TRN001" in done.stdout + done.stderr


def test_configured_exclude_holds_for_files_pre_commit_names(tmp_path: Path) -> None:
    env = _env(tmp_path)
    hook = _manifest_hook()
    local = {"id": "lint-train", "name": "lint-train", "entry": hook["entry"]}
    local |= {"language": "system", "types": hook["types"]}
    repo = tmp_path / "work"
    _user_repo(repo, env, {"repos": [{"repo": "local", "hooks": [local]}]})
    (repo / "pyproject.toml").write_text('[tool.lint-train]\nextend-exclude = ["vendor/"]\n')
    (repo / "vendor").mkdir()
    shutil.copy(BUGGY, repo / "vendor" / "train.py")
    _git(repo, env, "add", "-A")
    done = _commit(repo, env, "vendor a script")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "TRN001" not in done.stdout + done.stderr


@pytest.mark.slow
def test_commits_through_pre_commit_installing_this_repository(tmp_path: Path) -> None:
    env = _env(tmp_path)
    # The hook must run the copy pre-commit installs, not src/ through the suite's PYTHONPATH.
    env.pop("PYTHONPATH", None)
    hook_repo = tmp_path / "lint-train"
    hook_repo.mkdir()
    rev = _snapshot_of_this_repository(hook_repo, env)
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": "lint-train"}]}]}
    _user_repo(tmp_path / "work", env, config)
    _check_the_three_commits(tmp_path / "work", env)


@pytest.mark.slow
def test_two_file_commits_through_pre_commit_installing_this_repository(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env.pop("PYTHONPATH", None)  # the installed copy, not src/ through the suite's PYTHONPATH
    hook_repo = tmp_path / "lint-train"
    hook_repo.mkdir()
    rev = _snapshot_of_this_repository(hook_repo, env)
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": "lint-train"}]}]}
    _user_repo(tmp_path / "work", env, config)
    # pre-commit builds the hook's environment before the first commit (pip installs
    # lint-train and libcst): given its own, longer time, so that each commit gets the usual.
    built = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install-hooks"],
        cwd=tmp_path / "work", env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    _check_the_two_file_commits(tmp_path / "work", env)

"""The suite's own set-up: it tests this working tree's src/, and a missing package fails the
proofs that need it instead of skipping them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ALLOW_SKIPS, INSTALL, ROOT, require

import lint_train

MISSING = "lint_train_no_such_package"


def test_require_returns_the_module() -> None:
    assert require("json").dumps([1]) == "[1]"


def test_require_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_SKIPS, raising=False)
    with pytest.raises(pytest.fail.Exception) as failed:
        require(MISSING)
    assert MISSING in str(failed.value)
    assert INSTALL in str(failed.value)


def test_require_skips_only_when_skips_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_SKIPS, "1")
    with pytest.raises(pytest.skip.Exception) as skipped:
        require(MISSING)
    assert INSTALL in str(skipped.value)


def _pytest_on(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run pytest on a module that requires a missing package at module level, as the runtime
    test modules require torch."""
    (tmp_path / "test_needs_it.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from conftest import require\n"
        f"require({MISSING!r})\n\n"
        "def test_proof():\n"
        "    pass\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_needs_it.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_missing_package_fails_the_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != ALLOW_SKIPS}
    done = _pytest_on(tmp_path, env)
    assert done.returncode != 0, done.stdout
    assert INSTALL in done.stdout
    assert "skipped" not in done.stdout


def test_a_missing_package_skips_with_the_opt_out(tmp_path: Path) -> None:
    done = _pytest_on(tmp_path, {**os.environ, ALLOW_SKIPS: "1"})
    # The module's only test is skipped with it, so pytest reports that nothing was collected.
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, done.stdout
    assert "1 skipped" in done.stdout


def test_the_tests_import_the_working_tree() -> None:
    assert Path(lint_train.__file__).resolve().is_relative_to(ROOT / "src")


def test_child_processes_import_the_working_tree(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import lint_train; print(lint_train.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert Path(done.stdout.strip()).resolve().is_relative_to(ROOT / "src"), done.stderr


def test_ci_runs_the_readme_test_commands() -> None:
    """.ci/run calls README's commands for the suite exactly, the slow pass included."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line for line in readme if line.startswith("python -m pip install torch")]
    commands += [line for line in readme if line.startswith("python -m pytest")]
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in commands:
        assert command in ci


def test_no_test_module_skips_when_a_package_is_missing() -> None:
    # pytest.importorskip would turn a missing torch into a green run; require() fails instead.
    offenders = [
        path.name
        for path in sorted((ROOT / "tests").glob("*.py"))
        if "importorskip" in path.read_text(encoding="utf-8") and path.name != Path(__file__).name
    ]
    assert offenders == []

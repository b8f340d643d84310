"""The per-file result cache: a hit gives back exactly what analysis gave, any change that could
change the result misses, --no-cache leaves no trace, and concurrent runs keep it whole."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from lint_train import cache, engine
from lint_train.cache import DIRECTORY, Cache, default_root
from lint_train.cli import main
from lint_train.engine import FileOutcome, Selection, check_files
from lint_train.types import FileError, Finding, Location

BUGGY = FIXTURES / "buggy"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with training scripts, one file that does not parse and one that does
    not decode."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n', encoding="utf-8")
    for source in sorted(BUGGY.glob("trn00*.py"))[::4]:  # some of each rule
        shutil.copyfile(source, root / source.name)
    (root / "broken.py").write_text("def evaluate(:\n    loss.backward()\n", encoding="utf-8")
    (root / "latin.py").write_bytes(b"# -*- coding: ascii -*-\nx = '\xe9'\n")
    return root


def files_of(root: Path) -> list[str]:
    return sorted(str(p) for p in root.glob("*.py"))


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the engine parses and analyses (not answered by the cache or the prefilter)."""
    seen: list[str] = []
    real = engine._analyse_text

    def counting(text: str, path: str, *rest: object) -> object:
        seen.append(path)
        return real(text, path, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_analyse_text", counting)
    return seen


def test_a_cache_hit_gives_back_the_same_findings_and_errors(
    project: Path, analyses: list[str]
) -> None:
    files = files_of(project)
    first = check_files(files, cache_root=project)
    assert len(analyses) >= 12
    analyses.clear()
    again = check_files(files, cache_root=project)
    assert analyses == []  # nothing parsed: every outcome came from the cache
    assert again == first
    assert again == check_files(files)  # and it is what an uncached run gives
    assert sum(len(o.findings) for o in again) >= 12
    assert all(f.related for o in again for f in o.findings)  # the loops come back too
    messages = [o.error.message for o in again if o.error is not None]
    assert any(m.startswith("syntax error") for m in messages)
    assert any(m.startswith("not valid ascii") for m in messages)


def test_an_entry_serves_the_same_bytes_under_another_name(project: Path) -> None:
    name = files_of(project)[0]
    store = Cache(project, "all")
    finding = Finding(
        name, "TRN001", "missing-zero-grad", "msg `x`", Location(3, 5, 9, 1, cell=2), True
    )
    data = Path(name).read_bytes()
    store.put(store.key(name, data), [finding], None)
    copy = str(project / "sub" / "copy.py")
    assert store.get(store.key(copy, data), copy) == ([replace(finding, path=copy)], None)
    error = FileError(name, "syntax error: bad", 4)
    store.put(store.key(name, b"x("), [], error)
    assert store.get(store.key(name, b"x("), name) == ([], error)


def test_changed_content_is_analysed_again(project: Path, analyses: list[str]) -> None:
    files = files_of(project)
    check_files(files, cache_root=project)
    changed = next(project / Path(f).name for f in files if Path(f).name.startswith("trn005"))
    fixed = FIXTURES / "fixed" / changed.name
    shutil.copyfile(fixed, changed)
    analyses.clear()
    outcomes = check_files(files, cache_root=project)
    assert analyses == [str(changed)]
    assert outcomes == check_files(files)
    assert outcomes[files.index(str(changed))] == FileOutcome()


def test_another_selection_does_not_reuse_results(project: Path, analyses: list[str]) -> None:
    files = files_of(project)
    everything = check_files(files, cache_root=project)
    analyses.clear()
    only = check_files(files, Selection(select=("TRN003",)), cache_root=project)
    assert len(analyses) >= 12
    assert {f.code for o in only for f in o.findings} <= {"TRN003"}
    assert {f.code for o in everything for f in o.findings} > {"TRN003"}
    analyses.clear()
    assert check_files(files, cache_root=project) == everything
    assert analyses == []


def test_another_tool_build_does_not_reuse_results(
    project: Path, analyses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = files_of(project)
    check_files(files, cache_root=project)
    old_build = {p.name for p in (project / DIRECTORY).iterdir() if p.is_dir()}
    monkeypatch.setattr(cache, "__version__", "999.0")
    monkeypatch.setattr(cache, "_fingerprint", None)
    analyses.clear()
    check_files(files, cache_root=project)
    assert len(analyses) >= 12
    builds = {p.name for p in (project / DIRECTORY).iterdir() if p.is_dir()}
    assert len(builds) == 1 and builds.isdisjoint(old_build)  # the old build's entries went
    assert next(iter(builds)).startswith("999.0-")


def test_an_edited_tool_source_changes_the_fingerprint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "lint_train"
    package.mkdir()
    module = package / "cache.py"
    module.write_text("x = 1\n", encoding="utf-8")
    monkeypatch.setattr(cache, "__file__", str(module))
    monkeypatch.setattr(cache, "_fingerprint", None)
    before = cache.tool_fingerprint()
    module.write_text("x = 22\n", encoding="utf-8")
    monkeypatch.setattr(cache, "_fingerprint", None)
    assert cache.tool_fingerprint() != before


def test_no_cache_writes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    assert main(["--no-cache", "."]) == 2  # findings, and two files that cannot be checked
    assert not (project / DIRECTORY).exists()
    assert main(["."]) == 2
    assert (project / DIRECTORY).is_dir()  # the same run without the flag does write
    capsys.readouterr()


def test_cache_goes_next_to_the_nearest_pyproject(tmp_path: Path) -> None:
    (tmp_path / "repo" / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "repo" / "pyproject.toml").write_text("", encoding="utf-8")
    assert default_root(tmp_path / "repo" / "src" / "pkg") == (tmp_path / "repo").resolve()
    (tmp_path / "loose").mkdir()
    assert default_root(tmp_path / "loose") == (tmp_path / "loose").resolve()


def test_the_cache_folder_is_ignored_by_git(project: Path) -> None:
    check_files(files_of(project), cache_root=project)
    ignore = (project / DIRECTORY / ".gitignore").read_text(encoding="utf-8")
    assert "*" in ignore.splitlines()


def test_a_damaged_entry_is_computed_afresh(project: Path, analyses: list[str]) -> None:
    files = files_of(project)
    first = check_files(files, cache_root=project)
    entries = sorted((project / DIRECTORY).glob("*/*.json"))
    for entry in entries:
        entry.write_text('{"findings": [{"code": ', encoding="utf-8")
    analyses.clear()
    assert check_files(files, cache_root=project) == first
    assert len(analyses) >= 12
    assert all(json.loads(e.read_text(encoding="utf-8")) for e in entries)  # rewritten whole


def test_a_cache_that_cannot_be_written_does_not_stop_the_run(project: Path) -> None:
    (project / DIRECTORY).write_text("a file where the cache folder would go", encoding="utf-8")
    files = files_of(project)
    assert check_files(files, cache_root=project) == check_files(files)


# Reads the reader must make while the writers write; the writers go on until it has.
READS = 50
# A hang guard only: writers stop after this many rounds even if the reader never signals.
MAX_ROUNDS = 100_000


def _hammer(folder: str, seed: int, rounds: int, enough: Any) -> None:
    """Writes large entries under a few shared keys, as many concurrent runs would, for at least
    `rounds` rounds and until `enough` is set."""
    store = Cache(Path(folder), "all")
    round_ = 0
    while round_ < MAX_ROUNDS and (round_ < rounds or not enough.is_set()):
        round_ += 1
        for key in ("a" * 40, "b" * 40, "c" * 40):
            findings = [
                Finding(
                    "f.py", "TRN001", "missing-zero-grad", f"{seed}-{round_}-{i}" * 20,
                    Location(i + 1, 1, i + 2, 1),
                )
                for i in range(300)
            ]  # fmt: skip
            store.put(key, findings, None)


def test_concurrent_writers_never_leave_a_partial_entry(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    enough = context.Event()
    writers = [
        context.Process(target=_hammer, args=(str(tmp_path), seed, 15, enough)) for seed in range(4)
    ]
    for writer in writers:
        writer.start()
    reads = 0
    # The writers keep writing until the reader has made READS reads, so every one of those
    # reads races a write, however the processes happen to be scheduled.
    while any(w.is_alive() for w in writers):
        for entry in tmp_path.glob(f"{DIRECTORY}/*/*.json"):
            try:
                text = entry.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            assert len(json.loads(text)["findings"]) == 300  # never half written
            reads += 1
        if reads >= READS:
            enough.set()
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    assert reads >= READS
    assert not list(tmp_path.glob(f"{DIRECTORY}/*/.*.tmp"))  # no temporary file left


def test_concurrent_runs_agree_and_leave_a_sound_cache(project: Path) -> None:
    command = [sys.executable, "-m", "lint_train.cli", "--output-format", "json", "."]
    runs = [
        subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    uncached = subprocess.run(
        [*command, "--no-cache"], cwd=project, capture_output=True, check=False
    ).stdout
    assert outputs[0] == outputs[1] == outputs[2] == uncached
    cached = subprocess.run(command, cwd=project, capture_output=True, check=False).stdout
    assert cached == uncached
    entries = list(project.glob(f"{DIRECTORY}/*/*.json"))
    assert len(entries) == len(files_of(project))
    for entry in entries:
        json.loads(entry.read_text(encoding="utf-8"))


def _lint_from(cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lint_train.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        # The package under test, wherever the child runs (PYTHONPATH may be relative).
        env={**os.environ, "PYTHONPATH": str(Path(cache.__file__).parents[1]), **(env or {})},
    )
    assert done.returncode == 1, done.stderr


def test_linting_a_project_from_an_unrelated_folder_keeps_the_cache_in_the_project(
    tmp_path: Path,
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "src").mkdir(parents=True)
    elsewhere.mkdir()
    (project / "setup.cfg").write_text("[metadata]\nname = p\n", encoding="utf-8")
    shutil.copyfile(BUGGY / "trn001_amp_grad_scaler.py", project / "src" / "train.py")
    _lint_from(elsewhere, str(project / "src" / "train.py"))
    assert list(elsewhere.iterdir()) == []
    assert list((project / DIRECTORY).glob("*/*.json"))


def test_the_cache_dir_setting_is_relative_to_its_configuration_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lint-train]\ncache-dir = "build/lt-cache"\n', encoding="utf-8"
    )
    (tmp_path / "pkg").mkdir()
    shutil.copyfile(BUGGY / "trn001_amp_grad_scaler.py", tmp_path / "pkg" / "train.py")
    _lint_from(tmp_path / "pkg", "train.py")
    assert list((tmp_path / "build" / "lt-cache").glob("*/*.json"))
    assert not (tmp_path / DIRECTORY).exists() and not (tmp_path / "pkg" / DIRECTORY).exists()


def test_the_environment_variable_wins_over_the_setting(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lint-train]\ncache-dir = "build/lt-cache"\n', encoding="utf-8"
    )
    shutil.copyfile(BUGGY / "trn001_amp_grad_scaler.py", tmp_path / "train.py")
    chosen = tmp_path / "chosen"
    _lint_from(tmp_path, "train.py", env={cache.ENVIRONMENT: str(chosen)})
    assert list(chosen.glob("*/*.json"))
    assert not (tmp_path / "build").exists()


def test_a_configured_folder_lint_train_did_not_create_keeps_what_it_holds(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    (shared / "other-tool").mkdir(parents=True)
    store = Cache(tmp_path, "all", shared)
    store.put("a" * 40, [], None)
    assert (shared / "other-tool").is_dir()
    assert store.get("a" * 40, "x.py") == ([], None)


def test_setup_files_and_git_mark_the_project_root(tmp_path: Path) -> None:
    for marker in ("setup.py", ".git"):
        root = tmp_path / marker.strip(".")
        (root / "a" / "b").mkdir(parents=True)
        (root / marker).write_text("", encoding="utf-8")
        assert default_root(root / "a" / "b") == root.resolve()


@pytest.mark.parametrize("value", ["3", '""', '["a"]'])
def test_a_cache_dir_that_is_not_a_folder_name_is_a_configuration_error(
    tmp_path: Path, value: str
) -> None:
    from lint_train.config import ConfigError, load_config

    (tmp_path / "pyproject.toml").write_text(f"[tool.lint-train]\ncache-dir = {value}\n")
    with pytest.raises(ConfigError, match="cache-dir: expected a folder name"):
        load_config(tmp_path / "pyproject.toml")

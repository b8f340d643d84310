"""Analysing on several processes gives exactly what one process gives, in the same order."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES

from lint_train import engine, parallel
from lint_train.cli import main
from lint_train.engine import Selection, check_files, lint_paths


@pytest.fixture
def corpus(tmp_path: Path) -> list[str]:
    """Every fixture, with files that cannot be checked spread among them, so that the order
    of errors shows whether results are put back in the files' order."""
    files: list[str] = []
    for number, source in enumerate(sorted(FIXTURES.rglob("*.py"))[::3]):
        target = tmp_path / f"{number:03d}_{source.name}"
        shutil.copyfile(source, target)
        files.append(str(target))
        if number % 8 == 3:
            broken = tmp_path / f"{number:03d}_broken.py"
            broken.write_text("def evaluate(:\n    loss.backward()\n", encoding="utf-8")
            files.append(str(broken))
        if number % 8 == 6:
            files.append(str(tmp_path / f"{number:03d}_missing.py"))
    return files


@pytest.fixture
def spy_on_workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the batches sent to worker processes (and lets small batches go parallel)."""
    calls: list[int] = []
    real_run = parallel.run

    def run(work, groups, jobs, *args):  # type: ignore[no-untyped-def]
        calls.append(len(groups))
        yield from real_run(work, groups, jobs, *args)

    monkeypatch.setattr(parallel, "run", run)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 4_000)  # many chunks, finishing out of order
    return calls


def test_parallel_outcomes_equal_sequential_ones_in_file_order(
    corpus: list[str], spy_on_workers: list[int]
) -> None:
    sequential = check_files(corpus, jobs=1)
    assert spy_on_workers == []
    parallel_outcomes = check_files(corpus, jobs=3)
    assert spy_on_workers and spy_on_workers[0] > 3
    assert parallel_outcomes == sequential
    errors = [o.error.path for o in sequential if o.error is not None]
    assert len(errors) >= 8 and errors == sorted(errors)  # the fixture's order, kept
    assert sum(len(o.findings) for o in sequential) > 12


def test_parallel_run_reports_the_same_findings_errors_and_counts(
    corpus: list[str], spy_on_workers: list[int]
) -> None:
    selection = Selection(select=("TRN00",), ignore=("TRN005",))
    one = lint_paths(corpus, selection, jobs=1)
    many = lint_paths(corpus, selection, jobs=2)
    assert spy_on_workers
    assert many.findings == one.findings
    assert many.errors == one.errors
    assert many.files_checked == one.files_checked
    assert {f.code for f in one.findings} == {"TRN001", "TRN002", "TRN003", "TRN004", "TRN007"}


def test_a_single_file_is_analysed_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_workers(*args: object) -> None:
        raise AssertionError("started worker processes for one file")

    monkeypatch.setattr(parallel, "run", no_workers)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    path = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
    result = lint_paths([str(path)], jobs=8)
    assert [f.code for f in result.findings] == ["TRN001"]


def test_little_source_to_analyse_stays_in_process() -> None:
    assert not parallel.worth_it([2_000] * 10, jobs=2)
    assert not parallel.worth_it([10_000_000], jobs=2)  # one file cannot be split
    assert not parallel.worth_it([200_000] * 10, jobs=1)
    assert parallel.worth_it([60_000] * 10, jobs=2)


def test_chunks_hold_every_item_once_largest_first() -> None:
    sizes = [10, 50_000, 300, 40_000, 20, 1_000, 7]
    groups = parallel.chunks(list(range(len(sizes))), sizes)
    flat = [i for group in groups for i in group]
    assert sorted(flat) == list(range(len(sizes)))
    assert flat[:2] == [1, 3]  # the two big files open the queue, each in a chunk of its own
    assert [len(g) for g in groups[:2]] == [1, 1]


def test_command_line_output_is_the_same_with_one_or_two_jobs(
    capsys: pytest.CaptureFixture[str], spy_on_workers: list[int], tmp_path: Path
) -> None:
    for source in sorted((FIXTURES / "buggy").glob("*.py"))[::3]:
        shutil.copyfile(source, tmp_path / source.name)
    folder = str(tmp_path)
    assert main(["--no-cache", "-j", "1", "--output-format", "json", folder]) == 1
    one = capsys.readouterr().out
    assert main(["--no-cache", "-j", "2", "--output-format", "json", folder]) == 1
    two = capsys.readouterr().out
    assert spy_on_workers
    assert two == one and one.count('"code"') >= 15


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_jobs_must_be_a_positive_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["-j", value, str(FIXTURES / "buggy")])
    assert exit_info.value.code == 2
    assert "number of processes" in capsys.readouterr().err


def test_workers_use_only_the_selected_rules(corpus: list[str], spy_on_workers: list[int]) -> None:
    outcomes = check_files(corpus, Selection(select=("TRN003",)), jobs=2)
    assert spy_on_workers
    codes = {f.code for o in outcomes for f in o.findings}
    assert codes == {"TRN003"}
    assert engine._worker_rules == []  # the parent's own list stays empty: workers fill theirs


def _die_on_13(group: list[int]) -> list[tuple[int, str]]:
    results = []
    for item in group:
        if item == 13:
            os._exit(70)  # as a crash in native code ends a worker: no exception, no result
        results.append((item, "checked"))
    return results


def _prepare_nothing() -> None:
    pass


def test_a_worker_that_dies_costs_only_the_item_that_killed_it() -> None:
    groups = [list(range(start, start + 5)) for start in range(0, 30, 5)]
    results = list(
        parallel.run(_die_on_13, groups, 2, _prepare_nothing, (), lambda i: (i, "crashed"))
    )
    assert sorted(results) == [(i, "crashed" if i == 13 else "checked") for i in range(30)]


def test_a_crash_while_analysing_becomes_that_files_error(
    corpus: list[str], spy_on_workers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = check_files(corpus, jobs=1)
    poison = next(name for name, o in zip(corpus, expected, strict=True) if o.findings)
    real = engine._analyse_text

    def crash_on_poison(text: str, path: str, *rest: object) -> object:
        if path == poison:
            os._exit(70)
        return real(text, path, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_analyse_text", crash_on_poison)
    outcomes = check_files(corpus, jobs=2)
    assert spy_on_workers
    where = corpus.index(poison)
    assert outcomes[where].error is not None
    assert "crashed" in outcomes[where].error.message
    assert outcomes[:where] + outcomes[where + 1 :] == expected[:where] + expected[where + 1 :]

"""The benchmark scripts still run and print their tables (a quick form: tiny sizes, one run).
They measure nothing here: the tests check the tables' shape, their rows, and that the printed
figures are positive and agree with each other, never how fast anything is. The figures live in
docs/performance.md."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import missing

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from synth import generate, large_train_file  # noqa: E402


def test_synthetic_repository_is_deterministic_and_valid(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 40)
    second = generate(tmp_path / "b", 40)
    assert len(first) == 40
    texts = [p.read_text(encoding="utf-8") for p in first]
    assert texts == [p.read_text(encoding="utf-8") for p in second]
    for path, text in zip(first, texts, strict=True):
        compile(text, str(path), "exec")
    large = large_train_file()
    compile(large, "train_everything.py", "exec")
    assert len(large) > 20_000 and large == large_train_file()


def _table(text: str, title: str) -> tuple[str, list[list[str]]]:
    """The header line and the cells of each row of the Markdown table under `## title`."""
    lines = text.split(f"## {title}\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert lines[1].startswith("|---") or lines[1].startswith("|--:"), lines[1]
    return lines[0], [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _product_agrees(
    a: float, a_step: float, b: float, b_step: float, product: float, product_step: float = 0
) -> bool:
    """a * b == product, each printed rounded to half its step (a_step: a's rounding error)."""
    return abs(a * b - product) <= a * b_step + b * a_step + a_step * b_step + product_step


@pytest.mark.slow
def test_benchmark_runner_prints_its_tables(tmp_path: Path) -> None:
    lint_train, ruff = shutil.which("lint-train"), shutil.which("ruff")
    if lint_train is None or ruff is None:
        missing("the lint-train or ruff command is not on PATH")
    command = [
        sys.executable, str(BENCH / "run.py"), "--sizes", "30", "--repeat", "1",
        "--single-repeat", "1", "--no-torchfix", "--lint-train", lint_train, "--ruff", ruff,
        "--workdir", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    header, rows = _table(done.stdout, "Repository runs")
    assert header == (
        "| files | analysed | MB | tool | run | wall s | files/s | MB/s | peak MB | vs lint-train |"
    )
    assert [(r[0], r[3], r[4]) for r in rows] == [
        ("30", "lint-train", "cold"),
        ("30", "lint-train", "cached"),
        ("30", "ruff", "cold"),
        ("30", "ruff", "cached"),
    ]
    assert len({(r[1], r[2]) for r in rows}) == 1  # every tool saw the same repository
    assert 0 < int(rows[0][1]) <= 30  # the prefilter passes some of the files, not all
    ours = {r[4]: float(r[5]) for r in rows if r[3] == "lint-train"}
    for row in rows:
        # files/s has thousands separators; a run too quick to sample may show 0 peak MB.
        wall, per_second, peak = float(row[5]), float(row[6].replace(",", "")), float(row[8])
        assert wall >= 0 and peak >= 0
        # files/s is files over wall s; "vs lint-train" is this wall s over lint-train's.
        assert _product_agrees(wall, 0.005, per_second, 0.5, 30)
        assert _product_agrees(float(row[9].rstrip("x")), 0.005, ours[row[4]], 0.005, wall, 0.005)

    header, rows = _table(done.stdout, "One training script (pre-commit style)")
    assert header == "| repo files | script | tool | run | best s | median s |"
    assert [(r[1].split(" (")[0], r[2], r[3]) for r in rows] == [
        (script, tool, run)
        for script in ("scripts/train_20.py", "scripts/train_everything.py")
        for tool, run in [
            ("lint-train", "cold (--no-cache)"),
            ("lint-train", "cached"),
            ("ruff", "cold (--no-cache)"),
        ]
    ]
    for row in rows:
        assert 0 <= float(row[4]) <= float(row[5])  # best of the runs, then their median


def test_provider_costs_are_printed_for_a_file() -> None:
    script = ROOT / "fixtures" / "buggy" / "trn001_amp_grad_scaler.py"
    command = [sys.executable, str(BENCH / "providers.py"), str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    header, rule, *rows = done.stdout.splitlines()
    assert (header, rule) == ("| file | step | best ms |", "|---|---|---:|")
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    size = f"{script.stat().st_size / 1000:.0f} kB"
    assert {c[0] for c in cells} == {f"{script.name} ({size})"}
    assert [c[1] for c in cells] == [
        "nesting check (lint-train, before parsing)",
        "libcst parse",
        "analysis (lint-train: index + interpreter)",
        "PositionProvider (every node)",
        "positions.locate (3 reported nodes, lint-train)",
        "ParentNodeProvider (not used)",
        "ScopeProvider (not used)",
        "QualifiedNameProvider (not used)",
    ]
    # Milliseconds, printed to 0.1: some steps may round to 0.0, but parsing a real file may not.
    milliseconds = [float(c[2]) for c in cells]
    assert all(math.isfinite(ms) and ms >= 0 for ms in milliseconds)
    assert milliseconds[1] > 0

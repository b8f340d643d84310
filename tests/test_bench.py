"""The benchmark scripts still run and print their tables (a quick form: tiny sizes, one run).
They measure nothing here; the figures live in docs/performance.md."""

from __future__ import annotations

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


@pytest.mark.slow
def test_benchmark_runner_prints_its_tables(tmp_path: Path) -> None:
    lint_train = shutil.which("lint-train")
    if lint_train is None:
        missing("the lint-train command is not on PATH")
    command = [
        sys.executable, str(BENCH / "run.py"), "--sizes", "30", "--repeat", "1",
        "--single-repeat", "1", "--no-torchfix", "--lint-train", lint_train,
        "--workdir", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| 30 |" in done.stdout and "| lint-train | cold |" in done.stdout
    assert "train_everything.py" in done.stdout  # the large single-file case ran


def test_provider_costs_are_printed_for_a_file() -> None:
    script = ROOT / "fixtures" / "buggy" / "trn001_amp_grad_scaler.py"
    command = [sys.executable, str(BENCH / "providers.py"), str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| trn001")]
    assert len(rows) == 8 and all(float(row.split("|")[-2]) >= 0 for row in rows)

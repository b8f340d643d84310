"""How fast lint-train is, next to TorchFix and ruff, on synthetic repositories of N files.

    python bench/run.py                         # N = 100, 1000 and 5000
    python bench/run.py --sizes 100,1000 --repeat 3
    python bench/run.py --torchfix ~/tf-venv/bin/torchfix

For each N, bench/synth.py writes a repository (the same one for the same N), then each tool
runs on it as its own process, from the repository's root, as a user would run it:

    lint-train .   cold (no .lint-train_cache yet), then again (cached)
    ruff check .   cold (no .ruff_cache yet), then again (cached)
    torchfix .     (it keeps no cache)

and each on one training script, as a pre-commit hook runs it. Every tool uses all cores (its
default). Wall time is the best of --repeat runs; peak memory is the largest sum of the
resident memory of the tool's processes (sampled every 20 ms with psutil; shared pages of
forked workers count once per process, so this overstates a forking tool a little).
TorchFix pins libcst<1.6, so keep it in a virtualenv of its own and name it with --torchfix.
Nothing here asserts a time: it prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from synth import generate, large_train_file

try:
    import psutil
except ImportError:  # peak memory then falls back to the largest single process
    psutil = None


@dataclass
class Run:
    wall: float
    peak_mb: float
    code: int


def measure(command: list[str], cwd: Path, env: dict[str, str], repeat: int, cold: bool) -> Run:
    runs = []
    for _ in range(repeat):
        if cold:  # every repetition of a cold run starts without the tools' caches
            shutil.rmtree(cwd / ".lint-train_cache", ignore_errors=True)
            shutil.rmtree(cwd / ".ruff_cache", ignore_errors=True)
        runs.append(_measure_once(command, cwd, env))
    return Run(min(r.wall for r in runs), max(r.peak_mb for r in runs), runs[-1].code)


def _measure_once(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0
    if psutil is not None:
        root = psutil.Process(process.pid)
        while process.poll() is None:
            peak = max(peak, _tree_rss(root))
            time.sleep(0.02)
        code = process.returncode
    else:
        _, status, usage = os.wait4(process.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * 1024
    wall = time.perf_counter() - start
    return Run(wall, peak / 1e6, code)


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        with contextlib.suppress(psutil.Error):  # a worker that just ended
            total += process.memory_info().rss
    return total


def tool(name: str, given: str | None) -> str | None:
    """The executable: as given, next to this Python, or on PATH."""
    if given:
        return given
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


def version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def analysed_count(files: list[Path]) -> str:
    """How many files pass lint-train's text prefilter for the rules that run by default
    (the ones it parses)."""
    try:
        from lint_train.engine import Selection
        from lint_train.prefilter import could_matter, needed_words
    except ImportError:
        return "?"
    needed = needed_words(rule.info.code for rule in Selection().rules())
    return str(sum(could_matter(f.read_text(encoding="utf-8"), needed) for f in files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="numbers of files (100,1000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (best is kept)")
    parser.add_argument("--single-repeat", type=int, default=5, help="runs of single-file runs")
    parser.add_argument("--workdir", help="where to write the repositories (default: a temp dir)")
    parser.add_argument("--lint-train", dest="lint_train", help="the lint-train executable")
    parser.add_argument("--ruff", help="the ruff executable")
    parser.add_argument("--torchfix", help="the torchfix executable")
    parser.add_argument("--no-torchfix", action="store_true", help="skip TorchFix (slow)")
    args = parser.parse_args()

    lint_train = tool("lint-train", args.lint_train)
    ruff = tool("ruff", args.ruff)
    torchfix = None if args.no_torchfix else tool("torchfix", args.torchfix)
    if lint_train is None:
        sys.exit("lint-train not found; pass --lint-train")
    # As on a user's machine, the tools' modules are compiled once and reused.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NO_COLOR"] = "1"

    tools = {"lint-train": lint_train, "ruff": ruff, "torchfix": torchfix}
    print("## Machine")
    print()
    print(f"- {platform.platform()}, {_cpu()}, {os.cpu_count()} cores")
    print(f"- Python {platform.python_version()}; load average at start: {_load()}")
    for name, path in tools.items():
        if path:
            print(f"- {name}: {version([path, '--version'])} ({path})")
    print()

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lt-bench-"))
    rows: list[str] = []
    single: list[str] = []
    for count in [int(n) for n in args.sizes.split(",")]:
        root = workdir / f"repo{count}"
        if root.exists():
            shutil.rmtree(root)
        files = generate(root, count)
        megabytes = sum(f.stat().st_size for f in files) / 1e6
        analysed = analysed_count(files)
        _warm_up(tools, root, files[0], env)
        results: dict[tuple[str, str], Run] = {}
        for name, path in tools.items():
            if path is None:
                continue
            for kind in ("cold", "cached"):
                if name == "torchfix" and kind == "cached":
                    continue  # TorchFix keeps no cache
                command = [path, "check", "."] if name == "ruff" else [path, "."]
                # TorchFix takes minutes where the others take seconds: one run is plenty.
                repeat = 1 if name == "torchfix" else args.repeat
                run = measure(command, root, env, repeat, cold=kind == "cold")
                results[(name, kind)] = run
                base = results.get(("lint-train", kind))
                ratio = f"{run.wall / base.wall:.2f}x" if base else ""
                rows.append(
                    f"| {count} | {analysed} | {megabytes:.1f} | {name} | {kind} | {run.wall:.2f}"
                    f" | {count / run.wall:,.0f} | {megabytes / run.wall:.2f} | {run.peak_mb:.0f}"
                    f" | {ratio} |"
                )
                print(rows[-1], file=sys.stderr, flush=True)
        single += _single_file(tools, root, env, args.single_repeat, count)
        if args.workdir is None:
            shutil.rmtree(root)

    print("## Repository runs")
    print()
    print(
        "| files | analysed | MB | tool | run | wall s | files/s | MB/s | peak MB | vs lint-train |"
    )
    print("|---:|---:|---:|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print("## One training script (pre-commit style)")
    print()
    print("| repo files | script | tool | run | best s | median s |")
    print("|---:|---|---|---|---:|---:|")
    print("\n".join(single))


def _single_file(
    tools: dict[str, str | None], root: Path, env: dict[str, str], repeat: int, count: int
) -> list[str]:
    small = sorted((root / "scripts").glob("train_*.py"))[0]
    large = root / "scripts" / "train_everything.py"  # written after the repository runs
    large.write_text(large_train_file(), encoding="utf-8")
    rows = []
    for script in (small, large):
        name_kb = f"{script.relative_to(root)} ({script.stat().st_size / 1000:.0f} kB)"
        plans = [
            ("lint-train", "cold (--no-cache)", ["--no-cache", str(script)]),
            ("lint-train", "cached", [str(script)]),
            ("ruff", "cold (--no-cache)", ["check", "--no-cache", str(script)]),
            ("torchfix", "cold", [str(script)]),
        ]
        for name, kind, arguments in plans:
            path = tools.get(name)
            if path is None:
                continue
            subprocess.run([path, *arguments], cwd=root, env=env, capture_output=True)  # warm
            command = [path, *arguments]
            walls = sorted(_measure_once(command, root, env).wall for _ in range(repeat))
            best, median = walls[0], walls[len(walls) // 2]
            rows.append(f"| {count} | {name_kb} | {name} | {kind} | {best:.3f} | {median:.3f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    large.unlink()
    return rows


def _warm_up(tools: dict[str, str | None], root: Path, file: Path, env: dict[str, str]) -> None:
    """One run of each tool on one file, so that compiled modules exist before timing."""
    for name, path in tools.items():
        if path is None:
            continue
        command = {
            "ruff": [path, "check", "--no-cache", str(file)],
            "lint-train": [path, "--no-cache", str(file)],
        }.get(name, [path, str(file)])
        subprocess.run(command, cwd=root, env=env, capture_output=True)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    main()

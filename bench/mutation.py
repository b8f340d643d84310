"""Mutation testing of the modules whose every line decides a verdict, and its score.

Runs mutmut (configured in pyproject.toml, [tool.mutmut]) over the rules, the analysis of
training events, and the runtime probe and findings, each against the fast tests that cover it,
then prints per module how many mutants the tests killed, and every survivor.

    python bench/mutation.py                 # run (or resume) every mutant, then the score
    python bench/mutation.py --report        # only the score and survivors of the last run
    python bench/mutation.py --diff          # ... and the diff of each survivor
    python bench/mutation.py 'lint_train.rules.*'   # only these mutants (mutmut's name globs)

mutmut keeps its results in mutants/ and resumes where it stopped; delete that folder for a
clean run. Run it niced on a shared machine: `nice -n 15 python bench/mutation.py`.
A timeout counts as killed (the tests noticed), "no tests" as not killed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
MODULES = (
    "src/lint_train/rules/__init__.py",
    "src/lint_train/rules/fixes.py",
    "src/lint_train/rules/trn001_missing_zero_grad.py",
    "src/lint_train/rules/trn002_missing_optimizer_step.py",
    "src/lint_train/rules/trn003_missing_no_grad.py",
    "src/lint_train/rules/trn004_missing_eval.py",
    "src/lint_train/rules/trn005_missing_train.py",
    "src/lint_train/analysis/events.py",
    "src/lint_train/runtime/probe.py",
    "src/lint_train/runtime/findings.py",
)
# mutmut's exit codes for a mutant's test run (mutmut/stats.py), grouped as this report counts.
KILLED = {1, 3}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def run(names: list[str], jobs: int) -> int:
    env = dict(os.environ)
    # mutmut puts its mutated copy of src/ first on sys.path; an inherited PYTHONPATH pointing at
    # a checkout must not shadow it.
    env.pop("PYTHONPATH", None)
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def results() -> dict[str, dict[str, int | None]]:
    found = {}
    for module in MODULES:
        meta = MUTANTS / f"{module}.meta"
        if meta.exists():
            found[module] = json.loads(meta.read_text())["exit_code_by_key"]
    return found


def status(code: int | None) -> str:
    if code in KILLED or code in TIMEOUT:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "not checked" if code is None else f"other ({code})"


def report(diff: bool) -> int:
    found = results()
    if not found:
        print("no results in mutants/; run without --report first", file=sys.stderr)
        return 2
    total: Counter[str] = Counter()
    survivors = []
    print(
        f"{'module':<40} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} "
        f"{'unchecked':>9} {'score':>6}"
    )
    for module, codes in found.items():
        counts = Counter(status(code) for code in codes.values())
        total.update(counts)
        print(_row(module.removeprefix("src/lint_train/"), counts))
        survivors += [n for n, code in codes.items() if status(code) in ("survived", "no tests")]
    print(_row("all", total))
    print("score: killed / (mutants checked); a timeout counts as killed")
    print(f"\n{len(survivors)} mutants not killed:")
    for name in survivors:
        print(f"  {name}: {status(_code(found, name))}")
        if diff:
            shown = subprocess.run(
                [sys.executable, "-m", "mutmut", "show", name],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            print("    " + shown.stdout.strip().replace("\n", "\n    "))
    return 0


def _row(name: str, counts: Counter[str]) -> str:
    mutants = sum(counts.values())
    unchecked = mutants - counts["killed"] - counts["survived"] - counts["no tests"]
    checked = mutants - unchecked
    score = f"{100 * counts['killed'] / checked:5.1f}%" if checked else "    -"
    return (
        f"{name:<40} {mutants:>7} {counts['killed']:>6} {counts['survived']:>8} "
        f"{counts['no tests']:>8} {unchecked:>9} {score:>6}"
    )


def _code(found: dict[str, dict[str, int | None]], name: str) -> int | None:
    return next(codes[name] for codes in found.values() if name in codes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutant names or globs to run (default: all)")
    parser.add_argument("--report", action="store_true", help="only report the last run")
    parser.add_argument("--diff", action="store_true", help="show each survivor's diff")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    args = parser.parse_args()
    if not args.report:
        code = run(args.names, args.jobs)
        if code != 0:
            print(f"mutmut run exited with status {code}", file=sys.stderr)
    return report(args.diff)


if __name__ == "__main__":
    sys.exit(main())

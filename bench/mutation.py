"""Mutation testing of the modules whose every line decides a verdict, and its score.

Runs mutmut (configured in pyproject.toml, [tool.mutmut]) over the rules, the analysis of
training events, and the runtime probe and findings, each against the fast tests that cover it,
then prints per module how many mutants the tests killed, and every survivor.

    python bench/mutation.py                 # run (or resume) every mutant, then the score
    python bench/mutation.py --report        # only the score and survivors of the last run
    python bench/mutation.py --diff          # ... and the diff of each survivor
    python bench/mutation.py 'lint_train.rules.*'   # only these mutants (mutmut's name globs)
    python bench/mutation.py --sample 300 --seed 15 'lint_train.rules.*' 'lint_train.analysis.*'
                                             # a uniform random sample of those mutants, and the
                                             # score with its 95% confidence interval

mutmut keeps its results in mutants/ and resumes where it stopped; delete that folder for a
clean run. Run it niced on a shared machine: `nice -n 15 python bench/mutation.py`.
A timeout counts as killed (the tests noticed), "no tests" as not killed.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
# Every rule module (a new rule is measured without editing this list), then the analysis and
# runtime modules named in [tool.mutmut] only_mutate.
MODULES = (
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "src/lint_train/rules").glob("*.py")),
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


def mutant_names(module: str) -> list[str]:
    """The names mutmut gives the mutants of `module`, computed from the source as mutmut does,
    so that a sample can be drawn before mutmut has generated anything."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    mutated = mutate_file_contents(module, (ROOT / module).read_text())
    return [get_mutant_name(Path(module), name) for name in mutated.mutant_names]


def sample(globs: list[str], size: int, seed: int) -> list[str]:
    """`size` mutant names drawn uniformly without replacement from those matching `globs`
    (all, when none is given); the same seed and source give the same sample.

    The sample is the first `size` names of one seeded shuffle, so a larger sample with the same
    seed contains the smaller: a sample can grow batch by batch and stay uniform."""
    population = sorted(
        name
        for module in MODULES
        if _may_match(module, globs)
        for name in mutant_names(module)
        if not globs or any(fnmatch.fnmatch(name, glob) for glob in globs)
    )
    random.Random(seed).shuffle(population)
    return sorted(population[:size])


def _may_match(module: str, globs: list[str]) -> bool:
    """Whether any of `globs` can name a mutant of `module` (mutating a module costs seconds)."""
    dotted = module.removeprefix("src/").removesuffix(".py").replace("/", ".")
    dotted = dotted.removesuffix(".__init__")
    for glob in globs or ["*"]:
        literal = re.split(r"[*?\[]", glob, maxsplit=1)[0]
        if literal.startswith(dotted + ".") or dotted.startswith(literal):
            return True
    return False


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


def report(diff: bool, only: list[str] | None = None) -> int:
    found = results()
    if only is not None:
        # a sample: count only its mutants
        chosen = set(only)
        found = {m: {n: c for n, c in codes.items() if n in chosen} for m, codes in found.items()}
        found = {m: codes for m, codes in found.items() if codes}
    if not found:
        print("no results in mutants/; run without --report first", file=sys.stderr)
        return 2
    total: Counter[str] = Counter()
    survivors = []
    print(
        f"{'module':<44} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} "
        f"{'unchecked':>9} {'score':>6}"
    )
    for module, codes in found.items():
        counts = Counter(status(code) for code in codes.values())
        total.update(counts)
        print(_row(module.removeprefix("src/lint_train/"), counts))
        survivors += [n for n, code in codes.items() if status(code) in ("survived", "no tests")]
    print(_row("all", total))
    print("score: killed / (mutants checked); a timeout counts as killed")
    checked = total["killed"] + total["survived"] + total["no tests"]
    if only is not None and checked:
        low, high = wilson_interval(total["killed"], checked)
        interval = f"{100 * low:.1f}% to {100 * high:.1f}%"
        print(f"sample of {len(only)} mutants, {checked} checked: 95% interval {interval}")
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


def wilson_interval(killed: int, checked: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a proportion: unlike the normal approximation it stays
    inside [0, 1] and is honest near 100%, where a mutation score lives."""
    p = killed / checked
    centre = (p + z * z / (2 * checked)) / (1 + z * z / checked)
    half = z * math.sqrt(p * (1 - p) / checked + z * z / (4 * checked * checked))
    half /= 1 + z * z / checked
    return max(0.0, centre - half), min(1.0, centre + half)


def _row(name: str, counts: Counter[str]) -> str:
    mutants = sum(counts.values())
    unchecked = mutants - counts["killed"] - counts["survived"] - counts["no tests"]
    checked = mutants - unchecked
    score = f"{100 * counts['killed'] / checked:5.1f}%" if checked else "    -"
    return (
        f"{name:<44} {mutants:>7} {counts['killed']:>6} {counts['survived']:>8} "
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
    parser.add_argument(
        "--sample", type=int, metavar="N", help="run only N mutants drawn at random from names"
    )
    parser.add_argument("--seed", type=int, default=15, help="seed of the sample (default 15)")
    args = parser.parse_args()
    names = args.names
    only = None
    if args.sample:
        only = names = sample(args.names, args.sample, args.seed)
        # mutmut reruns every mutant it is named, so resume by naming only those without a result
        done = {n for codes in results().values() for n, c in codes.items() if c is not None}
        names = [n for n in names if n not in done]
    if not args.report and (names or not args.sample):
        code = run(names, args.jobs)
        if code != 0:
            print(f"mutmut run exited with status {code}", file=sys.stderr)
    return report(args.diff, only)


if __name__ == "__main__":
    sys.exit(main())

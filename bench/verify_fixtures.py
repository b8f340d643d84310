"""How long `lint-train verify` takes over every fixture, run as tests/test_runtime_fixtures.py
runs them: in parallel, one thread each, --max-steps 200.

    python bench/verify_fixtures.py

Prints the number of scripts, the cores used and the wall-clock seconds. The tests assert
nothing about time; this is where the figure in docs/verify.md comes from.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lint_train.runtime.verify import Options, verify_script

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FOLDERS = ("buggy", "fixed", "quiet")
OPTIONS = Options(max_steps=200, timeout=60, threads=1, static=True)


def main() -> None:
    # The folders tests/test_runtime_fixtures.py runs (real/ has its own test, with arguments).
    scripts = sorted(p for folder in FOLDERS for p in (FIXTURES / folder).glob("*.py"))
    workers = os.cpu_count() or 2
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reports = list(pool.map(lambda p: verify_script(str(p), (), OPTIONS), scripts))
    seconds = time.perf_counter() - started
    failed = sum(r.status == "failed" for r in reports)
    print(f"{len(scripts)} fixtures verified in {seconds:.1f} s on {workers} cores", end="")
    print(f" ({failed} failed)")


if __name__ == "__main__":
    main()

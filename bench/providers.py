"""What each step of checking one file costs: libcst's parse and metadata providers next to
what lint-train does instead.

    python bench/providers.py [FILE ...]

With no file, a generated all-in-one training script (bench/synth.py) is measured. Prints a
Markdown table of the best of 5 runs per step, in milliseconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import libcst as cst
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from lint_train.analysis.interpret import analyse
from lint_train.analysis.program import build_program
from lint_train.positions import locate
from lint_train.source import check_depth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import large_train_file


def best_ms(work: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def provider(module: cst.Module, kind: type) -> Callable[[], object]:
    return lambda: MetadataWrapper(module, unsafe_skip_copy=True).resolve(kind)


def measure(name: str, text: str) -> list[str]:
    module = cst.parse_module(text)
    model = analyse(build_program(module))
    reported = [loop.node for loop in model.loops.values()][:3] or [module.body[0]]
    steps: list[tuple[str, Callable[[], object]]] = [
        ("nesting check (lint-train, before parsing)", lambda: check_depth(text)),
        ("libcst parse", lambda: cst.parse_module(text)),
        ("analysis (lint-train: index + interpreter)", lambda: analyse(build_program(module))),
        ("PositionProvider (every node)", provider(module, PositionProvider)),
        ("positions.locate (3 reported nodes, lint-train)", lambda: locate(module, reported)),
        ("ParentNodeProvider (not used)", provider(module, ParentNodeProvider)),
        ("ScopeProvider (not used)", provider(module, ScopeProvider)),
        ("QualifiedNameProvider (not used)", provider(module, QualifiedNameProvider)),
    ]
    size = f"{len(text.encode()) / 1000:.0f} kB"
    return [f"| {name} ({size}) | {step} | {best_ms(work):.1f} |" for step, work in steps]


def main() -> None:
    files = [Path(arg) for arg in sys.argv[1:]]
    cases = [(f.name, f.read_text(encoding="utf-8")) for f in files]
    if not cases:
        cases = [("synthetic train_everything.py", large_train_file())]
    print("| file | step | best ms |")
    print("|---|---|---:|")
    for name, text in cases:
        print("\n".join(measure(name, text)), flush=True)


if __name__ == "__main__":
    main()

"""Shared test helpers: where the fixtures live, how expectations are written in them, and how a
test asks for an optional package it cannot prove anything without."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(TRN\d{3}(?:\s*,\s*TRN\d{3})*)")

# Set to 1 to let a test skip when a package it needs is missing (a quick local run without
# torch, say). Without it a missing package fails the test: a green run must mean the proofs ran.
ALLOW_SKIPS = "LINT_TRAIN_ALLOW_SKIPS"
# README's install command: it brings every package the suite needs.
INSTALL = "pip install torch==2.13.0 && pip install -e '.[test,runtime]'"


@pytest.fixture(autouse=True, scope="session")
def _children_run_the_working_tree() -> None:
    """Child processes (`python -m lint_train.cli`, `lint-train verify`'s runner) import src/ too,
    not an installed copy, like the test process does through `pythonpath`."""
    src = str(ROOT / "src")
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if src not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([src, *filter(None, paths)])


def require(module: str) -> ModuleType:
    """Import `module` for a test that cannot prove anything without it.

    A missing module fails the test (or, called at module level, the module's collection) with
    the command that installs it; it skips only when LINT_TRAIN_ALLOW_SKIPS=1 is set.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing(f"{module} is not installed ({error})")


def missing(what: str) -> NoReturn:
    """Fail because `what` is missing, with the command that installs it; skip instead only when
    LINT_TRAIN_ALLOW_SKIPS=1 is set."""
    message = (
        f"{what}; these tests need it. Install what the suite needs with: {INSTALL} "
        f"(or set {ALLOW_SKIPS}=1 to skip them instead)"
    )
    if os.environ.get(ALLOW_SKIPS) == "1":
        pytest.skip(message, allow_module_level=True)
    pytest.fail(message, pytrace=False)


def expected_findings(path: Path) -> set[tuple[int, str]]:
    """(line, code) pairs declared by `# expect: TRN001` comments in a fixture."""
    expected = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            expected |= {(number, code.strip()) for code in match.group(1).split(",")}
    return expected

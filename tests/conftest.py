"""Shared test helpers: where the fixtures live, how expectations are written in them, and how a
test asks for an optional package it cannot prove anything without."""

from __future__ import annotations

import functools
import importlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from lint_train.fix import FixOutcome

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


@pytest.fixture(autouse=True)
def _debug_notes_stay_in_their_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main([... "--debug"])` turns on the process-wide notes of `context.DEBUG` and leaves them
    on; restore the flag after each test, so that a later test's output does not depend on which
    tests ran before it (mutmut runs a mutant's tests in no fixed order)."""
    from lint_train import context

    monkeypatch.setattr(context, "DEBUG", context.DEBUG)


# Under mutmut, a mutant's tests run in no particular order and stop at the first failure (-x):
# a mutant the broad, quick tests below kill would otherwise wait behind minutes of fix tests.
# Ordering changes which test fails first, never whether one does: a surviving mutant still runs
# every test mapped to it.
MUTANT_TESTS_FIRST = (
    "test_rule_pages.py",
    "test_shapes.py",
    "test_mutation_survivors.py",
    "test_fix_refusals.py",
    "test_ways_of_writing.py",
    "test_fixtures.py",
    "test_findings_in_full.py",
    "test_identity_shapes.py",
    "test_library_shapes.py",
    "test_preview_rules_shapes.py",
    "test_preview.py",
    "test_cross_module.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    rank = {name: i for i, name in enumerate(MUTANT_TESTS_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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


# -- The quick form of the proofs that run every fixture --------------------------------------
# Running every fixture under `verify` is most of the suite's time. The default run keeps a quick
# form of each such proof: in each folder, the first fixture of each rule (by name, so the same
# stems in buggy/ and fixed/), and one in QUICK_EVERY of the files named for no rule (quiet/,
# src/). The others are marked
# `slow`, which CI runs in its second pass (`pytest -m slow`), so every fixture is still proven.
QUICK_EVERY = 10
RULE_PREFIX = re.compile(r"trn\d{3}")


def quick_set(paths: list[Path]) -> set[Path]:
    """The representative few of `paths` that the default run proves."""
    seen: set[tuple[Path, object]] = set()
    quick = set()
    for index, path in enumerate(paths):
        rule = RULE_PREFIX.match(path.stem)
        key = (path.parent, rule.group() if rule else index // QUICK_EVERY)
        if key not in seen:
            seen.add(key)
            quick.add(path)
    return quick


def quick_form(paths: list[Path], name: Callable[[Path], str] = lambda p: p.stem) -> list[object]:
    """`paths` as test parameters (ids: `name(path)`), all but quick_set(paths) marked slow."""
    quick = quick_set(paths)
    return [
        pytest.param(path, id=name(path), marks=() if path in quick else pytest.mark.slow)
        for path in paths
    ]


def selected(request: pytest.FixtureRequest, name: str = "path") -> list[object]:
    """The values of parameter `name` of the tests this run selected that use the requesting
    module-scoped fixture: it computes what they read and no more (the slow cases only when
    `-m slow` selected them)."""
    values: list[object] = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if (
            getattr(item, "module", None) is request.module
            and request.fixturename in getattr(item, "fixturenames", ())
            and callspec is not None
            and name in callspec.params
            and callspec.params[name] not in values
        ):
            values.append(callspec.params[name])
    return values


def fix_outcome(path: Path) -> FixOutcome:
    """`path` fixed with every fix, unsafe ones included: computed once a session for all the
    modules that read it, except while mutmut records which tests run each function
    (MUTANT_UNDER_TEST=stats), when a cached outcome would credit the fixer to the first test
    that asked, and mutmut would run no other against the fixer's mutants."""
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        return _fix_all(path)
    return _cached_fix_outcome(path)


def _fix_all(path: Path) -> FixOutcome:
    from lint_train.fix import fix_source

    return fix_source(path.read_text(encoding="utf-8"), unsafe=True, path=str(path))


_cached_fix_outcome = functools.cache(_fix_all)


_VERIFIED: dict[tuple[str, str], object] = {}


def verify_all(paths: list[Path], options: object) -> dict[Path, object]:
    """`verify_script(path, (), options)` for each path, in parallel, once a session: two
    modules that verify the same fixture with the same options share its report."""
    from concurrent.futures import ThreadPoolExecutor

    from lint_train.runtime.verify import verify_script

    todo = [p for p in dict.fromkeys(paths) if (str(p), repr(options)) not in _VERIFIED]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        reports = pool.map(lambda p: verify_script(str(p), (), options), todo)
        for path, report in zip(todo, reports, strict=True):
            _VERIFIED[str(path), repr(options)] = report
    return {p: _VERIFIED[str(p), repr(options)] for p in paths}


# Fixture projects copied into a test's folder, linted, and edited (tests of the project view).
def copy_project(name: str, into: Path) -> Path:
    shutil.copytree(FIXTURES / "projects" / name, into, dirs_exist_ok=True)
    return into


def project_findings(root: Path, *names: str) -> list[tuple[str, int, str]]:
    from lint_train.engine import lint_paths

    result = lint_paths([str(root / name) for name in names])
    assert not result.errors
    return sorted((Path(f.path).name, f.line, f.code) for f in result.findings)


def edit_file(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")

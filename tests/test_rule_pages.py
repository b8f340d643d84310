"""Each rule's page in rules/ is executable documentation: its bad example is flagged with the
page's code, its good example is clean, what `--fix` makes of the bad example is shown exactly,
and its sections follow the house order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

from lint_train.engine import lint_source
from lint_train.fix import fix_source
from lint_train.rules import rule_table

PAGES = sorted((ROOT / "rules").glob("TRN*.md"))
SECTIONS = [
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Known limits",
    "References",
]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _sections(page: Path) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _code(page: Path) -> str:
    return page.stem.split("-")[0]


def test_every_rule_has_a_page() -> None:
    table = rule_table()
    assert {_code(p) for p in PAGES} == set(table)
    for page in PAGES:
        assert page.stem == f"{_code(page)}-{table[_code(page)].name}"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_sections_come_in_order(page: Path) -> None:
    # Every page says how safe its rule's fix is (or why there is none), between the examples
    # and the limits (as ruff's pages do).
    present = [s for s in _sections(page) if s in SECTIONS or s == "Fix safety"]
    expected = [*SECTIONS[:4], "Fix safety", *SECTIONS[4:]]
    assert present == expected


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_shows_exactly_what_fix_makes_of_the_example(page: Path) -> None:
    sections = _sections(page)
    (example,) = BLOCK.findall(sections["Example"])
    (finding,) = [f for f in lint_source(example) if f.code == _code(page)]
    if finding.fix_applicability is None:
        # A rule with no fix says so, and shows no fixed code.
        assert fix_source(example, unsafe=True).after is None
        assert sections["Fix safety"].lstrip().startswith("No fix is offered.")
        assert not BLOCK.findall(sections["Fix safety"])
        return
    (shown,) = BLOCK.findall(sections["Fix safety"])
    outcome = fix_source(example, unsafe=True)
    assert outcome.after == shown
    assert lint_source(shown) == []
    # The page says whether --unsafe-fixes is needed, as the fix's applicability says.
    safe = finding.fix_applicability == "safe"
    assert ("**safe**" in sections["Fix safety"]) == safe
    assert ("--unsafe-fixes` turns" in sections["Fix safety"]) == (not safe)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_example_is_flagged_with_its_code(page: Path) -> None:
    blocks = BLOCK.findall(_sections(page)["Example"])
    assert len(blocks) == 1
    codes = {f.code for f in lint_source(blocks[0])}
    assert _code(page) in codes


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_use_instead_is_clean(page: Path) -> None:
    blocks = BLOCK.findall(_sections(page)["Use instead"])
    assert len(blocks) == 1
    assert lint_source(blocks[0]) == []

"""engine.parse_module: libcst's parse without the per-node checks, the same tree."""

from __future__ import annotations

import contextlib
from pathlib import Path

import libcst as cst
import pytest
from conftest import FIXTURES, ROOT, quick_form
from test_walk import EXTRA

from lint_train.engine import parse_module

CORPUS = sorted(FIXTURES.rglob("*.py")) + sorted((ROOT / "src").rglob("*.py"))


@pytest.mark.parametrize(
    "source",
    [*quick_form(CORPUS, lambda p: str(p.relative_to(ROOT))), pytest.param(None, id="syntax")],
)
def test_parse_module_builds_the_same_tree_as_libcst(source: Path | None) -> None:
    text = source.read_text(encoding="utf-8") if source else EXTRA
    try:
        expected = cst.parse_module(text)
    except cst.ParserSyntaxError:
        pytest.skip("not parsable by this libcst")
    got = parse_module(text)
    assert got.deep_equals(expected)
    assert got.code == text


@pytest.mark.parametrize("text", ["x = 1\n", "def f(:\n"])
def test_parse_module_leaves_the_checks_on_for_nodes_built_by_hand(text: str) -> None:
    with contextlib.suppress(cst.ParserSyntaxError):
        parse_module(text)
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")

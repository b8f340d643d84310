"""positions.locate gives exactly libcst's PositionProvider ranges, for every node."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from conftest import quick_set
from libcst.metadata import MetadataWrapper, PositionProvider

from lint_train import positions

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "fixtures").rglob("*.py")) + sorted((ROOT / "src").rglob("*.py"))

SHAPES = {
    "crlf": "import torch\r\nfor x in data:\r\n    loss = f(x)\r\n    loss.backward()\r\n",
    "cr only": "x = 1\ry = 2\rif x:\r    y = 3\r",
    "no final newline": "for batch in loader:\n    model(batch).sum().backward()",
    "tabs and unicode": "def f(é):\n\tfor ü in é:\n\t\tprint('ß', ü)  # ñ\n",
    "decorators and comments": (
        "# top\n\n@torch.no_grad()\n@other  # why\ndef evaluate(model):\n"
        "    # inside\n    return [model(x) for x in loader]\n\n\nclass A:\n    @property\n"
        "    def p(self): return 1\n"
    ),
    "one-line suites and semicolons": "if a: b(); c()\nelse: d()\nwhile x: x -= 1; y()\n",
    "try, with, match": (
        "try:\n    pass\nexcept (A, B) as e:\n    raise\nelse:\n    x = 1\nfinally:\n"
        "    y = 2\nwith a as b, c:\n    pass\nmatch p:\n    case [1, *rest] if rest:\n"
        "        pass\n    case _:\n        pass\n"
    ),
    "strings and continuations": (
        'x = f"{a!r:>{w}}" \\\n    + """\nmulti\nline\n"""\ny = (1,\n     2)\n'
    ),
    "empty": "",
    "only comments": "# nothing\n\n# here\n",
}


def _cases() -> list[object]:
    # Every source in `pytest -m slow`; the default run, a few of them (conftest.quick_set).
    quick = quick_set(SOURCES)
    cases = [
        pytest.param(
            name := str(path.relative_to(ROOT)),
            path.read_text(encoding="utf-8"),
            id=name,
            marks=() if path in quick else pytest.mark.slow,
        )
        for path in SOURCES
    ]
    return cases + [pytest.param(name, text, id=name) for name, text in sorted(SHAPES.items())]


@pytest.mark.parametrize(("name", "text"), _cases())
def test_every_node_is_where_libcsts_provider_puts_it(name: str, text: str) -> None:
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    found = positions.locate(module, expected.keys())
    assert found == dict(expected)


def test_the_provider_is_used_if_code_generation_changes_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def changed(self: object, node: cst.CSTNode) -> None:
        raise AttributeError("no such hook")

    monkeypatch.setattr(positions._TokenSpans, "before_codegen", changed)
    module = cst.parse_module(SHAPES["decorators and comments"])
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    assert positions.locate(module, expected.keys()) == dict(expected)

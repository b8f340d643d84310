"""Fuzzing the analyser: generated and mutated programs never make an exception escape.

`lint_source` may refuse a text, with libcst's ParserSyntaxError (not valid Python) or a
SourceError (nested too deeply to parse safely); anything else escaping it, an InternalError
included, is a bug. Inputs: programs generated from Python's grammar and from libcst's node
types (hypothesmith), training-flavoured programs built from the statements the rules care
about, the repository's own fixtures mutated statement by statement and line by line, bytes
mutated before decoding, and deeply nested expressions.

`--fix` (unsafe fixes included), on the training programs, the mutated fixtures and programs from
the grammar: no exception escapes it (a refusal of the input aside), parseable code stays
parseable (and code that compiled still compiles), a second pass changes nothing, and a file's
line endings (LF, CRLF), encoding cookie (latin-1, with latin-1 text) and byte-order mark
survive, byte for byte.

The default run is quick (a few seconds, the same examples every run, as CI needs); set
LINT_TRAIN_FUZZ=long for a long random run, which keeps failing examples in .hypothesis/.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import random
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import hypothesmith
import libcst as cst
import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lint_train.engine import lint_source
from lint_train.fix import fix_file, fix_source, unified_diff
from lint_train.source import MAX_BRACKETS, SourceError, check_depth, decode

LONG = os.environ.get("LINT_TRAIN_FUZZ", "") == "long"
REFUSALS = (cst.ParserSyntaxError, SourceError)  # what lint_source may raise for bad input


def fuzz(quick: int, long: int) -> settings:
    """`quick` examples by default (derandomized, nothing written to disk); `long` examples
    with LINT_TRAIN_FUZZ=long."""
    return settings(
        max_examples=long if LONG else quick,
        deadline=None,
        derandomize=not LONG,
        database=settings.default.database if LONG else None,
        suppress_health_check=list(HealthCheck),
    )


def lint(text: str) -> None:
    """Analyse `text` however it looks (no prefilter); only a refusal of the input may escape."""
    with contextlib.suppress(REFUSALS):
        lint_source(text, "<fuzz>", prefilter=False)


# Generated programs --------------------------------------------------------------------------
@fuzz(quick=10, long=2000)
@given(hypothesmith.from_grammar())
def test_programs_from_the_grammar(text: str) -> None:
    lint(text)


@fuzz(quick=5, long=1000)
@given(hypothesmith.from_node())
def test_programs_from_libcst_nodes(text: str) -> None:
    lint(text)


IMPORTS = [
    "import torch",
    "import torch as T",
    "from torch import no_grad as ng",
    "from torch.optim import SGD",
    "import torch.nn as nn",
    "from accelerate import Accelerator",
    "import deepspeed",
]
STATEMENTS = [
    "opt.zero_grad()",
    "optimizer.zero_grad(set_to_none=True)",
    "model.zero_grad()",
    "p.grad = None",
    "loss = model(x).sum()",
    "out = self.model(batch)",
    "loss.backward()",
    "scaler.scale(loss).backward()",
    "accelerator.backward(loss)",
    "self.manual_backward(loss)",
    "engine.backward(loss)",
    "opt.step()",
    "scaler.step(opt)",
    "scaler.update()",
    "xm.optimizer_step(opt)",
    "engine.step()",
    "opt.step(closure)",
    "scheduler.step()",
    "env.step(action)",
    "model.eval()",
    "model.train()",
    "model.train(False)",
    "self.model.eval()",
    "was_training = model.training",
    "model.train(was_training)",
    "torch.set_grad_enabled(False)",
    "T.set_grad_enabled(True)",
    "opt = torch.optim.SGD(model.parameters(), lr=0.1)",
    "opt_d = SGD(netD.parameters())",
    "model = Net()",
    "model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())",
    "model, opt, _, _ = deepspeed.initialize(model=model)",
    "accuracy = evaluate(model, val_loader)",
    "train_one_epoch(model, loader, opt)",
    "helper(opt)",
    "self.fit(loader)",
    "grads = torch.autograd.grad(loss, x)",
    "return loss",
    "return",
    "yield loss",
    "break",
    "continue",
    "pass",
    "raise ValueError('stop')",
    "del opt",
    "global model",
    "x, y = y, x",
    "i += 1",
    "print(f'{loss.item():.3f}')",
]
HEADERS = [
    "for x, y in loader:",
    "for i, batch in enumerate(train_loader):",
    "for batch in val_loader:",
    "for images, _ in test_loader:",
    "for epoch in range(epochs):",
    "for p in model.parameters():",
    "while True:",
    "while step < max_steps:",
    "if (i + 1) % accum == 0:",
    "if use_amp:",
    "if p.grad is not None:",
    "if not training:",
    "with torch.no_grad():",
    "with ng():",
    "with T.inference_mode():",
    "with torch.autocast('cuda'), torch.enable_grad():",
    "with torch.set_grad_enabled(False):",
    "def train_one_epoch(model, loader, opt):",
    "def evaluate(model, val_loader):",
    "def test(model):",
    "def closure():",
    "def helper(opt, *args, **kwargs):",
    "@torch.no_grad()\ndef validate(model, val_loader):",
    "@staticmethod\ndef estimate_loss():",
    "class Trainer:",
    "class Net(nn.Module):",
    "class Model(LightningModule):",
    "async def fit(self, loader):",
    "try:",
    "match phase:\n    case 'train':",
]


@dataclass(frozen=True)
class Block:
    header: str
    body: tuple[Block | str, ...]
    orelse: tuple[Block | str, ...] = ()


def render(items: tuple[Block | str, ...], indent: str = "") -> list[str]:
    lines: list[str] = []
    for item in items:
        if isinstance(item, str):
            lines.append(indent + item)
            continue
        header_lines = item.header.split("\n")
        lines += [indent + line for line in header_lines]
        inner = indent + "    " * (1 + item.header.count("\n    "))
        lines += render(item.body or ("pass",), inner)
        if item.header == "try:":
            lines += [indent + "except Exception:", indent + "    pass"]
        elif item.orelse and item.header.startswith(("if ", "for ", "while ")):
            lines.append(indent + "else:")
            lines += render(item.orelse, indent + "    ")
    return lines


statements = st.sampled_from(STATEMENTS)
programs = st.recursive(
    st.lists(statements, min_size=1, max_size=4).map(tuple),
    lambda children: st.lists(
        st.one_of(
            statements,
            st.builds(Block, st.sampled_from(HEADERS), children, st.one_of(st.just(()), children)),
        ),
        min_size=1,
        max_size=5,
    ).map(tuple),
    max_leaves=40,
)


@fuzz(quick=40, long=5000)
@given(st.lists(st.sampled_from(IMPORTS), max_size=3), programs)
def test_training_programs(imports: list[str], body: tuple[Block | str, ...]) -> None:
    text = "\n".join([*imports, *render(body)]) + "\n"
    lint(text)
    # The prefilter promises never to change a result.
    with contextlib.suppress(REFUSALS):
        assert lint_source(text, prefilter=True) == lint_source(text, prefilter=False)


# Mutated fixtures ----------------------------------------------------------------------------
FIXTURE_FILES = sorted(FIXTURES.rglob("*.py"))
FIXTURE_TEXTS = [f.read_text(encoding="utf-8") for f in FIXTURE_FILES]


class _MutateBlock(cst.CSTTransformer):
    """Deletes, duplicates, or swaps statements of the `target`-th block met (module bodies and
    indented blocks, in visiting order), or moves one statement to the block's start."""

    def __init__(self, target: int, operation: str, rnd: random.Random) -> None:
        self.target = target
        self.operation = operation
        self.rnd = rnd
        self.seen = 0

    def _mutate(self, body: tuple[cst.BaseStatement, ...]) -> tuple[cst.BaseStatement, ...]:
        self.seen += 1
        if self.seen - 1 != self.target or not body:
            return body
        items = list(body)
        i = self.rnd.randrange(len(items))
        j = self.rnd.randrange(len(items))
        if self.operation == "delete":
            del items[i]
        elif self.operation == "duplicate":
            items.insert(j, items[i])
        elif self.operation == "swap":
            items[i], items[j] = items[j], items[i]
        else:
            items.insert(0, items.pop(i))
        return tuple(items) or (cst.SimpleStatementLine([cst.Pass()]),)

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        return updated_node.with_changes(body=self._mutate(updated_node.body))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._mutate(updated_node.body))


_PARSED: dict[int, cst.Module] = {}


@fuzz(quick=20, long=4000)
@given(
    st.integers(0, len(FIXTURE_FILES) - 1),
    st.lists(
        st.tuples(
            st.integers(0, 200),
            st.sampled_from(["delete", "duplicate", "swap", "hoist"]),
            st.integers(0, 2**32),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_fixtures_with_statements_deleted_swapped_or_duplicated(
    index: int, mutations: list[tuple[int, str, int]]
) -> None:
    if index not in _PARSED:
        _PARSED[index] = cst.parse_module(FIXTURE_TEXTS[index])
    module = _PARSED[index]
    for target, operation, seed in mutations:
        module = module.visit(_MutateBlock(target % 40, operation, random.Random(seed)))
    lint(module.code)


LINE_EDITS = ["delete", "duplicate", "swap", "indent", "dedent", "tab", "crlf", "truncate"]


@fuzz(quick=25, long=4000)
@given(
    st.integers(0, len(FIXTURE_FILES) - 1),
    st.lists(
        st.tuples(st.sampled_from(LINE_EDITS), st.integers(0, 10_000), st.integers(0, 10_000)),
        min_size=1,
        max_size=6,
    ),
)
def test_fixtures_with_lines_deleted_moved_or_reindented(
    index: int, edits: list[tuple[str, int, int]]
) -> None:
    lines = FIXTURE_TEXTS[index].splitlines(keepends=True)
    for edit, a, b in edits:
        if not lines:
            break
        i, j = a % len(lines), b % len(lines)
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(j, lines[i])
        elif edit == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "indent":
            lines[i] = "    " + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i].removeprefix("    ")
        elif edit == "tab":
            lines[i] = lines[i].replace("    ", "\t", 1)
        elif edit == "crlf":
            lines[i] = lines[i].replace("\n", "\r\n")
        else:
            lines[i] = lines[i][: b % (len(lines[i]) + 1)]
    lint("".join(lines))


@fuzz(quick=20, long=3000)
@given(
    st.integers(0, len(FIXTURE_FILES) - 1),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=4)), max_size=5),
)
def test_fixtures_with_bytes_overwritten(index: int, patches: list[tuple[int, bytes]]) -> None:
    data = bytearray(FIXTURE_FILES[index].read_bytes())
    for offset, chunk in patches:
        at = offset % (len(data) + 1)
        data[at : at + len(chunk)] = chunk
    try:
        text = decode(bytes(data))
    except SourceError:
        return
    lint(text)


# Deep nesting --------------------------------------------------------------------------------
WRAPPERS = [
    "({})",
    "[{}]",
    "{{{}: 1}}",
    "f({})",
    "x[{}]",
    "{}.attr",
    "{}[0]",
    "{}(1)",
    "-{}",
    "~{}",
    "not {}",
    "await {}",
    "lambda: {}",
    "a + {}",
    "{} * b",
    "{} ** 2",
    "{} if c else d",
    "a if {} else d",
    "a or {}",
    "{} and b",
    "a < {}",
    "[{} for v in w]",
]
FSTRING_WRAPPERS = ["f'{{{}}}'", 'f"{{{}}}"']


def nest(wrappers: list[str]) -> str:
    expression = "leaf"
    for wrapper in wrappers:
        expression = wrapper.format(expression)
    return f"loss.backward()\nvalue = {expression}\n"


def expression_depth(module: cst.Module) -> int:
    """The most expressions nested inside one another in `module` (walked without recursion)."""
    deepest = 0
    stack: list[tuple[cst.CSTNode, int]] = [(module, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, cst.BaseExpression):
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((child, depth) for child in node.children)
    return deepest


@fuzz(quick=30, long=3000)
@given(st.lists(st.sampled_from(WRAPPERS), min_size=1, max_size=MAX_BRACKETS // 2))
def test_the_depth_check_bounds_the_tree_depth(wrappers: list[str]) -> None:
    """check_depth's count is an upper bound on the nesting libcst builds (give or take the
    leaf and one wrapper), so what it lets through cannot be deeper than its limit."""
    text = nest(wrappers)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        assume(False)  # `a < not b`: not every stacking of wrappers is Python
    depth = expression_depth(module)
    with pytest.raises(SourceError):
        check_depth(text, limit=depth - 3)


@fuzz(quick=10, long=500)
@given(
    st.lists(st.sampled_from(WRAPPERS + FSTRING_WRAPPERS), min_size=200, max_size=1500),
)
def test_deeply_nested_expressions_are_refused_or_analysed(wrappers: list[str]) -> None:
    lint(nest(wrappers))


# --fix -----------------------------------------------------------------------------------------
def _compiles(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<fuzz>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def fix(text: str) -> str | None:
    """Apply every fix (unsafe ones too) to `text` and check the fixer's promises; the fixed
    text, or None when the text is refused or nothing changes. An InternalError is a failure."""
    try:
        outcome = fix_source(text, unsafe=True, path="<fuzz>")
    except REFUSALS:
        return None
    if outcome.after is None:
        return None
    cst.parse_module(outcome.after)  # parseable code stays parseable
    if _compiles(text):
        assert _compiles(outcome.after), unified_diff("<fuzz>", text, outcome.after)
    again = fix_source(outcome.after, unsafe=True, path="<fuzz>")
    assert again.after is None, unified_diff("<fuzz>", outcome.after, again.after)  # idempotent
    return outcome.after


LATIN_1_HEADER = "# -*- coding: latin-1 -*-\n# Données synthétiques, modèle minuscule.\n"
ENCODINGS: dict[str, Callable[[str], bytes]] = {
    "lf": lambda text: text.encode("utf-8"),
    "crlf": lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    "bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "latin-1": lambda text: (LATIN_1_HEADER + text).encode("latin-1"),
}


def fix_on_disk(text: str, fixed: str | None, encoding: str) -> None:
    """`fix_file` on `text` saved with `encoding` writes `fixed` saved the same way (or leaves
    the file as it is when `fixed` is None), and reports no error."""
    encode = ENCODINGS[encoding]
    try:
        data = encode(text)
    except UnicodeEncodeError:
        return  # text that latin-1 cannot hold
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.py"
        path.write_bytes(data)
        outcome = fix_file(path, unsafe=True)
        assert outcome.error is None, outcome.error
        assert path.read_bytes() == (data if fixed is None else encode(fixed))
        assert fix_file(path, unsafe=True).after is None


STEP = ("loss = model(x).sum()", "loss.backward()", "opt.step()")
EVALUATE = Block(
    "def evaluate(model, val_loader):",
    (Block("for batch in val_loader:", ("out = model(batch)",)), "return out"),
)


@st.composite
def buggy_programs(draw: st.DrawFn) -> str:
    """A training loop with something to fix (its steps around a generated program), and
    often an evaluation without `no_grad` or `eval()` called from it."""
    imports = ["import torch", *draw(st.lists(st.sampled_from(IMPORTS), max_size=2))]
    extra = draw(programs)
    at = draw(st.integers(0, len(STEP)))
    body: tuple[Block | str, ...] = (*STEP[:at], *extra, *STEP[at:])
    if draw(st.booleans()):
        body = (*body, Block("if step % 100 == 0:", ("evaluate(model, val_loader)",)))
    header = draw(st.sampled_from(HEADERS[:8]))
    items: tuple[Block | str, ...] = (Block(header, body),)
    if draw(st.booleans()):
        items = (EVALUATE, *items)
    return "\n".join([*imports, *render(items)]) + "\n"


@fuzz(quick=15, long=3000)
@given(buggy_programs(), st.sampled_from(sorted(ENCODINGS)))
def test_fixing_training_programs(text: str, encoding: str) -> None:
    fix_on_disk(text, fix(text), encoding)


@fuzz(quick=15, long=3000)
@given(
    st.integers(0, len(FIXTURE_FILES) - 1),
    st.lists(
        st.tuples(
            st.integers(0, 200),
            st.sampled_from(["delete", "duplicate", "swap", "hoist"]),
            st.integers(0, 2**32),
        ),
        max_size=4,
    ),
    st.sampled_from(sorted(ENCODINGS)),
)
def test_fixing_fixtures_with_statements_deleted_swapped_or_duplicated(
    index: int, mutations: list[tuple[int, str, int]], encoding: str
) -> None:
    if index not in _PARSED:
        _PARSED[index] = cst.parse_module(FIXTURE_TEXTS[index])
    module = _PARSED[index]
    for target, operation, seed in mutations:
        module = module.visit(_MutateBlock(target % 40, operation, random.Random(seed)))
    text = module.code
    fix_on_disk(text, fix(text), encoding)


@fuzz(quick=5, long=1000)
@given(hypothesmith.from_grammar())
def test_fixing_programs_from_the_grammar(text: str) -> None:
    fix(text)

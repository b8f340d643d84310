"""Recall of lint-train on single-fault mutants of real training scripts, per rule.

    PYTHONPATH=src nice -n 10 python bench/recall.py bench/heldout.txt /work/corpus/heldout
    PYTHONPATH=src python bench/recall.py LIST CORPUS --max-per-rule-per-file 2 --limit 4 \\
        --seed 11 --misses --json part1.json --repo owner/name ...
    python bench/recall.py - CORPUS --from-json part1.json --from-json part2.json --misses

LIST and CORPUS follow bench/corpus.py: one `owner/name commit` a line, each repository
unpacked at CORPUS/owner+name, outside this repository. Each repository is copied to a
temporary folder (the copy mirrors the repository, so imports between its modules still
resolve) and linted there, unmutated, with the default rules. Then, in each file that lint-train
leaves quiet for a rule, one call that rule exists to protect is taken away, one mutant at a time:

    TRN001  an `X.zero_grad()` statement is deleted
    TRN002  an `opt.step()` statement is deleted (a receiver named like an optimizer or scaler)
    TRN003  a `with torch.no_grad():` / `inference_mode()` is unwrapped (its body kept), or
            such a decorator dropped from a function
    TRN004  a `model.eval()` statement is deleted
    TRN005  a `model.train()` statement is deleted

A mutant is FOUND when the run over the mutated copy has more findings of the expected rule, in
the mutated file or any other file of the repository, than the unmutated run (findings compared
by file, rule and line, the mutated file's lines mapped through the edit). The copy is linted
with the engine and a per-copy cache, so that only the mutated file and the files whose result
depends on it are analysed again (the cache key covers the project modules a file imports and,
where asked, its importers); `--no-cache` analyses everything every time.

Not every deletion is a bug. A mutant is EXCLUDED, with its reason, only when this script can
tell: a twin call does the same job on every path through the deleted one (another clear in the
same loop body, the same model put in the same mode earlier in the loop with no opposite call
between, an enclosing `no_grad`), a clear before a loop that clears itself, a `no_grad` body
that calls nothing that could run a model, or a repository with no layer that the mode changes.
Recall is printed over all mutants and over those not excluded; the misses (`--misses`) are to
be read by hand, as docs/recall.md records. The fetched code is only read, never run.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import folder_of, read_list

RULES = ("TRN001", "TRN002", "TRN003", "TRN004", "TRN005")
# What each kind of deletion should make lint-train report.
RULE_OF = {"zero_grad": "TRN001", "step": "TRN002", "no_grad": "TRN003", "eval": "TRN004"}
RULE_OF |= {"train": "TRN005"}
# Cheap text test before a file is parsed: it holds some call a mutant could delete.
TRIGGERS = re.compile(r"zero_grad|\.step\(|no_grad|inference_mode|\.eval\(\)|\.train\(")
OPTIMIZER = re.compile(r"(?i)opt|scaler")
NOT_OPTIMIZER = re.compile(r"(?i)sched|lr_|env")
# Receivers of `.train()` that are training drivers, not modules put in training mode.
DRIVER = re.compile(r"(?i)trainer|agent|runner|learner|solver|engine|pipeline|tokenizer|kmeans")
GRAD_OFF = ("no_grad", "inference_mode")
# A repository whose text names none of these has no layer that eval()/train() changes.
MODE_SENSITIVE = re.compile(
    r"(?i)dropout|drop_path|droppath|batch_?norm|\bbn\d*\b|running_stats|sync_?bn|torchvision|"
    r"timm|transformers|from_pretrained|hub\.load|torch\.load|lightning|stochastic"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Calls that cannot run a model: tensor and container methods, and functions of these modules.
NOT_MODEL_METHODS = _words(
    "append extend item cpu cuda to numpy detach clone size view reshape float long int half "
    "sum mean max min argmax argmin softmax log_softmax sigmoid exp log abs sqrt pow norm "
    "squeeze unsqueeze permute transpose contiguous copy_ fill_ zero_ add_ mul_ sub_ div_ "
    "clamp clamp_ data_ptr numel dim eq ne gt lt ge le tolist keys values items get update "
    "format join split strip replace parameters named_parameters buffers state_dict "
    "requires_grad_ type_as new_zeros new_ones expand repeat flatten"
)
NOT_MODEL_MODULES = frozenset({"torch", "np", "numpy", "F", "math", "nn", "random", "os", "time"})
BUILTINS = _words(
    "len range print float int str list dict tuple set zip enumerate min max sum abs round "
    "isinstance getattr setattr hasattr sorted reversed any all iter next"
)


@dataclass
class Mutant:
    rule: str  # the rule expected to report it
    kind: str  # zero_grad, step, no_grad, eval, train
    path: str  # relative to the repository's root
    line: int  # of the deleted call, `with` or decorator, in the unmutated file
    text: str = field(repr=False)  # the mutated file
    excluded: str = ""  # why it is not a bug, when this script can tell
    repo: str = ""
    found: bool | None = None  # None: not linted (the file was flagged for the rule already)
    new: list[str] = field(default_factory=list)  # new findings of its rule, `path:line`


# ---------------------------------------------------------------- finding the candidates


@dataclass
class _Candidate:
    kind: str
    node: cst.CSTNode  # the Expr statement, the With, or the Decorator
    line: int
    excluded: str = ""


def _dotted(node: cst.BaseExpression) -> str:
    """`a.b.c` for names and attributes; the code of anything else (`opts[0]`)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return cst.Module([]).code_for_node(node)


def _method_call(node: cst.CSTNode) -> tuple[str, str, cst.Call] | None:
    """(receiver, method, call) when `node` is an expression statement `receiver.method(...)`."""
    if not isinstance(node, cst.Expr) or not isinstance(node.value, cst.Call):
        return None
    func = node.value.func
    if not isinstance(func, cst.Attribute):
        return None
    return _dotted(func.value), func.attr.value, node.value


def _is_true(arg: cst.Arg) -> bool:
    return isinstance(arg.value, cst.Name) and arg.value.value == "True"


def _kind_of_statement(node: cst.CSTNode) -> str | None:
    """Which deletion `node` (an expression statement) would be, or None."""
    call = _method_call(node)
    if call is None:
        return None
    receiver, method, expr = call
    args = expr.args
    if method == "zero_grad":
        return "zero_grad"
    if method == "step" and OPTIMIZER.search(receiver) and not NOT_OPTIMIZER.search(receiver):
        return "step"
    if method == "eval" and not args:
        return "eval"
    plain = not args or (len(args) == 1 and _is_true(args[0]))
    if method == "train" and plain and not DRIVER.search(receiver):
        return "train"
    return None


def _grad_off_call(node: cst.BaseExpression) -> bool:
    """`torch.no_grad()`, `no_grad()`, `torch.inference_mode()` (or without the parentheses)."""
    target = node.func if isinstance(node, cst.Call) else node
    name = _dotted(target) if isinstance(target, cst.Name | cst.Attribute) else ""
    return name.rsplit(".", 1)[-1] in GRAD_OFF


_BRANCH_PARENTS = (cst.If, cst.Else, cst.For, cst.While, cst.ExceptHandler)
_LOOPS = (cst.For, cst.While)
_SCOPES = (cst.FunctionDef, cst.Module)


class _Collector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider)

    def __init__(self) -> None:
        self.found: list[_Candidate] = []
        self.calls: list[cst.Expr] = []  # every `x.m(...)` statement, for twins

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def visit_Expr(self, node: cst.Expr) -> None:
        if _method_call(node) is not None:
            self.calls.append(node)
        kind = _kind_of_statement(node)
        if kind is not None:
            self.found.append(_Candidate(kind, node, self._line(node)))

    def visit_With(self, node: cst.With) -> None:
        if node.asynchronous is None and any(_grad_off_call(i.item) for i in node.items):
            self.found.append(_Candidate("no_grad", node, self._line(node)))

    def visit_Decorator(self, node: cst.Decorator) -> None:
        if _grad_off_call(node.decorator):
            self.found.append(_Candidate("no_grad", node, self._line(node)))


class _Tree:
    """Parents and positions of one parsed file, for the exclusion tests."""

    def __init__(self, wrapper: MetadataWrapper, collector: _Collector) -> None:
        self.parents = wrapper.resolve(ParentNodeProvider)
        self.positions = wrapper.resolve(PositionProvider)
        self.calls = collector.calls

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def scope(self, node: cst.CSTNode) -> cst.CSTNode:
        """The innermost loop or function around `node` (the module at the top)."""
        return next(a for a in self.ancestors(node) if isinstance(a, _LOOPS + _SCOPES))

    def branches(self, node: cst.CSTNode, scope: cst.CSTNode) -> set[int]:
        """The blocks between `node` and `scope` that some runs skip (an `if` or `else` body,
        a loop body, an `except`), by identity: a statement under only blocks that a second
        statement is also under runs whenever the second runs."""
        out = set()
        for ancestor in self.ancestors(node):
            if ancestor is scope:
                return out
            parent = self.parents.get(ancestor)
            if isinstance(ancestor, cst.BaseSuite) and isinstance(parent, _BRANCH_PARENTS):
                out.add(id(ancestor))
            if isinstance(ancestor, cst.Else | cst.If):
                out.add(id(ancestor))
        return out

    def inside(self, node: cst.CSTNode, scope: cst.CSTNode) -> bool:
        """Whether `node` is under `scope`, in the same function (not in one defined there)."""
        return any(a is scope for a in self.ancestors(node)) and self.function(
            node
        ) is self.function(scope)

    def function(self, node: cst.CSTNode) -> cst.CSTNode:
        """The innermost function around `node`, or the module; a function is its own."""
        if isinstance(node, _SCOPES):
            return node
        return next(a for a in self.ancestors(node) if isinstance(a, _SCOPES))

    def same_path_twins(self, statement: cst.Expr, arguments: bool = False) -> list[cst.Expr]:
        """The other statements calling the same method on the same receiver (with the same
        arguments, when asked: `scaler.step(g_opt)` is no twin of `scaler.step(d_opt)`), in the
        same innermost loop or function, that run on every path `statement` runs on."""
        scope = self.scope(statement)
        mine = self.branches(statement, scope)
        key = _call_key(statement, arguments)
        return [
            other
            for other in self.calls
            if other is not statement
            and _call_key(other, arguments) == key
            and self.inside(other, scope)
            and self.branches(other, scope) <= mine
        ]

    def between(self, first: cst.CSTNode, second: cst.CSTNode, method: str) -> bool:
        """Whether a `x.method(...)` statement of the same function lies between the two lines."""
        low, high = sorted((self.line(first), self.line(second)))
        function = self.function(first)
        return any(
            low < self.line(o) < high and self.function(o) is function
            for o in self.calls
            if _method_call(o)[1] == method  # type: ignore[index]
        )


def _call_key(statement: cst.Expr, arguments: bool) -> tuple[str, ...]:
    receiver, method, call = _method_call(statement)  # type: ignore[misc]
    if not arguments:
        return receiver, method
    return receiver, method, *(cst.Module([]).code_for_node(a.value) for a in call.args)


def _exclusion(tree: _Tree, candidate: _Candidate, mode_free: bool) -> str:
    """Why deleting this call is not a bug, when that can be told from the file; else ""."""
    node = candidate.node
    if candidate.kind == "zero_grad":
        assert isinstance(node, cst.Expr)
        # Only a clear of the same receiver is a twin: `policy_opt.zero_grad()` does not clear
        # what `critic_opt` steps, and `net.zero_grad()` may not clear all of `opt`'s parameters.
        receiver = _method_call(node)[0]  # type: ignore[index]
        # ... and one with no backward pass between: a clear after the critic's step is no
        # twin of the clear before it.
        if any(not tree.between(t, node, "backward") for t in tree.same_path_twins(node)):
            return "twin: the same zero_grad runs again on every path, no backward between"
        scope = tree.scope(node)
        if isinstance(scope, _SCOPES) and any(
            tree.inside(o, scope) and not isinstance(tree.scope(o), _SCOPES)
            for o in tree.calls
            if o is not node and _method_call(o) == (receiver, "zero_grad", o.value)
        ):
            return "a clear outside the loop, and the loop clears itself"
        return ""
    if candidate.kind == "step":
        assert isinstance(node, cst.Expr)
        if tree.same_path_twins(node, arguments=True):
            return "twin: the same optimizer steps again on every path through this one"
        return ""
    if candidate.kind in ("eval", "train"):
        assert isinstance(node, cst.Expr)
        if mode_free:
            return "mode-free: the repository names no layer that eval()/train() changes"
        receiver = _method_call(node)[0]  # type: ignore[index]
        opposite = {"eval": "train", "train": "eval"}[candidate.kind]
        line = candidate.line
        scope = tree.scope(node)
        for twin in tree.same_path_twins(node):
            start = tree.line(twin)
            if start < line and not any(
                start < tree.line(o) < line
                for o in tree.calls
                if _method_call(o)[1:2] == (opposite,) and tree.inside(o, scope)  # type: ignore[index]
            ):
                return f"twin: {receiver}.{candidate.kind}() earlier on every path, none opposite"
        return ""
    # no_grad: an enclosing no_grad does the same job; a body that runs no model needs none.
    holder = tree.parents[node] if isinstance(node, cst.Decorator) else node
    for ancestor in tree.ancestors(holder):
        if isinstance(ancestor, cst.With) and any(_grad_off_call(i.item) for i in ancestor.items):
            return "twin: an enclosing no_grad"
        if isinstance(ancestor, cst.FunctionDef) and any(
            _grad_off_call(d.decorator) for d in ancestor.decorators
        ):
            return "twin: an enclosing no_grad"
    body = holder.body if isinstance(holder, cst.With | cst.FunctionDef) else holder
    if not _could_run_model(body):
        return "no forward: the body calls nothing that could run a model"
    return ""


def _could_run_model(node: cst.CSTNode) -> bool:
    """Whether some call under `node` could be a model's forward: not a builtin, not a function
    of torch/numpy/math, not a tensor or container method."""

    class Calls(cst.CSTVisitor):
        could = False

        def visit_Call(self, call: cst.Call) -> None:
            func = call.func
            if isinstance(func, cst.Name):
                self.could |= func.value not in BUILTINS
            elif isinstance(func, cst.Attribute):
                root = _dotted(func).split(".", 1)[0]
                inplace = func.attr.value.endswith("_") and not func.attr.value.endswith("__")
                known = func.attr.value in NOT_MODEL_METHODS or inplace
                self.could |= not known and root not in NOT_MODEL_MODULES
            else:
                self.could = True

    visitor = Calls()
    node.visit(visitor)
    return visitor.could


def candidates(text: str, mode_free: bool = False) -> list[_Candidate]:
    """Every call of `text` that a mutant could delete, with its exclusion (if any)."""
    wrapper = MetadataWrapper(cst.parse_module(text))
    collector = _Collector()
    wrapper.visit(collector)
    tree = _Tree(wrapper, collector)
    for candidate in collector.found:
        candidate.excluded = _exclusion(tree, candidate, mode_free)
    return collector.found


# ---------------------------------------------------------------- making a mutant


class _Delete(cst.CSTTransformer):
    """Takes `target` out of the module: a statement (replaced by `pass` when alone in its
    block), a `with` (its body kept in its place), or a decorator."""

    def __init__(self, target: cst.CSTNode) -> None:
        self.target = target

    def _without(self, original: Sequence[cst.CSTNode], updated: Sequence[cst.CSTNode]):
        kept = [new for old, new in zip(original, updated, strict=True) if old is not self.target]
        if len(kept) == len(updated):
            return None
        if kept and isinstance(kept[-1], cst.BaseSmallStatement):
            kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return kept or [cst.Pass()]

    def leave_SimpleStatementLine(self, original, updated):  # type: ignore[no-untyped-def]
        body = self._without(original.body, updated.body)
        return updated if body is None else updated.with_changes(body=body)

    def leave_SimpleStatementSuite(self, original, updated):  # type: ignore[no-untyped-def]
        body = self._without(original.body, updated.body)
        return updated if body is None else updated.with_changes(body=body)

    def leave_FunctionDef(self, original, updated):  # type: ignore[no-untyped-def]
        decorators = self._without(original.decorators, updated.decorators)
        if decorators is None:
            return updated
        kept = [d for d in decorators if not isinstance(d, cst.Pass)]
        return updated.with_changes(decorators=kept)

    def leave_With(self, original, updated):  # type: ignore[no-untyped-def]
        if original is not self.target:
            return updated
        items = [i for i in updated.items if not _grad_off_call(i.item)]
        if items:  # `with torch.no_grad(), open(f) as g:` keeps the other items
            items[-1] = items[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated.with_changes(items=items)
        body = updated.body
        if isinstance(body, cst.SimpleStatementSuite):
            statements = [cst.SimpleStatementLine(body=body.body)]
        else:
            statements = list(body.body)
        first = statements[0]
        comments = [*updated.leading_lines, *first.leading_lines]
        statements[0] = first.with_changes(leading_lines=comments)
        return cst.FlattenSentinel(statements)


def mutate(text: str, line: int, kind: str) -> str:
    """`text` without the call of `kind` that starts on `line` (the first such, as
    `candidates` found it)."""
    wrapper = MetadataWrapper(cst.parse_module(text))
    collector = _Collector()
    wrapper.visit(collector)
    target = next(c.node for c in collector.found if c.kind == kind and c.line == line)
    return wrapper.module.visit(_Delete(target)).code


# ---------------------------------------------------------------- found or missed


Key = tuple[str, str, int]  # path, rule, line


def line_map(before: str, after: str) -> dict[int, int]:
    """Lines of `before` that `after` still holds (indentation aside), to their new numbers."""
    old = [line.strip() for line in before.splitlines()]
    new = [line.strip() for line in after.splitlines()]
    out = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            out[block.a + k + 1] = block.b + k + 1
    return out


def new_findings(baseline: list[Key], mutated: list[Key], path: str, lines: dict[int, int]):
    """The findings of the mutated run that the unmutated run did not have: by file, rule and
    line, the lines of the mutated file `path` mapped through the edit."""
    moved = Counter(
        (p, code, lines.get(line, -1) if p == path else line) for p, code, line in baseline
    )
    return sorted((Counter(mutated) - moved).elements())


def is_found(rule: str, new: list[Key]) -> bool:
    return any(code == rule for _, code, _ in new)


# ---------------------------------------------------------------- running over a corpus


def lint(folder: Path, cache: Path | None) -> list[Key]:
    """The findings of the default rules on every file under `folder`, as (path, rule, line)."""
    from lint_train.engine import Selection, lint_paths

    here = os.getcwd()
    os.chdir(folder)  # as a user runs it: from the repository's root, paths relative to it
    try:
        result = lint_paths(["."], Selection(), cache_dir=cache)
    finally:
        os.chdir(here)
    return [(os.path.normpath(f.path), f.code, f.line) for f in result.findings]


def mutants_of(repo: str, folder: Path, per_file: int, rng: random.Random) -> Iterator[Mutant]:
    text_of = {}
    for path in sorted(folder.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if TRIGGERS.search(text):
            text_of[path] = text
    every = "\n".join(p.read_text("utf-8", "replace") for p in folder.rglob("*.py"))
    mode_free = not MODE_SENSITIVE.search(every)
    for path, text in text_of.items():
        try:
            found = candidates(text, mode_free)
        except (cst.ParserSyntaxError, RecursionError):
            continue
        relative = str(path.relative_to(folder))
        for kind in RULE_OF:
            mine = [c for c in found if c.kind == kind]
            for c in sorted(rng.sample(mine, min(per_file, len(mine))), key=lambda c: c.line):
                mutated = mutate(text, c.line, kind)
                yield Mutant(RULE_OF[kind], kind, relative, c.line, mutated, c.excluded, repo)


def run_repo(repo: str, source: Path, args: argparse.Namespace, rng: random.Random) -> list[Mutant]:
    with tempfile.TemporaryDirectory(prefix="recall-") as tmp:
        folder = Path(tmp) / source.name
        shutil.copytree(source, folder, symlinks=True)
        cache = None if args.no_cache else Path(tmp) / "cache"
        baseline = lint(folder, cache)
        flagged = {(p, code) for p, code, _ in baseline}
        chosen = list(mutants_of(repo, folder, args.max_per_rule_per_file, rng))
        out = []
        for rule in RULES:
            mine = [m for m in chosen if m.rule == rule and (m.path, rule) not in flagged]
            if args.limit and len(mine) > args.limit:
                mine = sorted(rng.sample(mine, args.limit), key=lambda m: (m.path, m.line))
            out += mine
        for mutant in out:
            path = folder / mutant.path
            original = path.read_text(encoding="utf-8")
            path.write_text(mutant.text, encoding="utf-8")
            try:
                mutated = lint(folder, cache)
            finally:
                path.write_text(original, encoding="utf-8")
            lines = line_map(original, mutant.text)
            new = new_findings(baseline, mutated, mutant.path, lines)
            mutant.new = [f"{p}:{line}" for p, code, line in new if code == mutant.rule]
            mutant.found = is_found(mutant.rule, new)
        return out


def table(mutants: list[Mutant]) -> str:
    rows = [
        "| Rule | mutants | found | recall | excluded | mutants not excluded | found | recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def cells(group: list[Mutant]) -> str:
        found = sum(bool(m.found) for m in group)
        share = f"{100 * found / len(group):.0f}%" if group else "-"
        return f"{len(group)} | {found} | {share}"

    for rule in RULES:
        mine = [m for m in mutants if m.rule == rule]
        kept = [m for m in mine if not m.excluded]
        rows.append(f"| {rule} | {cells(mine)} | {len(mine) - len(kept)} | {cells(kept)} |")
    return "\n".join(rows)


def judge(corpus: Path, mutants: list[Mutant]) -> None:
    """Decide again, with this script's present exclusion tests, which saved mutants are not
    bugs (their files read from `corpus`, unmutated)."""
    for repo in sorted({m.repo for m in mutants}):
        folder = folder_of(corpus, repo)
        every = "\n".join(p.read_text("utf-8", "replace") for p in folder.rglob("*.py"))
        mode_free = not MODE_SENSITIVE.search(every)
        for path in sorted({m.path for m in mutants if m.repo == repo}):
            text = (folder / path).read_text(encoding="utf-8")
            reasons = {(c.kind, c.line): c.excluded for c in candidates(text, mode_free)}
            for m in mutants:
                if m.repo == repo and m.path == path:
                    m.excluded = reasons[m.kind, m.line]


def measure(args: argparse.Namespace) -> list[Mutant]:
    mutants: list[Mutant] = []
    for name, _commit in read_list(args.list):
        if (args.repo and name not in args.repo) or name in args.skip:
            continue
        source = folder_of(args.corpus, name)
        if not source.is_dir():
            print(f"{name}: not unpacked", file=sys.stderr)
            continue
        # Seeded per repository: one run with `--repo` draws the same mutants as the whole run.
        done = run_repo(name, source, args, random.Random(f"{args.seed}:{name}"))
        found = sum(bool(m.found) for m in done)
        print(f"{name}: {len(done)} mutants, {found} found", file=sys.stderr, flush=True)
        mutants += done
    return mutants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("list", type=Path, nargs="?", help="file of `owner/name commit` lines")
    parser.add_argument("corpus", type=Path, nargs="?", help="folder of owner+name/ checkouts")
    parser.add_argument("--max-per-rule-per-file", type=int, default=2, metavar="N")
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        metavar="N",
        help="at most N mutants per rule per repository (0: no limit)",
    )
    parser.add_argument("--seed", type=int, default=11, help="of the random choice of mutants")
    parser.add_argument("--misses", action="store_true", help="list every mutant not found")
    parser.add_argument("--json", type=Path, help="write every mutant (without its text) here")
    parser.add_argument("--no-cache", action="store_true", help="analyse every file every run")
    parser.add_argument("--repo", action="append", help="only this repository (repeatable)")
    parser.add_argument("--skip", action="append", default=[], help="not this one (repeatable)")
    parser.add_argument(
        "--from-json",
        type=Path,
        action="append",
        metavar="FILE",
        help="no run: the table and misses of the mutants these --json files hold, together "
        "(a corpus measured in parts); then LIST is not needed, and CORPUS, when given, is "
        "read to decide the exclusions again with this script's present tests",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        rows = [row for path in args.from_json for row in json.loads(path.read_text("utf-8"))]
        mutants = [Mutant(**row, text="") for row in rows]
        if args.corpus is not None:
            judge(args.corpus, mutants)
    elif args.list is None or args.corpus is None:
        parser.error("LIST and CORPUS are needed, unless --from-json is given")
    else:
        mutants = measure(args)
    print(table(mutants))
    if args.misses:
        print("\nMisses (repository, file:line, rule, deletion; excluded ones say why):")
        for m in mutants:
            if not m.found:
                why = f"  [excluded: {m.excluded}]" if m.excluded else ""
                print(f"- {m.repo} {m.path}:{m.line} {m.rule} {m.kind}{why}")
    if args.json:
        rows = [{k: v for k, v in asdict(m).items() if k != "text"} for m in mutants]
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

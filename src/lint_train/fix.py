"""Applying fixes without ever corrupting a file.

For one file: lint it, take the fixes the rules offer for the findings wanted (safe fixes, and
unsafe ones when asked), apply them to the parsed module with a libcst transformer, and check the
new text: it must parse (and compile, when the original did), every fixed finding must be gone,
and no finding may appear that was not there before, unless a rule fixes that one too in a
further round (evaluation put in eval mode can leave the model there for the training that
follows, which TRN005 then fixes). When fixing everything at once fails the check, each finding
is tried on its own and only the fixes that pass are kept; the others are reported with the
reason. A file is written only when its text changed: through a temporary file in its directory
and `os.replace`, with its encoding, byte-order mark, line endings and mode kept. Running the
fixes again changes nothing.

The fixer takes the linter's guarded path: the depth check before parsing, parsing and analysis
on the engine's thread with a large stack, and a bug (in a rule, the analysis or the fixer)
contained to one line for the file, or to the fix it broke; the run goes on.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from .analysis.interpret import analyse
from .analysis.model import LoopModel
from .analysis.program import build_program
from .analysis.summary import ProjectView
from .context import RunContext
from .engine import InternalError, _on_big_stack, _stage, _syntax_error, place_reports
from .notebook import is_notebook
from .prefilter import could_matter, needed_words
from .rules import Report, Rule, all_rules
from .rules.fixes import AFTER, BEFORE, DECORATE, DELETE, REPLACE, WRAP, Edit
from .source import SourceError, check_depth, decode, encoding_of
from .types import Finding

MAX_ROUNDS = 4  # rounds of fixing what earlier fixes brought up, before giving up

Key = tuple[str, str]  # (code, message): a finding, wherever the edits moved it
Linted = tuple[cst.Module, list[tuple[Finding, Report]]]


@dataclass
class FixOutcome:
    path: str
    before: str
    after: str | None = None  # the fixed text; None when nothing changes
    fixed: list[Finding] = field(default_factory=list)  # findings of `before` the fixes remove
    remaining: list[Finding] = field(default_factory=list)  # findings of the text as it ends up
    rejected: list[tuple[Finding, str]] = field(default_factory=list)  # not fixed, and why
    error: str | None = None  # the file could not be read, decoded, analysed or written
    trace: str | None = None  # for an internal error (a bug in lint-train): what --debug shows
    diff: str | None = None  # what --diff shows when not a diff of before and after (notebooks)

    @property
    def changed(self) -> bool:
        return self.after is not None


def fix_source(
    text: str,
    rules: list[Rule] | None = None,
    *,
    unsafe: bool = False,
    wanted: Callable[[Finding], bool] | None = None,
    path: str = "<string>",
    check: Callable[[str], str | None] | None = None,
    view: ProjectView | None = None,
) -> FixOutcome:
    """Fix the findings of `text` that `wanted` selects (all by default) and that have a fix
    of the allowed safety; `check` may reject a fixed text that passes the usual checks,
    saying why (a notebook: the text must go back into its cells); `view`: the project
    modules it imports, as the linter saw them. Like engine.lint_source,
    raises libcst.ParserSyntaxError when `text` does not parse, SourceError when it is nested
    too deeply to parse safely, and InternalError for a bug in lint-train (naming the stage
    that failed)."""
    rules = all_rules() if rules is None else rules
    check_depth(text)
    return _on_big_stack(_fix_guarded, text, rules, unsafe, wanted, path, check, view)


def _fix_guarded(
    text: str,
    rules: list[Rule],
    unsafe: bool,
    wanted: Callable[[Finding], bool] | None,
    path: str,
    check: Callable[[str], str | None] | None,
    view: ProjectView | None,
) -> FixOutcome:
    try:
        return _fix_deep(text, rules, unsafe, wanted, path, check, view)
    except (cst.ParserSyntaxError, SourceError, RecursionError, MemoryError, InternalError):
        raise
    except Exception as exc:
        raise InternalError("the fixer", exc) from exc


def _fix_deep(
    text: str,
    rules: list[Rule],
    unsafe: bool,
    wanted: Callable[[Finding], bool] | None,
    path: str,
    check: Callable[[str], str | None] | None,
    view: ProjectView | None,
) -> FixOutcome:
    outcome = FixOutcome(path, text)
    while True:
        try:
            linted = _lint(text, path, rules, view)
            break
        except InternalError as exc:
            # A rule that fails on this text was reported by the linter; the others still fix.
            failing = [rule for rule in rules if exc.stage == f"rule {rule.info.code}"]
            if not failing:
                raise
            rules = [rule for rule in rules if rule not in failing]
    pairs = linted[1]
    outcome.remaining = [f for f, _ in pairs]
    picked = [
        i for i, (f, r) in enumerate(pairs) if (wanted is None or wanted(f)) and _allowed(r, unsafe)
    ]
    if not picked:
        return outcome
    compiles = _compiles(text, path)
    allowed = Counter(_key(f) for f, _ in pairs) - Counter(_key(pairs[i][0]) for i in picked)
    new, reason = _attempt(linted, picked, allowed, path, rules, unsafe, compiles, check, view)
    if new is not None:
        outcome.fixed = [pairs[i][0] for i in picked]
    elif len(picked) == 1:
        outcome.rejected = [(pairs[picked[0]][0], reason or "")]
    else:
        # Fixing everything at once failed: keep the fixes that pass on their own. A finding
        # is found again in the changed text by its code, message and rank among the findings
        # that share them.
        current, current_linted = text, linted
        for i in picked:
            finding = pairs[i][0]
            key = _key(finding)
            rank = sum(_key(f) == key for f, _ in pairs[:i])
            rank -= sum(_key(f) == key for f in outcome.fixed)
            same = [j for j, (f, _) in enumerate(current_linted[1]) if _key(f) == key]
            if rank >= len(same):
                outcome.fixed.append(finding)  # an earlier fix took this one away too
                continue
            now = Counter(_key(f) for f, _ in current_linted[1]) - Counter([key])
            tried, why = _attempt(
                current_linted, [same[rank]], now, path, rules, unsafe, compiles, check, view
            )
            if tried is None:
                outcome.rejected.append((finding, why or ""))
            else:
                current, current_linted = tried, _lint(tried, path, rules, view)
                outcome.fixed.append(finding)
        new = current if outcome.fixed else None
    if new is not None and new != text:
        outcome.after = new
        outcome.remaining = [f for f, _ in _lint(new, path, rules, view)[1]]
    return outcome


def fix_file(
    path: str | Path,
    rules: list[Rule] | None = None,
    *,
    unsafe: bool = False,
    wanted: Callable[[Finding], bool] | None = None,
    write: bool = True,
) -> FixOutcome:
    """Fix one file (see fix_source); with `write`, replace it when its text changed. What
    keeps it from being fixed, a bug in lint-train included, is the outcome's `error`."""
    try:
        return _fix_file(path, rules, unsafe, wanted, write)
    except Exception as exc:
        error = InternalError("the fixer", exc)
        return FixOutcome(str(path), "", error=_bug(error), trace=error.trace)


def _bug(error: InternalError) -> str:
    return f"{error}; this is a bug in lint-train, please report it (--debug shows more)"


def _fix_file(
    path: str | Path,
    rules: list[Rule] | None,
    unsafe: bool,
    wanted: Callable[[Finding], bool] | None,
    write: bool,
) -> FixOutcome:
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FixOutcome(name, "", error=f"cannot read: {exc.strerror or exc}")
    if is_notebook(name):
        from .notebook_fix import fix_notebook

        return fix_notebook(name, data, rules, unsafe, wanted, write)
    try:
        # A cookie naming an unknown codec was read as UTF-8, and is written back so: the bytes
        # of every line not fixed stay as they were.
        encoding = encoding_of(data)
        text = decode(data)
    except (SourceError, SyntaxError) as exc:
        return FixOutcome(name, "", error=_at(str(exc), getattr(exc, "line", None)))
    try:
        context = RunContext.for_files([name])
        view = context.view(name, {}, set())  # the project, as linted
        view = _with_loop_callers(context, name, text, view)
        outcome = fix_source(text, rules, unsafe=unsafe, wanted=wanted, path=name, view=view)
    except SourceError as exc:
        return FixOutcome(name, "", error=_at(f"not analysed: {exc}", exc.line))
    except cst.ParserSyntaxError as exc:
        message, line = _syntax_error(text, exc)
        return FixOutcome(name, "", error=_at(f"syntax error: {message}", line))
    except RecursionError:
        return FixOutcome(name, "", error="too deeply nested to analyse")
    except MemoryError:
        return FixOutcome(name, "", error="ran out of memory while analysing it")
    except InternalError as exc:
        return FixOutcome(name, "", error=_bug(exc), trace=exc.trace)
    if outcome.after is None or not write:
        return outcome
    try:
        payload = outcome.after.encode(encoding)
    except UnicodeEncodeError as exc:
        outcome.error = f"the fixed text cannot be encoded as {encoding}: {exc.reason}"
        outcome.rejected += [(f, outcome.error) for f in outcome.fixed]
        outcome.fixed, outcome.after = [], None
        return outcome
    try:
        _write_atomic(Path(path), payload, data)
    except (OSError, _Changed) as exc:
        reason = str(exc) if isinstance(exc, _Changed) else f"cannot write: {exc.strerror or exc}"
        outcome.error = reason
        outcome.rejected += [(f, reason) for f in outcome.fixed]
        outcome.fixed, outcome.after = [], None
    return outcome


def _with_loop_callers(
    context: RunContext, name: str, text: str, view: ProjectView | None
) -> ProjectView | None:
    """The view with the loops of other project files that call the file's methods, as a
    run gives it to training-step methods that ask for them (see analysis/repeated.py)."""
    if "backward" not in text:
        return view
    methods = [f"{cls}.{method}" for cls, method in _class_methods(text)]
    looped = context.loop_callers(name, methods) if methods else None
    if not looped:
        return view
    from dataclasses import replace

    from .project import absolute

    if view is None:
        view = ProjectView(absolute(name), context.root, {})
    return replace(view, looped_elsewhere=looped)


def _class_methods(text: str) -> list[tuple[str, str]]:
    """(class, method) for each `def` indented under a top-level `class` of `text`."""
    out = []
    cls = None
    for line in text.splitlines():
        found = re.match(r"class\s+(\w+)", line)
        if found:
            cls = found.group(1)
        elif line[:1].strip() and not line.startswith(("#", "@", ")")):
            cls = None  # back at the top level
        elif cls and (method := re.match(r"\s+(?:async\s+)?def\s+(\w+)", line)):
            out.append((cls, method.group(1)))
    return out


def _at(message: str, line: int | None) -> str:
    return f"{message} (line {line})" if line else message


# Linting with the reports kept --------------------------------------------------------------
def _lint(text: str, path: str, rules: list[Rule], view: ProjectView | None = None) -> Linted:
    """The module and its findings, each with the report (and fix) it came from; the same
    findings as engine.lint_source gives for this text. Stages as in the engine: a failure
    that is not about the text is an InternalError naming the stage or rule."""
    module = _stage("the parser", cst.parse_module, text)
    needed = needed_words(rule.info.code for rule in rules)
    if not could_matter(text, needed) and (view is None or not view.hands_facts(text)):
        return module, []
    model = _stage("the analysis", lambda: analyse(build_program(module, view)))
    if not model.complete:
        return module, []
    reports = [
        (rule, report)
        for rule in rules
        for report in _stage(f"rule {rule.info.code}", _check, rule, model)
    ]
    if not reports:
        return module, []
    return module, _stage("placing findings", place_reports, module, reports, path)


def _check(rule: Rule, model: LoopModel) -> list[Report]:
    return list(rule.check(model))


def _key(finding: Finding) -> Key:
    return finding.code, finding.message


def _allowed(report: Report, unsafe: bool) -> bool:
    return report.fix is not None and (report.fix.safe or unsafe)


# One attempt: fix, check, fix what the fixes brought up ------------------------------------
def _attempt(
    linted: Linted,
    picked: list[int],
    allowed: Counter[Key],
    path: str,
    rules: list[Rule],
    unsafe: bool,
    compiles: bool,
    check: Callable[[str], str | None] | None = None,
    view: ProjectView | None = None,
) -> tuple[str | None, str | None]:
    """Fix the findings at the `picked` indices of `linted` (a text's module and findings),
    then whatever those fixes bring up, until the text has no finding beyond `allowed`.
    Returns (new text, None) or (None, why not)."""
    module, pairs = linted
    chosen = [pairs[i] for i in picked]
    fixed: Counter[Key] = Counter()
    for _ in range(MAX_ROUNDS):
        if not chosen:
            return None, "nothing to fix"
        for finding, report in chosen:
            if fixed[_key(finding)]:
                return None, f"the fix leaves {finding.code} in place ({finding.message})"
            if not _allowed(report, unsafe):
                why = f": {finding.fix_message}" if finding.fix_message else ""
                return None, f"the fix would bring up {finding.code} ({finding.message}){why}"
        fixed.update(_key(f) for f, _ in chosen)
        edits = [e for _, r in chosen if r.fix is not None for e in r.fix.edits]
        try:
            new, problem = _apply(module, edits)
        except Exception as exc:  # a bug in a fix: this fix is not made, the others go on
            return None, _bug(InternalError("applying the fix", exc))
        if problem is None:
            problem = _syntax_problem(new, path, compiles)
        if problem is None and check is not None:
            problem = check(new)
        if problem is not None:
            return None, problem
        try:
            module, pairs = _lint(new, path, rules, view)
        except InternalError as exc:
            return None, f"checking the fixed code met an {_bug(exc)}"
        # Whatever is left beyond what may stay was kept or brought up by these fixes.
        todo = Counter(_key(f) for f, _ in pairs) - allowed
        if not todo:
            return new, None
        chosen = []
        for finding, report in pairs:
            if todo[_key(finding)] > 0:
                todo[_key(finding)] -= 1
                chosen.append((finding, report))
    return None, "the fixes did not settle"


def _syntax_problem(text: str, path: str, compiles: bool) -> str | None:
    try:
        check_depth(text)
        cst.parse_module(text)
        if compiles:
            _compile(text, path)
    except SourceError as exc:
        return f"the fixed code would be nested too deeply: {exc}"
    except cst.ParserSyntaxError as exc:
        return f"the fixed code would not parse: {exc.message} (line {exc.raw_line})"
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        return f"the fixed code would not compile: {getattr(exc, 'msg', exc)}{where}"
    return None


def _compiles(text: str, path: str) -> bool:
    try:
        _compile(text, path)
    except (SyntaxError, ValueError):
        return False
    return True


def _compile(text: str, path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file's own SyntaxWarnings are not ours to print
        compile(text, path, "exec", dont_inherit=True)


# Edits --------------------------------------------------------------------------------------
def _apply(module: cst.Module, edits: list[Edit]) -> tuple[str, str | None]:
    applier = _Applier(edits)
    try:
        new = module.visit(applier)
    except cst.ParserSyntaxError as exc:
        return module.code, f"the fix's own code does not parse: {exc.message}"
    missing = set(applier.anchors) - applier.applied
    if missing:
        return module.code, "an edit's anchor is no longer in the file"
    return new.code, None


class _Applier(cst.CSTTransformer):
    """Performs edits anchored on nodes of the module it visits."""

    def __init__(self, edits: list[Edit]) -> None:
        super().__init__()
        self.anchors: dict[int, list[Edit]] = {}
        for edit in dict.fromkeys(edits):  # the same edit offered twice is done once
            self.anchors.setdefault(id(edit.anchor), []).append(edit)
        self.applied: set[int] = set()

    def on_leave(
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.FlattenSentinel[cst.CSTNode] | cst.RemovalSentinel:
        edits = self.anchors.get(id(original_node))
        if not edits:
            return updated_node
        self.applied.add(id(original_node))
        return _rewrite(updated_node, edits)


def _rewrite(
    node: cst.CSTNode, edits: list[Edit]
) -> cst.CSTNode | cst.FlattenSentinel[cst.CSTNode] | cst.RemovalSentinel:
    if any(edit.kind == DELETE for edit in edits):
        # A statement moved elsewhere; an empty block left behind fails the parse check.
        return cst.RemovalSentinel.REMOVE
    out = node
    for edit in edits:
        if edit.kind == DECORATE and isinstance(out, cst.FunctionDef):
            decorator = cst.Decorator(decorator=cst.parse_expression(edit.code))
            out = out.with_changes(decorators=[*out.decorators, decorator])
    for edit in edits:
        if edit.kind == REPLACE:
            new = _statement(edit.code, like=out)
            if isinstance(out, cst.SimpleStatementLine) and isinstance(
                new, cst.SimpleStatementLine
            ):
                new = new.with_changes(
                    leading_lines=out.leading_lines, trailing_whitespace=out.trailing_whitespace
                )
            out = new
            break
    for edit in edits:
        if edit.kind == WRAP:
            leading = getattr(out, "leading_lines", ())
            inner = out.with_changes(leading_lines=()) if leading else out
            out = cst.With(
                items=[cst.WithItem(item=cst.parse_expression(edit.code))],
                body=cst.IndentedBlock(body=[inner]),  # type: ignore[list-item]
                leading_lines=leading,
            )
            break
    before = [_statement(e.code, like=node) for e in edits if e.kind == BEFORE]
    after = [_statement(e.code, like=node) for e in edits if e.kind == AFTER]
    if not before and not after:
        return out
    leading = getattr(out, "leading_lines", ())
    if before and leading:
        # Comments above a statement stay above the code inserted before it.
        before[0] = before[0].with_changes(leading_lines=leading)
        out = out.with_changes(leading_lines=())
    return cst.FlattenSentinel([*before, out, *after])


def _statement(code: str, like: cst.CSTNode) -> cst.CSTNode:
    """`code` as a statement that can stand where `like` stands (a line, or a small statement
    of a one-line block)."""
    line = cst.parse_statement(code)
    if isinstance(like, cst.BaseSmallStatement) and isinstance(line, cst.SimpleStatementLine):
        return line.body[0]
    return line


def unified_diff(path: str, before: str, after: str) -> str:
    """What the fix changes in `path`, as `diff -u` shows it (line endings as in the file)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


# Reading and writing ------------------------------------------------------------------------
class _Changed(Exception):
    """The file changed on disk while it was being fixed."""


def _write_atomic(path: Path, payload: bytes, original: bytes) -> None:
    """Replace the file's bytes at once: a reader sees the old file or the new, never a mix.
    Writes through a symlink to its target, and keeps the file's permission bits."""
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(os.stat(target).st_mode)
    if target.read_bytes() != original:
        raise _Changed("the file changed while it was being fixed; left as it is")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise

"""Per file: read, parse once, analyse once, run the rules, place the findings.

Over many files: results cached for the same bytes are reused, files whose text cannot lead
to a finding are settled without parsing, and the rest are analysed on several processes when
there is enough of it to pay for starting them. Every way gives the same results, in the same
order. libcst and the analysis are imported only when a file has to be parsed, so a run that
its cache or its prefilter settles starts quickly.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from . import parallel
from .discover import discover
from .notebook import Program, is_notebook, to_program
from .prefilter import NEEDED, could_matter, needed_words
from .source import SourceError, check_depth, decode
from .types import (
    INTERNAL_ERROR,
    SYNTAX_ERROR,
    TOO_COMPLEX,
    UNDECODABLE_FILE,
    UNREADABLE_FILE,
    FileError,
    Finding,
    Location,
    Related,
)

if TYPE_CHECKING:
    import libcst as cst
    from libcst.metadata import CodeRange

    from .analysis.model import LoopModel
    from .analysis.program import Program as Index
    from .analysis.summary import ModuleSummary, ProjectView
    from .context import RunContext
    from .rules import Report, Rule

T = TypeVar("T")


@dataclass
class Selection:
    """Which rule codes run: `select` prefixes (all when empty) minus `ignore` prefixes, and
    of the rules in preview, none unless `preview` is on (as in ruff, selecting one by its
    full code does not enable it)."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    preview: bool = False

    def rules(self) -> list[Rule]:
        from .rules import all_rules

        return [
            r
            for r in all_rules()
            if self.wants(r.info.code) and (self.preview or not r.info.preview)
        ]

    def wants(self, code: str) -> bool:
        if self.select and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(i) for i in self.ignore)

    def describe(self) -> str:
        """The same text for selections that pick the same rules (keys the cache)."""
        chosen = f"select={','.join(sorted(self.select))};ignore={','.join(sorted(self.ignore))}"
        return chosen + (";preview" if self.preview else "")


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0


@dataclass(frozen=True)
class FileOutcome:
    """What checking one file gave: its findings, or the error that kept it from being checked."""

    findings: tuple[Finding, ...] = ()
    error: FileError | None = None
    # What other files of the project read of it (analysed files only; never cached).
    summary: ModuleSummary | None = field(default=None, compare=False, repr=False)
    # Its top-level functions whose evaluation code ran in the state their callers give:
    # whether callers in other files decide it is asked once it is analysed.
    asks: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


# Marks, among a file's asks, a training-step method that asks for the loops calling it.
REPEAT = "repeat:"


def lint_source(
    text: str, path: str = "<string>", rules: list[Rule] | None = None, prefilter: bool = True
) -> list[Finding]:
    """Findings for one file's text. Raises libcst.ParserSyntaxError for invalid source,
    SourceError for source nested too deeply to parse safely, and InternalError for a bug in
    lint-train (naming the stage or rule that failed)."""
    if rules is None:
        from .rules import all_rules

        rules = all_rules()
    if prefilter and not could_matter(text, needed_words(rule.info.code for rule in rules)):
        return []
    findings, error, _, _ = _analyse_text(text, path, rules)
    if error is not None:
        raise error
    return findings


class InternalError(Exception):
    """A bug in lint-train met while checking one file: the stage (or rule) that failed."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"internal error in {stage} ({type(cause).__name__}: {cause})")
        self.stage = stage
        import traceback  # only on this rare path: start-up is felt on every commit

        self.trace = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))

    def file_error(self, path: str) -> FileError:
        message = f"{self}; this is a bug in lint-train, please report it (--debug shows more)"
        return FileError(path, message, trace=self.trace, name=INTERNAL_ERROR)


Analysed = tuple[list[Finding], "InternalError | None", "ModuleSummary | None", frozenset[str]]


def _analyse_text(
    text: str,
    path: str,
    rules: list[Rule],
    program: Program | None = None,
    view: ProjectView | None = None,
    summarise: bool = True,
) -> Analysed:
    """The findings, the error of a rule that failed (the other rules still report), the
    module's summary for the files that import it (when `summarise`: no file of the run may
    import it), and its top-level functions whose evaluation ran in the state their callers
    give. `program`: the notebook `text` was made from, if any; `view`: the summaries of the
    project modules it imports."""
    check_depth(text)
    with _collector_paused():
        return _on_big_stack(_analyse_deep, text, path, rules, program, view, summarise)


def parse_for_summary(text: str, view: ProjectView | None = None) -> ModuleSummary | None:
    """The summary of a module no rule checks in this run (one parse; analysed only when it
    defines top-level functions or classes with methods that are not modules, whatever its
    words: an evaluation helper need not say so);
    None when it cannot be parsed or indexed. `view`: the summaries of the modules it imports."""
    from .analysis.program import build_program
    from .analysis.walk import indexed

    def work() -> ModuleSummary:
        module = parse_module(text)
        with indexed(module):
            return _summarised(build_program(module, view))

    def _summarised(program: Index) -> ModuleSummary:
        # Analysed for what its functions, and the methods of its classes that are not
        # modules (an agent holding networks), do to what their callers give them; an
        # `__init__` alone may leave the networks it builds in eval mode (`is_eval=True`).
        holders = any(not c.is_module and c.methods for c in program.classes.values())
        return _summary(program, text.startswith("def ") or "\ndef " in text or holders)

    try:
        check_depth(text)
        with _collector_paused():
            return _on_big_stack(work)
    except Exception:  # a module that does not parse is context left out, not an error
        return None


def parse_module(text: str) -> cst.Module:
    """`libcst.parse_module(text)` without the check that every node runs on itself as it is
    built (`CSTNode.__post_init__` calls `_validate`, for trees built by hand): the parser
    builds only what it accepted, and those checks were a fifth of the parse. The nodes of
    the tree are the same (a test compares them). The check is off only for this call: parses
    take a lock, so that two threads parsing at once cannot leave it off for good (the second
    would otherwise save the first one's stand-in as the check to restore), and nodes built by
    hand elsewhere are checked as soon as the parse ends."""
    import libcst as cst
    from libcst._nodes.base import CSTNode

    with _parse_lock:
        check = CSTNode.__dict__["__post_init__"]
        CSTNode.__post_init__ = _built_by_the_parser  # type: ignore[method-assign]
        try:
            return cst.parse_module(text)
        finally:
            CSTNode.__post_init__ = check  # type: ignore[method-assign]


_parse_lock = threading.Lock()


def _built_by_the_parser(node: object) -> None:
    """No check: see parse_module."""


def _summary(program: Index, analysed: bool | LoopModel) -> ModuleSummary:
    """The module's summary: its classes, and what its top-level functions do to their
    parameters when `analysed` (the model of the module, or True: analyse it here)."""
    from dataclasses import replace

    from .analysis.summary import summarise

    summary = summarise(program)
    if analysed is False:
        return summary
    from .analysis.effects import function_facts
    from .analysis.interpret import analyse

    model = analyse(program) if analysed is True else analysed
    if not model.complete:
        return summary
    return replace(summary, functions=function_facts(model))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """CPython's cyclic garbage collector runs each time enough objects have been allocated
    and walks all that are still alive; parsing (and importing libcst) allocates little else
    but long-lived nodes, so the collector would run again and again for nothing. The trees
    hold no cycles (reference counting frees them); it runs again once the file is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _analyse_deep(
    text: str,
    path: str,
    rules: list[Rule],
    program: Program | None = None,
    view: ProjectView | None = None,
    summarise: bool = True,
) -> Analysed:
    from .analysis.interpret import analyse
    from .analysis.program import build_program
    from .analysis.walk import indexed

    module = _stage("the parser", parse_module, text)
    with indexed(module):
        index = _stage("the analysis", build_program, module, view)
        model = _stage("the analysis", analyse, index)
        summary = None
        if program is None and (summarise or model.asks):  # callers elsewhere read it too
            summary = _stage("the module summary", _summary, index, model)
        asks = frozenset(model.asks) | {REPEAT + key for key in model.repeat_asks}
        if not model.complete:
            return [], None, summary, asks
        reports: list[tuple[Rule, Report]] = []
        failed: InternalError | None = None
        for rule in rules:
            try:
                found = list(rule.check(model))
            except Exception as exc:
                failed = failed or InternalError(f"rule {rule.info.code}", exc)
            else:
                reports.extend((rule, report) for report in found)
    if not reports:
        return [], failed, summary, asks
    placed = _stage("placing findings", _place, module, reports, path, program)
    return placed, failed, summary, asks


def _place(
    module: cst.Module, reports: list[tuple[Rule, Report]], path: str, program: Program | None
) -> list[Finding]:
    pairs = place_reports(module, reports, path)
    if program is not None:
        from .notebook_fix import fixes_in_cells

        return fixes_in_cells(module, pairs, program)
    return [finding for finding, _ in pairs]


def place_reports(
    module: cst.Module, reports: list[tuple[Rule, Report]], path: str
) -> list[tuple[Finding, Report]]:
    """Findings at their file positions, each with the report it came from, in file order;
    one finding per rule and node. Positions are resolved here only, for files with reports."""
    from .positions import locate

    nodes = [report.node for _, report in reports]
    nodes += [node for _, report in reports for node, _ in report.related]
    positions = locate(module, {id(node): node for node in nodes}.values())
    pairs: list[tuple[Finding, Report]] = []
    seen: set[tuple[str, int]] = set()
    for rule, report in reports:
        if (rule.info.code, id(report.node)) in seen:
            continue
        seen.add((rule.info.code, id(report.node)))
        location = _location(positions[report.node])
        fix = report.fix
        finding = Finding(
            path,
            rule.info.code,
            rule.info.name,
            report.message,
            location,
            fixable=fix is not None,
            fix_applicability=fix.applicability if fix else None,
            fix_message=fix.message if fix else report.no_fix,
            related=tuple(Related(_location(positions[n]), m) for n, m in report.related),
        )
        pairs.append((finding, report))
    pairs.sort(key=lambda p: (p[0].line, p[0].column, p[0].code))
    return pairs


def _location(where: CodeRange) -> Location:
    return Location(where.start.line, where.start.column + 1, where.end.line, where.end.column + 1)


# Deep but valid code (a long elif chain, a sum of some hundred terms) makes libcst's parser
# and visitors, and the analysis, recurse once per level of nesting: past the main thread's
# stack and Python's default limit of 1000 frames. A thread with a large stack (reserved, not
# used, until needed) and a higher limit gives them room; check_depth keeps the depth bounded.
STACK_BYTES = 512 * 1024 * 1024
RECURSION_LIMIT = 100_000
_stack_size_lock = threading.Lock()


def _on_big_stack(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` run on a thread with a large stack; its exceptions are raised here."""
    box: list[tuple[bool, object]] = []

    def run() -> None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, RECURSION_LIMIT))
        try:
            box.append((True, work(*args)))
        except BaseException as exc:
            box.append((False, exc))
        finally:
            sys.setrecursionlimit(limit)

    thread: threading.Thread | None = threading.Thread(target=run, daemon=True)
    with _stack_size_lock:
        try:
            default = threading.stack_size(STACK_BYTES)
            try:
                thread.start()
            finally:
                threading.stack_size(default)
        except (ValueError, RuntimeError):  # no thread with such a stack here: do without
            thread = None
    if thread is None:
        return work(*args)
    thread.join()
    done, value = box[0]
    if not done:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]


def _stage(stage: str, work: Callable[..., T], *args: object) -> T:
    """`work(*args)`, with any exception that is not about the user's source (invalid or too
    deeply nested) raised as an InternalError naming the stage."""
    import libcst as cst

    try:
        return work(*args)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        raise
    except Exception as exc:
        raise InternalError(stage, exc) from exc


def _contained(stage: str) -> Callable[[Callable[..., T]], Callable[..., T | FileOutcome]]:
    """For a function of one file (named by its first argument): an exception it lets escape
    becomes that file's outcome, an internal error, and the run goes on."""

    def wrap(function: Callable[..., T]) -> Callable[..., T | FileOutcome]:
        @functools.wraps(function)
        def contained(name: str, *args: object) -> T | FileOutcome:
            try:
                return function(name, *args)
            except Exception as exc:
                return FileOutcome(error=InternalError(stage, exc).file_error(name))

        return contained

    return wrap


def lint_file(path: str | Path, rules: list[Rule] | None = None) -> list[Finding]:
    """Findings for one file; raises FileErrorException when the file cannot be checked."""
    if rules is None:
        from .rules import all_rules

        rules = all_rules()
    (outcome,) = check_files([str(Path(path))], rules=rules)
    if outcome.error is not None:
        raise FileErrorException(outcome.error)
    return list(outcome.findings)


class FileErrorException(Exception):
    def __init__(self, error: FileError) -> None:
        super().__init__(str(error))
        self.error = error


def lint_paths(
    paths: Iterable[str],
    selection: Selection | None = None,
    *,
    jobs: int = 1,
    cache_root: Path | None = None,
    cache_dir: Path | None = None,
) -> Result:
    """Check every file under `paths`: on up to `jobs` processes, and reusing and recording
    per-file results in `cache_dir`, or `cache_root`/.lint-train_cache, when either is given."""
    files = [str(path) for path in discover(paths)]
    return lint_files(files, selection, jobs=jobs, cache_root=cache_root, cache_dir=cache_dir)


def lint_files(
    files: Sequence[str],
    selection: Selection | None = None,
    *,
    jobs: int = 1,
    cache_root: Path | None = None,
    cache_dir: Path | None = None,
) -> Result:
    """`lint_paths` for files found already (by `discover`): no path is looked at again."""
    result = Result()
    outcomes = check_files(files, selection, jobs=jobs, cache_root=cache_root, cache_dir=cache_dir)
    for outcome in outcomes:
        if outcome.error is not None:
            result.errors.append(outcome.error)
        else:
            result.files_checked += 1
        result.findings.extend(outcome.findings)  # a rule that failed leaves the others'
    result.findings.sort(key=lambda f: (f.path, f.location.cell or 0, f.line, f.column, f.code))
    return result


def check_files(
    files: Sequence[str],
    selection: Selection | None = None,
    *,
    rules: list[Rule] | None = None,
    jobs: int = 1,
    cache_root: Path | None = None,
    cache_dir: Path | None = None,
) -> list[FileOutcome]:
    """The outcome of each file, in the order of `files`. The rules are `rules` when given,
    else the selection's, loaded (with libcst) only when some file has to be analysed."""
    selection = selection or Selection()
    store = None
    if cache_root is not None or cache_dir is not None:
        from .cache import DIRECTORY, Cache

        if cache_dir is None:
            assert cache_root is not None
            cache_dir = cache_root / DIRECTORY
        if rules is not None:
            configuration = ",".join(rule.info.code for rule in rules)
        else:
            configuration = selection.describe()
        store = Cache(cache_dir.parent, configuration, cache_dir)
    from .context import RunContext

    context = RunContext.for_files(files)
    outcomes: list[FileOutcome | None] = [None] * len(files)
    keys: dict[int, tuple[str, bytes]] = {}  # files to record once their outcome is known
    pending: list[tuple[int, str, str, Program | None]] = []  # files that must be parsed
    deferred: set[int] = set()  # ... unless the summaries of what they import say nothing
    for index, name in enumerate(files):
        data = _read(name)
        if isinstance(data, FileError):
            outcomes[index] = FileOutcome(error=data)
            continue
        context.remember(name, data)
        if store is not None:
            # A file's findings depend on the project modules it imports: their bytes too.
            keyed = data + context.key_part(name)
            key = store.key(name, keyed)
            cached = store.get(key, name)
            if cached is None and store.asks_callers(key):
                # ... and, for some, on the files that import it (see context.py).
                cached = store.get(store.key(name, keyed + context.callers_part(name)), name)
            if cached is not None:
                outcomes[index] = FileOutcome(tuple(cached[0]), cached[1])
                continue
            keys[index] = (key, keyed)
        prepared = _prepare(name, data)
        if isinstance(prepared, FileOutcome):
            outcomes[index] = prepared
            continue
        text, program, matters = prepared
        if matters:
            pending.append((index, name, text, program))
        elif context.imports_helpers(name):
            # Its words cannot lead to a finding, but a project module it imports may hand it
            # one (an evaluation helper it calls): decided once that module's summary is in.
            pending.append((index, name, text, program))
            deferred.add(index)
        else:
            outcomes[index] = FileOutcome()
    if pending:
        rules = selection.rules() if rules is None else rules
        _defer_unneeded(pending, deferred, outcomes, rules, context)
    if pending:
        for index, outcome in _analyse_in_rounds(pending, rules, jobs, context, deferred):
            outcomes[index] = outcome
    if store is not None:
        for index, (key, keyed) in keys.items():
            outcome = outcomes[index]
            assert outcome is not None
            if outcome.error is not None and outcome.error.trace is not None:
                continue  # a bug is not a result
            if outcome.asks:
                store.put_asks_callers(key)
                key = store.key(files[index], keyed + context.callers_part(files[index]))
            store.put(key, outcome.findings, outcome.error)
    return [outcome for outcome in outcomes if outcome is not None]


def _defer_unneeded(
    pending: list[tuple[int, str, str, Program | None]],
    deferred: set[int],
    outcomes: list[FileOutcome | None],
    rules: list[Rule],
    context: RunContext,
) -> None:
    """Files whose words could matter to some rule, but not to the rules that run, are
    treated as the files whose words matter to none (in place): the words of the rules in
    preview sit in most model files."""
    needed = needed_words(rule.info.code for rule in rules)
    if needed == NEEDED:
        return
    kept = []
    for item in pending:
        index, name, text, _ = item
        if index in deferred or could_matter(text, needed):
            kept.append(item)
        elif context.imports_helpers(name):
            kept.append(item)
            deferred.add(index)
        else:
            outcomes[index] = FileOutcome()
    pending[:] = kept


def _read(name: str) -> bytes | FileError:
    try:
        mode = os.stat(name).st_mode
        if stat.S_ISDIR(mode):
            os.listdir(name)  # a folder that cannot be listed says why, below
            return _unreadable(name, "is a directory")
        if not stat.S_ISREG(mode):  # reading a pipe or a device could block or never end
            return _unreadable(name, "not a regular file (a pipe, socket or device)")
        return Path(name).read_bytes()
    except FileNotFoundError:
        if os.path.islink(name):
            return _unreadable(name, "broken symbolic link")
        return _unreadable(name, "no such file or directory")
    except IsADirectoryError:
        return _unreadable(name, "is a directory")
    except OSError as exc:
        return _unreadable(name, f"cannot read: {exc.strerror or exc}")


def _unreadable(name: str, message: str) -> FileError:
    return FileError(name, message, name=UNREADABLE_FILE)


@_contained("reading the file")
def _prepare(name: str, data: bytes) -> FileOutcome | tuple[str, Program | None, bool]:
    """The text to analyse (and the notebook it came from), and whether its words alone could
    lead to a finding; or the outcome when the bytes settle it (they are not source text)."""
    program: Program | None = None
    try:
        if is_notebook(name):
            program = to_program(data)
            text = program.text
        else:
            notes: list[str] = []
            text = decode(data, notes)
            for note in notes:  # said as the file is read, whatever the analysis then gives
                print(f"{name}:1: note: {note}", file=sys.stderr)
    except SourceError as exc:
        return FileOutcome(error=FileError(name, str(exc), exc.line, name=UNDECODABLE_FILE))
    return text, program, could_matter(text)


# index, name, text, notebook, view, and whether a file of the run imports it (reads its summary)
Pending = tuple[int, str, str, "Program | None", "ProjectView | None", bool]


def _analyse_in_rounds(
    pending: list[tuple[int, str, str, Program | None]],
    rules: list[Rule],
    jobs: int,
    context: RunContext,
    deferred: set[int] | None = None,
) -> Iterator[tuple[int, FileOutcome]]:
    """Every pending file analysed, a module before the files that import it, so that each
    analysis sees the summaries of the project modules it imports (see context.py). A
    `deferred` file (its words alone cannot lead to a finding) is analysed only when some
    function or class of those modules that it names has facts its calls would apply."""
    names = [name for _, name, _, _ in pending]
    rounds = context.levels(names)
    from .project import absolute

    paths = {index: absolute(name) for index, name, _, _ in pending}
    checked = set(paths.values())
    # A summary costs a walk of every class: made only for the files others here import.
    imported = {dep for name in names for dep in context.imports(name)}
    analysed: dict[Path, ModuleSummary | None] = {}
    for level in sorted(set(rounds)):
        batch = []
        for (index, name, text, program), at in zip(pending, rounds, strict=True):
            if at != level:
                continue
            view = context.view(name, analysed, checked)
            if deferred and index in deferred and (view is None or not view.hands_facts(text)):
                checked.discard(paths[index])  # its importers read its summary as unchecked
                yield index, FileOutcome()
                continue
            batch.append((index, name, text, program, view, paths[index] in imported))
        for index, outcome in _analyse_all(batch, rules, jobs):
            analysed[paths[index]] = outcome.summary
            yield index, _judged_by_callers(outcome, batch, index, rules, context)


def _judged_by_callers(
    outcome: FileOutcome, batch: list[Pending], index: int, rules: list[Rule], context: RunContext
) -> FileOutcome:
    """The outcome of a file whose top-level functions evaluated a model in the state their
    callers give: where other project files import some of them, analysed again with those
    left to their callers (each judges the call with its own state), and with the methods
    whose callers cannot set their networks' mode judged here, in the training mode their
    class leaves them in."""
    if not outcome.asks or outcome.error is not None:
        return outcome
    _, name, text, program, view, _ = next(item for item in batch if item[0] == index)
    # Training-step methods asking for the loops that call them (see analysis/repeated.py).
    repeats = [key[len(REPEAT) :] for key in outcome.asks if key.startswith(REPEAT)]
    asks = [key for key in outcome.asks if not key.startswith(REPEAT)]
    held, fixed = None, frozenset[str]()
    if outcome.summary is not None:
        from .analysis.summary import holders_decide

        held = [key for key in asks if holders_decide(outcome.summary, key)]
        # Methods whose fix belongs in themselves: judged here, where callers elsewhere exist.
        not_held = [key for key in asks if "." in key and key not in held]
        if not_held:
            fixed = context.called_elsewhere(name, not_held) or fixed
    called = context.called_elsewhere(name, asks, held) if asks else frozenset[str]()
    looped = (context.loop_callers(name, repeats) or {}) if repeats else {}
    if (called is None and not looped) or not (called or fixed or looped):
        return outcome
    called = called or frozenset()
    fixed -= called
    from dataclasses import replace

    from .analysis.summary import ProjectView
    from .project import absolute

    if view is None:
        view = ProjectView(absolute(name), context.root, {})
    view = replace(view, called_elsewhere=called, fixed_here=fixed, looped_elsewhere=looped)
    again = _analyse_file(name, text, program, rules, view)
    if not isinstance(again, FileOutcome) or again.error is not None:
        return outcome
    return replace(again, summary=outcome.summary, asks=outcome.asks)


def _analyse_all(
    pending: list[Pending], rules: list[Rule], jobs: int
) -> Iterator[tuple[int, FileOutcome]]:
    sizes = [len(text) for _, _, text, _, _, _ in pending]
    if not parallel.worth_it(sizes, jobs):
        for index, name, text, program, view, summarise in pending:
            yield index, _analyse_file(name, text, program, rules, view, summarise)
        return
    _load_analysis()  # before the workers fork, so that they start with it loaded
    codes = tuple(rule.info.code for rule in rules)
    groups = parallel.chunks(pending, sizes)
    yield from parallel.run(_analyse_group, groups, jobs, _start_worker, (codes,), _crashed)


@_contained("the engine")
def _analyse_file(
    name: str,
    text: str,
    program: Program | None,
    rules: list[Rule],
    view: ProjectView | None = None,
    summarise: bool = True,
) -> FileOutcome:
    import libcst as cst

    try:
        findings, failed, summary, asks = _analyse_text(text, name, rules, program, view, summarise)
    except (cst.ParserSyntaxError, SourceError) as exc:
        column = None
        if isinstance(exc, SourceError):
            message, line, kind = f"not analysed: {exc}", exc.line, TOO_COMPLEX
        else:
            message, line, column = syntax_diagnosis(text, exc)
            message, kind = f"syntax error: {message}", SYNTAX_ERROR
        if program is not None and line is not None:
            message, line, column = f"{message} in {program.where(line)}", None, None
        return FileOutcome(error=FileError(name, message, line, name=kind, column=column))
    except RecursionError:
        message = "too deeply nested to analyse"
        return FileOutcome(error=FileError(name, message, name=TOO_COMPLEX))
    except MemoryError:
        message = "ran out of memory while analysing it"
        return FileOutcome(error=FileError(name, message, name=TOO_COMPLEX))
    except InternalError as exc:
        return FileOutcome(error=exc.file_error(name))
    if program is not None:
        findings = [program.place(f) for f in findings]
    error = failed.file_error(name) if failed else None
    return FileOutcome(tuple(findings), error, summary, asks)


def _syntax_error(text: str, exc: Exception) -> tuple[str, int | None]:
    """What is wrong and on which line (see syntax_diagnosis)."""
    message, line, _ = syntax_diagnosis(text, exc)
    return message, line


def syntax_diagnosis(text: str, exc: Exception) -> tuple[str, int | None, int | None]:
    """What is wrong, on which line and at which column (from 1). libcst's messages list the
    tokens it expected, and its line can be past the error's (an unclosed bracket is found
    where the statement fails to end); CPython's own parser says it as users know it (`'('
    was never closed` at the bracket, `Missing parentheses in call to 'print'`), so its
    diagnosis is used whenever it also rejects the text. CPython only parses here, with
    nothing run, and check_depth has bounded the nesting. Where CPython accepts the text
    (syntax newer than the running Python knows), libcst's diagnosis stands."""
    import ast
    import warnings

    message = str(getattr(exc, "message", "") or "invalid syntax").rstrip(".")
    line: int | None = getattr(exc, "raw_line", None)
    raw_column = getattr(exc, "raw_column", None)
    column = raw_column + 1 if isinstance(raw_column, int) and line is not None else None
    if "\0" in text:
        return "the file contains a NUL byte (is it a binary file?)", _line_of(text, "\0"), None
    try:
        with warnings.catch_warnings():  # its SyntaxWarnings are not ours to print
            warnings.simplefilter("ignore")
            compile(text, "<source>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as cpython:
        if cpython.lineno is not None:
            offset = cpython.offset if cpython.offset and cpython.offset > 0 else None
            return str(cpython.msg), cpython.lineno, offset
    except (ValueError, RecursionError, MemoryError):
        pass
    return message, line, column


def _line_of(text: str, needle: str) -> int:
    before = text[: text.index(needle)]
    return before.count("\n") + before.replace("\r\n", "\n").count("\r") + 1


def _load_analysis() -> None:
    import libcst.metadata  # noqa: F401

    from .analysis import interpret, program  # noqa: F401


_worker_rules: list[Rule] = []


def _start_worker(codes: tuple[str, ...]) -> None:
    from .rules import all_rules

    _load_analysis()
    _worker_rules[:] = [rule for rule in all_rules() if rule.info.code in codes]


def _crashed(item: Pending) -> tuple[int, FileOutcome]:
    index, name, _, _, _, _ = item
    error = FileError(name, "the process analysing it crashed", name=INTERNAL_ERROR)
    return index, FileOutcome(error=error)


def _analyse_group(group: list[Pending]) -> list[tuple[int, FileOutcome]]:
    return [
        (index, _analyse_file(name, text, program, _worker_rules, view, summarise))
        for index, name, text, program, view, summarise in group
    ]

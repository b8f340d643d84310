"""Command line: arguments -> engine -> reporter. The only module that prints."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TextIO

from . import __version__, noqa
from .cache import cache_folder
from .config import (
    Config,
    ConfigError,
    code_problem,
    common_folder,
    find_config,
    load_config,
)
from .discover import DiscoverOptions, discover
from .engine import Result, Selection, lint_files
from .parallel import default_jobs
from .report import FINGERPRINTED, FORMATS, Context, formatter, statistics
from .report.text import line, summary
from .sourcelines import Sources
from .types import FileError, Finding

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lint-train",
        description="Find the mistakes that silently ruin PyTorch training runs.",
        epilog="`lint-train verify SCRIPT` runs a script and checks that it trains "
        "(see `lint-train verify --help`).",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or folders (default: .)")
    parser.add_argument(
        "--output-format", choices=FORMATS, default="text", help="how findings are printed"
    )
    parser.add_argument(
        "--show-source",
        action=argparse.BooleanOptionalAction,
        help="show the source line under each finding (default: when stdout is a terminal)",
    )
    parser.add_argument(
        "--statistics", action="store_true", help="print a count per rule instead of findings"
    )
    parser.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when there are findings"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print the findings and nothing else"
    )
    parser.add_argument(
        "--select",
        type=_codes,
        help="only these codes or prefixes (TRN001,TRN003); replaces the configuration's "
        "select and ignore",
    )
    parser.add_argument(
        "--ignore", type=_codes, help="skip these codes or prefixes, as well as the configured"
    )
    parser.add_argument(
        "--preview",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the rules still in preview (default: the configuration's `preview`, "
        "else off); selecting a preview rule by its code does not enable it without this",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read settings from FILE instead of the nearest pyproject.toml's [tool.lint-train]",
    )
    parser.add_argument("--isolated", action="store_true", help="ignore every configuration file")
    parser.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply the excludes even to paths named on the command line (for pre-commit)",
    )
    parser.add_argument(
        "--show-suppressed",
        action="store_true",
        help="also list the findings silenced by `# noqa` comments (on stderr)",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="report only findings that are not recorded in FILE (see --write-baseline)",
    )
    parser.add_argument(
        "--write-baseline",
        metavar="FILE",
        help="record today's findings in FILE and exit 0, to adopt lint-train gradually",
    )
    parser.add_argument("--explain", metavar="CODE", help="print the page of rule CODE and exit")
    parser.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    parser.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help="analyse on up to N processes (default: one per core; a few files run in-process)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the per-file result cache (.lint-train_cache/)",
    )
    parser.add_argument(
        "--fix", action="store_true", help="fix what can be fixed safely, in place; report the rest"
    )
    parser.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="with --fix, exit 1 when a file was changed, even if no finding remains",
    )
    parser.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix or --diff, also apply the fixes that may change behaviour",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print what --fix would change as a unified diff; write nothing (exit 1 on a diff)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an internal error, for a bug report (or LINT_TRAIN_DEBUG=1)",
    )
    parser.add_argument("--version", action="version", version=f"lint-train {__version__}")
    return parser


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (1 or more)")
    return jobs


def _codes(value: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in value.split(",") if c.strip())
    for code in codes:
        problem = code_problem(code)
        if problem:
            raise argparse.ArgumentTypeError(problem)
    return codes


def main(argv: Sequence[str] | None = None) -> int:
    """The command; a bug anywhere in it is one line on stderr and exit 2, not a traceback
    (which --debug or LINT_TRAIN_DEBUG=1 shows)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(args_list)
    except KeyboardInterrupt:
        print("lint-train: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`lint-train . | head`): nothing left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:
        print(
            f"lint-train: error: internal error ({type(exc).__name__}: {exc}); this is a bug "
            "in lint-train, please report it (--debug shows more)",
            file=sys.stderr,
        )
        if _debug(args_list):
            import traceback

            traceback.print_exc()
        return EXIT_ERROR


def entry() -> NoReturn:
    """The `lint-train` console script: `main()`, then exit without tearing the interpreter
    down. Freeing libcst's classes and every module one by one takes some 30 ms of each
    pre-commit run, and nothing is left to do: files are written atomically, workers and the
    cache are done. `lint-train verify` exits the ordinary way (it owns child processes)."""
    code = main()
    if sys.argv[1:2] == ["verify"]:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away: nothing left to say
        pass
    os._exit(code)


def _debug(args_list: Sequence[str]) -> bool:
    return "--debug" in args_list or os.environ.get("LINT_TRAIN_DEBUG", "") not in ("", "0")


def _main(args_list: list[str]) -> int:
    if args_list and args_list[0] == "verify":
        from .runtime.verify import main as verify_main

        return verify_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    if args.debug:
        from . import context

        context.DEBUG = True
    if args.explain is not None:
        return _explain(args.explain)
    if args.list_rules:
        from .explain import rules_listing

        sys.stdout.write(rules_listing())
        return EXIT_CLEAN
    try:
        config = _config(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_ERROR
    exclude = (*config.exclude, *config.extend_exclude)
    options = DiscoverOptions(config.root, exclude, force_exclude=args.force_exclude)
    files = [str(path) for path in discover(args.paths, options)]
    if not files:
        # As ruff does: a green run that checked nothing is more often a wrong path than news.
        print("warning: no Python files found under the given paths", file=sys.stderr)
    _warn_preview_selection(_selection(args, config))
    recorded = None
    if args.baseline and not args.write_baseline:
        from . import baseline

        try:
            recorded = baseline.load(Path(args.baseline))
        except baseline.BaselineError as exc:
            print(exc, file=sys.stderr)
            return EXIT_ERROR
    checked = _check(args, config, files)
    _print_errors(args_list, checked.result.errors)
    if args.write_baseline:
        from . import baseline

        baseline.write(Path(args.write_baseline), checked.findings, checked.sources.line)
        if not args.quiet:
            count = len(checked.findings)
            print(
                f"Wrote {count} finding{'s' if count != 1 else ''} to {args.write_baseline}.",
                file=sys.stderr,
            )
        return EXIT_ERROR if checked.result.errors else EXIT_CLEAN
    _split_baseline(args, checked, recorded)
    fixes = _Fixes(checked.findings)
    if args.fix or args.diff:
        fixes = _apply_fixes(args, checked.findings, _selection(args, config))
        if args.diff:
            return _diff_summary(args, fixes, bool(checked.result.errors))
        if fixes.changed:
            # What is reported is what the written files hold now: each changed file is
            # linted again, as a run straight after this one would see it.
            again = _check(args, config, fixes.changed)
            printed = set(checked.result.errors)  # a rule failing on the file fails again
            _print_errors(args_list, [e for e in again.result.errors if e not in printed])
            checked = _merged(checked, again, set(fixes.changed))
            _split_baseline(args, checked, recorded)
    result, findings = checked.result, checked.findings
    _report(args, checked)
    _fix_summary(args, findings, fixes)
    if result.errors or fixes.errors:
        return EXIT_ERROR
    if args.fix and args.exit_non_zero_on_fix and fixes.files:
        return EXIT_FINDINGS  # CI: the commit changed files, so it must be made again
    return EXIT_FINDINGS if findings and not args.exit_zero else EXIT_CLEAN


@dataclass
class _Checked:
    """One run's outcome once the configuration, noqa comments and the baseline have had
    their say."""

    result: Result
    findings: list[Finding]  # what to report
    suppressed: list[Finding]  # silenced by noqa comments
    sources: Sources  # the checked files' lines, as the findings were placed in them
    known: list[Finding] = field(default_factory=list)  # recorded in the baseline


def _check(args: argparse.Namespace, config: Config, files: list[str]) -> _Checked:
    result = lint_files(  # found by discover already, in _main
        files,
        _selection(args, config),
        jobs=args.jobs or default_jobs(),
        cache_dir=None if args.no_cache else _cache_folder(args, config),
    )
    sources = Sources()
    findings = [f for f in result.findings if not f.code.startswith(config.ignored_codes(f.path))]
    findings, suppressed = noqa.split(findings, sources)
    return _Checked(result, findings, suppressed, sources)


def _split_baseline(
    args: argparse.Namespace, checked: _Checked, recorded: Counter[tuple[str, str, str]] | None
) -> None:
    """Set aside the findings the baseline records (all of them are looked at again, so that
    an entry counts once in the whole run)."""
    if recorded is None:
        return
    from . import baseline

    every = sorted(checked.findings + checked.known, key=_file_order)
    checked.findings, checked.known = baseline.split(
        every, recorded, Path(args.baseline), checked.sources.line
    )


def _merged(before: _Checked, again: _Checked, changed: set[str]) -> _Checked:
    """`before` with the findings, suppressions and errors of the `changed` files replaced by
    `again`'s, which checked them anew."""

    def keep(items: list[Finding], new: list[Finding]) -> list[Finding]:
        return sorted([f for f in items if f.path not in changed] + new, key=_file_order)

    result = Result(
        keep(before.result.findings, again.result.findings),
        [e for e in before.result.errors if e.path not in changed] + again.result.errors,
        before.result.files_checked,
    )
    return _Checked(
        result,
        keep(before.findings + before.known, again.findings),
        keep(before.suppressed, again.suppressed),
        Sources(),  # the changed files are read afresh
    )


def _file_order(f: Finding) -> tuple[str, int, int, int, str]:
    return (f.path, f.location.cell or 0, f.line, f.column, f.code)


def _print_errors(args_list: list[str], errors: list[FileError]) -> None:
    for error in errors:
        print(error, file=sys.stderr)
        if error.trace and _debug(args_list):
            print(error.trace, end="", file=sys.stderr)


def _report(args: argparse.Namespace, checked: _Checked) -> None:
    result, findings, suppressed = checked.result, checked.findings, checked.suppressed
    sources = checked.sources
    human = args.output_format in ("text", "concise")
    if args.statistics:
        sys.stdout.write(statistics.render(findings, as_json=args.output_format == "json"))
    else:
        context = Context(
            line_of=sources.line,
            show_source=args.output_format == "text"
            and (args.show_source if args.show_source is not None else sys.stdout.isatty()),
            color=_use_color(sys.stdout),
            fingerprints=_fingerprints(args.output_format, findings, sources),
            errors=tuple(result.errors),
        )
        sys.stdout.write(formatter(args.output_format)(findings, context))
    if args.show_suppressed:
        for finding in suppressed:
            print(f"{line(finding)}  [suppressed by # noqa]", file=sys.stderr)
    if human and not args.quiet:
        counts = (len(suppressed), len(checked.known), len(result.errors))
        print(summary(findings, result.files_checked, *counts), file=sys.stderr)


@dataclass
class _Fixes:
    remaining: list[Finding]  # what is still to report
    fixed: int = 0  # findings fixed (or, with --diff, that would be)
    files: int = 0  # files changed (or that would be)
    errors: int = 0  # files that could not be read or written
    changed: list[str] = field(default_factory=list)  # files written (with --diff: would be)


def _apply_fixes(args: argparse.Namespace, findings: list[Finding], selection: Selection) -> _Fixes:
    """Fix each file's reported findings (their safe fixes; unsafe ones too with
    --unsafe-fixes); with --diff print the diff instead of writing. Reasons a fix was not
    applied go to stderr."""
    from .fix import fix_file, unified_diff

    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    out = _Fixes([])
    rules = selection.rules()
    for path, group in by_path.items():
        wanted = {_spot(f) for f in group if _applies(f, args.unsafe_fixes)}
        if not wanted:
            out.remaining += group
            continue
        outcome = fix_file(
            path,
            rules,
            unsafe=args.unsafe_fixes,
            wanted=lambda f, wanted=wanted: _spot(f) in wanted,  # type: ignore[misc]
            write=not args.diff,
        )
        if outcome.error is not None:
            print(f"{path}: error: fixes not applied: {outcome.error}", file=sys.stderr)
            if outcome.trace and (args.debug or _debug([])):
                print(outcome.trace, end="", file=sys.stderr)
            out.errors += 1
        for finding, reason in outcome.rejected:
            print(f"{line(finding)}  [not fixed: {reason}]", file=sys.stderr)
        done = {_spot(f) for f in outcome.fixed}
        left = [f for f in group if _spot(f) not in done]
        if outcome.after is None:
            out.remaining += left
            continue
        out.files += 1
        out.fixed += len(outcome.fixed)
        out.changed.append(path)
        out.remaining += left  # with --fix, the caller lints the written file again
        if args.diff:
            # A notebook's diff is of its cells' sources (see notebook_fix.cell_diff).
            sys.stdout.write(outcome.diff or unified_diff(path, outcome.before, outcome.after))
    return out


def _spot(finding: Finding) -> tuple[str, int | None, int, int]:
    """A finding in a file: its code and place (in a notebook, cell and line in the cell)."""
    return finding.code, finding.location.cell, finding.line, finding.column


def _applies(finding: Finding, unsafe: bool) -> bool:
    return finding.fix_applicability == "safe" or (unsafe and finding.fix_applicability == "unsafe")


def _diff_summary(args: argparse.Namespace, fixes: _Fixes, errors: bool) -> int:
    if not args.quiet:
        left = len(fixes.remaining)
        if fixes.fixed:
            print(
                f"Would fix {_count(fixes.fixed, 'problem')} in {_count(fixes.files, 'file')} "
                f"({left} not fixed).",
                file=sys.stderr,
            )
        else:
            print(f"No fixes to apply ({_count(left, 'problem')} not fixable).", file=sys.stderr)
    if errors or fixes.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if fixes.files else EXIT_CLEAN


def _fix_summary(args: argparse.Namespace, findings: list[Finding], fixes: _Fixes) -> None:
    """After the findings: what --fix did, or what it could do (as ruff words it)."""
    if args.quiet or args.output_format not in ("text", "concise"):
        return
    if args.fix:
        print(
            f"Fixed {_count(fixes.fixed, 'problem')} in {_count(fixes.files, 'file')}; "
            f"{len(findings)} remaining.",
            file=sys.stderr,
        )
    safe = sum(1 for f in findings if f.fix_applicability == "safe")
    hidden = sum(1 for f in findings if f.fix_applicability == "unsafe")
    if args.unsafe_fixes:
        safe, hidden = safe + hidden, 0
    hint = (
        f" ({_count(hidden, 'hidden fix', 'hidden fixes')} can be enabled with the "
        "`--unsafe-fixes` option)"
        if hidden
        else ""
    )
    if safe:
        print(f"[*] {safe} fixable with the `--fix` option{hint}.", file=sys.stderr)
    elif hidden:
        print(f"No fixes available{hint}.", file=sys.stderr)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _fingerprints(output_format: str, findings: list[Finding], sources: Sources) -> dict[int, str]:
    if output_format not in FINGERPRINTED or not findings:
        return {}  # importing the baseline module costs start-up on every commit
    from . import baseline

    return baseline.fingerprints(findings, sources.line, Path.cwd())


def _use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def _explain(code: str) -> int:
    from .explain import rule_page

    page = rule_page(code)
    if page is None:
        typed = code.strip()
        problem = code_problem(typed.upper(), typed) or f"{typed!r} names no single rule"
        print(f"lint-train: error: --explain: {problem}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(page if page.endswith("\n") else page + "\n")
    return EXIT_CLEAN


def _config(args: argparse.Namespace) -> Config:
    if args.config:
        return load_config(Path(args.config))
    found = None if args.isolated else find_config(args.paths)
    return load_config(found) if found else Config()


def _cache_folder(args: argparse.Namespace, config: Config) -> Path:
    return cache_folder(common_folder(args.paths), config.file, config.cache_dir)


def _selection(args: argparse.Namespace, config: Config) -> Selection:
    """Command-line flags win, as in ruff: --select sets the configured select and ignore
    aside; --ignore adds to the configured ignore; --preview / --no-preview set the
    configured preview aside."""
    preview = config.preview if args.preview is None else args.preview
    if args.select is not None:
        return Selection(args.select, args.ignore or (), preview)
    return Selection(config.select, (*config.ignore, *(args.ignore or ())), preview)


def _warn_preview_selection(selection: Selection) -> None:
    """As ruff does, say so when a selector picks only rules in preview and preview is off:
    the selection would otherwise silently check nothing."""
    if selection.preview or not selection.select:
        return  # nothing to say: importing the rules would only slow the start
    from .rules import rule_table

    table = rule_table()
    for selector in selection.select:
        matched = [info for code, info in table.items() if code.startswith(selector)]
        if matched and all(info.preview for info in matched):
            print(
                f"warning: selection `{selector}` has no effect because preview is not enabled "
                "(add --preview, or `preview = true` to the configuration)",
                file=sys.stderr,
            )


if __name__ == "__main__":
    entry()

"""Command line: arguments -> engine -> reporter. The only module that prints."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from . import __version__, baseline, noqa
from .config import Config, ConfigError, code_problem, find_config, load_config
from .discover import DiscoverOptions, discover
from .engine import Result, Selection, lint_paths
from .explain import rule_page, rules_listing
from .report import FORMATS, Context, formatter, statistics
from .report.text import line, summary
from .sourcelines import Sources
from .types import Finding

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
    parser.add_argument("--version", action="version", version=f"lint-train {__version__}")
    return parser


def _codes(value: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in value.split(",") if c.strip())
    for code in codes:
        problem = code_problem(code)
        if problem:
            raise argparse.ArgumentTypeError(problem)
    return codes


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "verify":
        from .runtime.verify import main as verify_main

        return verify_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    if args.explain is not None:
        return _explain(args.explain)
    if args.list_rules:
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
    result = lint_paths(files, _selection(args, config))
    for error in result.errors:
        print(error, file=sys.stderr)
    sources = Sources()
    findings = [f for f in result.findings if not f.code.startswith(config.ignored_codes(f.path))]
    findings, suppressed = noqa.split(findings, sources)
    if args.write_baseline:
        baseline.write(Path(args.write_baseline), findings, sources.line)
        if not args.quiet:
            count = len(findings)
            print(
                f"Wrote {count} finding{'s' if count != 1 else ''} to {args.write_baseline}.",
                file=sys.stderr,
            )
        return EXIT_ERROR if result.errors else EXIT_CLEAN
    known: list[Finding] = []
    if args.baseline:
        try:
            recorded = baseline.load(Path(args.baseline))
        except baseline.BaselineError as exc:
            print(exc, file=sys.stderr)
            return EXIT_ERROR
        findings, known = baseline.split(findings, recorded, Path(args.baseline), sources.line)
    _report(args, result, findings, suppressed, known, sources)
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if findings and not args.exit_zero else EXIT_CLEAN


def _report(
    args: argparse.Namespace,
    result: Result,
    findings: list[Finding],
    suppressed: list[Finding],
    known: list[Finding],
    sources: Sources,
) -> None:
    human = args.output_format in ("text", "concise")
    if args.statistics:
        sys.stdout.write(statistics.render(findings, as_json=args.output_format == "json"))
    else:
        context = Context(
            line_of=sources.line,
            show_source=args.output_format == "text"
            and (args.show_source if args.show_source is not None else sys.stdout.isatty()),
            color=_use_color(sys.stdout),
            fingerprints=baseline.fingerprints(findings, sources.line, Path.cwd()),
        )
        sys.stdout.write(formatter(args.output_format)(findings, context))
    if args.show_suppressed:
        for finding in suppressed:
            print(f"{line(finding)}  [suppressed by # noqa]", file=sys.stderr)
    if human and not args.quiet:
        print(summary(findings, result.files_checked, len(suppressed), len(known)), file=sys.stderr)


def _use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def _explain(code: str) -> int:
    page = rule_page(code)
    if page is None:
        problem = code_problem(code.strip().upper()) or f"{code!r} names no single rule"
        print(f"lint-train: error: --explain: {problem}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(page if page.endswith("\n") else page + "\n")
    return EXIT_CLEAN


def _config(args: argparse.Namespace) -> Config:
    if args.config:
        return load_config(Path(args.config))
    found = None if args.isolated else find_config(args.paths)
    return load_config(found) if found else Config()


def _selection(args: argparse.Namespace, config: Config) -> Selection:
    """Command-line flags win, as in ruff: --select sets the configured select and ignore
    aside; --ignore adds to the configured ignore."""
    if args.select is not None:
        return Selection(args.select, args.ignore or ())
    return Selection(config.select, (*config.ignore, *(args.ignore or ())))


if __name__ == "__main__":
    sys.exit(main())

"""Command line: arguments -> engine -> reporter. The only module that prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .engine import Selection, lint_paths
from .report import FORMATS, formatter
from .report.text import summary

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
        "--select", type=_codes, default=(), help="only these codes or prefixes (TRN001,TRN003)"
    )
    parser.add_argument("--ignore", type=_codes, default=(), help="skip these codes or prefixes")
    parser.add_argument("--version", action="version", version=f"lint-train {__version__}")
    return parser


def _codes(value: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in value.split(",") if c.strip())
    for code in codes:
        if not code.startswith("TRN"):
            raise argparse.ArgumentTypeError(f"unknown rule code {code!r} (codes look like TRN001)")
    return codes


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "verify":
        from .runtime.verify import main as verify_main

        return verify_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    result = lint_paths(args.paths, Selection(args.select, args.ignore))
    for error in result.errors:
        print(error, file=sys.stderr)
    sys.stdout.write(formatter(args.output_format)(result.findings))
    if args.output_format == "text":
        print(summary(result.findings, result.files_checked), file=sys.stderr)
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())

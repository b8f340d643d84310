"""Command line: arguments -> engine -> reporter. The only module that prints."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .engine import Selection, lint_paths
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
        "--output-format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json, on stdout",
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
    if args.output_format == "json":
        json.dump([_as_json(f) for f in result.findings], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for finding in result.findings:
            print(_as_text(finding))
        _summary(result.findings, result.files_checked)
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def _as_text(f: Finding) -> str:
    return f"{f.path}:{f.line}:{f.column}: {f.code} {f.name}  {f.message}"


def _as_json(f: Finding) -> dict[str, object]:
    return {
        "code": f.code,
        "name": f.name,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.location.end_line,
        "end_column": f.location.end_column,
        "message": f.message,
        "fixable": f.fixable,
    }


def _summary(findings: list[Finding], files: int) -> None:
    checked = f"{files} file{'s' if files != 1 else ''} checked"
    if not findings:
        print(f"All checks passed ({checked}).", file=sys.stderr)
        return
    count = len(findings)
    print(f"Found {count} problem{'s' if count != 1 else ''} ({checked}).", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""Shared test helpers: where the fixtures live and how expectations are written in them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(TRN\d{3}(?:\s*,\s*TRN\d{3})*)")


def expected_findings(path: Path) -> set[tuple[int, str]]:
    """(line, code) pairs declared by `# expect: TRN001` comments in a fixture."""
    expected = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            expected |= {(number, code.strip()) for code in match.group(1).split(",")}
    return expected

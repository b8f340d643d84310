"""The rule pages (rules/*.md) as the installed tool finds them, for `--explain` and SARIF.

A wheel carries them as lint_train/rule_pages (pyproject's force-include); a checkout or an
editable install reads the repository's rules/ folder.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from .rules import rule_table

_CHECKOUT_PAGES = Path(__file__).resolve().parent.parent.parent / "rules"


def rule_page(code: str) -> str | None:
    """The Markdown page of rule `code` (any case), or None when there is no such rule."""
    code = code.strip().upper()
    info = rule_table().get(code)
    if info is None:
        return None
    name = f"{code}-{info.name}.md"
    packaged = importlib.resources.files("lint_train").joinpath("rule_pages", name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = _CHECKOUT_PAGES / name
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    # The rule exists but its page was not shipped: say so rather than print nothing.
    return f"# {code} {info.name}\n\n{info.summary}\n"


def rules_listing() -> str:
    """One rule a line: code, name and what it finds; `[preview]` before the summary of a rule
    that runs only with --preview."""
    table = rule_table()
    width = max(len(info.name) for info in table.values())
    return "".join(
        f"{code}  {info.name:<{width}}  {'[preview] ' if info.preview else ''}{info.summary}\n"
        for code, info in sorted(table.items())
    )

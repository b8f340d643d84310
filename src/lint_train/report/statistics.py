"""`--statistics`: a count per rule instead of the findings, most frequent first."""

from __future__ import annotations

import json
from collections import Counter

from ..types import Finding


def render(findings: list[Finding], as_json: bool = False) -> str:
    counts = Counter((f.code, f.name) for f in findings)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if as_json:
        rows = [{"code": code, "name": name, "count": n} for (code, name), n in ranked]
        return json.dumps(rows, indent=2) + "\n"
    width = max((len(str(n)) for _, n in ranked), default=1)
    return "".join(f"{n:>{width}}  {code}  {name}\n" for (code, name), n in ranked)

"""Decides from the text alone whether any rule could fire, so most files are never parsed.

Every finding needs a backward call (TRN001, TRN002, TRN005) or evaluation code (TRN003,
TRN004), and evaluation code is recognised by the words in its names. A file none of whose
identifiers or strings carries one of those words cannot produce a finding; skipping it never
changes the result (a test runs every fixture both ways and compares).
"""

from __future__ import annotations

import re

from .analysis.names import tokens
from .analysis.vocab import EVAL_WORDS, LOADER_EVAL_WORDS

_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NEEDED = EVAL_WORDS | LOADER_EVAL_WORDS | {"test", "backward"}


def could_matter(text: str) -> bool:
    seen: set[str] = set()
    for word in _WORDS.findall(text):
        if word in seen:
            continue
        seen.add(word)
        if word.lower() in NEEDED or any(t in NEEDED for t in tokens(word)):
            return True
    return False

"""Decides from the text alone whether any rule could fire, so most files are never parsed.

Every finding needs a backward call (TRN001, TRN002, TRN005, TRN010's training loop),
evaluation code (TRN003, TRN004), an in-place initialisation method (TRN011: `normal_`,
`uniform_`, ...) or a softmax or sigmoid (TRN009), and evaluation code is recognised by the
words in its names. A file none of whose identifiers or strings carries one of the words the
selected rules need cannot produce a finding, with one exception by choice: TRN008 (`opt.step`
without `()`) is checked only in files that have one of them, so that `step` and `train` do
not send every file to the parser. Skipping never changes the result otherwise (a test runs
every fixture both ways, with each selection, and compares).

The words of TRN009 and TRN011 are needed only when those rules run: `softmax`, `sigmoid` and
`copy_` sit in most model files, which would otherwise all be parsed for rules that are off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .analysis.vocab import EVAL_WORDS, LOADER_EVAL_WORDS, tokens

_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A weight initialised in place may sit in a model file that never calls backward (TRN011):
# every in-place method the analysis reads as changing a parameter (events._INPLACE_METHODS).
INIT_METHODS = {
    *("normal_", "uniform_", "fill_", "zero_", "copy_", "add_", "sub_", "mul_", "div_"),
    *("clamp_", "bernoulli_", "exponential_", "random_"),
}
# A loss given probabilities may sit in a model's own loss method, with no backward (TRN009).
ACTIVATIONS = {"softmax", "sigmoid", "expit"}
# What every rule but those below needs: training (a backward) or evaluation code.
LOOP_WORDS = frozenset(EVAL_WORDS | LOADER_EVAL_WORDS | {"test", "backward"})
RULE_WORDS = {"TRN009": frozenset(ACTIVATIONS), "TRN011": frozenset(INIT_METHODS)}
NEEDED = LOOP_WORDS.union(*RULE_WORDS.values())


def needed_words(codes: Iterable[str]) -> frozenset[str]:
    """The words a file needs for one of the rules `codes` to find something in it."""
    codes = set(codes)
    return LOOP_WORDS.union(*(words for code, words in RULE_WORDS.items() if code in codes))


# Needed words -> word -> whether it carries one of them. Files of one repository share most
# of their identifiers, so each is split into tokens once per run.
_verdicts: dict[frozenset[str], dict[str, bool]] = {}
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_RUN = re.compile(r"[A-Za-z0-9_]*")


def could_matter(text: str, needed: frozenset[str] = NEEDED) -> bool:
    """Whether some identifier-like word of the text carries a `needed` word (by default,
    one that some rule needs)."""
    verdicts = _verdicts.setdefault(needed, {})
    if len(verdicts) > 1_000_000:
        verdicts.clear()
    # A word that matters holds a needed word, so only the words around the places where a
    # needed word occurs are judged: far fewer than all of them. This needs lower-casing to
    # keep every character where it was, as it does unless some rare letter lower-cases to two.
    lowered = text.lower()
    if len(lowered) != len(text):
        return any(_matters(word, needed, verdicts) for word in set(_WORDS.findall(text)))
    for part in needed:
        at = lowered.find(part)
        while at != -1:
            word, end = _word_around(text, at)
            if _matters(word, needed, verdicts):
                return True
            at = lowered.find(part, max(end, at + 1))
    return False


def _word_around(text: str, at: int) -> tuple[str, int]:
    """The word `_WORDS` finds that covers position `at` ("" when there is none), and where
    the run of word characters around `at` ends."""
    start = at
    while start > 0 and text[start - 1] in _WORD_CHARS:
        start -= 1
    end = _RUN.match(text, at).end()  # type: ignore[union-attr]
    match = _WORDS.search(text, start, end)  # a word does not start with a digit
    return (match.group() if match is not None and match.start() <= at else ""), end


def _matters(word: str, needed: frozenset[str], verdicts: dict[str, bool]) -> bool:
    verdict = verdicts.get(word)
    if verdict is None:
        verdict = word.lower() in needed or any(t in needed for t in tokens(word))
        verdicts[word] = verdict
    return verdict

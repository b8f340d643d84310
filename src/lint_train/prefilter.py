"""Decides from the text alone whether any rule could fire, so most files are never parsed.

Every finding needs a backward call (TRN001, TRN002, TRN005, TRN010's training loop),
evaluation code (TRN003, TRN004), an in-place initialisation method (TRN011: `normal_`,
`uniform_`, ...) or a softmax or sigmoid (TRN009), and evaluation code is recognised by the
words in its names. A file none of whose identifiers or strings carries one of those words
cannot produce a finding, with one exception by choice: TRN008 (`opt.step` without `()`) is
checked only in files that have one of them, so that `step` and `train` do not send every
file to the parser. Skipping never changes the result otherwise (a test runs every fixture
both ways and compares).
"""

from __future__ import annotations

import re

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
NEEDED = EVAL_WORDS | LOADER_EVAL_WORDS | {"test", "backward"} | INIT_METHODS | ACTIVATIONS


# Word -> whether it carries a needed word. Files of one repository share most of their
# identifiers, so each is split into tokens once per run.
_verdicts: dict[str, bool] = {}
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_RUN = re.compile(r"[A-Za-z0-9_]*")


def could_matter(text: str) -> bool:
    """Whether some identifier-like word of the text carries a needed word."""
    if len(_verdicts) > 1_000_000:
        _verdicts.clear()
    # A word that matters holds a needed word, so only the words around the places where a
    # needed word occurs are judged: far fewer than all of them. This needs lower-casing to
    # keep every character where it was, as it does unless some rare letter lower-cases to two.
    lowered = text.lower()
    if len(lowered) != len(text):
        return any(_matters(word) for word in set(_WORDS.findall(text)))
    for needed in NEEDED:
        at = lowered.find(needed)
        while at != -1:
            word, end = _word_around(text, at)
            if _matters(word):
                return True
            at = lowered.find(needed, max(end, at + 1))
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


def _matters(word: str) -> bool:
    verdict = _verdicts.get(word)
    if verdict is None:
        verdict = word.lower() in NEEDED or any(t in NEEDED for t in tokens(word))
        _verdicts[word] = verdict
    return verdict

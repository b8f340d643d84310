"""Bytes to text: honour PEP 263 encoding cookies and BOMs, keep line endings as they are.

Also, before a text goes to the parser, a cheap check that it is not nested so deeply that
parsing it would overflow the parser's stack or take minutes.
"""

from __future__ import annotations

import io
import re
import tokenize


class SourceError(Exception):
    """The file's bytes are not Python source text we can read (at `line`, when known)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def encoding_of(data: bytes, notes: list[str] | None = None) -> str:
    """The encoding to read `data` with: its BOM's or coding cookie's, else UTF-8.

    A cookie naming a codec Python does not know is read as UTF-8, with a note appended to
    `notes`: such codecs (`future_fstrings`, `pyxl`) are registered at run time by a package,
    and decode UTF-8 bytes, as pyflakes and black read them too."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        message = str(exc)
        if message.startswith("unknown encoding"):
            if notes is not None:
                notes.append(f"{message} in the coding cookie; read as UTF-8")
            return "utf-8"
        if not message.startswith("invalid or missing encoding declaration"):
            raise SourceError(f"bad encoding declaration: {exc}", 1) from exc
        encoding = "utf-8"  # no cookie, and the first lines are not UTF-8: say where below
    return encoding


def decode(data: bytes, notes: list[str] | None = None) -> str:
    encoding = encoding_of(data, notes)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        byte = data[exc.start : exc.start + 1].hex()
        message = f"not valid {encoding}: byte 0x{byte} at column {column}"
        if encoding == "utf-8":
            message += " (save the file as UTF-8, or declare its encoding: # -*- coding: ... -*-)"
        raise SourceError(message, line) from exc
    except LookupError as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}", 1) from exc
    return text.removeprefix("\ufeff")


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """Line and column (both from 1) of a byte offset."""
    breaks = list(re.finditer(rb"\r\n?|\n", data[:offset]))
    start = breaks[-1].end() if breaks else 0
    return len(breaks) + 1, offset - start + 1


# CPython refuses more than 200 nested brackets (its tokenizer's MAXLEVEL); so do we.
MAX_BRACKETS = 200
# Deeper expressions (long chains of operators, `not`, `lambda`, `.attr`, `[i]`, plus the
# brackets around them) make libcst's parser slow, in time growing with the
# square of the depth, and far deeper ones overflow its stack and kill the process.
# CPython 3.11 itself compiles such chains 1000 long but not 3000.
MAX_DEPTH = 1000
# libcst refuses an expression of more than 3000 adjacent string literals ("a" "b" ...).
MAX_STRINGS = 3000
# An elif chain nests too (each `elif` is the `else` of the `if` before it). CPython 3.11
# compiles chains of about 2990 branches and no more; the analysis takes seconds at 3000.
MAX_BRANCHES = 3000

_LINE_START = re.compile(r"\n([ \t]*)(?:(elif|else)\b|(?=[^\s#]))")

_TOKENS = re.compile(
    r"""
    (?P<string>'''(?:[^\\]|\\.)*?(?:'''|\Z)|\"\"\"(?:[^\\]|\\.)*?(?:\"\"\"|\Z)
        |'(?:[^\\'\r\n]|\\.)*'?|"(?:[^\\"\r\n]|\\.)*"?)
    |(?P<comment>\#[^\r\n]*)
    |(?P<continuation>\\(?:\r\n?|\n))
    |(?P<open>[(\[{])
    |(?P<close>[)\]}])
    |(?P<separator>[,;])
    |(?P<newline>\r\n?|\n)
    |(?P<number>(?<![\w.])(?:\d\w*\.?\w*|\.\d\w*)(?:(?<=[eE])[-+]\d\w*)?)
    |(?P<operator>\*\*|//|<<|>>|[<>=!]=|[-+*/%@&|^~.<>]
        |\b(?:lambda|yield|if|else|for|or|and|not|await)\b)
    """,
    re.VERBOSE | re.DOTALL,
)

# Operators by binding strength, loosest first. An operator starts a new operand of every
# stronger one, so their runs start again; a run of operators of one strength nests the tree.
_STRENGTH = {
    **dict.fromkeys(("lambda", "yield"), 0),
    **dict.fromkeys(("if", "else", "for"), 1),
    "or": 2,
    "and": 3,
    "not": 4,
    **dict.fromkeys(("<", ">", "==", "!=", "<=", ">="), 5),
    "|": 6,
    "^": 7,
    "&": 8,
    **dict.fromkeys(("<<", ">>"), 9),
    **dict.fromkeys(("+", "-"), 10),
    **dict.fromkeys(("*", "/", "//", "%", "@"), 11),
    "~": 12,
    "**": 13,
    "await": 14,
}
_TRAILER = 15  # `.name`, `(args)`, `[index]` after an expression: a chain of primaries


class _Level:
    """One bracket level: the current and the longest run of operators of each strength, and
    the deepest bracketed group closed in it."""

    __slots__ = ("depth", "inner", "longest", "runs")

    def __init__(self) -> None:
        self.runs: dict[int, int] = {}
        self.longest: dict[int, int] = {}
        self.depth = 0  # the sum of the longest runs: this level's share of the tree's depth
        self.inner = 0  # the depth of the deepest group closed in this level

    def add(self, strength: int) -> bool:
        """Count one operator; True when the level got deeper."""
        for stronger in [k for k in self.runs if k > strength]:
            del self.runs[stronger]
        run = self.runs[strength] = self.runs.get(strength, 0) + 1
        if run <= self.longest.get(strength, 0):
            return False
        self.longest[strength] = run
        self.depth += 1
        return True


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise SourceError where `text` nests deeper than MAX_BRACKETS brackets or `limit`
    levels. The depth is an upper bound on that of the syntax tree, from tokens alone: one for
    each open bracket, plus, at each bracket level since its last comma, semicolon or end of
    statement, the longest run of operators of each binding strength and the depth of the
    deepest group closed there. One regular expression over the text: cheap next to parsing
    it."""
    _check_branches(text)
    levels = [_Level()]
    total = 0  # len(levels) - 1 + the sum of the levels' depths and inner depths
    previous = None
    strings = 0  # adjacent string literals so far
    for match in _TOKENS.finditer(text):
        kind = match.lastgroup
        strength = None
        if kind == "string":
            strings = strings + 1 if previous == "string" else 1
            if strings > MAX_STRINGS:
                message = f"more than {MAX_STRINGS} adjacent string literals (libcst's limit)"
                raise SourceError(message, _line(text, match.start()))
        elif kind == "operator":
            strength = _TRAILER if match.group() == "." else _STRENGTH[match.group()]
        elif kind == "open" and previous == "close":
            strength = _TRAILER
        if strength is not None and levels[-1].add(strength):
            total += 1
        if kind == "open":
            if len(levels) > MAX_BRACKETS:
                message = f"more than {MAX_BRACKETS} nested brackets (Python's own limit)"
                raise SourceError(message, _line(text, match.start()))
            levels.append(_Level())
            total += 1
        if total > limit:
            message = f"an expression nested more than {limit} levels deep"
            raise SourceError(message, _line(text, match.start()))
        if kind == "close" and len(levels) > 1:
            group = levels.pop()
            depth = group.depth + group.inner + 1
            total -= depth
            if depth > levels[-1].inner:
                total += depth - levels[-1].inner
                levels[-1].inner = depth
        elif kind == "separator" or (kind == "newline" and len(levels) == 1):
            total -= levels[-1].depth + levels[-1].inner
            levels[-1] = _Level()
        if kind == "newline" and len(levels) == 1:
            previous = None
        elif kind not in ("comment", "continuation", "newline"):
            previous = kind


def _check_branches(text: str) -> None:
    """Raise SourceError at an elif chain of more than MAX_BRANCHES branches. Reads line
    starts only: a statement other than `elif` or `else` ends the chains indented as deep."""
    chains: dict[int, int] = {}  # indentation -> elifs in the chain open there
    for match in _LINE_START.finditer("\n" + text):
        indent, keyword = len(match.group(1)), match.group(2)
        if keyword == "else":
            continue
        for deeper in [i for i in chains if i > indent or (i == indent and not keyword)]:
            del chains[deeper]
        if keyword == "elif":
            chains[indent] = chains.get(indent, 0) + 1
            if chains[indent] >= MAX_BRANCHES:
                message = f"an if/elif chain of more than {MAX_BRANCHES} branches"
                raise SourceError(message, _line(text, match.start(2) - 1))


def _line(text: str, offset: int) -> int:
    return len(re.findall(r"\r\n?|\n", text[:offset])) + 1

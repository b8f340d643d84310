"""The ground floor: plain, frozen data shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    line: int
    column: int
    end_line: int
    end_column: int
    cell: int | None = None
    """For a notebook: the cell (numbered from 1) that `line` and `end_line` count within."""


@dataclass(frozen=True)
class Related:
    """Another place that explains a finding (the loop a step runs in), and what it is."""

    location: Location
    message: str


@dataclass(frozen=True)
class RuleInfo:
    code: str
    name: str
    summary: str
    preview: bool = False
    """A rule still in preview runs only with `--preview` (or `preview = true`): it is on by
    default once its precision on held-out real code reaches 95%."""


@dataclass(frozen=True)
class Finding:
    path: str
    code: str
    name: str
    message: str
    location: Location
    fixable: bool = False
    fix_applicability: str | None = None
    """"safe" (applied by --fix) or "unsafe" (needs --unsafe-fixes too) when fixable."""
    fix_message: str | None = None
    """What the fix does; when there is no fix, why (if the rule could tell)."""
    related: tuple[Related, ...] = ()
    """Other places the finding is about: the finding points at the statement its message
    names (the step, the backward, the forward pass); the loop or function around it is here."""

    @property
    def line(self) -> int:
        return self.location.line

    @property
    def column(self) -> int:
        return self.location.column


# Why a file could not be checked: the `name` of a FileError (and of its entry in the machine
# formats). A small fixed set, documented in the README's JSON contract.
SYNTAX_ERROR = "syntax-error"  # the text is not valid Python
UNREADABLE_FILE = "unreadable-file"  # missing, a folder, a pipe, no permission, a broken link
UNDECODABLE_FILE = "undecodable-file"  # not text in its encoding, or not a notebook's JSON
TOO_COMPLEX = "too-complex"  # nested too deeply (or too large) to parse safely
INTERNAL_ERROR = "internal-error"  # a bug in lint-train
ERROR_NAMES = (SYNTAX_ERROR, UNREADABLE_FILE, UNDECODABLE_FILE, TOO_COMPLEX, INTERNAL_ERROR)


@dataclass(frozen=True)
class FileError:
    """A file the tool could not check; reported on stderr and in the machine formats, makes
    the exit code 2."""

    path: str
    message: str
    line: int | None = None
    trace: str | None = field(default=None, compare=False, repr=False)
    """For an internal error (a bug in lint-train): its traceback, which --debug shows."""
    name: str = INTERNAL_ERROR
    """Why the file could not be checked: one of ERROR_NAMES."""
    column: int | None = None
    """The column (from 1) of `line` where the problem is, when known."""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: error: {self.message}"

"""README.md and docs/*.md cannot drift from the tool: every transcript in them is run and its
output compared with what the page shows.

A transcript is a fenced block whose first line starts with `$ lint-train`. Each `$ ` line is a
command; the lines after it, up to the next command, are what it prints (stdout, then stderr).
In the shown output `...` stands for elided text: within a line, any text; alone on a line, any
number of lines. Nothing else is forgiven, so a changed message, position or summary line fails
here and names the page and line of the transcript to update.

The commands run in a fresh folder holding `fixtures/` (a copy of the repository's), `train.py`
(fixtures/buggy/trn001_plain_loop_zero_grad_before_loop.py without its `# expect:` comment),
`train.ipynb` (the buggy notebook of tests/test_notebooks.py) and `project/`, a train.py under a
pyproject.toml that misspells `select`. Python's warnings are off: a library's complaint about
this machine (torch without numpy) is not the tool's output.

A transcript that cannot run here opts out, visibly, with this line right above its fence:
`<!-- transcript: not run, because ... -->` (the reason is required).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, require
from test_notebooks import BUGGY_CELLS, _notebook

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
OPT_OUT = re.compile(r"<!-- transcript: not run, because \S.* -->\n$")
BUGGY = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
EXPECT = re.compile(r"  # expect: [A-Z0-9, ]+")


@dataclass(frozen=True)
class Command:
    page: str
    line: int  # of the `$ ` line in the page
    args: list[str]
    shown: list[str]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def transcripts(text: str, page: str) -> tuple[list[Command], list[int]]:
    """The commands of a page's transcripts, and the lines of the transcripts that opt out."""
    commands, opted_out = [], []
    for block in FENCE.finditer(text):
        body = block.group(1)
        if not body.startswith("$ lint-train"):
            continue
        first = text.count("\n", 0, block.start(1)) + 1
        if OPT_OUT.search(text, 0, block.start()):
            opted_out.append(first)
            continue
        for offset, line in enumerate(body.splitlines()):
            if line.startswith("$ "):
                args = shlex.split(line[2:])
                assert args[0] == "lint-train", f"{page}:{first + offset}: not a lint-train command"
                commands.append(Command(page, first + offset, args[1:], []))
            else:
                commands[-1].shown.append(line)
    for command in commands:
        while command.shown and not command.shown[-1].strip():
            command.shown.pop()
    return commands, opted_out


def matches(shown: list[str], printed: str) -> bool:
    """Whether `printed` is what `shown` shows, `...` standing for elided text."""
    pattern = ""
    for line in shown:
        if line.strip() == "...":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            parts = line.rstrip().split("...")
            pattern += r"[^\n]*?".join(re.escape(part) for part in parts) + "\n"
    text = "".join(line.rstrip() + "\n" for line in printed.splitlines())
    return re.fullmatch(pattern, text) is not None


def _all_commands() -> list[Command]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        found += transcripts(text, str(page.relative_to(ROOT)))[0]
    return found


COMMANDS = _all_commands()


def _workspace(folder: Path) -> Path:
    shutil.copytree(FIXTURES, folder / "fixtures")
    (folder / "train.py").write_text(EXPECT.sub("", BUGGY.read_text(encoding="utf-8")))
    (folder / "train.ipynb").write_text(_notebook(*BUGGY_CELLS), encoding="utf-8")
    (folder / "project").mkdir()
    (folder / "project" / "pyproject.toml").write_text('[tool.lint-train]\nselct = ["TRN001"]\n')
    shutil.copyfile(BUGGY, folder / "project" / "train.py")
    return folder


# What each command printed, by its arguments: a command shown on two pages (README.md quotes
# docs/verify.md's runs) runs once, in a fresh workspace like any other.
_PRINTED: dict[tuple[str, ...], str] = {}


def _printed(args: list[str], tmp_path: Path) -> str:
    if tuple(args) not in _PRINTED:
        done = subprocess.run(
            [sys.executable, "-m", "lint_train.cli", *args],
            cwd=_workspace(tmp_path),
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        _PRINTED[tuple(args)] = done.stdout + done.stderr
    return _PRINTED[tuple(args)]


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_transcript_shows_what_the_command_prints(command: Command, tmp_path: Path) -> None:
    if command.args[:1] == ["verify"]:
        require("torch")
    printed = _printed(command.args, tmp_path)
    shown = "\n".join(command.shown)
    assert matches(command.shown, printed), (
        f"{command}: the page shows\n{shown}\n\nbut `lint-train {shlex.join(command.args)}` "
        f"prints\n{printed}"
    )


def test_the_pages_have_transcripts() -> None:
    pages = {c.page for c in COMMANDS}
    assert {"README.md", "docs/verify.md"} <= pages
    assert len(COMMANDS) >= 8


PAGE = """\
Intro.

```
$ lint-train a.py
a.py:1:1: TRN001 ...
Found 1 problem.

$ lint-train --quiet b.py
```

<!-- transcript: not run, because it needs a GPU -->
```
$ lint-train gpu.py
```

```
lint-train [PATH ...]
```
"""


def test_transcripts_are_split_into_commands_and_opt_outs_are_seen() -> None:
    commands, opted_out = transcripts(PAGE, "page.md")
    assert [(c.line, c.args, c.shown) for c in commands] == [
        (4, ["a.py"], ["a.py:1:1: TRN001 ...", "Found 1 problem."]),
        (8, ["--quiet", "b.py"], []),
    ]
    assert opted_out == [13]


def test_an_opt_out_needs_its_reason() -> None:
    page = "<!-- transcript: not run, because -->\n```\n$ lint-train x.py\n```\n"
    commands, opted_out = transcripts(page, "page.md")
    assert (len(commands), opted_out) == (1, [])


def test_elision_stands_for_text_in_a_line_or_for_whole_lines() -> None:
    assert matches(["a: ... end", "last"], "a: some text end\nlast\n")
    assert matches(["first", "...", "last"], "first\nx\ny\nlast\n")
    assert matches(["first", "...", "last"], "first\nlast\n")
    assert not matches(["a: ... end"], "a: some text\n")  # the end must still be there
    assert not matches(["a: ... end"], "a: x end\nmore\n")  # no line may be left over
    assert not matches(["first", "last"], "first\nmiddle\nlast\n")
    assert not matches(["29:9 TRN001"], "32:13 TRN001\n")

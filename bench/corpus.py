"""Findings of lint-train on a corpus of real repositories, per repository and in total.

    PYTHONPATH=src python bench/corpus.py bench/heldout.txt /work/corpus/heldout
    PYTHONPATH=src python bench/corpus.py bench/heldout.txt CORPUS --json findings.json
    PYTHONPATH=src python bench/corpus.py bench/heldout.txt CORPUS --mirror /work/.mirror

The list file names one repository a line, `owner/name commit` (`#` starts a comment). Each
repository is expected unpacked at CORPUS/owner+name, outside this repository; with `--mirror`,
one that is missing is unpacked there from a fetched bare git directory, at the listed commit
(only its .py, .ipynb, .gitignore, pyproject.toml and setup.cfg files). Every one is linted as
a user would lint it, from its own folder with the default settings:
`lint-train --no-cache --output-format json --exit-zero .`. The fetched code is only read,
never built, imported or run.

Per repository the table shows the files lint-train checks, how many of them could lead to a
finding and so are parsed and analysed (the others are skipped by the prefilter), the files it
refused (a syntax error, say), their lines (.py lines plus the code-cell lines of notebooks)
and the findings per rule; the last rows give the totals and findings per 1,000 lines.
`--json` writes every finding, with its repository, for triage by hand. Nothing here judges a
finding: precision comes from that triage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lint_train.discover import DiscoverOptions, discover
from lint_train.notebook import is_notebook, to_program
from lint_train.prefilter import could_matter
from lint_train.rules import rule_table
from lint_train.source import SourceError, decode

CODES = tuple(sorted(rule_table()))
KEEP_SUFFIXES = (".py", ".ipynb")
KEEP_NAMES = (".gitignore", "pyproject.toml", "setup.cfg")


@dataclass
class Repo:
    name: str
    commit: str
    files: int = 0
    analysed: int = 0
    lines: int = 0
    findings: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # files lint-train could not check
    error: str = ""  # the run itself failed: no checkout, or no JSON on stdout

    def per_rule(self) -> Counter[str]:
        return Counter(finding["code"] for finding in self.findings)


def read_list(path: Path) -> list[tuple[str, str]]:
    """(owner/name, commit) for each non-blank, non-comment line of the list file."""
    entries = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, commit = line.split()[:2]
            entries.append((name, commit))
    return entries


def folder_of(corpus: Path, name: str) -> Path:
    return corpus / name.replace("/", "+")


def unpack(git_dir: Path, commit: str, folder: Path) -> None:
    """Write the files lint-train reads from `commit` of a bare repository into `folder`.

    Only these files: snapshots lack large blobs, so `git archive` of a whole tree can fail,
    and nothing else is needed to lint."""
    listing = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", commit],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "surrogateescape")
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        _, kind, blob = meta.split()
        name = path.rsplit("/", 1)[-1]
        if kind != "blob" or not (name.endswith(KEEP_SUFFIXES) or name in KEEP_NAMES):
            continue
        data = subprocess.run(
            ["git", "--git-dir", str(git_dir), "cat-file", "blob", blob], capture_output=True
        )
        if data.returncode == 0:  # a blob the snapshot lacks is left out
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.stdout)


def measure_files(repo: Repo, folder: Path) -> None:
    """Count the files lint-train would check there, those it analyses, and their lines."""
    options = DiscoverOptions(root=folder)
    for file in discover([str(folder)], options):
        data = file.read_bytes()
        try:
            text = to_program(data).text if is_notebook(str(file)) else decode(data)
        except SourceError:
            continue  # the run reports it; it holds no lines that could be linted
        repo.files += 1
        repo.lines += text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        repo.analysed += could_matter(text)


def lint(repo: Repo, folder: Path, preview: bool = False) -> None:
    """Run this checkout's lint-train on the folder and keep its findings."""
    command = [sys.executable, "-m", "lint_train.cli", "--no-cache", "--output-format", "json"]
    command += ["--exit-zero", *(["--preview"] if preview else []), "."]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=_env())
    # Exit 2 with `path: error: ...` lines means some files were refused (a syntax error,
    # an unreadable encoding); the findings of the others are still on stdout.
    repo.refused = [line for line in done.stderr.splitlines() if ": error: " in line]
    try:
        # Files that could not be checked are listed too, with `"code": null`.
        repo.findings = [f for f in json.loads(done.stdout) if f["code"] is not None]
    except json.JSONDecodeError:
        repo.error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no JSON"
    for finding in repo.findings:
        finding["repo"] = repo.name


def _env() -> dict[str, str]:
    """The environment, with this checkout's src/ first so its code is what runs."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


def table(repos: list[Repo]) -> str:
    head = ["Repository", "Commit", "files", "analysed", "refused", "lines", *CODES, "findings"]
    rows = [head, ["---"] * 2 + ["---:"] * (len(head) - 2)]
    for repo in repos:
        counts = repo.per_rule()
        cells = [repo.name, f"`{repo.commit[:12]}`", f"{repo.files:,}", f"{repo.analysed:,}"]
        cells += [str(len(repo.refused)), f"{repo.lines:,}"]
        cells += [*(str(counts[c]) for c in CODES), str(len(repo.findings))]
        if repo.error:
            cells[0] += f" (error: {repo.error})"
        rows.append(cells)
    total: Counter[str] = Counter()
    for repo in repos:
        total.update(repo.per_rule())
    findings = sum(len(r.findings) for r in repos)
    lines = sum(r.lines for r in repos)
    rows.append(
        [
            f"**{len(repos)} repositories**",
            "",
            f"**{sum(r.files for r in repos):,}**",
            f"**{sum(r.analysed for r in repos):,}**",
            f"**{sum(len(r.refused) for r in repos)}**",
            f"**{lines:,}**",
            *(f"**{total[c]}**" for c in CODES),
            f"**{findings}**",
        ]
    )
    per_k = 1000 * findings / lines if lines else 0.0
    text = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    text += f"\n\nFindings per 1,000 lines: {per_k:.3f}"
    for repo in repos:
        text += "".join(f"\n- {repo.name}: refused {line}" for line in repo.refused)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("list", type=Path, help="file of `owner/name commit` lines")
    parser.add_argument("corpus", type=Path, help="folder holding owner+name/ checkouts")
    parser.add_argument("--json", type=Path, help="write every finding here, for triage")
    parser.add_argument(
        "--mirror",
        type=Path,
        help="unpack repositories missing from CORPUS from MIRROR/owner+name/repo (a bare git "
        "directory brought by a snapshot fetch), at the listed commit",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also the rules in preview (--preview)",
    )
    args = parser.parse_args(argv)
    repos = []
    for name, commit in read_list(args.list):
        repo = Repo(name, commit)
        folder = folder_of(args.corpus, name)
        if not folder.is_dir() and args.mirror:
            git_dir = args.mirror / folder.name / "repo"
            git_dir = git_dir / ".git" if (git_dir / ".git").is_dir() else git_dir
            unpack(git_dir, commit, folder)
        if not folder.is_dir():
            repo.error = "not unpacked"
        else:
            measure_files(repo, folder)
            lint(repo, folder, args.preview)
        repos.append(repo)
        print(f"{name}: {len(repo.findings)} findings", file=sys.stderr)
    print(table(repos))
    if args.json:
        findings = [finding for repo in repos for finding in repo.findings]
        args.json.write_text(json.dumps(findings, indent=1) + "\n", encoding="utf-8")
    return 1 if any(repo.error for repo in repos) else 0


if __name__ == "__main__":
    sys.exit(main())

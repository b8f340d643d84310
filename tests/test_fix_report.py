"""What `--fix` reports is the written file's own lint: a finding the fixes took away with them
is not listed, the summary counts what is left, and the exit code follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lint_train.cli import main

# A loop whose only clear is on the scaler's path: TRN001's fix clears on the other path too,
# and TRN002's finding about that loop goes with it (what a run straight after the fix shows).
LOOP = """\
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.cuda.amp.GradScaler()
loader = [torch.randn(8, 4) for _ in range(8)]
k = 2
for epoch in range(3):
    for i, x in enumerate(loader):
        loss = model(x).sum() / k
        if scaler is not None:
            scaler.scale(loss).backward()
            if (i + 1) % k == 0:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()
        else:
            loss.backward()
            if (i + 1) % k == 0:
                optimizer.step()
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-cache", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_report_after_fix_is_the_lint_of_the_written_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "train.py"
    script.write_text(LOOP, encoding="utf-8")
    code, out, err = _run(capsys, "--fix", str(script))
    assert "optimizer.zero_grad()" in script.read_text(encoding="utf-8").split("else:")[1]
    after_code, after_out, _ = _run(capsys, str(script))
    assert (code, out) == (after_code, after_out)  # the same as a run straight afterwards
    assert "Fixed 1 problem in 1 file; 0 remaining." in err
    assert code == 0


def test_json_after_fix_lists_what_the_written_file_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "train.py"
    script.write_text(LOOP, encoding="utf-8")
    code, out, _ = _run(capsys, "--fix", "--output-format", "json", str(script))
    assert (code, json.loads(out)) == (0, [])


def test_findings_left_after_fix_are_placed_in_the_written_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # TRN001 is fixed (a line is inserted above); TRN004 (an unsafe fix) stays, one line down.
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n\n"
        "model = torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Dropout(0.1))\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for x in [torch.randn(2, 4)]:\n"
        "    loss = model(x).sum()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "with torch.no_grad():\n"
        "    for x in val_loader:\n"
        "        print(model(x))\n",
        encoding="utf-8",
    )
    code, out, err = _run(capsys, "--fix", "--output-format", "concise", str(script))
    again_code, again, _ = _run(capsys, "--output-format", "concise", str(script))
    assert "opt.zero_grad()" in script.read_text(encoding="utf-8")
    assert (code, out) == (again_code, again)
    assert code == 1 and "TRN004" in out
    assert "; 1 remaining." in err

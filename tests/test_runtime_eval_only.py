"""`lint-train verify --static` on scripts that only evaluate: no backward, no optimizer step.

Without a step, the runtime counts as evaluation only the forward passes that ran with grad off,
so what the probe records of `torch.is_grad_enabled()` decides whether it sees the missing
`.eval()` that the static rule reports.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import require

require("torch")  # these tests run scripts under torch; without it they prove nothing

from lint_train.runtime.verify import main  # noqa: E402

EVALUATE = """\
import torch
from torch import nn


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 1))


def make_data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(48, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    return [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]


def main():
    model = make_model()
    model.load_state_dict(make_model().state_dict())  # restored weights: no smoke check
    val_batches = make_data()
{mode}    error = 0.0
    with torch.no_grad():
        for x, y in val_batches:
            error += (model(x) - y).abs().mean().item()
    print(f"mean absolute error {{error / 3:.3f}}")


if __name__ == "__main__":
    main()
"""

FORGETS_EVAL = EVALUATE.format(mode="")
CALLS_EVAL = EVALUATE.format(mode="    model.eval()\n")


def _verify(tmp_path: Path, text: str, capsys) -> tuple[int, dict]:
    path = tmp_path / "evaluate.py"
    path.write_text(text)
    code = main(["--threads", "1", "--static", "--output-format", "json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def test_evaluation_in_training_mode_is_seen_by_both_sides(tmp_path: Path, capsys) -> None:
    code, report = _verify(tmp_path, FORGETS_EVAL, capsys)
    assert code == 1
    assert report["steps"] == 0
    runtime = [f for f in report["findings"] if f["code"] == "TRN004"]
    assert [f["count"] for f in runtime] == [3]  # the three batches, all with dropout active
    # TRN004 points at the evaluation forward.
    forward = "            error += (model(x) - y).abs().mean().item()"
    forward_line = FORGETS_EVAL.splitlines().index(forward) + 1
    found = [(f["line"], f["code"]) for f in report["static"]["findings"]]
    assert found == [(forward_line, "TRN004")]
    assert report["static"]["agreement"] == {
        "both": ["TRN004"],
        "static_only": [],
        "runtime_only": [],
    }


def test_evaluation_in_eval_mode_has_no_finding_on_either_side(tmp_path: Path, capsys) -> None:
    _, report = _verify(tmp_path, CALLS_EVAL, capsys)
    assert report["steps"] == 0
    assert report["findings"] == []
    assert report["static"]["findings"] == []


def test_the_text_report_says_seen_by_both(tmp_path: Path, capsys) -> None:
    path = tmp_path / "evaluate.py"
    path.write_text(FORGETS_EVAL)
    main(["--threads", "1", "--static", str(path)])
    out = capsys.readouterr().out
    assert "seen by both: TRN004" in out
    assert "static only" not in out

"""`lint-train verify` selects and suppresses as `lint-train` does: the configuration's select,
ignore and per-file-ignores, and `# noqa` on the reported line, for the static findings and for
the runtime findings of the same problem; one problem seen by both sides counts once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import require

require("torch")

from lint_train.cli import main as cli_main  # noqa: E402
from lint_train.runtime.findings import RuntimeFinding  # noqa: E402
from lint_train.runtime.report import StaticFinding  # noqa: E402
from lint_train.runtime.verify import _LintView, main  # noqa: E402

# Trains a linear model, but never clears its gradients: TRN001 statically and at runtime.
NEVER_CLEARS = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(20):
    for i in range(0, 64, 16):
        loss = nn.functional.mse_loss(model(x[i : i + 16]), y[i : i + 16])
        loss.backward()
        opt.step()
"""


def _verify(
    folder: Path, text: str, capsys: pytest.CaptureFixture[str], config: str | None = None
) -> tuple[int, dict[str, object]]:
    (folder / "pyproject.toml").write_text(config or "[project]\nname = 'x'\n", encoding="utf-8")
    (folder / "train.py").write_text(text, encoding="utf-8")
    argv = ["--threads", "1", "--static", "--output-format", "json", str(folder / "train.py")]
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def _codes(report: dict[str, object]) -> tuple[list[str], list[str]]:
    static = report["static"]
    assert isinstance(static, dict)
    findings = report["findings"]
    assert isinstance(findings, list)
    return [f["code"] for f in static["findings"]], [f["code"] for f in findings]


def test_one_problem_seen_by_both_sides_counts_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _verify(tmp_path, NEVER_CLEARS, capsys)
    assert _codes(report) == (["TRN001"], ["TRN001"])
    assert report["finding_count"] == 1
    assert code == 1
    main(["--threads", "1", "--static", str(tmp_path / "train.py")])
    verdict = capsys.readouterr().out.splitlines()[-1]
    assert "; 1 finding;" in verdict


@pytest.mark.parametrize(
    "config",
    [
        '[tool.lint-train]\nignore = ["TRN001"]\n',
        '[tool.lint-train]\nselect = ["TRN003", "TRN004"]\n',
        '[tool.lint-train.per-file-ignores]\n"train.py" = ["TRN00"]\n',
    ],
)
def test_codes_the_configuration_turns_off_are_not_reported_on_either_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, report = _verify(tmp_path, NEVER_CLEARS, capsys, config)
    assert _codes(report) == ([], [])
    assert report["finding_count"] == 0
    assert code == (0 if report["verdict"]["trained"] else 1)  # type: ignore[index]


def test_noqa_on_the_reported_line_silences_both_sides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # On the loop and on its step, wherever the finding is reported.
    silenced = NEVER_CLEARS.replace(
        "    for i in range(0, 64, 16):", "    for i in range(0, 64, 16):  # noqa: TRN001"
    ).replace("        opt.step()", "        opt.step()  # noqa: TRN001")
    code, report = _verify(tmp_path, silenced, capsys)
    assert _codes(report) == ([], [])
    assert code == (0 if report["verdict"]["trained"] else 1)  # type: ignore[index]


def test_a_suppressed_problem_seen_by_both_sides_counts_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silenced = NEVER_CLEARS.replace("        opt.step()", "        opt.step()  # noqa: TRN001")
    _, report = _verify(tmp_path, silenced, capsys)
    assert report["suppressed"] == 1  # one problem, silenced on both sides, as lint-train counts
    main(["--threads", "1", "--static", str(tmp_path / "train.py")])
    assert "(1 suppressed by noqa)" in capsys.readouterr().out.splitlines()[-1]
    assert cli_main([str(tmp_path / "train.py")]) == 0
    assert "1 suppressed by noqa" in capsys.readouterr().err


def test_a_runtime_finding_stays_when_its_code_is_also_reported_unsuppressed() -> None:
    loop = StaticFinding(10, 5, "TRN001", "missing-zero-grad", "...")
    view = _LintView(lambda code: True, static=[loop], suppressed=[loop])
    seen = [RuntimeFinding("TRN001", "missing-zero-grad", "...", 3)]
    assert view.runtime(seen) == (seen, 0)
    quiet = _LintView(lambda code: True, static=[], suppressed=[loop])
    assert quiet.runtime(seen) == ([], 1)
    unknown = [RuntimeFinding("TRN004", "missing-eval", "...", 1)]
    assert quiet.runtime(unknown) == (unknown, 0)  # no static finding silenced that code


# Steps its scheduler before its optimizer in every iteration: TRN010, a rule in preview.
SCHEDULER_FIRST = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
for epoch in range(20):
    for i in range(0, 64, 16):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[i : i + 16]), y[i : i + 16])
        loss.backward()
        sched.step()
        opt.step()
"""


def test_rules_in_preview_are_reported_only_with_preview(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _verify(tmp_path, SCHEDULER_FIRST, capsys)
    assert (code, _codes(report)) == (0, ([], []))
    preview = "[project]\nname = 'x'\n[tool.lint-train]\npreview = true\n"
    code, report = _verify(tmp_path, SCHEDULER_FIRST, capsys, preview)
    assert (code, _codes(report)) == (1, (["TRN010"], ["TRN010"]))
    assert (
        main(["--threads", "1", "--preview", "--output-format", "json", str(tmp_path / "train.py")])
        == 1
    )

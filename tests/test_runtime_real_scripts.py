"""`verify` on scripts written the way real training scripts are (fixtures/real/): their own
argument parsers, `if __name__ == "__main__":`, DataLoader workers, `sys.exit(main())`, a loop
that never ends, a device that defaults to CUDA, a log line on every step, warnings.

All runs start together in a module fixture; the tests read the reports.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, require

require("torch")

from lint_train.config import Config  # noqa: E402
from lint_train.runtime.launch import OUTPUT_TAIL_CHARS  # noqa: E402
from lint_train.runtime.report import Report, to_text  # noqa: E402
from lint_train.runtime.verify import Options, verify_script  # noqa: E402

REAL = FIXTURES / "real"
CIFAR = REAL / "cifar_style.py"
OPTIONS = Options(max_steps=200, timeout=120, threads=1, config=Config())

# A script written for a GPU: every way of asking for CUDA that such scripts use.
ON_CUDA = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(256, 4).cuda()
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]], device="cuda")
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)).cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(10):
    for i in range(0, 256, 32):
        xb = x[i : i + 32].to("cuda:0", non_blocking=True)
        yb = y[i : i + 32].to(torch.device("cuda"))
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
"""
# A script that prints on every step, far more than a report could hold.
LOUD = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x.sum(dim=1, keepdim=True)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for step in range(60):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    for line in range(200):
        print(f"step {step} line {line}: " + "x" * 60)
print("the very last line")
"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("real")
    (folder / "on_cuda.py").write_text(ON_CUDA)
    (folder / "loud.py").write_text(LOUD)
    cpu = Options(**{**OPTIONS.__dict__, "device": "cpu"})
    runs = {
        # The script's own --device, after `--`, two epochs of 8 batches, two workers.
        "cifar": (CIFAR, ["--device", "cpu", "--epochs", "2", "--workers", "2"], OPTIONS),
        # Its default device is CUDA: on this machine, without --device cpu, it stops.
        "cifar_cuda": (CIFAR, ["--epochs", "2", "--workers", "0"], OPTIONS),
        "cifar_mapped": (CIFAR, ["--epochs", "2", "--workers", "0"], cpu),
        "on_cuda": (folder / "on_cuda.py", [], OPTIONS),
        "on_cuda_mapped": (folder / "on_cuda.py", [], cpu),
        "hf": (REAL / "hf_accumulation.py", ["--max_steps", "15"], OPTIONS),
        "rl": (REAL / "rl_dqn.py", [], Options(**{**OPTIONS.__dict__, "max_steps": 40})),
        "loud": (folder / "loud.py", [], OPTIONS),
    }

    def run(name: str) -> Report:
        path, args, options = runs[name]
        return verify_script(str(path), args, options)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(runs, pool.map(run, runs), strict=True))


def line_of(path: Path, code: str) -> int:
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if code in line)


def test_a_cifar_style_script_gets_its_arguments_and_exits_through_sys_exit(reports) -> None:
    report = reports["cifar"]
    assert report.how == "exited with status 0"
    # --epochs 2 reached the script's own parser: two passes over 8 batches.
    assert report.steps == 16
    assert report.findings == []
    assert report.exit_code == 0, report.verdict.reason


def test_a_script_that_needs_cuda_is_told_which_line_asked_for_it(reports) -> None:
    report = reports["cifar_cuda"]
    assert report.exit_code == 2
    line = line_of(CIFAR, "model = SmallConvNet().to(device)")
    assert report.how == (
        f"the script asks for CUDA at cifar_style.py:{line} "
        "(`model = SmallConvNet().to(device)`), and this machine has none; rerun with "
        "--device cpu to run .cuda() and .to('cuda') on the CPU"
    )
    assert to_text(report).splitlines()[-1].startswith(f"verdict: the script failed ({report.how}")


def test_device_cpu_runs_a_cuda_script_as_it_runs_on_the_cpu(reports) -> None:
    mapped, native = reports["cifar_mapped"], reports["cifar"]
    assert mapped.status == "finished", mapped.how
    assert mapped.steps == 16
    # The same batches in the same order, with or without the two DataLoader workers, give the
    # same losses over the first pass. (Later passes differ: the script keeps its workers alive
    # between passes, which draws the shuffle's seed from the global generator at another time.)
    assert mapped.trend.values[:8] == pytest.approx(native.trend.values[:8], rel=1e-5)


def test_device_cpu_maps_cuda_calls_devices_and_synchronize(reports) -> None:
    assert "on_cuda.py:5 (`x = torch.randn(256, 4).cuda()`)" in reports["on_cuda"].how
    report = reports["on_cuda_mapped"]
    assert report.status == "finished", report.error
    assert (report.steps, report.exit_code) == (80, 0)
    assert report.verdict.trained


def test_an_hf_style_accumulation_loop_trains_and_its_log_stays_out_of_the_report(
    reports,
) -> None:
    report = reports["hf"]
    assert (report.steps, report.backward_calls) == (15, 60)
    assert report.verdict.trained, report.verdict.reason
    assert report.exit_code == 0
    assert '"micro_step": 60' in report.output_tail
    assert "micro_step" not in to_text(report)


def test_a_loop_that_never_ends_is_judged_on_its_steps_so_far(reports) -> None:
    report = reports["rl"]
    assert report.status == "stopped"
    assert report.how == "stopped at --max-steps 40"
    assert (report.steps, len(report.trend.values)) == (40, 40)
    assert report.verdict.trained, report.verdict.reason


def test_a_loud_script_keeps_only_the_tail_of_its_output(reports) -> None:
    report = reports["loud"]
    assert report.exit_code == 0
    assert report.output_tail.endswith("the very last line\n")
    assert len(report.output_tail) == OUTPUT_TAIL_CHARS
    assert "line 199" not in to_text(report)


WARNS = """\
import warnings

import torch
from torch import nn

warnings.warn("a warning of the script's own")
torch.manual_seed(0)
x = torch.randn(64, 4)
y = x.sum(dim=1, keepdim=True)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=100.0)
for step in range(30):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    warnings.warn(f"loss is {loss.item()}", RuntimeWarning)
"""


def test_warnings_in_the_child_leave_no_stray_line_in_the_report(tmp_path: Path) -> None:
    # A fresh process, so that its fork server imports torch too (torch warns at import when
    # numpy is missing): nothing but the report may reach stdout, and nothing stderr.
    script = tmp_path / "warns.py"
    script.write_text(textwrap.dedent(WARNS))
    done = subprocess.run(
        [sys.executable, "-m", "lint_train.cli", "verify", "--threads", "1", str(script)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"verify {script}")
    assert all(line.startswith("  ") for line in lines[1:-1]), done.stdout
    assert lines[-1].startswith("verdict: did not train (the loss became inf")
    assert done.returncode == 1
    # The warnings are the script's output: kept, out of the report, in its tail.
    report = verify_script(str(script), (), OPTIONS)
    assert "RuntimeWarning: loss is" in report.output_tail
    assert "warnings.warn" in report.output_tail


def test_the_cuda_explanation_names_the_users_deepest_frame(tmp_path: Path) -> None:
    from lint_train.runtime.device import needs_cuda

    helper = tmp_path / "models.py"
    helper.write_text("import torch\n\n\ndef build(net):\n    return net.cuda()\n")
    traceback = (
        "Traceback (most recent call last):\n"
        f'  File "{tmp_path / "train.py"}", line 9, in <module>\n'
        f'  File "{helper}", line 5, in build\n'
        '  File "/venv/lib/python3.11/site-packages/torch/cuda/__init__.py", line 522, in x\n'
        "RuntimeError: Found no NVIDIA driver on your system.\n"
    )
    message = "Found no NVIDIA driver on your system."
    # The script's own frame first; the helper module's line when the script is not in view.
    assert needs_cuda(message, traceback, str(tmp_path / "train.py")) == (
        "the script asks for CUDA at train.py:9, and this machine has none"
    )
    assert needs_cuda(message, traceback, str(tmp_path / "other.py")) == (
        "the script asks for CUDA at models.py:5 (`return net.cuda()`), and this machine has none"
    )
    assert needs_cuda("CUDA out of memory", traceback, str(tmp_path / "train.py")) is None

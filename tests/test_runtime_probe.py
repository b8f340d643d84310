"""The probe and the child process on small scripts written here, one situation each.

All scripts run once, in parallel, in a module fixture; each test reads its script's report.
"""

from __future__ import annotations

import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from conftest import require

require("torch")

from lint_train.runtime.report import Report  # noqa: E402
from lint_train.runtime.verify import Options, verify_script  # noqa: E402

PRELUDE = """\
import os, signal, sys, time
import torch
from torch import nn
from torch.nn import functional as F

torch.manual_seed(0)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]


def make(*layers):
    return nn.Sequential(nn.Linear(4, 16), *layers, nn.ReLU(), nn.Linear(16, 1))
"""

CORRECT_LOOP = """
def evaluate(model):
    model.eval()
    with torch.no_grad():
        for xb, _ in batches:
            model(xb)
    model.train()


model = make(nn.Dropout(0.1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(10):
    for xb, yb in batches:
        opt.zero_grad()
        loss = F.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
    evaluate(model)
"""


@dataclass(frozen=True)
class Case:
    body: str
    args: tuple[str, ...] = ()
    options: Options = field(default_factory=lambda: Options(threads=1, timeout=60))


CASES = {
    "correct": Case(CORRECT_LOOP),
    "no_zero_grad": Case(CORRECT_LOOP.replace("opt.zero_grad()", "pass")),
    "cleared_by_hand": Case(
        CORRECT_LOOP.replace(
            "opt.zero_grad()",
            "for p in model.parameters():\n"
            "            if p.grad is not None:\n"
            "                p.grad = None if epoch % 2 else p.grad.zero_()",
        )
    ),
    "dataloader_workers": Case("""
from torch.utils.data import DataLoader, TensorDataset

model = make()
opt = torch.optim.SGD(model.parameters(), lr=0.05)
loader = DataLoader(TensorDataset(x, y), batch_size=16, num_workers=2)
for epoch in range(5):
    for xb, yb in loader:
        opt.zero_grad()
        F.mse_loss(model(xb), yb).backward()
        opt.step()
"""),
    "forward_raises_once": Case(
        CORRECT_LOOP.replace(
            "    evaluate(model)",
            "    evaluate(model)\n"
            "    try:\n"
            "        model(torch.randn(2, 5))  # wrong width: the forward raises\n"
            "    except RuntimeError:\n"
            "        pass",
        ).replace("    model.eval()\n", "")
    ),
    "accumulation": Case("""
model = make()
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(10):
    for xb, yb in batches:
        opt.zero_grad()
        for xm, ym in zip(xb.split(4), yb.split(4)):
            (F.mse_loss(model(xm), ym) / 4).backward()
        opt.step()
"""),
    "accumulation_never_cleared": Case("""
model = make()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
opt.zero_grad()
for epoch in range(10):
    for xb, yb in batches:
        for xm, ym in zip(xb.split(4), yb.split(4)):
            (F.mse_loss(model(xm), ym) / 4).backward()
        opt.step()
"""),
    "gan": Case("""
G, D = nn.Linear(2, 4), nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt_g = torch.optim.SGD(G.parameters(), lr=0.01)
opt_d = torch.optim.SGD(D.parameters(), lr=0.01)
ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)
for i in range(20):
    real, z = x[:16], torch.randn(16, 2)
    D.zero_grad()
    fake = G(z)
    loss_d = F.binary_cross_entropy_with_logits(D(real), ones)
    loss_d = loss_d + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
    loss_d.backward()
    opt_d.step()
    G.zero_grad()
    F.binary_cross_entropy_with_logits(D(fake), ones).backward()
    opt_g.step()
"""),
    "lbfgs": Case("""
model = make()
opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)
for i in range(8):
    def closure():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss
    opt.step(closure)
"""),
    "no_step": Case(
        CORRECT_LOOP.replace("opt.step()", "pass"),
        options=Options(threads=1, timeout=60, max_steps=12),
    ),
    "saliency": Case("""
model = make(nn.Dropout(0.5))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
model.eval()
for p in model.parameters():
    p.requires_grad_(False)
inputs = x.clone().requires_grad_(True)
model(inputs).sum().backward()
saliency = inputs.grad.abs()
"""),
    "eval_with_grad": Case(CORRECT_LOOP.replace("with torch.no_grad():", "if True:")),
    "eval_in_training_mode": Case(CORRECT_LOOP.replace("    model.eval()\n", "")),
    "eval_with_neither": Case(
        CORRECT_LOOP.replace("    model.eval()\n", "").replace("with torch.no_grad():", "if True:")
    ),
    "training_left_in_eval_mode": Case(CORRECT_LOOP.replace("    model.train()\n", "")),
    "frozen_batch_norm": Case("""
model = make(nn.BatchNorm1d(16))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
model.train()
model[1].eval()  # fine-tuning with batch-norm statistics frozen
for epoch in range(10):
    for xb, yb in batches:
        opt.zero_grad()
        F.mse_loss(model(xb), yb).backward()
        opt.step()
"""),
    "crash": Case(
        CORRECT_LOOP.replace("opt.step()", "opt.step()\n        raise ValueError('boom')")
    ),
    "exit_3": Case(CORRECT_LOOP + "sys.exit(3)\n"),
    "exit_0": Case(CORRECT_LOOP + "sys.exit(0)\n"),
    "os_exit": Case(CORRECT_LOOP + "os._exit(0)\n"),
    "segfault": Case(CORRECT_LOOP + "os.kill(os.getpid(), signal.SIGSEGV)\n"),
    "reads_stdin": Case("input()\n"),
    "endless": Case(
        CORRECT_LOOP.replace("for epoch in range(10):", "while True:"),
        options=Options(threads=1, timeout=60, max_steps=25),
    ),
    "swallows_exceptions": Case(
        CORRECT_LOOP.replace("for epoch in range(10):", "while True:").replace(
            "opt.step()",
            "try:\n            opt.step()\n        except Exception:\n            pass",
        ),
        options=Options(threads=1, timeout=60, max_steps=25),
    ),
    "hangs": Case(
        CORRECT_LOOP.replace("for epoch in range(10):", "for epoch in range(2):")
        + "time.sleep(600)\n",
        options=Options(threads=1, timeout=6),
    ),
    "hangs_ignoring_sigterm": Case(
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        + CORRECT_LOOP.replace("for epoch in range(10):", "for epoch in range(2):")
        + "time.sleep(600)\n",
        options=Options(threads=1, timeout=6),
    ),
    "arguments_and_imports": Case(
        "import helper\n"
        "assert sys.argv[1:] == ['--lr', '0.1'], sys.argv\n"
        "assert __name__ == '__main__'\n"
        "assert helper.VALUE == 7\n"
        "print('to stdout'); print('to stderr', file=sys.stderr)\n",
        args=("--lr", "0.1"),
    ),
}
CASES["gan_clears_only_g"] = Case(CASES["gan"].body.replace("D.zero_grad()", "pass"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("scripts")
    (folder / "helper.py").write_text("VALUE = 7\n")
    paths = {}
    for name, case in CASES.items():
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(PRELUDE + textwrap.dedent(case.body))

    def run(name: str) -> Report:
        case = CASES[name]
        return verify_script(str(paths[name]), case.args, case.options)

    # The hanging scripts mostly wait, so more runs than cores keeps the wall time down.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def test_a_correct_loop_trains_with_no_finding(reports: dict[str, Report]) -> None:
    report = reports["correct"]
    assert report.status == "finished"
    assert (report.steps, report.backward_calls, report.zero_grad_calls) == (40, 40, 40)
    assert [o.type for o in report.optimizers] == ["SGD"]
    assert report.verdict.trained
    assert codes(report) == []
    assert report.exit_code == 0


def test_missing_zero_grad_is_trn001_and_changes_the_loss_curve(reports: dict[str, Report]):
    report = reports["no_zero_grad"]
    assert codes(report) == ["TRN001"]
    assert report.findings[0].count == 39  # every step after the first
    assert report.trend.values != reports["correct"].trend.values
    assert report.exit_code == 1


def test_gradients_cleared_by_hand_are_not_trn001(reports: dict[str, Report]) -> None:
    report = reports["cleared_by_hand"]
    assert report.zero_grad_calls == 0
    assert codes(report) == []
    assert report.trend.values == reports["correct"].trend.values


def test_dataloader_workers_run_and_end_with_the_script(reports: dict[str, Report]) -> None:
    report = reports["dataloader_workers"]
    assert report.status == "finished", report.error or report.output_tail
    assert report.steps == 20
    assert codes(report) == []


def test_a_forward_that_raises_does_not_hide_later_forwards(reports: dict[str, Report]):
    # Evaluation in training mode after the failed call must still be seen, every epoch.
    report = reports["forward_raises_once"]
    assert codes(report) == ["TRN004"]
    assert report.findings[0].count == 40


def test_gradient_accumulation_cleared_per_step_is_not_trn001(reports: dict[str, Report]):
    report = reports["accumulation"]
    assert (report.steps, report.backward_calls) == (40, 160)
    assert codes(report) == []
    assert report.verdict.trained


def test_gradient_accumulation_never_cleared_is_trn001(reports: dict[str, Report]) -> None:
    assert codes(reports["accumulation_never_cleared"]) == ["TRN001"]


def test_a_gan_whose_g_backward_reaches_d_is_not_trn001(reports: dict[str, Report]) -> None:
    report = reports["gan"]
    assert report.steps == 40
    assert codes(report) == []


def test_a_gan_that_clears_only_g_is_trn001(reports: dict[str, Report]) -> None:
    found = reports["gan_clears_only_g"].findings
    assert [f.code for f in found] == ["TRN001"]
    assert found[0].count == 19  # every step of D after its first


def test_lbfgs_clearing_in_its_closure_is_not_trn001(reports: dict[str, Report]) -> None:
    report = reports["lbfgs"]
    assert report.steps == 8
    assert report.backward_calls > 8  # the closure runs several times per step
    assert codes(report) == []


def test_backward_without_step_is_trn002_and_stops_at_max_backward_calls(reports):
    report = reports["no_step"]
    assert codes(report) == ["TRN002"]
    assert (report.steps, report.backward_calls) == (0, 12)
    assert report.how == "stopped at --max-steps 12"
    assert not report.verdict.trained


def test_a_saliency_map_in_eval_mode_has_no_finding(reports: dict[str, Report]) -> None:
    report = reports["saliency"]
    assert report.status == "finished"
    assert report.backward_calls == 1
    assert codes(report) == []


def test_evaluation_in_eval_mode_with_grad_enabled_is_trn003(reports: dict[str, Report]):
    report = reports["eval_with_grad"]
    assert codes(report) == ["TRN003"]
    assert report.findings[0].count == 40  # 4 batches, 10 evaluations


def test_evaluation_under_no_grad_in_training_mode_is_trn004(reports: dict[str, Report]):
    assert codes(reports["eval_in_training_mode"]) == ["TRN004"]


def test_evaluation_with_neither_is_trn003_and_trn004(reports: dict[str, Report]) -> None:
    assert codes(reports["eval_with_neither"]) == ["TRN003", "TRN004"]


def test_training_left_in_eval_mode_is_trn005(reports: dict[str, Report]) -> None:
    report = reports["training_left_in_eval_mode"]
    assert codes(report) == ["TRN005"]
    assert report.findings[0].count == 36  # every batch after the first evaluation


def test_frozen_batch_norm_in_a_training_model_is_not_trn005(reports: dict[str, Report]):
    assert codes(reports["frozen_batch_norm"]) == []


def test_a_crash_is_reported_with_its_error_and_exit_2(reports: dict[str, Report]) -> None:
    report = reports["crash"]
    assert report.status == "failed"
    assert report.how == "ValueError: boom"
    assert report.error is not None
    assert "crash.py" in report.error
    assert "probe.py" not in report.error  # the traceback starts in the user's script
    assert report.steps == 1
    assert report.exit_code == 2


def test_sys_exit_with_an_error_status_is_a_failure(reports: dict[str, Report]) -> None:
    report = reports["exit_3"]
    assert (report.status, report.how, report.exit_code) == ("failed", "exited with status 3", 2)
    assert report.steps == 40


def test_sys_exit_0_after_training_is_a_normal_end(reports: dict[str, Report]) -> None:
    report = reports["exit_0"]
    assert (report.status, report.exit_code) == ("finished", 0)


def test_os_exit_keeps_what_was_observed(reports: dict[str, Report]) -> None:
    report = reports["os_exit"]
    assert report.status == "finished"
    assert report.steps == 40


def test_a_segfault_in_the_script_is_a_failure_not_a_crash_of_the_tool(reports):
    report = reports["segfault"]
    assert (report.status, report.how, report.exit_code) == ("failed", "killed by SIGSEGV", 2)
    assert report.steps == 40


def test_reading_stdin_does_not_hang(reports: dict[str, Report]) -> None:
    assert reports["reads_stdin"].how.startswith("EOFError")


def test_max_steps_stops_an_endless_loop(reports: dict[str, Report]) -> None:
    report = reports["endless"]
    assert (report.status, report.steps) == ("stopped", 25)
    assert report.how == "stopped at --max-steps 25"
    assert report.verdict.trained


def test_except_exception_in_the_script_does_not_swallow_the_stop(reports) -> None:
    assert (reports["swallows_exceptions"].status, reports["swallows_exceptions"].steps) == (
        "stopped",
        25,
    )


def _counts_agree(report: Report) -> bool:
    """What the report says it saw is self-consistent: each step followed a backward, and each
    backward gave a loss. How many steps ran before the timeout depends on the machine's load,
    so no test asserts that number."""
    return report.steps == report.backward_calls == len(report.trend.values) <= 8


def test_a_hang_stops_at_the_timeout_and_still_reports(reports: dict[str, Report]) -> None:
    report = reports["hangs"]
    assert report.how == "stopped at --timeout 6 s"
    assert _counts_agree(report)
    assert report.exit_code != 2


def test_a_hang_that_ignores_sigterm_is_killed_and_still_reports(reports) -> None:
    report = reports["hangs_ignoring_sigterm"]
    assert report.how == "killed at --timeout 6 s"
    assert _counts_agree(report)


def test_the_script_gets_its_arguments_main_name_and_folder(reports) -> None:
    report = reports["arguments_and_imports"]
    assert report.status == "finished", report.error
    assert "to stdout" in report.output_tail
    assert "to stderr" in report.output_tail
    assert not report.verdict.trained  # it never trains anything

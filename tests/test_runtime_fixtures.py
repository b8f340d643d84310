"""Every fixture, run for real under the probe.

- fixed scripts run without a runtime finding and train; a plain supervised loop also matches
  the reference loop's losses step for step;
- buggy scripts show at runtime the finding their `# expect:` comments claim, and a buggy
  TRN001/TRN002 script's loss curve differs from its fixed twin's or does not fall;
- quiet scripts run without a runtime finding;
- for every script, the static and the runtime findings name the same codes.

All fixtures run once, in parallel, in a module fixture; the tests read the reports. The default
run proves a quick form (conftest.quick_form: the first fixture of each rule, some quiet ones);
`pytest -m slow` proves the others.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest
from conftest import FIXTURES, expected_findings, quick_form, require, selected, verify_all

torch = require("torch")

from lint_train.config import Config  # noqa: E402
from lint_train.runtime.reference import train_fixture  # noqa: E402
from lint_train.runtime.report import Report  # noqa: E402
from lint_train.runtime.verify import Options  # noqa: E402

BUGGY = sorted((FIXTURES / "buggy").glob("*.py"))
FIXED = sorted((FIXTURES / "fixed").glob("*.py"))
QUIET = sorted((FIXTURES / "quiet").glob("*.py"))

# Fixed scripts that are correct but are not the reference's plain loop (one optimizer, one
# backward and one step per batch of make_data()'s training list, in order, constant learning
# rate), so their losses cannot match it step for step. A fixture missing here is compared.
NOT_THE_REFERENCE_LOOP = {
    "trn001_gan_clears_only_g": "a GAN: two models, two optimizers",
    "trn002_gan_d_cleared_never_stepped": "a GAN: two models, two optimizers",
    "trn002_shared_reset_helper_g_never_stepped": "a GAN: two models, two optimizers",
    "trn001_grad_accumulation_never_cleared": "gradient accumulation: 4 backward calls a step",
    "trn002_grad_accumulation_step_missing": "gradient accumulation: 4 backward calls a step",
    "trn006_accumulation_clears_every_micro_batch": "gradient accumulation: 4 backward calls a "
    "step",
    "trn006_accumulation_clear_after_the_if": "gradient accumulation: 4 backward calls a step",
    "trn006_accelerate_model_zero_grad_in_window": "Accelerate's accumulation: 4 backward calls "
    "a step",
    "trn006_accelerate_model_zero_grad_at_micro_batch_start": "Accelerate's accumulation: 4 "
    "backward calls a step",
    "trn001_accumulation_clears_on_another_interval": "gradient accumulation: 4 backward calls "
    "a step",
    "trn001_second_phase_starts_with_stale_grads": "a second phase accumulates gradients",
    "trn001_lbfgs_closure_forgets_zero_grad": "LBFGS: the closure runs several times a step",
    "trn002_lbfgs_closure_called_directly": "LBFGS: the closure runs several times a step",
    "trn001_nanogpt_while_loop": "nanoGPT style: random batches, 2 backward calls a step",
    "trn002_nanogpt_while_loop": "nanoGPT style: random batches, 2 backward calls a step",
    "trn002_plain_loop_only_scheduler_step": "a OneCycleLR learning-rate schedule",
    "trn002_split_helpers_update_skips_step": "a warm-up learning-rate schedule",
    "trn002_torch_alias_imports": "gradient clipping",
    "trn001_amp_unscale_before_clipping": "gradient clipping",
    "trn002_train_one_epoch_helper": "a StepLR learning-rate schedule",
    "trn010_epoch_scheduler_at_top": "a StepLR learning-rate schedule",
    "trn010_per_batch_scheduler_before_step": "a OneCycleLR learning-rate schedule",
    "trn011_manual_sgd_without_no_grad": "hand-written SGD: no optimizer object",
    "trn009_forward_ends_in_sigmoid": "binary targets with BCEWithLogitsLoss (the reference: MSE)",
}
# Static rules with no runtime side of their own: what they cause shows at runtime under the
# code of its consequence (a bare `opt.zero_grad` as TRN001), which the static side reports too.
STATIC_ONLY = {
    "TRN008": "missing-call-parens: its consequences are TRN001, TRN002, TRN004",
}
# Codes whose bug stops the script: its error is the runtime evidence.
RAISES = {"TRN011"}
# Relative tolerance for "the same losses": the script and the reference run the same
# operations in the same order on one thread, so they agree to rounding.
TOLERANCE = 1e-5
# A buggy curve that still falls must differ from its fixed twin's somewhere by this much.
CURVE_GAP = 0.05
# Preview on: the fixtures of rules in preview are verified like the others.
OPTIONS = Options(max_steps=200, timeout=60, threads=1, static=True, config=Config(preview=True))


@pytest.fixture(scope="module")
def reports(request: pytest.FixtureRequest) -> dict[Path, Report]:
    # How long this takes is measured by bench/verify_fixtures.py, not asserted here. Only the
    # fixtures the selected tests read are run: those and the fixed twins of the buggy ones.
    paths = selected(request)
    twins = [FIXTURES / "fixed" / p.name for p in paths if p in BUGGY]
    return verify_all(paths + twins, OPTIONS)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The same thread count as the children, and far faster for tiny models.
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def runtime_codes(report: Report) -> set[str]:
    return {f.code for f in report.findings}


def describe(report: Report) -> str:
    findings = "; ".join(f"{f.code}: {f.message}" for f in report.findings) or "no finding"
    return f"{report.how}; {report.verdict.reason}; {findings}\n{report.error or ''}"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fixture_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", quick_form(FIXED))
def test_fixed_fixture_trains_without_runtime_finding(path: Path, reports) -> None:
    report = reports[path]
    assert report.status != "failed", describe(report)
    assert report.findings == [], describe(report)
    assert report.verdict.trained, describe(report)


PLAIN_LOOPS = [p for p in FIXED if p.stem not in NOT_THE_REFERENCE_LOOP]


def test_every_fixture_set_aside_from_the_reference_comparison_exists() -> None:
    assert set(NOT_THE_REFERENCE_LOOP) <= {p.stem for p in FIXED}
    assert len(PLAIN_LOOPS) >= len(FIXED) // 2


@pytest.mark.parametrize("path", quick_form(PLAIN_LOOPS))
def test_fixed_fixture_matches_the_reference_loop(path: Path, reports) -> None:
    report = reports[path]
    assert len(report.optimizers) == 1, "not one optimizer: list it in NOT_THE_REFERENCE_LOOP"
    assert report.steps == report.backward_calls == len(report.trend.values)
    optimizer = report.optimizers[0]
    expected = train_fixture(load(path), optimizer.type, optimizer.hyperparameters, report.steps)
    assert report.trend.values == pytest.approx(expected.train_losses, rel=TOLERANCE)


@pytest.mark.parametrize("path", quick_form(BUGGY))
def test_buggy_fixture_shows_its_expected_finding_at_runtime(path: Path, reports) -> None:
    report = reports[path]
    claimed = {code for _, code in expected_findings(path)}
    expected = claimed - set(STATIC_ONLY)
    assert report.status != "failed" or claimed <= RAISES, describe(report)
    assert runtime_codes(report) == expected, describe(report)


@pytest.mark.parametrize(
    "path",
    quick_form([p for p in BUGGY if {c for _, c in expected_findings(p)} & {"TRN001", "TRN002"}]),
)
def test_buggy_trn001_trn002_loss_curve_differs_or_does_not_fall(path: Path, reports) -> None:
    """The curve itself shows the bug: judged on enough values, the loss does not fall by the
    verdict's threshold, or it diverges, or it departs from the fixed twin's. A "did not train"
    for another reason (a crash, too few values) proves nothing."""
    buggy, fixed = reports[path], reports[FIXTURES / "fixed" / path.name]
    assert buggy.status != "failed", describe(buggy)
    values = buggy.trend.values
    change = buggy.trend.relative_change
    does_not_fall = change is not None and change > -buggy.verdict.threshold
    diverges = not all(math.isfinite(v) for v in values)
    pairs = list(zip(values, fixed.trend.values, strict=False))
    gap = max((abs(b - f) / max(abs(f), 1e-12) for b, f in pairs), default=0.0)
    assert does_not_fall or diverges or gap > CURVE_GAP, (
        f"the loss changed by {change} over {len(values)} values and stays within {gap:.1%} "
        "of the fixed script's"
    )


@pytest.mark.parametrize("path", quick_form(QUIET))
def test_quiet_fixture_runs_without_runtime_finding(path: Path, reports) -> None:
    report = reports[path]
    assert report.status != "failed", describe(report)
    assert report.findings == [], describe(report)


@pytest.mark.parametrize("path", quick_form(BUGGY + FIXED + QUIET))
def test_static_and_runtime_findings_agree(path: Path, reports) -> None:
    report = reports[path]
    assert report.static_error is None, report.static_error
    static = {f.code for f in report.static or []} - set(STATIC_ONLY)
    assert static == runtime_codes(report), describe(report)

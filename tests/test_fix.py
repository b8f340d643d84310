"""`--fix`, proven on the fixtures and shown never to corrupt a file.

Every buggy fixture is fixed (unsafe fixes included) into a script that
- lints clean, the fixed findings being exactly its `# expect:` lines;
- is its hand-written fixed twin, or, where the twin chose another valid fix, runs exactly like
  it: the same steps, backward passes and loss at every step, and no runtime finding;
- trains: run under `lint-train verify`, its loss falls by the verdict's threshold (a GAN's
  losses, which trade off, pass the adversarial verdict instead: each moves, both optimizers
  step).
The one fixture the autofix leaves alone says why in its finding.

Then the file handling: line endings, byte-order mark, encoding cookie and mode bits are kept,
fixing twice changes nothing, `--diff` writes nothing, a fix whose result would not compile
leaves the file untouched and says why, and `# noqa` or the safety level keep a fix from being
applied.
"""

from __future__ import annotations

import ast
import codecs
import shutil
import stat
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    expected_findings,
    fix_outcome,
    quick_form,
    require,
    selected,
    verify_all,
)

from lint_train.cli import main
from lint_train.engine import lint_source
from lint_train.fix import FixOutcome, fix_file, fix_source
from lint_train.rules import (
    trn001_missing_zero_grad,
    trn002_missing_optimizer_step,
    trn006_zero_grad_before_step,
)
from lint_train.rules.fixes import BEFORE, Edit, Fix

BUGGY = sorted((FIXTURES / "buggy").glob("*.py"))

MODEL_OUTPUT = (
    "the probabilities come from a variable, a layer or a model whose output other code may "
    "use; removing the activation there changes what they get"
)
# Buggy fixtures without a fix, and the reason their finding gives.
NOT_FIXABLE = {
    # One loop runs both phases (`for phase in ("train", "val")`): switching to train mode
    # before its forward pass would run the validation phase in training mode too.
    "trn005_phase_loop": "the forward pass in this loop also runs when it does not train",
    # Only the full-precision branch lacks its step; where it goes there is the author's call.
    "trn002_amp_branch_steps_plain_branch_forgets": (
        "where the step goes on the path without one is for the author to say (after any "
        "unscaling or clipping done there)"
    ),
    # The softmax (or sigmoid) is the model's own last layer: removing it changes what the
    # model returns to every other caller.
    "trn009_sequential_ends_in_softmax": MODEL_OUTPUT,
    "trn009_forward_ends_in_sigmoid": MODEL_OUTPUT,
}
# TRN006 offers no fix: where the clear belongs is for the author to say.
NOT_FIXABLE.update(
    dict.fromkeys(
        (
            "trn006_clear_between_backward_and_step",
            "trn006_update_helper_clears_first",
            "trn006_accumulation_clears_every_micro_batch",
            "trn006_accumulation_clear_after_the_if",
            "trn006_accelerate_model_zero_grad_in_window",
            "trn006_accelerate_model_zero_grad_at_micro_batch_start",
        ),
        trn006_zero_grad_before_step.NO_FIX,
    )
)
# One helper clears both models: the backward passes before and after it are not told apart.
NOT_FIXABLE["trn002_shared_reset_helper_g_never_stepped"] = (
    trn002_missing_optimizer_step.SHARED_CLEAR_NO_FIX
)
FIXABLE = [p for p in BUGGY if p.stem not in NOT_FIXABLE]

# Fixtures whose autofix is, statement for statement, the hand-written fixed twin (comments,
# formatting and the module docstring aside). For every other fixture the twin chose another
# valid fix, given here; those are compared with their twin at runtime instead.
SAME_AS_TWIN = {
    "trn004_model_moved_where_built",
    "trn004_python2_super_evaluated_after_training",
    "trn004_collect_scores_named_for_what_it_returns",
    "trn004_validated_every_few_epochs_then_tested",
    "trn003_graph_net_full_batch_test",
    "trn001_grad_accumulation_never_cleared",
    "trn001_scaler_branch_accumulates_plain_branch_forgets",
    "trn001_second_phase_starts_with_stale_grads",
    "trn002_amp_scaler_update_without_step",
    "trn002_gan_d_cleared_never_stepped",
    "trn002_logs_gradient_norms",
    "trn002_grad_accumulation_step_missing",
    "trn002_lbfgs_closure_called_directly",
    "trn002_nanogpt_while_loop",
    "trn002_plain_loop_only_scheduler_step",
    "trn002_torch_alias_imports",
    "trn002_train_one_epoch_helper",
    "trn002_use_amp_branch_never_steps",
    "trn003_alias_torch_as_t",
    "trn003_script_val_loop",
    "trn004_module_predict",
    "trn009_softmax_into_cross_entropy",
    "trn010_epoch_scheduler_at_top",
    "trn007_running_loss_keeps_graph",
    "trn010_per_batch_scheduler_before_step",
    "trn005_baseline_evaluation_before_training",
}
OTHER_FIX = {
    "trn004_accuracy_helper_given_a_module": "twin switches and wraps the module in the caller; "
    "the fix edits the helper",
    "trn004_new_model_loaded_then_evaluated": "twin decorates test() and calls eval() after the "
    "load; the fix wraps the loop and calls eval() before it",
    "trn001_accumulation_clears_on_another_interval": "twin tests the step's interval for the "
    "clear; the fix clears after the step",
    "trn001_accumulation_clear_but_step_every_batch": "twin replaces the window-start clear with "
    "one every batch; the fix adds one before the backward pass",
    "trn001_accelerate_zero_grad_before_loop": "twin moves the clear from before the loop",
    "trn001_amp_grad_scaler": "twin clears at the top of the iteration",
    "trn001_grads_wiped_by_new_tensors_before_loop": "twin runs its own wiping helper after "
    "each step",
    "trn001_amp_unscale_before_clipping": "twin moves the clear from before the loop",
    "trn001_clears_encoder_not_head": "twin clears the optimizer instead of the encoder",
    "trn001_optimizer_from_factory": "twin moves the clear from before the loop",
    "trn001_gan_clears_only_g": "twin clears before the discriminator's forward pass",
    "trn005_step_helper_after_predict_helper": "twin switches to train mode in the training "
    "helper; the fix does it in the epoch loop",
    "trn001_lbfgs_closure_forgets_zero_grad": "twin clears at the top of the closure",
    "trn001_nanogpt_while_loop": "twin clears after the step, not before the micro-batches",
    "trn001_plain_loop_zero_grad_before_loop": "twin moves the clear from before the loop",
    "trn001_split_helpers_zero_grad_before_loop": "twin clears in the update helper",
    "trn001_torch_alias_imports": "twin sets `p.grad = None` over the parameters",
    "trn001_train_one_epoch_cleared_per_epoch": "twin moves the per-epoch clear into the helper",
    "trn001_trainer_class_methods": "twin calls `self.model.zero_grad()` in train_step",
    "trn001_use_amp_branch_clears_only_amp": "twin clears before the forward pass",
    "trn002_split_helpers_update_skips_step": "twin steps inside the update helper",
    "trn002_trainer_class_methods": "twin steps inside train_step",
    "trn003_bare_no_grad_call": "twin turns the bare `torch.no_grad()` call into the `with`",
    "trn003_caller_wraps": "twin wraps the caller's call to evaluate()",
    "trn003_contextmanager": "twin uses a context manager of its own",
    "trn003_custom_decorator": "twin uses a decorator of its own",
    "trn003_estimate_loss_while": "twin decorates the function",
    "trn003_from_import_no_grad": "twin decorates the function with an imported `no_grad`",
    "trn003_helpers_evaluate": "twin decorates the function",
    "trn003_inline_set_grad_enabled": "twin uses `torch.set_grad_enabled(False)`",
    "trn003_trainer_inference_mode": "twin decorates with `torch.inference_mode()`",
    "trn004_eval_undone_by_train": "twin also drops the caller's now useless `model.eval()`",
    "trn004_helpers_evaluate": "twin switches to eval mode one statement earlier",
    "trn004_inference_mode_alias": "twin calls `model.train(False)`",
    "trn004_inline_every_n": "twin restores train mode after evaluating, not before training",
    "trn004_predictor_init": "twin switches to eval mode once, in __init__",
    "trn004_script_val_loop": "twin switches to eval mode before the `with` block",
    "trn004_trainer_train_mode_false": "twin calls `train(mode=False)` before the `with` block",
    "trn005_estimate_loss_while": "twin restores train mode at the end of the evaluation",
    "trn005_helpers_evaluate": "twin switches to train mode one statement earlier",
    "trn005_inline_every_n": "twin restores train mode after evaluating, not before training",
    "trn005_save_restore": "twin saves and restores the mode around the evaluation",
    "trn005_script_val_loop": "twin switches to train mode at the top of the epoch",
    "trn005_train_false_switch": "twin moves the one `model.train()` into the epoch loop",
    "trn005_trainer_class": "twin switches to train mode one statement earlier",
    "trn005_validation_at_epoch_start": "twin moves the one `model.train()` into the epoch "
    "loop, after the validation",
    "trn005_freeze_option_finetune_never_trains": "twin switches to train mode on the other way "
    "of the `if`",
    "trn004_flag_parameter_default_keeps_train_mode": "twin adds the way that sets eval mode "
    "when `train` is false",
    "trn004_eval_flag_off_by_default": "twin makes eval mode the flag's default",
    # The analysis treats a bare `opt.zero_grad` as no clear, so TRN001 fires as well and its
    # fix adds a second, redundant clear next to the one the parentheses bring to life.
    "trn008_zero_grad_without_parens": "twin only adds the parentheses (no second clear)",
    "trn008_eval_without_parens": "twin only adds the parentheses (no second `model.eval()`)",
    "trn007_epoch_losses_list": "twin keeps `loss.item()`, not `loss.detach()`",
    "trn007_retain_graph_keeps_activations": "twin keeps `loss.item()`, not `loss.detach()`",
    "trn011_init_weights_without_no_grad": "twin decorates `_init_weights` with no_grad",
    "trn011_manual_sgd_without_no_grad": "twin wraps the whole loop over the parameters",
}
TOLERANCE = 1e-5  # the same operations in the same order on one thread agree to rounding


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _outcome(path: Path) -> FixOutcome:
    """The fixture fixed with every fix, unsafe ones included (computed once a fixture)."""
    return fix_outcome(path)


def _fixed(path: Path) -> str:
    outcome = _outcome(path)
    assert outcome.after is not None, outcome.rejected
    return outcome.after


def _normalised(text: str) -> str:
    """The code without comments, formatting and module docstring."""
    tree = ast.parse(text)
    if tree.body and isinstance(tree.body[0], ast.Expr):
        tree.body = tree.body[1:]
    return ast.unparse(tree)


# The proof on the fixtures ------------------------------------------------------------------
@pytest.mark.parametrize("path", BUGGY, ids=_ids(BUGGY))
def test_fixing_starts_from_the_findings_the_linter_reports(path: Path) -> None:
    # fix.py lints with the reports (and their fixes) kept; it must find what the engine finds.
    text = path.read_text(encoding="utf-8")
    assert fix_source(text, path=str(path), wanted=lambda f: False).remaining == lint_source(
        text, str(path)
    )


def test_every_other_fix_is_explained() -> None:
    stems = {p.stem for p in FIXABLE}
    assert SAME_AS_TWIN | set(OTHER_FIX) == stems
    assert not SAME_AS_TWIN & set(OTHER_FIX)


@pytest.mark.parametrize("path", BUGGY, ids=_ids(BUGGY))
def test_buggy_fixture_offers_a_fix_or_says_why_not(path: Path) -> None:
    findings = lint_source(path.read_text(encoding="utf-8"), str(path))
    assert findings
    for finding in findings:
        if path.stem in NOT_FIXABLE:
            assert not finding.fixable
            assert finding.fix_applicability is None
            assert finding.fix_message == NOT_FIXABLE[path.stem]
        else:
            assert finding.fixable, finding.fix_message
            assert finding.fix_applicability in ("safe", "unsafe")


@pytest.mark.parametrize("path", FIXABLE, ids=_ids(FIXABLE))
def test_autofix_leaves_nothing_to_report(path: Path) -> None:
    outcome = _outcome(path)
    assert outcome.after is not None, outcome.rejected
    assert outcome.rejected == []
    assert {(f.line, f.code) for f in outcome.fixed} == expected_findings(path)
    assert outcome.remaining == []
    assert lint_source(outcome.after) == []


@pytest.mark.parametrize("path", FIXABLE, ids=_ids(FIXABLE))
def test_autofix_is_the_fixed_twin_where_the_twin_made_the_same_fix(path: Path) -> None:
    same = _normalised(_fixed(path)) == _normalised((FIXTURES / "fixed" / path.name).read_text())
    assert same == (path.stem in SAME_AS_TWIN), OTHER_FIX.get(path.stem, "listed as the same")


def test_unfixable_fixture_is_left_as_it_is() -> None:
    outcome = _outcome(FIXTURES / "buggy" / "trn005_phase_loop.py")
    assert outcome.after is None
    assert [f.code for f in outcome.remaining] == ["TRN005"]


SAFE_FIXES = {"TRN001", "TRN003", "TRN007", "TRN008", "TRN011"}


@pytest.mark.parametrize("path", BUGGY, ids=_ids(BUGGY))
def test_safe_fixes_alone_fix_trn001_trn003_trn007_trn008_and_trn011(path: Path) -> None:
    # TRN001, TRN003, TRN007, TRN008 and TRN011 fixes are safe; TRN002, TRN004, TRN005, TRN010
    # fixes need --unsafe-fixes (TRN006 has none).
    outcome = fix_source(path.read_text(encoding="utf-8"), path=str(path))
    codes = {code for _, code in expected_findings(path)}
    assert outcome.changed == bool(codes & SAFE_FIXES)
    if outcome.changed:
        assert {f.code for f in outcome.fixed} == codes & SAFE_FIXES


# The runtime proof: every autofixed script trains, exactly like its fixed twin ------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    require("torch")
    from lint_train.config import Config
    from lint_train.runtime.verify import Options

    # Only the fixtures the selected tests read (conftest.quick_form: a few by default).
    fixable = selected(request)
    folder = tmp_path_factory.mktemp("autofixed")
    pairs = {}
    for path in fixable:
        target = folder / path.name
        target.write_text(_fixed(path), encoding="utf-8")
        pairs[path.stem] = (target, FIXTURES / "fixed" / path.name)
    # Preview on, so the runtime findings of rules in preview are looked for too. The options of
    # tests/test_runtime_fixtures.py, so the fixed twins' reports are shared with it.
    options = Options(
        max_steps=200, timeout=60, threads=1, static=True, config=Config(preview=True)
    )
    reports = verify_all([script for pair in pairs.values() for script in pair], options)
    return {stem: (reports[auto], reports[twin]) for stem, (auto, twin) in pairs.items()}


def _describe(report) -> str:  # type: ignore[no-untyped-def]
    findings = "; ".join(f"{f.code}: {f.message}" for f in report.findings) or "no finding"
    return f"{report.how}; {report.verdict.reason}; {findings}\n{report.error or ''}"


@pytest.mark.parametrize("path", quick_form(FIXABLE))
def test_autofixed_fixture_trains_without_runtime_finding(path: Path, runs) -> None:
    report, _ = runs[path.stem]
    assert report.status != "failed", _describe(report)
    assert report.findings == [], _describe(report)
    assert report.verdict.trained, _describe(report)


@pytest.mark.parametrize("path", quick_form(FIXABLE))
def test_autofixed_fixture_runs_exactly_like_its_fixed_twin(path: Path, runs) -> None:
    auto, twin = runs[path.stem]
    assert twin.findings == [], _describe(twin)
    assert (auto.steps, auto.backward_calls) == (twin.steps, twin.backward_calls)
    assert auto.trend.values == pytest.approx(twin.trend.values, rel=TOLERANCE)


# Files: nothing but the fix changes -----------------------------------------------------
PLAIN = FIXTURES / "buggy" / "trn001_plain_loop_zero_grad_before_loop.py"
UNSAFE_ONLY = FIXTURES / "buggy" / "trn002_plain_loop_only_scheduler_step.py"


def _copy(tmp_path: Path, source: Path = PLAIN, name: str | None = None) -> Path:
    target = tmp_path / (name or source.name)
    shutil.copyfile(source, target)
    return target


def test_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "crlf.py"
    target.write_bytes(PLAIN.read_bytes().replace(b"\n", b"\r\n"))
    assert fix_file(target).changed
    data = target.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert data.decode().replace("\r\n", "\n") == _fixed(PLAIN)


def test_byte_order_mark_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "bom.py"
    target.write_bytes(codecs.BOM_UTF8 + PLAIN.read_bytes())
    assert fix_file(target).changed
    data = target.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert not data[3:].startswith(codecs.BOM_UTF8)
    assert data[3:].decode() == _fixed(PLAIN)


def test_declared_encoding_is_kept(tmp_path: Path) -> None:
    text = "# -*- coding: latin-1 -*-\n# Données synthétiques, modèle minuscule.\n"
    target = tmp_path / "latin1.py"
    target.write_bytes(text.encode("latin-1") + PLAIN.read_bytes())
    assert fix_file(target).changed
    fixed = target.read_bytes().decode("latin-1")
    assert fixed == text + _fixed(PLAIN)


def test_a_cookie_naming_an_unknown_codec_is_fixed_byte_for_byte(tmp_path: Path) -> None:
    # Read as UTF-8 (the codec is a package's, registered at run time), written back so: the
    # cookie and the non-ASCII comment keep their bytes.
    text = "# -*- coding: future_fstrings -*-\n# Données synthétiques, modèle minuscule.\n"
    target = tmp_path / "cookie.py"
    target.write_bytes(text.encode() + PLAIN.read_bytes())
    assert fix_file(target).changed
    assert target.read_bytes() == (text + _fixed(PLAIN)).encode()


def test_file_mode_is_kept(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    target.chmod(0o751)
    assert fix_file(target).changed
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_a_symlink_stays_a_link_to_the_fixed_file(tmp_path: Path) -> None:
    real = _copy(tmp_path, name="real.py")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert fix_file(link).changed
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == _fixed(PLAIN)


def test_fixing_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    target = _copy(tmp_path, FIXTURES / "buggy" / "trn004_inline_every_n.py")
    assert fix_file(target, unsafe=True).changed
    once = target.read_bytes()
    modified = target.stat().st_mtime_ns
    again = fix_file(target, unsafe=True)
    assert not again.changed
    assert again.remaining == []
    assert target.read_bytes() == once
    assert target.stat().st_mtime_ns == modified


def test_fix_whose_result_would_not_compile_leaves_the_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A broken fix: `return` where the loop runs at module level. libcst parses it; Python
    # does not compile it.
    def broken(layout, loop, opt, stale):  # type: ignore[no-untyped-def]
        edit = Edit(BEFORE, layout.statement(loop.node), "return")
        return Fix("insert `return`", True, (edit,))

    monkeypatch.setattr(trn001_missing_zero_grad, "_fix", broken)
    target = _copy(tmp_path)
    before = target.read_bytes()
    outcome = fix_file(target)
    assert not outcome.changed
    (finding, reason), *_ = outcome.rejected
    assert finding.code == "TRN001"
    assert "would not compile" in reason and "'return' outside function" in reason
    assert target.read_bytes() == before
    assert main(["--fix", "--no-cache", str(target)]) == 1
    err = capsys.readouterr().err
    assert "not fixed: the fixed code would not compile" in err
    assert target.read_bytes() == before


TWO_LOOPS = """\
import torch
from torch import nn


def main():
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(2), torch.randn(1))]
    for a, y in loader:
        loss = (model(a) - y).pow(2).sum()
        loss.backward()
        optimizer.step()
    for b, y in loader:
        loss = (model(b) - y).pow(2).sum()
        loss.backward()
        optimizer.step()
"""


def test_a_failing_fix_does_not_hold_back_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    real = trn001_missing_zero_grad._fix

    def broken_for_the_first_loop(layout, loop, opt, stale):  # type: ignore[no-untyped-def]
        if layout.code(loop.node).startswith("for a"):
            edit = Edit(BEFORE, layout.statement(loop.node), "break")
            return Fix("insert `break`", True, (edit,))
        return real(layout, loop, opt, stale)

    monkeypatch.setattr(trn001_missing_zero_grad, "_fix", broken_for_the_first_loop)
    outcome = fix_source(TWO_LOOPS)
    # Each finding is on its loop's `optimizer.step()`.
    assert [f.line for f in outcome.fixed] == [16]
    ((finding, reason),) = outcome.rejected
    assert finding.line == 12 and "'break' outside loop" in reason
    assert outcome.after == TWO_LOOPS.replace(
        "(model(b) - y).pow(2).sum()\n",
        "(model(b) - y).pow(2).sum()\n        optimizer.zero_grad()\n",
    )
    assert [f.line for f in outcome.remaining] == [12]


def test_file_changed_while_fixing_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lint_train.fix as fix_module

    target = _copy(tmp_path)
    real = fix_module.fix_source

    def edit_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = real(*args, **kwargs)
        target.write_text("# edited by someone else\n", encoding="utf-8")
        return outcome

    monkeypatch.setattr(fix_module, "fix_source", edit_meanwhile)
    outcome = fix_file(target)
    assert outcome.error is not None and "changed while" in outcome.error
    assert target.read_text(encoding="utf-8") == "# edited by someone else\n"


# The command line ---------------------------------------------------------------------------
def test_diff_prints_the_change_writes_nothing_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _copy(tmp_path)
    before = target.read_bytes()
    assert main(["--diff", "--no-cache", str(target)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"--- a/{target}\n+++ b/{target}\n@@ ")
    assert "+            optimizer.zero_grad()\n" in out
    assert "Would fix 1 problem in 1 file" in err
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_diff_with_nothing_to_fix_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _copy(tmp_path, FIXTURES / "fixed" / PLAIN.name)
    assert main(["--diff", "--no-cache", str(target)]) == 0
    assert capsys.readouterr().out == ""


def test_fix_rewrites_in_place_and_reports_what_remains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixable = _copy(tmp_path)
    unfixable = _copy(tmp_path, FIXTURES / "buggy" / "trn005_phase_loop.py")
    assert main(["--fix", "--unsafe-fixes", "--no-cache", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert fixable.read_text(encoding="utf-8") == _fixed(PLAIN)
    assert out.startswith(f"{unfixable}:44:36: TRN005")
    assert "Fixed 1 problem in 1 file; 1 remaining." in err
    assert main(["--fix", "--unsafe-fixes", "--no-cache", str(fixable)]) == 0


def test_unsafe_fixes_need_their_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = _copy(tmp_path, UNSAFE_ONLY)
    before = target.read_bytes()
    assert main(["--no-cache", str(target)]) == 1
    assert (
        "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)."
        in capsys.readouterr().err
    )
    assert main(["--fix", "--no-cache", str(target)]) == 1
    assert target.read_bytes() == before
    capsys.readouterr()
    assert main(["--fix", "--unsafe-fixes", "--no-cache", str(target)]) == 0
    assert target.read_bytes() != before


def test_summary_counts_the_fixable_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _copy(tmp_path)
    _copy(tmp_path, UNSAFE_ONLY)
    assert main(["--no-cache", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert (
        "[*] 1 fixable with the `--fix` option "
        "(1 hidden fix can be enabled with the `--unsafe-fixes` option)." in err
    )


def test_noqa_keeps_a_finding_from_being_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / PLAIN.name
    target.write_text(
        PLAIN.read_text(encoding="utf-8").replace("# expect: TRN001", "# noqa: TRN001"),
        encoding="utf-8",
    )
    before = target.read_bytes()
    assert main(["--fix", "--no-cache", str(target)]) == 0
    assert target.read_bytes() == before
    capsys.readouterr()


def test_json_says_what_the_fix_does_or_why_there_is_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    _copy(tmp_path)
    _copy(tmp_path, FIXTURES / "buggy" / "trn005_phase_loop.py")
    assert main(["--output-format", "json", "--no-cache", str(tmp_path)]) == 1
    fixable, unfixable = json.loads(capsys.readouterr().out)
    assert fixable["fixable"] is True
    assert fixable["fix"] == {
        "applicability": "safe",
        "message": "insert `optimizer.zero_grad()` before `loss.backward()`",
    }
    assert fixable["no_fix_reason"] is None
    assert unfixable["fixable"] is False
    assert unfixable["fix"] is None
    assert unfixable["no_fix_reason"] == NOT_FIXABLE["trn005_phase_loop"]


# Hostile input and bugs: the fixer takes the linter's guarded path ---------------------------
LOOP = (
    "for x, y in loader:\n"
    "    loss = model(x).sub(y).pow(2).mean()\n"
    "    loss.backward()\n"
    "    opt.step()\n"
)  # TRN001, fixed safely by `opt.zero_grad()` before the backward pass


def _deep_but_valid() -> dict[str, str]:
    chain = "if k == 0:\n    pass\n" + "".join(
        f"elif k == {i}:\n    pass\n" for i in range(1, 1500)
    )
    return {
        "sum.py": "import torch\nv = " + " + ".join(["a"] * 900) + "\n" + LOOP,
        "chain.py": "import torch\n" + chain + LOOP,
        "brackets.py": "import torch\nv = " + "(" * 150 + "a" + ")" * 150 + "\n" + LOOP,
    }


@pytest.mark.parametrize("name", sorted(_deep_but_valid()))
def test_deep_but_valid_code_is_fixed_like_it_is_linted(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, the fixer parsed and analysed on the main thread: "too deeply nested to
    # analyse" for the sum, and the elif chain's fix silently not made.
    target = tmp_path / name
    target.write_text(_deep_but_valid()[name], encoding="utf-8")
    assert main(["--fix", "--no-cache", str(target)]) == 0
    assert "    opt.zero_grad()\n    loss.backward()\n" in target.read_text(encoding="utf-8")
    assert "error" not in capsys.readouterr().err


def test_text_nested_too_deeply_is_refused_before_parsing(tmp_path: Path) -> None:
    from lint_train.source import SourceError

    text = "import torch\nv = " + "[" * 3000 + "]" * 3000 + "\n" + LOOP
    with pytest.raises(SourceError):
        fix_source(text)
    target = tmp_path / "deep.py"
    target.write_text(text, encoding="utf-8")
    outcome = fix_file(target)
    assert (
        outcome.error == "not analysed: more than 200 nested brackets (Python's own limit) (line 2)"
    )
    assert target.read_text(encoding="utf-8") == text


def _cli_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    (tmp_path / "a.py").write_text("import torch\n" + LOOP, encoding="utf-8")
    (tmp_path / "b.py").write_text("import torch\n\n" + LOOP, encoding="utf-8")
    code = main(["--fix", "--no-cache", *args, str(tmp_path / "a.py"), str(tmp_path / "b.py")])
    err = capsys.readouterr().err
    assert "Traceback" not in err or "--debug" in args
    return code, err


def _fixed_on_disk(path: Path) -> bool:
    return "opt.zero_grad()" in path.read_text(encoding="utf-8")


def test_a_rule_failing_on_the_file_still_lets_the_others_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lint_train.rules as rules
    from lint_train.rules import Rule
    from lint_train.types import RuleInfo

    def failing(model: object) -> list[object]:
        raise KeyError("boom")

    real = rules.all_rules
    broken = Rule(RuleInfo("TRN999", "broken", "fails"), failing)  # type: ignore[arg-type]
    monkeypatch.setattr(rules, "all_rules", lambda: [*real(), broken])
    code, err = _cli_run(tmp_path, capsys)
    assert code == 2
    assert [line for line in err.splitlines() if "error" in line] == [
        f"{tmp_path / name}: error: internal error in rule TRN999 (KeyError: 'boom'); this is "
        "a bug in lint-train, please report it (--debug shows more)"
        for name in ("a.py", "b.py")
    ]  # the linter's line, once per file: the fixer does not repeat it
    assert _fixed_on_disk(tmp_path / "a.py") and _fixed_on_disk(tmp_path / "b.py")


def test_a_bug_in_applying_a_fix_costs_that_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lint_train.fix as fix

    def explode(module: object, edits: object) -> None:
        raise TypeError("bad edit")

    monkeypatch.setattr(fix, "_apply", explode)
    code, err = _cli_run(tmp_path, capsys)
    assert code == 1
    reasons = [
        "[not fixed" + line.split("[not fixed", 1)[1]
        for line in err.splitlines()
        if "[not fixed" in line
    ]
    why = (
        "[not fixed: internal error in applying the fix (TypeError: bad edit); this is a bug "
        "in lint-train, please report it (--debug shows more)]"
    )
    assert reasons == [why, why]
    assert not _fixed_on_disk(tmp_path / "a.py")


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_in_the_fixer_is_one_line_per_file_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], debug: bool
) -> None:
    import lint_train.fix as fix

    real = fix._compiles

    def explode(text: str, path: str) -> bool:
        if path.endswith("a.py"):
            raise TypeError("bug")
        return real(text, path)

    monkeypatch.setattr(fix, "_compiles", explode)
    code, err = _cli_run(tmp_path, capsys, *(["--debug"] if debug else []))
    assert code == 2
    assert [line for line in err.splitlines() if ": error: " in line] == [
        f"{tmp_path / 'a.py'}: error: fixes not applied: internal error in the fixer "
        "(TypeError: bug); this is a bug in lint-train, please report it (--debug shows more)"
    ]
    assert ("Traceback" in err) == debug
    assert not _fixed_on_disk(tmp_path / "a.py")
    assert _fixed_on_disk(tmp_path / "b.py")

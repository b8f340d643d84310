"""Training-step methods whose loop is in another module (analysis/repeated.py): a method that
steps (or clears) an optimizer its object holds, called once per iteration of a driver's loop
elsewhere, is judged in that loop's light, in the method, where the fix belongs; the driver's
own clears and steps, and a single call, keep it quiet."""

from __future__ import annotations

from pathlib import Path

from conftest import copy_project as _copy
from conftest import edit_file as _edit
from conftest import project_findings as _found

from lint_train.engine import check_files
from lint_train.fix import fix_file


def test_a_learner_called_in_a_loop_elsewhere_is_reported_in_its_method(tmp_path: Path) -> None:
    root = _copy("agent_learn_missing_zero_grad", tmp_path)
    assert _found(root, "policy.py") == [("policy.py", 25, "TRN001")]
    result = check_files([str(root / "policy.py")])[0]
    assert "`learn`, which the loop at run.py:10 makes once per iteration" in (
        result.findings[0].message
    )
    assert _found(root, "run.py") == []


def test_without_the_loop_that_calls_it_the_method_is_one_step(tmp_path: Path) -> None:
    """The same policy.py with its driver calling `learn` once, or with no driver at all."""
    root = _copy("agent_learn_missing_zero_grad", tmp_path)
    _edit(root / "run.py", "for episode in range(200):", "for episode in [0]:\n    pass\nif 1:")
    assert _found(root, ".") == []
    (root / "run.py").unlink()
    assert _found(root, ".") == []


def test_the_fix_clears_in_the_method_before_its_backward_pass(tmp_path: Path) -> None:
    root = _copy("agent_learn_missing_zero_grad", tmp_path)
    outcome = fix_file(root / "policy.py", write=True)
    assert [f.code for f in outcome.fixed] == ["TRN001"]
    text = (root / "policy.py").read_text(encoding="utf-8")
    assert "        self.optimizer.zero_grad()\n        loss.backward()\n" in text
    assert _found(root, ".") == []


def test_a_trainer_step_that_never_steps_is_reported_at_its_backward_pass(tmp_path: Path) -> None:
    root = _copy("trainer_step_missing_step", tmp_path)
    assert _found(root, ".") == [("trainer.py", 16, "TRN002")]
    message = check_files([str(root / "trainer.py")])[0].findings[0].message
    assert "in `train_step` (which the loop at fit.py:16 calls once per iteration)" in message


def test_a_driver_that_clears_now_and_then_decides_the_gradients(tmp_path: Path) -> None:
    root = _copy("trainer_step_cleared_by_driver", tmp_path)
    assert _found(root, ".") == []
    _edit(root / "loop.py", "        trainer.optimizer.zero_grad()\n", "        pass\n")
    assert _found(root, ".") == [("trainer.py", 17, "TRN001")]


def test_a_driver_that_steps_after_each_call_decides_the_step(tmp_path: Path) -> None:
    root = _copy("agent_update_stepped_by_driver", tmp_path)
    assert _found(root, ".") == []
    _edit(root / "driver.py", "    value_opt.step()\n", "")
    assert _found(root, ".") == [("critic.py", 16, "TRN002")]


def test_a_driver_calling_another_method_that_clears_decides_too(tmp_path: Path) -> None:
    root = _copy("agent_learn_missing_zero_grad", tmp_path)
    _edit(
        root / "policy.py",
        "    def learn(",
        "    def reset(self):\n        self.optimizer.zero_grad()\n\n    def learn(",
    )
    _edit(
        root / "run.py", "    if episode % 2 == 0:", "    learner.reset()\n    if episode % 2 == 0:"
    )
    assert _found(root, ".") == []


def test_a_method_called_once_is_quiet_and_reported_once_called_in_a_loop(
    tmp_path: Path,
) -> None:
    root = _copy("trainer_step_called_once", tmp_path)
    assert _found(root, ".") == []
    _edit(
        root / "calibrate.py",
        "print(tuner.adapt(torch.randn(12, 5), torch.randn(12, 2)))",
        "for _ in range(3):\n    print(tuner.adapt(torch.randn(12, 5), torch.randn(12, 2)))",
    )
    assert _found(root, ".") == [("tuner.py", 17, "TRN001")]


def test_editing_the_driver_rechecks_the_cached_method(tmp_path: Path) -> None:
    root = _copy("trainer_step_cleared_by_driver", tmp_path)
    files = [str(root / "trainer.py")]
    assert check_files(files, cache_root=root)[0].findings == ()
    assert check_files(files, cache_root=root)[0].findings == ()  # from the cache
    _edit(root / "loop.py", "        trainer.optimizer.zero_grad()\n", "        pass\n")
    assert [f.code for f in check_files(files, cache_root=root)[0].findings] == ["TRN001"]


def test_a_loop_handing_the_object_to_unseen_code_decides_unless_it_only_evaluates(
    tmp_path: Path,
) -> None:
    """`evaluate(learner)` does not train it; `adjust(learner)` may clear its gradients."""
    root = _copy("agent_learn_missing_zero_grad", tmp_path)
    (root / "helpers.py").write_text(
        "def evaluate(learner):\n    return 0.0\n\n\ndef adjust(learner):\n    return None\n",
        encoding="utf-8",
    )
    _edit(
        root / "run.py",
        "from policy import Learner\n",
        "from helpers import adjust, evaluate\nfrom policy import Learner\n",
    )
    _edit(
        root / "run.py",
        "    returns = torch.randn(20)\n",
        "    returns = torch.randn(20)\n    print(evaluate(learner))\n",
    )
    assert _found(root, ".") == [("policy.py", 25, "TRN001")]
    _edit(root / "run.py", "    print(evaluate(learner))\n", "    adjust(learner)\n")
    assert _found(root, ".") == []


def test_a_name_built_from_either_of_two_classes_calls_both_methods() -> None:
    from lint_train.loop_callers import loop_callers, parse

    driver = (
        "from agents import Fast, Slow\n"
        "if quick:\n"
        "    agent = Fast()\n"
        "else:\n"
        "    agent = Slow()\n"
        "for t in range(9):\n"
        "    agent.learn(t)\n"
    )
    found = loop_callers(
        parse(driver), "run.py", {"Fast": frozenset({"learn"}), "Slow": frozenset({"learn"})}
    )
    assert sorted(found) == ["Fast.learn", "Slow.learn"]
    assert {c.where for c in found.values()} == {"run.py:6"}
    clearing = driver + "    agent.optimizer.zero_grad()\n"
    assert loop_callers(parse(clearing), "run.py", {"Fast": frozenset({"learn"})}) == {}

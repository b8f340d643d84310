"""Objects across modules: what a factory of another module returns is judged by the class
bodies it builds (a metric module with no mode-sensitive layer is quiet, one with dropout is
not, one out of view stays sensitive), and the methods of a class that is not a module (an
agent holding networks) are judged by the callers that hold the object, as functions are. The
cached result of a caller follows edits of the factory's and the class's modules."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES
from conftest import copy_project as _copy
from conftest import edit_file as _edit
from conftest import project_findings as _found

from lint_train.cli import main
from lint_train.engine import check_files, lint_paths


# Factories -------------------------------------------------------------------------------
def test_metric_modules_a_factory_elsewhere_returns_are_judged_by_their_classes(
    tmp_path: Path,
) -> None:
    root = _copy("factory_metric_mode_free", tmp_path)
    assert _found(root, ".") == []
    assert _found(root, "train.py") == []
    # Dropout in the similarity measure: the names unpacked from the factory's tuple, and
    # the measure a factory picks among two classes, are each judged by their own classes.
    _edit(
        root / "quality.py",
        "        self.register_buffer(",
        "        self.drop = nn.Dropout(0.1)\n        self.register_buffer(",
    )
    expected = [("train.py", 27, "TRN004"), ("train.py", 28, "TRN004")]
    assert _found(root, "train.py") == expected
    messages = [f.message for f in lint_paths([str(root / "train.py")]).findings]
    assert any("`ssim_model`" in m for m in messages)
    assert not any("`psnr_model`" in m for m in messages)


def test_a_factory_returning_what_is_not_in_view_stays_sensitive(tmp_path: Path) -> None:
    root = _copy("factory_metric_mode_free", tmp_path)
    _edit(
        root / "helpers.py", "    ssim = WindowedSimilarity()\n", "    ssim = REGISTRY['ssim']()\n"
    )
    assert _found(root, "train.py") == [("train.py", 27, "TRN004")]


def test_a_factory_that_moves_what_it_built_still_returns_that_object(tmp_path: Path) -> None:
    root = _copy("factory_metric_mode_free", tmp_path)
    moved = "    psnr = psnr.to(device)\n    ssim = ssim.cuda()\n    return psnr, ssim\n"
    _edit(root / "helpers.py", "    return psnr, ssim\n", moved)
    _edit(root / "helpers.py", "peak=1.0)", "peak=1.0, device='cpu')")
    assert _found(root, "train.py") == []
    # Moving keeps the object: a class with dropout behind the move is still judged.
    _edit(
        root / "quality.py",
        "        self.register_buffer(",
        "        self.drop = nn.Dropout(0.1)\n        self.register_buffer(",
    )
    assert ("train.py", 28, "TRN004") in _found(root, "train.py")


def test_a_factory_that_sets_the_mode_does_not_return_a_fresh_object(tmp_path: Path) -> None:
    """`m = Net(); m.eval(); return m`: the object is not in training mode as a constructor
    leaves it, so nothing says its evaluation runs in training mode."""
    root = _copy("factory_dropout_elsewhere", tmp_path)
    _edit(
        root / "helpers.py",
        "    ssim = WindowedSimilarity()\n",
        "    ssim = WindowedSimilarity()\n    ssim.eval()\n",
    )
    assert _found(root, "train.py") == [("train.py", 28, "TRN004")]


def test_an_object_a_factory_makes_of_a_class_that_is_no_module_is_no_model(
    tmp_path: Path,
) -> None:
    root = _copy("factory_dropout_elsewhere", tmp_path)
    _edit(root / "quality.py", "class WindowedSimilarity(nn.Module):", "class WindowedSimilarity:")
    _edit(
        root / "quality.py",
        "        super().__init__()\n        self.register_buffer",
        "        self.register_buffer",
    )
    assert _found(root, "train.py") == [("train.py", 28, "TRN004")]
    # A base from a library may still be a module of some framework: not said to be none.
    _edit(root / "quality.py", "class WindowedSimilarity:", "class WindowedSimilarity(Base):")
    _edit(root / "quality.py", "import torch\n", "import torch\nfrom somelib import Base\n")
    assert _found(root, "train.py") == [("train.py", 27, "TRN004"), ("train.py", 28, "TRN004")]


def test_editing_the_class_a_factory_builds_rechecks_the_caller(tmp_path: Path) -> None:
    root = _copy("factory_metric_mode_free", tmp_path)
    files = [str(root / "train.py")]
    assert check_files(files, cache_root=root)[0].findings == ()
    assert check_files(files, cache_root=root)[0].findings == ()  # from the cache
    # quality.py is two imports away: train.py -> helpers.py -> quality.py.
    shutil.copy(FIXTURES / "projects" / "factory_dropout_elsewhere" / "quality.py", root)
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [27, 28]


def test_editing_the_factory_rechecks_the_caller(tmp_path: Path) -> None:
    root = _copy("factory_dropout_elsewhere", tmp_path)
    files = [str(root / "train.py")]
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [27, 28]
    _edit(
        root / "helpers.py", "    return WindowedSimilarity()\n", "    return PeakSignalToNoise()\n"
    )
    _edit(
        root / "helpers.py", "    ssim = WindowedSimilarity()\n", "    ssim = PeakSignalToNoise()\n"
    )
    assert check_files(files, cache_root=root)[0].findings == ()


# Methods of classes held by callers elsewhere ---------------------------------------------
def test_an_agent_s_own_eval_delegate_makes_its_evaluation_fine(tmp_path: Path) -> None:
    root = _copy("agent_held_by_caller", tmp_path)
    assert _found(root, ".") == []
    for name in ("agent.py", "main.py", "networks.py"):
        assert _found(root, name) == []
    # A delegate that does not reach the network evaluated leaves it in training mode, and
    # the callers with no way to set it: the fix belongs in the class, reported there once.
    _edit(root / "agent.py", "        self.online_net.eval()", "        self.target_net.eval()")
    assert _found(root, ".") == [("agent.py", 28, "TRN004")]
    assert _found(root, "main.py") == []
    assert _found(root, "agent.py") == [("agent.py", 28, "TRN004")]


def test_an_agent_evaluated_without_its_eval_is_reported_at_the_call(tmp_path: Path) -> None:
    root = _copy("agent_missing_eval", tmp_path)
    assert _found(root, ".") == [("main.py", 24, "TRN004")]
    (message,) = [f.message for f in lint_paths([str(root / "main.py")]).findings]
    assert "`Agent.evaluate_q` evaluates it at agent.py:28" in message
    # What the caller writes is the switch its agent offers, not a reach into the network.
    assert "call `agent.eval()` before this call" in message


def test_the_fix_at_the_call_uses_the_agent_s_own_eval_switch(tmp_path: Path) -> None:
    root = _copy("agent_missing_eval", tmp_path)
    assert main(["--no-cache", "--fix", "--unsafe-fixes", str(root / "main.py")]) == 0
    text = (root / "main.py").read_text(encoding="utf-8")
    assert "        agent.eval()\n        print(agent.evaluate_q(state))" in text
    assert "online_net.eval()" not in text


def test_a_mode_free_network_the_agent_holds_is_reported_nowhere(tmp_path: Path) -> None:
    """The class body in networks.py, built into the agent's attribute in agent.py, answers
    whether the mode matters; a network built from what is not in view still counts."""
    root = _copy("agent_missing_eval", tmp_path)
    _edit(root / "networks.py", ", nn.Dropout(0.2))", ")")
    assert _found(root, ".") == []
    assert _found(root, "main.py") == []
    old = "self.online_net = QNetwork(actions)"
    _edit(root / "agent.py", old, old.replace("QNetwork", "ZooNet"))
    _edit(root / "agent.py", "import torch\n", "import torch\nfrom zoo import ZooNet\n")
    assert _found(root, "main.py") == [("main.py", 24, "TRN004")]


AGENT_LOOP = """\
    def evaluate(self, states):
        total = 0.0
        with torch.no_grad():
            for state in states:
                total += self.online_net(state).max().item()
        return total
"""


def test_a_method_evaluating_in_a_loop_is_judged_by_the_callers_holding_the_object(
    tmp_path: Path,
) -> None:
    """Alone, the agent's evaluation loop is reported where it is; with callers that hold the
    agent in view, each call is judged with the caller's state instead."""
    root = _copy("agent_held_by_caller", tmp_path / "project")
    _edit(root / "agent.py", "    def train(self):\n", AGENT_LOOP + "\n    def train(self):\n")
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("pyproject.toml", "agent.py", "networks.py"):
        shutil.copy(root / name, alone)
    assert _found(alone, "agent.py") == [("agent.py", 34, "TRN004")]
    _edit(root / "main.py", "print(agent.evaluate_q(state))", "print(agent.evaluate([state]))")
    assert _found(root, ".") == []
    assert _found(root, "agent.py") == []
    _edit(root / "main.py", "        agent.eval()\n", "")
    assert _found(root, ".") == [("main.py", 25, "TRN004")]
    assert _found(root, "main.py") == [("main.py", 25, "TRN004")]


def test_editing_the_agent_s_class_rechecks_its_caller(tmp_path: Path) -> None:
    root = _copy("agent_held_by_caller", tmp_path)
    files = [str(root / "main.py")]
    assert check_files(files, cache_root=root)[0].findings == ()
    assert check_files(files, cache_root=root)[0].findings == ()  # from the cache
    # Its delegate now switches the network back to training mode: the caller's
    # `agent.eval()` no longer puts it in eval mode, and the call is reported.
    _edit(root / "agent.py", "        self.online_net.eval()", "        self.online_net.train()")
    _edit(
        root / "agent.py",
        "    def act(self",
        "    def set_eval(self):\n        self.online_net.eval()\n\n    def act(self",
    )
    assert [f.line for f in check_files(files, cache_root=root)[0].findings] == [26]


def test_a_constructor_that_sets_eval_mode_leaves_the_new_object_in_it(tmp_path: Path) -> None:
    """`Predictor(model)` whose `__init__` calls `self.model.eval()`: the caller's new object
    starts in eval mode, as constructing it in one file would leave it."""
    root = _copy("agent_missing_eval", tmp_path)
    _edit(
        root / "agent.py",
        "        self.optimiser = torch",
        "        self.online_net.eval()\n        self.optimiser = torch",
    )
    _edit(root / "main.py", "    agent.learn(", "    pass  # agent.learn(")
    assert _found(root, ".") == []
    assert _found(root, "main.py") == []
    # Switched back to training mode by the caller, it is reported again.
    _edit(root / "main.py", "    action = agent.act(state)\n", "    agent.train()\n")
    assert _found(root, "main.py") == [("main.py", 24, "TRN004")]


def test_a_class_only_derived_from_elsewhere_is_still_judged_in_its_own_module(
    tmp_path: Path,
) -> None:
    """Its methods are left to callers only where the class is constructed: a module that
    names it as a base class calls none of them."""
    root = _copy("agent_held_by_caller", tmp_path / "project")
    _edit(root / "agent.py", "    def train(self):\n", AGENT_LOOP + "\n    def train(self):\n")
    (root / "main.py").write_text(
        "from agent import Agent\n\n\nclass Greedy(Agent):\n    pass\n", encoding="utf-8"
    )
    assert _found(root, ".") == [("agent.py", 34, "TRN004")]


def test_a_method_its_callers_cannot_fix_is_reported_once_in_its_class(tmp_path: Path) -> None:
    """`AnomalyScorer.predict` runs `self.net` in training mode for every caller, and the class
    has no method that switches it: one finding, at the method, whichever file is checked."""
    root = _copy("held_detector_missing_eval", tmp_path)
    expected = [("scorer.py", 25, "TRN004")]
    assert _found(root, ".") == expected
    assert _found(root, "scorer.py") == expected
    assert _found(root, "examples/threshold.py") == []
    assert _found(root, "examples/fit_and_score.py") == []


def test_once_the_class_offers_an_eval_switch_its_callers_decide(tmp_path: Path) -> None:
    root = _copy("held_detector_missing_eval", tmp_path)
    _edit(
        root / "scorer.py",
        "    def predict(self, x):\n",
        "    def eval(self):\n        self.net.eval()\n        return self\n\n"
        "    def predict(self, x):\n",
    )
    # Callers that do not use it are each told to, at their call.
    assert _found(root, ".") == [("fit_and_score.py", 9, "TRN004"), ("threshold.py", 10, "TRN004")]
    (message,) = [f.message for f in lint_paths([str(root / "examples/threshold.py")]).findings]
    assert "`AnomalyScorer.predict` evaluates it at scorer.py:29" in message
    assert "call `scorer.eval()` before this call" in message
    _edit(
        root / "examples" / "threshold.py",
        "scorer.fit(train)\n",
        "scorer.fit(train)\nscorer.eval()\n",
    )
    assert _found(root, ".") == [("fit_and_score.py", 9, "TRN004")]


# Optimizer wrappers ----------------------------------------------------------------------
def test_a_wrapper_elsewhere_that_steps_its_optimizer_is_an_optimizer_step(
    tmp_path: Path,
) -> None:
    """`WarmupLRAdamOptimizer` (named like a scheduler) steps the Adam it holds: stepping it
    is the loop's optimizer step. Once its `step()` only writes the lr, it is not."""
    root = _copy("optimizer_wrapper_elsewhere", tmp_path)
    assert _found(root, ".") == []
    assert _found(root, "train.py") == []
    _edit(root / "optim_utils.py", "        self.optimizer.step()\n", "")
    assert _found(root, "train.py") == [("train.py", 16, "TRN002")]

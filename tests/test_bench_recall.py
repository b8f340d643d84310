"""bench/recall.py's own logic: which calls it would delete, that a mutant lacks exactly that
call, which deletions it can tell are not bugs, and when a mutant counts as found. The snippets
are written for these tests; the recall figures themselves live in docs/recall.md."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from recall import candidates, is_found, line_map, main, mutate, new_findings  # noqa: E402

LOOP = textwrap.dedent(
    """\
    import torch


    def fit(net, opt, batches, held_out, amp, scaler):
        for xb, yb in batches:
            opt.zero_grad()
            loss = net(xb).sum()  # the forward
            loss.backward()
            if amp:
                scaler.step(opt)
            else:
                opt.step()
            sched.step()
    """
)


def kinds(text: str) -> list[tuple[str, int, str]]:
    return [(c.kind, c.line, c.excluded) for c in candidates(textwrap.dedent(text))]


def removed_lines(before: str, after: str) -> list[str]:
    """The lines of `before` that `after` lacks, indentation aside."""
    kept = [line.strip() for line in after.splitlines()]
    return [line.strip() for line in before.splitlines() if line.strip() not in kept]


def test_candidates_are_the_calls_each_rule_protects() -> None:
    found = kinds(LOOP)
    assert [(kind, line) for kind, line, _ in found] == [
        ("zero_grad", 6),
        ("step", 10),
        ("step", 12),
    ]


def test_scheduler_steps_drivers_and_eval_with_arguments_are_not_candidates() -> None:
    text = """\
        lr_scheduler.step()
        env.step(action)
        trainer.train()
        expr.eval(frame)
        model.train(False)
        """
    assert kinds(text) == []


def test_deleting_a_statement_leaves_pass_and_nothing_else_changes() -> None:
    after = mutate(LOOP, 6, "zero_grad")
    assert removed_lines(LOOP, after) == ["opt.zero_grad()"]
    assert after.splitlines()[5] == "        pass"
    assert len(after.splitlines()) == len(LOOP.splitlines())


def test_deleting_one_step_of_two_keeps_the_other() -> None:
    after = mutate(LOOP, 12, "step")
    assert removed_lines(LOOP, after) == ["opt.step()"]
    assert "scaler.step(opt)" in after and "sched.step()" in after


def test_deleting_from_a_line_of_several_statements_keeps_its_neighbours() -> None:
    text = "opt.zero_grad(); out = net(x)\nout.sum().backward(); opt.step()\n"
    assert mutate(text, 1, "zero_grad") == "out = net(x)\nout.sum().backward(); opt.step()\n"
    assert mutate(text, 2, "step") == "opt.zero_grad(); out = net(x)\nout.sum().backward()\n"


def test_unwrapping_no_grad_keeps_its_body_dedented_and_its_comment() -> None:
    text = textwrap.dedent(
        """\
        def score(net, rows):
            # no autograd here
            with torch.no_grad():
                out = net(rows)
                return out.argmax(1)
        """
    )
    assert mutate(text, 3, "no_grad") == textwrap.dedent(
        """\
        def score(net, rows):
            # no autograd here
            out = net(rows)
            return out.argmax(1)
        """
    )


def test_unwrapping_keeps_the_other_context_managers() -> None:
    text = "with torch.inference_mode(), open(p) as f:\n    f.write(str(net(x)))\n"
    assert mutate(text, 1, "no_grad") == "with open(p) as f:\n    f.write(str(net(x)))\n"


def test_dropping_the_decorator_keeps_the_function() -> None:
    text = "@torch.no_grad()\n@staticmethod\ndef score(net, x):\n    return net(x)\n"
    assert mutate(text, 1, "no_grad") == "@staticmethod\ndef score(net, x):\n    return net(x)\n"


def test_a_second_clear_on_the_same_path_is_a_twin() -> None:
    text = """\
        for xb in batches:
            opt.zero_grad()
            if log:
                print(xb)
            opt.zero_grad()
            net(xb).sum().backward()
            opt.step()
        """
    assert all(reason.startswith("twin") for kind, _, reason in kinds(text) if kind == "zero_grad")


def test_a_clear_of_another_optimizer_is_no_twin() -> None:
    text = """\
        def update(batch):
            critic_opt.zero_grad()
            critic_loss(batch).backward()
            critic_opt.step()
            actor_opt.zero_grad()
            actor_loss(batch).backward()
            actor_opt.step()
        """
    assert [reason for kind, _, reason in kinds(text) if kind == "zero_grad"] == ["", ""]


def test_a_clear_after_a_backward_is_no_twin_of_the_clear_before_it() -> None:
    text = """\
        def update(batch):
            net.zero_grad()
            critic_loss(batch).backward()
            critic_opt.step()
            net.zero_grad()
            actor_loss(batch).backward()
            actor_opt.step()
        """
    assert [reason for kind, _, reason in kinds(text) if kind == "zero_grad"] == ["", ""]


def test_steps_of_one_scaler_on_two_optimizers_are_not_twins() -> None:
    text = """\
        for xb in batches:
            scaler.scale(g_loss(xb)).backward()
            scaler.step(g_opt)
            scaler.scale(d_loss(xb)).backward()
            scaler.step(d_opt)
            scaler.step(d_opt)
        """
    reasons = {line: reason for kind, line, reason in kinds(text) if kind == "step"}
    assert reasons[3] == ""
    assert reasons[5].startswith("twin") and reasons[6].startswith("twin")


def test_a_clear_on_one_branch_only_is_no_twin_of_the_loops_clear() -> None:
    text = """\
        for xb in batches:
            opt.zero_grad()
            if log:
                opt.zero_grad()
            net(xb).sum().backward()
            opt.step()
        """
    by_line = {line: reason for kind, line, reason in kinds(text) if kind == "zero_grad"}
    assert by_line[2] == ""  # the branch's clear does not run every time around
    assert by_line[4].startswith("twin")  # the loop's clear runs whenever the branch's does


def test_clears_in_the_two_arms_of_an_if_are_not_twins() -> None:
    text = """\
        for xb in batches:
            if amp:
                opt.zero_grad()
            else:
                opt.zero_grad()
            net(xb).sum().backward()
            opt.step()
        """
    assert [reason for kind, _, reason in kinds(text) if kind == "zero_grad"] == ["", ""]


def test_a_clear_before_a_loop_that_clears_itself_is_not_a_bug() -> None:
    text = """\
        def fit():
            opt.zero_grad()
            for xb in batches:
                opt.zero_grad()
                net(xb).sum().backward()
                opt.step()
        """
    reasons = {line: reason for kind, line, reason in kinds(text) if kind == "zero_grad"}
    assert reasons[2].startswith("a clear outside the loop")
    assert reasons[4] == ""


def test_a_clear_in_a_function_defined_inside_the_loop_is_no_twin() -> None:
    text = """\
        for xb in batches:
            def closure():
                opt.zero_grad()
            opt.zero_grad()
            net(xb).sum().backward()
            opt.step()
        """
    assert [reason for kind, line, reason in kinds(text) if line == 4] == [""]


def test_eval_twin_needs_no_train_call_between() -> None:
    twin = """\
        for epoch in range(9):
            net.eval()
            show(net)
            net.eval()
            check(net)
        """
    reset = """\
        for epoch in range(9):
            net.eval()
            show(net)
            net.train()
            net.eval()
            check(net)
        """
    assert [reason[:4] for kind, line, reason in kinds(twin) if line == 4] == ["twin"]
    assert [reason for kind, line, reason in kinds(reset) if line == 5] == [""]


def test_an_enclosing_no_grad_is_a_twin_and_a_body_with_no_model_call_needs_none() -> None:
    text = """\
        @torch.no_grad()
        def check(net, rows):
            with torch.no_grad():
                return net(rows)

        def blend(ema, live):
            with torch.no_grad():
                ema.mul_(0.9).add_(live.detach())

        def score(net, rows):
            with torch.no_grad():
                return net(rows).argmax(1)
        """
    reasons = {line: reason for kind, line, reason in kinds(text) if kind == "no_grad"}
    assert reasons[3] == "twin: an enclosing no_grad"
    assert reasons[7].startswith("no forward")
    assert reasons[1] == "" and reasons[11] == ""


def test_mode_calls_of_a_repository_without_mode_sensitive_layers_are_excluded() -> None:
    text = "net.eval()\nnet(x)\n"
    (found,) = candidates(text, mode_free=True)
    assert found.excluded.startswith("mode-free")
    (found,) = candidates(text, mode_free=False)
    assert found.excluded == ""


def test_a_finding_moved_by_the_edit_is_not_new_and_one_of_the_rule_is_found() -> None:
    before = "a\nwith torch.no_grad():\n    b\n    c\n"
    after = "a\nb\nc\n"
    lines = line_map(before, after)
    assert lines[1] == 1 and lines[3] == 2 and 2 not in lines
    baseline = [("t.py", "TRN004", 4), ("u.py", "TRN003", 7)]
    same = [("t.py", "TRN004", 3), ("u.py", "TRN003", 7)]
    assert new_findings(baseline, same, "t.py", lines) == []
    more = [*same, ("t.py", "TRN003", 2)]
    new = new_findings(baseline, more, "t.py", lines)
    assert new == [("t.py", "TRN003", 2)]
    assert is_found("TRN003", new) and not is_found("TRN004", new)


def test_a_second_finding_in_another_file_of_the_project_counts() -> None:
    baseline = [("lib/loop.py", "TRN001", 10)]
    mutated = [("lib/loop.py", "TRN001", 10), ("lib/loop.py", "TRN001", 30)]
    new = new_findings(baseline, mutated, "run.py", {})
    assert is_found("TRN001", new)
    assert not is_found("TRN001", new_findings(baseline, baseline, "run.py", {}))


@pytest.mark.parametrize("flagged", [False, True])
def test_a_run_over_a_small_corpus_finds_the_deleted_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flagged: bool
) -> None:
    repo = tmp_path / "corpus" / "someone+project"
    repo.mkdir(parents=True)
    # Cleared once before the loop, the file is flagged for TRN001 already: no TRN001 mutant.
    before, inside = ("opt.zero_grad()", "pass") if flagged else ("pass", "opt.zero_grad()")
    text = textwrap.dedent(
        f"""\
        import torch

        net = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        {before}
        for xb in torch.randn(5, 2, 3):
            {inside}
            net(xb).sum().backward()
            opt.step()
        """
    )
    (repo / "train.py").write_text(text, encoding="utf-8")
    listing = tmp_path / "list.txt"
    listing.write_text("someone/project 0000000\n", encoding="utf-8")
    saved = tmp_path / "mutants.json"
    assert main([str(listing), str(tmp_path / "corpus"), "--misses", "--json", str(saved)]) == 0
    out = capsys.readouterr().out
    assert main(["--from-json", str(saved), "--misses"]) == 0
    assert capsys.readouterr().out == out  # the saved mutants give the same table and misses
    # Given the corpus, the exclusions are decided again: a stale one saved is not kept.
    rows = json.loads(saved.read_text(encoding="utf-8"))
    saved.write_text(json.dumps([{**row, "excluded": "stale"} for row in rows]), encoding="utf-8")
    assert main(["-", str(tmp_path / "corpus"), "--from-json", str(saved), "--misses"]) == 0
    assert capsys.readouterr().out == out
    row = next(line for line in out.splitlines() if line.startswith("| TRN001"))
    assert row.startswith("| TRN001 | 0 | 0 | - |" if flagged else "| TRN001 | 1 | 1 | 100% |")
    step = next(line for line in out.splitlines() if line.startswith("| TRN002"))
    assert step.startswith("| TRN002 | 1 | 1 | 100% |")  # quiet for TRN002 either way
    assert (repo / "train.py").read_text(encoding="utf-8") == text  # the corpus is only read

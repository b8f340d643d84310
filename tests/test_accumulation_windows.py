"""Accumulation windows that clear at their start and step at their end, on one counter that
advances by one each iteration: the step's window-end test taken in one iteration makes the
clear's window-start test true in the next, so the step never runs on used gradients. The same
shapes on another counter or modulus, or with a step every iteration, are still flagged."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from lint_train.analysis.windows import WindowTest, window_test
from lint_train.engine import lint_source

HEAD = """\
import torch


def fit(model, loader, loss_fn, accum, other):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def _codes(body: str) -> list[tuple[int, str]]:
    source = HEAD + textwrap.indent(textwrap.dedent(body), "    ")
    return [(f.line, f.code) for f in lint_source(source)]


QUIET = {
    "enumerate_index": """
        for i, (x, y) in enumerate(loader):
            if i % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (i + 1) % accum == 0:
                optimizer.step()
    """,
    "not_spellings": """
        for i, (x, y) in enumerate(loader):
            if not i % accum:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if not (i + 1) % accum:
                optimizer.step()
    """,
    "remainder_k_minus_one_in_an_epoch_loop": """
        for epoch in range(3):
            for i, (x, y) in enumerate(loader):
                if i % accum == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                if i % accum == accum - 1:
                    optimizer.step()
    """,
    "continue_until_the_window_ends": """
        for i, (x, y) in enumerate(loader):
            if i % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (i + 1) % accum != 0:
                continue
            optimizer.step()
    """,
    "attribute_modulus_and_one_plus_index": """
        for i, (x, y) in enumerate(loader):
            if i % model.cfg.accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (1 + i) % model.cfg.accum == 0:
                optimizer.step()
    """,
    "counter_incremented_last_in_a_while_loop": """
        step = 0
        while step < 1000:
            x, y = next(loader)
            if step % 8 == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (step + 1) % 8 == 0:
                optimizer.step()
            step += 1
    """,
    "counter_incremented_between_backward_and_step": """
        step = 0
        for x, y in loader:
            if step % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            step += 1
            if step % accum == 0:
                optimizer.step()
    """,
    "counter_incremented_first": """
        step = 0
        for x, y in loader:
            step += 1
            if step % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (step + 1) % accum == 0:
                optimizer.step()
    """,
    "global_step_kept_across_epochs": """
        global_step = 0
        for epoch in range(3):
            for x, y in loader:
                if global_step % accum == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                global_step += 1
                if global_step % accum == 0:
                    optimizer.step()
    """,
    "global_step_incremented_last_across_epochs": """
        global_step = 0
        for epoch in range(3):
            for x, y in loader:
                if global_step % accum == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                if (global_step + 1) % accum == 0:
                    optimizer.step()
                global_step += 1
    """,
    "global_step_in_a_while_loop_over_epochs": """
        global_step = 0
        while global_step < 1000:
            for x, y in loader:
                if global_step % accum == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                global_step += 1
                if global_step % accum == 0:
                    optimizer.step()
    """,
}


@pytest.mark.parametrize("name", QUIET)
def test_clear_at_window_start_and_step_at_window_end_is_quiet(name: str) -> None:
    assert _codes(QUIET[name]) == []


FLAGGED = {
    "clear_on_another_modulus": (
        """
        for i, (x, y) in enumerate(loader):
            if i % other == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (i + 1) % accum == 0:
                optimizer.step()
        """,
        12,
    ),
    "clear_on_a_counter_of_updates": (
        """
        updates = 0
        for i, (x, y) in enumerate(loader):
            if updates % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (i + 1) % accum == 0:
                optimizer.step()
                updates += 1
        """,
        13,
    ),
    "step_every_iteration": (
        """
        for i, (x, y) in enumerate(loader):
            if i % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        """,
        11,
    ),
    "window_end_two_ahead": (
        """
        for i, (x, y) in enumerate(loader):
            if i % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (i + 2) % accum == 0:
                optimizer.step()
        """,
        12,
    ),
    "continue_skips_the_counter": (
        """
        step = 0
        for x, y in loader:
            if x is None:
                continue
            if step % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (step + 1) % accum == 0:
                optimizer.step()
            step += 1
        """,
        15,
    ),
    "counter_advanced_only_sometimes": (
        """
        step = 0
        for x, y in loader:
            if step % accum == 0:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            if (step + 1) % accum == 0:
                optimizer.step()
            if x.sum() > 0:
                step += 1
        """,
        13,
    ),
    "global_step_tested_once_per_epoch": (
        """
        global_step = 0
        for epoch in range(3):
            if global_step % accum == 0:
                optimizer.zero_grad()
            for x, y in loader:
                loss_fn(model(x), y).backward()
                global_step += 1
                if global_step % accum == 0:
                    optimizer.step()
        """,
        15,
    ),
    "global_step_reset_each_epoch_to_one": (
        """
        for epoch in range(3):
            global_step = 1
            for x, y in loader:
                if global_step % accum == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                global_step += 1
                if global_step % accum == 0:
                    optimizer.step()
        """,
        15,
    ),
    "clear_tested_on_the_epoch_not_the_counter": (
        """
        global_step = 0
        for epoch in range(3):
            for x, y in loader:
                if epoch % accum == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                global_step += 1
                if global_step % accum == 0:
                    optimizer.step()
        """,
        15,
    ),
    "global_step_clear_on_a_logging_interval": (
        """
        global_step = 0
        for epoch in range(3):
            for x, y in loader:
                if global_step % 100 == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                global_step += 1
                if global_step % accum == 0:
                    optimizer.step()
        """,
        15,
    ),
    "global_step_also_changed_by_hand": (
        """
        global_step = 0
        for epoch in range(3):
            for x, y in loader:
                if global_step % accum == 0:
                    optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                global_step += 1
                if global_step % accum == 0:
                    optimizer.step()
            global_step = resume_point(global_step)
        """,
        15,
    ),
}


@pytest.mark.parametrize("name", FLAGGED)
def test_window_start_clear_that_does_not_follow_the_step_is_flagged(name: str) -> None:
    body, line = FLAGGED[name]
    assert _codes(body) == [(line, "TRN001")]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("i % k == 0", WindowTest("i", "k", 0, True)),
        ("(i + 1) % k != 0", WindowTest("i", "k", 1, False)),
        ("(1 + i) % self.k", WindowTest("i", "self.k", 1, False)),
        ("i % k == k - 1", WindowTest("i", "k", 1, True)),
        ("step % 4 == 0", WindowTest("step", "4", 0, True)),
        ("i % k == 1", None),
        ("(i - 1) % k == 0", None),
        ("i % f(k) == 0", None),
        ("i % k < 1", None),
    ],
)
def test_window_test_reads_the_spellings_of_a_window_boundary(
    code: str, expected: WindowTest | None
) -> None:
    assert window_test(cst.parse_expression(code)) == expected

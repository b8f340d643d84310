"""Small shapes written inline: each must be flagged or left alone exactly as stated."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


def test_one_line_loop_body_is_analysed() -> None:
    source = """
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt.zero_grad()
        for x in data: model(x).sum().backward(); opt.step()
    """
    assert _codes(source) == [(6, "TRN001")]


def test_one_line_loop_body_that_clears_is_quiet() -> None:
    source = """
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data: opt.zero_grad(); model(x).sum().backward(); opt.step()
    """
    assert _codes(source) == []


def test_scheduler_step_alone_is_not_an_optimizer_step() -> None:
    source = """
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, 10)
        for x in data:
            opt.zero_grad()
            model(x).sum().backward()
            sched.step()
    """
    assert _codes(source) == [(6, "TRN002")]


def test_env_step_with_an_action_is_not_an_optimizer_step() -> None:
    source = """
        import torch
        policy = torch.nn.Linear(4, 2)
        opt = torch.optim.Adam(policy.parameters())
        for t in range(100):
            action = policy(obs).argmax()
            obs, reward, done, info = env.step(action)
            opt.zero_grad()
            loss = -reward * policy(obs).sum()
            loss.backward()
            opt.step()
    """
    assert _codes(source) == []

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
    assert _codes(source) == [(8, "TRN002")]


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


ONE_WAY_CLEARED_AT_END = """
    import torch
    from torch import nn

    def train(model, loader, optimizer, scaler, use_amp):
        for x, y in loader:
            loss = nn.functional.mse_loss(model(x), y)
            if use_amp:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward(){step}
            optimizer.zero_grad()
"""


def test_branch_that_throws_its_gradients_away_is_flagged_even_when_cleared_at_the_end() -> None:
    # Reported at the backward pass of the way that steps nothing.
    assert _codes(ONE_WAY_CLEARED_AT_END.format(step="")) == [(13, "TRN002")]


def test_the_same_loop_stepping_on_both_ways_is_quiet() -> None:
    step = "\n" + " " * 16 + "optimizer.step()"
    assert _codes(ONE_WAY_CLEARED_AT_END.format(step=step)) == []


def test_skipping_a_non_finite_step_is_not_a_configuration_that_never_trains() -> None:
    source = """
        import torch

        def train(model, loader, opt):
            for x in loader:
                loss = model(x).mean()
                loss.backward()
                if not torch.isfinite(loss):
                    opt.zero_grad()
                    continue
                opt.step()
                opt.zero_grad()
    """
    assert _codes(source) == []


def test_micro_batches_whose_backward_a_setting_turns_off_are_not_a_one_way_step() -> None:
    # The inner loop only accumulates; the step after it is the same whatever the setting. An
    # earlier step carried into the inner loop is no step of its iterations.
    source = """
        import torch

        def train(model, batches, opt, args, steps, accum):
            for step in range(steps):
                model.train()
                opt.zero_grad(set_to_none=True)
                for micro in range(accum):
                    loss = model(batches.next()) / accum
                    if not args.inference_only:
                        loss.backward()
                opt.step()
    """
    assert _codes(source) == []


ACCUMULATING_SCALER_WAY = """
    import torch
    from torch import nn

    def fit(model, loader, optimizer, scaler, accum):
        for i, (x, y) in enumerate(loader):
            if scaler is not None:
                scaler.scale(nn.functional.mse_loss(model(x), y) / accum).backward()
                if (i + 1) % accum == 0:
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad()
            else:
                nn.functional.mse_loss(model(x), y).backward(){plain}
"""


def test_a_way_that_accumulates_through_the_scaler_is_no_one_way_step() -> None:
    # The scaler's way steps every `accum` batches; the plain way steps and clears each batch.
    plain = "\n" + " " * 16 + "optimizer.step()\n" + " " * 16 + "optimizer.zero_grad()"
    assert _codes(ACCUMULATING_SCALER_WAY.format(plain=plain)) == []


def test_a_plain_way_that_clears_first_beside_an_accumulating_scaler_way_is_quiet() -> None:
    # The plain way ends each batch stepped, the scaler's way ends its accumulation cleared:
    # the ways end differently, and each steps.
    source = ACCUMULATING_SCALER_WAY.replace(
        "                nn.functional.mse_loss(model(x), y).backward(){plain}",
        "                optimizer.zero_grad()\n"
        "                nn.functional.mse_loss(model(x), y).backward()\n"
        "                optimizer.step()",
    )
    assert _codes(source) == []


def test_a_plain_way_that_steps_without_clearing_is_only_a_missing_clear() -> None:
    plain = "\n" + " " * 16 + "optimizer.step()"
    assert {code for _, code in _codes(ACCUMULATING_SCALER_WAY.format(plain=plain))} == {"TRN001"}


def test_both_ways_accumulating_is_quiet() -> None:
    source = """
        import torch
        from torch import nn

        def fit(model, loader, optimizer, scaler, use_amp, accum):
            for i, (x, y) in enumerate(loader):
                loss = nn.functional.mse_loss(model(x), y) / accum
                if use_amp:
                    scaler.scale(loss).backward()
                    if (i + 1) % accum == 0:
                        scaler.step(optimizer)
                        scaler.update()
                        optimizer.zero_grad()
                else:
                    loss.backward()
                    if (i + 1) % accum == 0:
                        optimizer.step()
                        optimizer.zero_grad()
    """
    assert _codes(source) == []


def test_an_accumulating_scaler_way_beside_a_way_that_never_steps_is_flagged() -> None:
    # The plain way throws its gradients away each batch: it never steps, whatever `i` is.
    plain = "\n" + " " * 16 + "optimizer.zero_grad()"
    findings = lint_source(textwrap.dedent(ACCUMULATING_SCALER_WAY.format(plain=plain)))
    assert [f.code for f in findings] == ["TRN002"]
    assert "stepped only when `scaler` is not None" in findings[0].message
    assert "when `scaler` is None, every iteration" in findings[0].message

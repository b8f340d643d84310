"""Behaviour that a one-line change to the analysis or a rule once broke without any test noticing.

Each test states one verdict; the comment above it names the change it catches (found by
mutation testing, see docs/mutation.md).
"""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


# -- TRN004: a helper with no caller in view ----------------------------------------------------
# Catches TRN004's `_training()` answering True for every path: with no caller in view, a model
# that arrives as a parameter may already be in eval mode, so a single forward is no evidence.

DROPOUT_NET = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))

        def forward(self, x):
            return self.body(x)
"""


def test_predict_helper_under_no_grad_with_no_caller_in_view_is_quiet() -> None:
    source = (
        DROPOUT_NET
        + """

    @torch.no_grad()
    def predict(model, x):
        return model(x)
    """
    )
    assert _codes(source) == []


def test_predict_helper_called_on_a_fresh_model_is_flagged() -> None:
    # The same helper, once a caller in view hands it a model still in training mode.
    source = (
        DROPOUT_NET
        + """

    @torch.no_grad()
    def predict(model, x):
        return model(x)


    net = Net()
    print(predict(net, torch.randn(2, 4)))
    """
    )
    assert _codes(source) == [(17, "TRN004")]


def test_helper_looping_over_batches_with_no_caller_in_view_is_flagged() -> None:
    # A loop over data is evidence enough of evaluation, even with no caller in view.
    source = """
        import torch


        @torch.no_grad()
        def evaluate(model, loader):
            total = 0.0
            for x, y in loader:
                total += (model(x) - y).abs().sum().item()
            return total
    """
    assert [code for _, code in _codes(source)] == ["TRN004"]


# -- enable_grad inside a no_grad region turns grad back on ------------------------------------
# Catches `torch.enable_grad()` being read as turning grad off (or as not changing it).

VALIDATE = """
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
    val_loader = [(torch.randn(2, 4), torch.randn(2, 1))]


    def validate(model, loader):
        model.eval()
        for x, y in loader:
            print((model(x) - y).abs().mean().item())


    with torch.no_grad():
{call}
"""


def test_validation_called_under_enable_grad_inside_no_grad_is_flagged() -> None:
    source = VALIDATE.format(
        call="        with torch.enable_grad():\n            validate(model, val_loader)"
    )
    assert _codes(source) == [(11, "TRN003")]


def test_validation_called_under_no_grad_alone_is_quiet() -> None:
    source = VALIDATE.format(call="        validate(model, val_loader)")
    assert _codes(source) == []


def test_set_grad_enabled_true_inside_no_grad_also_turns_grad_back_on() -> None:
    call = "        with torch.set_grad_enabled(True):\n            validate(model, val_loader)"
    assert _codes(VALIDATE.format(call=call)) == [(11, "TRN003")]


def test_evaluation_forward_under_inner_enable_grad_is_flagged() -> None:
    # The loop is under no_grad, but its forward pass runs where grad was switched back on, and
    # nothing differentiates the output: the graph is built for nothing.
    source = """
        import torch
        from torch import nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        val_loader = [(torch.randn(2, 4), torch.randn(2, 1))]
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                with torch.enable_grad():
                    out = model(x)
                print((out - y).abs().mean().item())
    """
    assert _codes(source) == [(9, "TRN003")]


def test_input_gradients_under_inner_enable_grad_are_quiet() -> None:
    # Grad is turned back on because the output is differentiated (an input-gradient map).
    source = """
        import torch
        from torch import nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        val_loader = [(torch.randn(2, 4), torch.randn(2, 1))]
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                with torch.enable_grad():
                    x = x.clone().requires_grad_(True)
                    saliency, = torch.autograd.grad(model(x).sum(), x)
                print(saliency.abs().mean().item())
    """
    assert _codes(source) == []

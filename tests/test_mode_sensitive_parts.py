"""Which code builds a part of a model (issue 11, family A): a class or factory that is not in
view counts as a mode-sensitive part only where what it builds is kept, stored on `self` or
returned. A helper that only computes with such a call (a shape from `_pair(2)(n)`, a kernel
from numbers) builds no part, so a metric module made of such helpers stays mode-free."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


# A denoiser trained and switched to eval mode, then scored by `measure`, a module whose mode
# is never set: line 37 is the measure's forward in the evaluation loop.
SCORED = """
    import math
    import torch
    from torch import nn
    from filters import KERNELS

    def _pair(n):
        def spread(x):
            return x if isinstance(x, tuple) else tuple([x] * n)
        return spread

    def _window(size):
        rows, cols = _pair(2)(size)
        weights = [math.exp(-(r * r + c * c) / 4.0) for r in range(rows) for c in range(cols)]
        return torch.tensor(weights).view(1, 1, rows, cols) / sum(weights)

    class Similarity(nn.Module):
        def __init__(self, size=5):
            super().__init__()
            {init}

        def forward(self, a, b):
            return 1 - ((a - b) ** 2).mean()

    def main(train_pairs, val_pairs):
        denoiser = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Dropout(0.1))
        measure = Similarity()
        opt = torch.optim.SGD(denoiser.parameters(), lr=0.1)
        for noisy, clean in train_pairs:
            opt.zero_grad()
            ((denoiser(noisy) - clean) ** 2).mean().backward()
            opt.step()
        denoiser.eval()
        with torch.no_grad():
            for noisy, clean in val_pairs:
                restored = denoiser(noisy)
                print(measure(restored, clean).item())
"""
MEASURE_FORWARD = 37


def _scored(init: str) -> list[tuple[int, str]]:
    """The findings, with lines counted as if `init` were one line."""
    extra = init.count("\n")
    return [(line - extra, code) for line, code in _codes(SCORED.format(init=init))]


def test_a_helper_that_computes_with_a_call_of_a_call_builds_no_part() -> None:
    assert _scored("self.register_buffer('window', _window(size))") == []
    assert _scored("self.window = _window(size)") == []
    assert _scored("self.side = _pair(2)(size)[0]") == []  # a number taken from it


def test_a_part_picked_from_a_table_or_factory_is_still_unseen() -> None:
    found = [(MEASURE_FORWARD, "TRN004")]
    assert _scored("self.blur = KERNELS[size](1)") == found
    assert _scored("self.blur = _pair(2)(nn.Dropout(0.2))[0]") == found  # seen: a dropout
    assert _scored("blur = KERNELS[size](1)\n            self.blur = blur.to('cpu')") == found
    stacked = "layers = [KERNELS[size](1)]\n            self.blur = nn.Sequential(*layers)"
    assert _scored(stacked) == found
    assert _scored("self.add_module('blur', KERNELS[size](1))") == found


# The same, with the measure made by a factory function of the file.
MADE = """
    import torch
    from torch import nn
    from filters import KERNELS

    def _pair(n):
        return lambda x: (x, x) if n == 2 else (x,)

    def make_measure(kind):
        {body}

    def main(train_pairs, val_pairs):
        denoiser = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
        quality_model = make_measure("box")
        opt = torch.optim.SGD(denoiser.parameters(), lr=0.1)
        for x, y in train_pairs:
            opt.zero_grad()
            ((denoiser(x) - y) ** 2).mean().backward()
            opt.step()
        denoiser.eval()
        with torch.no_grad():
            for x, y in val_pairs:
                print(quality_model(denoiser(x), y).item())
"""


def test_a_factory_returning_a_part_from_a_table_is_unseen() -> None:
    assert _codes(MADE.format(body="return KERNELS[kind](2)")) == [(23, "TRN004")]
    made = "made = KERNELS[kind](2)\n        return made"
    assert _codes(MADE.format(body=made)) == [(24, "TRN004")]
    # Only printed, the call's result is no part of what the factory returns.
    size = "rows, cols = _pair(2)(4)\n        print(rows * cols)\n        return nn.Linear(2, 2)"
    assert _codes(MADE.format(body=size)) == []


def test_a_window_computed_with_arrays_builds_no_part() -> None:
    kept = "self.register_buffer('window', torch.as_tensor(lib.ones(size)))"
    assert _codes(ARRAYS.format(package="numpy", init=kept)) == []
    assert _codes(ARRAYS.format(package="imagelib", init=kept)) == [(MEASURE_FORWARD, "TRN004")]


# The array and image libraries of the knowledge table (run by tests/test_knowledge.py): what
# a measure keeps from them is no layer; an unknown library's result kept so may be one.
ARRAYS = SCORED.replace("from filters import KERNELS", "import {package} as lib")
ARRAY_CASES: dict[str, tuple[str, list[tuple[int, str]]]] = {
    f"{package}.*": (
        ARRAYS.format(
            package=package,
            init="self.register_buffer('window', torch.as_tensor(lib.ones(size)))",
        ),
        [],
    )
    for package in ("numpy", "scipy", "cv2", "PIL")
}

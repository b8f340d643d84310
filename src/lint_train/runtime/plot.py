"""`--plot FILE.png`: the loss curve as an image, or with `--lr-find` the loss against the
learning rate, when matplotlib is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lint_train.runtime.lrfind import RangeTest


def write_plot(values: Sequence[float], path: str, title: str) -> str | None:
    """Draw the curve; returns why not, or None when the file was written."""
    if importlib.util.find_spec("matplotlib") is None:
        return "matplotlib is not installed (pip install matplotlib)"
    import matplotlib

    # No display is needed to write a file.
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 3.5))
    axes.plot(range(len(values)), values, linewidth=1)
    axes.set_xlabel("backward call")
    axes.set_ylabel("loss")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    return None


def write_lr_plot(test: RangeTest, path: str) -> str | None:
    """Each rate's last-window mean loss on a log lr axis, divergent rates marked on top, the
    suggestion as a vertical line; returns why not, or None when the file was written."""
    if importlib.util.find_spec("matplotlib") is None:
        return "matplotlib is not installed (pip install matplotlib)"
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    kept = [t for t in test.trials if not t.diverged and t.trend.last is not None]
    figure, axes = pyplot.subplots(figsize=(6, 3.5))
    axes.plot([test.lr(t.scale) for t in kept], [t.trend.last for t in kept], marker="o")
    top = max((t.trend.last for t in kept), default=1.0)
    diverged = [test.lr(t.scale) for t in test.trials if t.diverged]
    axes.plot(diverged, [top] * len(diverged), "rx", label="diverged")
    if test.suggested is not None:
        axes.axvline(test.lr(test.suggested.scale), linestyle="--", label="suggested")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel(f"mean loss, last fifth of {test.max_steps} steps")
    axes.set_title(test.script)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    return None

"""`--plot FILE.png`: the loss curve as an image, when matplotlib is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence


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

"""Reporters: turn findings into text for a terminal or a machine. They never decide anything."""

from __future__ import annotations

from collections.abc import Callable

from ..types import Finding

Formatter = Callable[[list[Finding]], str]


def formatter(name: str) -> Formatter:
    """The formatter for an --output-format name; imported lazily to keep start-up light."""
    if name == "json":
        from .json_format import render
    else:
        from .text import render
    return render


FORMATS = ("text", "json")

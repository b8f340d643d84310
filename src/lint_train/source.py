"""Bytes to text: honour PEP 263 encoding cookies and BOMs, keep line endings as they are."""

from __future__ import annotations

import io
import tokenize


class SourceError(Exception):
    """The file's bytes are not Python source text we can read."""


def decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(str(exc)) from exc
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from exc
    return text.removeprefix("\ufeff")

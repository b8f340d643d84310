"""Line and column of the few nodes a run reports.

libcst's PositionProvider works out a range for every node of the module, updating a line and
a column token by token: on a large file that costs several times the parse. Here the module's
code is generated once while each node's span is noted as token indices only, and line and
column are worked out for the nodes asked for. The ranges are the provider's own (whitespace
excluded where the provider excludes it, tested on every fixture); should libcst's code
generation ever change shape, the provider itself is used.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")  # as libcst counts lines


def locate(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[cst.CSTNode, CodeRange]:
    """The range of each of `nodes` (which must belong to `module`)."""
    wanted = list(nodes)
    try:
        return _from_token_spans(module, wanted)
    except (AttributeError, KeyError, TypeError):
        from libcst.metadata import MetadataWrapper, PositionProvider

        every = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        return {node: every[node] for node in wanted}


def _from_token_spans(module: cst.Module, nodes: list[cst.CSTNode]) -> dict[cst.CSTNode, CodeRange]:
    state = _TokenSpans(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    module._codegen(state)
    offsets = list(itertools.accumulate(map(len, state.tokens), initial=0))
    text = "".join(state.tokens)
    line_starts = [0, *(match.end() for match in _NEWLINE.finditer(text))]

    def position(token: int) -> CodePosition:
        offset = offsets[token]
        line = bisect.bisect_right(line_starts, offset)
        return CodePosition(line, offset - line_starts[line - 1])

    return {
        node: CodeRange(position(state.spans[node][0]), position(state.spans[node][1]))
        for node in nodes
    }


@dataclass
class _TokenSpans(CodegenState):
    """Code generation that notes, for every node, the tokens it produced (start, end), with
    the same rules as libcst's PositionProvidingCodegenState: a syntactic range recorded by the
    node itself wins over the whole one, and may borrow a child's start or end."""

    spans: dict[cst.CSTNode, tuple[int, int]] = field(default_factory=dict)
    _starts: list[int] = field(default_factory=list)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._starts.pop()
        if node not in self.spans:
            self.spans[node] = (start, len(self.tokens))

    def pop_trailing_newline(self) -> None:
        pass  # positions were counted with it, as the provider counts them

    @contextmanager
    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> Iterator[None]:
        start = len(self.tokens)
        try:
            yield
        finally:
            end = len(self.tokens)
            if start_node is not None:
                start = self.spans[start_node][0]
            if end_node is not None:
                end = self.spans[end_node][1]
            self.spans[node] = (start, end)

"""The analysis does work in proportion to the code, not to the number of ways through it.

Model files build layers of layers in loops (`for _ in range(depth): blocks.append(Block())`).
Following each constructor once per loop pass per level used to replay the innermost one
4**levels times, until the event budget ran out and the file was silently skipped, bug and all.
These tests count replayed events (a deterministic measure of work), never seconds.
"""

from __future__ import annotations

import libcst as cst
import pytest

from lint_train.analysis.interpret import Interpreter
from lint_train.analysis.program import build_program
from lint_train.engine import lint_source


def _layered_script(levels: int) -> str:
    """A model nested `levels` deep, each level built in a loop, trained by a loop that never
    clears its gradients."""
    lines = [
        "import torch",
        "from torch import nn",
        "",
        "class Block0(nn.Module):",
        "    def __init__(self, width):",
        "        super().__init__()",
        "        self.linear = nn.Linear(width, width)",
        "        self.dropout = nn.Dropout(0.2)",
    ]
    for level in range(1, levels + 1):
        inner = f"Block{level - 1}(width{', count' if level > 1 else ''})"
        lines += [
            "",
            f"class Block{level}(nn.Module):",
            "    def __init__(self, width, count):",
            "        super().__init__()",
            "        self.blocks = nn.ModuleList()",
            "        for _ in range(count):",
            f"            self.blocks.append({inner})",
            "        if width > 4:",
            "            self.head = nn.Linear(width, 1)",
        ]
    lines += [
        "",
        "def train(loader):",
        f"    net = Block{levels}(8, 3)",
        "    optimizer = torch.optim.Adam(net.parameters())",
        "    for inputs, targets in loader:",
        "        loss = (net(inputs) - targets).pow(2).mean()",
        "        loss.backward()",
        "        optimizer.step()",
        "",
    ]
    return "\n".join(lines)


def _events_replayed(source: str) -> int:
    interpreter = Interpreter(build_program(cst.parse_module(source)))
    assert interpreter.run().complete
    return interpreter.spent


def test_work_grows_linearly_with_nesting_of_layers() -> None:
    shallow, deep = _events_replayed(_layered_script(2)), _events_replayed(_layered_script(5))
    assert deep < 2 * shallow


@pytest.mark.parametrize("levels", [1, 4, 7])
def test_bug_in_a_file_with_deeply_layered_models_is_still_reported(levels: int) -> None:
    findings = lint_source(_layered_script(levels), "train.py")
    assert [f.code for f in findings] == ["TRN001"]

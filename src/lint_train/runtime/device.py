"""Scripts written for a GPU, verified on a machine without one.

Child side, `--device cpu`: `.cuda()` and every CUDA device handed to torch (`.to("cuda")`,
`.to(torch.device("cuda:0"))`, `torch.zeros(3, device="cuda")`) mean the CPU, and the two
`torch.cuda` calls that would otherwise stop such a script (`synchronize`, `set_device`) do
nothing. One torch-function mode does it, so every torch function and tensor method is covered
without listing them; it is entered only on request, because it costs a little on every op.

Parent side: a script that stopped because CUDA is missing gets a one-line explanation naming
its line, instead of torch's assertion deep inside `Module._apply`.
"""

from __future__ import annotations

import os
import re
from typing import Any

# torch's errors when a script asks for CUDA on a machine (or a build) without it.
NO_CUDA = re.compile(
    r"not compiled with CUDA|no NVIDIA driver|No CUDA GPUs are available|"
    r"CUDA driver initialization failed|CUDA device but torch\.cuda\.is_available\(\) is False"
)
_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def map_cuda_to_cpu() -> None:
    """From now on in this process, CUDA devices are the CPU (see the module's docstring)."""
    import torch
    from torch.overrides import TorchFunctionMode

    def cpu(value: Any) -> Any:
        if isinstance(value, torch.device) and value.type == "cuda":
            return torch.device("cpu")
        if isinstance(value, str) and value.split(":")[0] == "cuda":
            return "cpu"
        return value

    to_cuda = {torch.Tensor.cuda}

    class CudaIsCpu(TorchFunctionMode):
        def __torch_function__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            if func in to_cuda:
                return args[0]
            args = tuple(cpu(a) for a in args)
            kwargs = {k: cpu(v) for k, v in (kwargs or {}).items()}
            return func(*args, **kwargs)

    # Entered for the rest of the process's life: the script runs inside it.
    CudaIsCpu().__enter__()

    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    torch.cuda.synchronize = nothing
    torch.cuda.set_device = nothing


def needs_cuda(message: str | None, traceback: str | None, script: str) -> str | None:
    """Why the script stopped, in words, when it was for want of CUDA: the line that asked for
    it (the script's own deepest frame, else the deepest frame outside installed packages),
    quoted; None for any other error."""
    if not message or not NO_CUDA.search(message):
        return None
    frames = _FRAME.findall(traceback or "")
    script_path = os.path.abspath(script)
    own = [f for f in frames if os.path.abspath(f[0]) == script_path]
    user = own or [f for f in frames if not re.search(r"[/\\](site|dist)-packages[/\\]", f[0])]
    where = ""
    if user:
        file, line = user[-1]
        where = f" at {os.path.basename(file)}:{line}"
        code = _line_of(file, int(line))
        if code:
            where += f" (`{code}`)"
    return f"the script asks for CUDA{where}, and this machine has none"


def _line_of(file: str, line: int) -> str:
    try:
        with open(file, encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle, 1):
                if number == line:
                    return text.strip()
    except OSError:
        pass
    return ""

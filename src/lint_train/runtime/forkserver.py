"""A process that imports torch once, then forks one child per script to verify.

Importing torch takes a second or two; a script on the project's fixtures trains in a fraction
of that. Forking from a process that already holds torch makes a run cost only the script's own
time, which keeps a whole fixture set within its time budget.

The server reads one JSON request per line on stdin and writes JSON lines on stdout:
`{"id": N, "pid": PID}` when it forked the child for request N, and `{"pid": PID, "code": C}`
when that child ended (C as in subprocess: negative for a signal). It is single-threaded, so a
fork never copies a lock some other thread was holding. It exits when its stdin closes, and
kills the children still running on the way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import warnings
from typing import Any

# How often the server looks for children that ended, in seconds.
POLL_SECONDS = 0.02


def serve() -> None:
    _preload()
    from lint_train.runtime import probe

    live: set[int] = set()
    pending = b""
    try:
        while True:
            readable, _, _ = select.select([0], [], [], POLL_SECONDS)
            if readable:
                chunk = os.read(0, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    live.add(_fork(json.loads(line), probe.child_main))
            _reap(live)
    finally:
        for pid in live:
            _kill_group(pid)
    # Nothing to flush or tear down; a normal interpreter exit with torch loaded takes seconds.
    os._exit(0)


def _preload() -> None:
    """Import what every training script needs, so that every child inherits it imported.

    Imports only: running a torch op here would start its thread pool, which does not survive
    a fork. Warnings the imports raise (torch warns at import when numpy is missing) are
    silenced: the server's stderr is the user's terminal, where they would be stray lines around
    the report, about an import the script did not make itself.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch

        # Optimizers import torch._dynamo on first use; that costs more than the torch import.
        with contextlib.suppress(ImportError):
            import torch._dynamo  # noqa: F401


def _fork(request: dict[str, Any], child_main: Any) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            child_main(**request["run"])
        finally:
            os._exit(70)  # child_main leaves with os._exit; reaching here is the probe's failure
    _send({"id": request["id"], "pid": pid})
    return pid


def _reap(live: set[int]) -> None:
    while live:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        live.discard(pid)
        _send({"pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _send(message: dict[str, Any]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)

"""Running the script in a child process under the probe, within the bounds.

The child is a separate process in its own session, so a crash, a hang, os._exit or sys.exit
in the user's script cannot take the tool down, and everything it started can be ended
together. Children come from the fork server (forkserver.py), one server per parent process,
started on first use; runs may be started from several threads at once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# After SIGTERM the probe needs a moment to write its last event; then the child is killed.
GRACE_SECONDS = 5.0
OUTPUT_TAIL_CHARS = 4000
# The folder that holds the lint_train package, for the server's sys.path.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class ChildRun:
    event_lines: list[str]
    returncode: int  # as in subprocess: negative for a signal
    timed_out: bool
    seconds: float
    output_tail: str  # the end of the script's stdout and stderr, interleaved


def run_child(
    script: str,
    args: list[str],
    max_steps: int,
    timeout: float,
    threads: int | None = None,
    source: str | None = None,
    *,
    lr_scale: float | None = None,
    device: str | None = None,
) -> ChildRun:
    """Run the script under the probe; `threads`: torch's intra-op threads (None: its default);
    `source`: the code to run in the script's place (a notebook's program), if not the file;
    `lr_scale`: multiply every optimizer's learning rate by this (lrscale.py), if given;
    `device`: "cpu" to run a script written for CUDA on the CPU (device.py)."""
    with tempfile.TemporaryDirectory(prefix="lint-train-verify-") as scratch:
        events = Path(scratch, "events.jsonl")
        output = Path(scratch, "output.txt")
        child = _server().start(
            {
                "events": str(events),
                "output": str(output),
                "max_steps": max_steps,
                "threads": threads,
                "script": script,
                "args": args,
                "cwd": os.getcwd(),
                "source": source,
                "lr_scale": lr_scale,
                "device": device,
            }
        )
        # Timed from the fork, so the server's one-off torch import does not count.
        started = time.monotonic()
        timed_out = not child.ended.wait(timeout)
        if timed_out:
            _stop(child)
        seconds = time.monotonic() - started
        # DataLoader workers or subprocesses the script left behind go with it.
        _kill_group(child.pid)
        return ChildRun(
            event_lines=_read(events).splitlines(),
            returncode=child.code,
            timed_out=timed_out,
            seconds=seconds,
            output_tail=_tail(output, OUTPUT_TAIL_CHARS),
        )


@dataclass
class _Child:
    pid: int = 0
    code: int = -signal.SIGKILL
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


class _ForkServer:
    """The parent's end of forkserver.py: sends requests, routes the replies to the waiters."""

    def __init__(self) -> None:
        command = [
            sys.executable,
            "-c",
            # Not `-m`: that would put the current folder first on the server's sys.path.
            f"import sys; sys.path[0] = {PACKAGE_ROOT!r}; "
            "from lint_train.runtime.forkserver import serve; serve()",
        ]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._by_id: dict[int, _Child] = {}
        self._by_pid: dict[int, _Child] = {}
        threading.Thread(target=self._read_replies, daemon=True).start()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def start(self, run: dict[str, object]) -> _Child:
        child = _Child()
        with self._lock:
            request_id = next(self._ids)
            self._by_id[request_id] = child
            line = json.dumps({"id": request_id, "run": run}) + "\n"
            assert self._process.stdin is not None
            self._process.stdin.write(line.encode())
            self._process.stdin.flush()
        child.started.wait()
        return child

    def _read_replies(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            reply = json.loads(line)
            with self._lock:
                if "id" in reply:
                    child = self._by_id.pop(reply["id"])
                    child.pid = reply["pid"]
                    self._by_pid[child.pid] = child
                    child.started.set()
                else:
                    child = self._by_pid.pop(reply["pid"])
                    child.code = reply["code"]
                    child.ended.set()
        # The server is gone: nobody will answer for the children it had.
        with self._lock:
            for child in [*self._by_id.values(), *self._by_pid.values()]:
                child.started.set()
                child.ended.set()


_SERVER: _ForkServer | None = None
_SERVER_LOCK = threading.Lock()


def _server() -> _ForkServer:
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or not _SERVER.alive:
            _SERVER = _ForkServer()
        return _SERVER


def _stop(child: _Child) -> None:
    """Ask the child to stop (the probe then writes its last event), then make it stop."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGTERM)
    if not child.ended.wait(GRACE_SECONDS):
        _kill_group(child.pid)
        child.ended.wait(GRACE_SECONDS)


def _kill_group(pid: int) -> None:
    if pid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: Path, chars: int) -> str:
    """The last `chars` characters of a file that may be large (a script that prints on every
    step): only its end is read."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            # A character is at most 4 bytes in UTF-8.
            handle.seek(max(0, handle.tell() - 4 * chars))
            return handle.read().decode("utf-8", errors="replace")[-chars:]
    except FileNotFoundError:
        return ""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""

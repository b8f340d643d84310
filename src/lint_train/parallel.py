"""Analysing many files on several cores.

Files go to worker processes in chunks, the largest files first, so one big file started last
does not keep every other core waiting; the caller puts the results back in the files' order.
Starting workers costs tens of milliseconds (a fork on Linux, a fresh interpreter elsewhere),
so below `MIN_PARALLEL_BYTES` of source to analyse everything runs in the calling process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

T = TypeVar("T")
R = TypeVar("R")

# Analysis runs at very roughly 0.3-1 MB/s per core: 100 kB is a few hundred milliseconds of work,
# enough to pay for starting workers.
MIN_PARALLEL_BYTES = 100_000
CHUNK_BYTES = 32_000  # a chunk is tens of milliseconds of work: large against its messaging cost
CHUNK_FILES = 32


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def worth_it(sizes: Sequence[int], jobs: int) -> bool:
    return jobs > 1 and len(sizes) > 1 and sum(sizes) >= MIN_PARALLEL_BYTES


def chunks(items: Sequence[T], sizes: Sequence[int]) -> list[list[T]]:
    """Items grouped into chunks of about CHUNK_BYTES, largest items first."""
    order = sorted(range(len(items)), key=lambda i: -sizes[i])
    out: list[list[T]] = []
    current: list[T] = []
    weight = 0
    for i in order:
        current.append(items[i])
        weight += sizes[i]
        if weight >= CHUNK_BYTES or len(current) >= CHUNK_FILES:
            out.append(current)
            current, weight = [], 0
    if current:
        out.append(current)
    return out


def run(
    work: Callable[[list[T]], list[R]],
    groups: list[list[T]],
    jobs: int,
    initializer: Callable[..., None],
    initargs: tuple[object, ...],
    crashed: Callable[[T], R],
) -> Iterator[R]:
    """Results of `work` over every group, as the workers finish them (not in order).

    A worker that dies (a crash in native code, the kernel's out-of-memory killer) must not
    hang the run or lose the other files: what was not finished is then checked one item at a
    time in a fresh worker, and the item that kills it gets `crashed(item)` as its result."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    context = _context()
    unfinished = dict(enumerate(groups))
    try:
        with ProcessPoolExecutor(min(jobs, len(groups)), context, initializer, initargs) as pool:
            futures = {pool.submit(work, group): number for number, group in enumerate(groups)}
            for future in as_completed(futures):
                results = future.result()
                del unfinished[futures[future]]
                yield from results
        return
    except BrokenProcessPool:
        pass
    pool = None
    try:
        for item in [item for group in unfinished.values() for item in group]:
            if pool is None:
                pool = ProcessPoolExecutor(1, context, initializer, initargs)
            try:
                results = pool.submit(work, [item]).result()
            except BrokenProcessPool:
                pool.shutdown(wait=False)
                pool = None
                results = [crashed(item)]
            yield from results
    finally:
        if pool is not None:
            pool.shutdown()


def _context() -> BaseContext:
    """fork is the fast start on Linux (the workers inherit the loaded modules); other
    platforms start fresh interpreters, which the initializer prepares."""
    import multiprocessing

    return multiprocessing.get_context("fork" if sys.platform == "linux" else None)

"""An ordered, bounded, crash-tolerant map over a process pool, and the guard every worker installs.

Kept apart from the registration service: registering and `images process` share it, and none of
it knows about images or the database.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from loguru import logger

_T = TypeVar("_T")
_R = TypeVar("_R")
_PR_SET_PDEATHSIG = 1


def guard_worker() -> None:
    """Make a pool worker die with its parent, and leave Ctrl-C to the parent.

    Ctrl-C in a terminal reaches the whole process group; a worker interrupted while holding the
    pool's queue lock left the parent waiting forever. Only the parent decides to cancel, so
    workers ignore SIGINT. A parent killed with -9 cannot shut its pool down, so on Linux the
    kernel sends each worker SIGKILL when the process that started it dies.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the request took effect
            os._exit(1)


def ordered_map(
    make_pool: Callable[[int], ProcessPoolExecutor],
    workers: int,
    submit: Callable[[ProcessPoolExecutor, _T], Future[_R]],
    items: Iterator[_T],
    cancelled: Callable[[], bool],
) -> Iterator[tuple[_T, _R | None]]:
    """Run `submit` over `items` in a pool, yielding results in input order with a bounded window
    (memory stays flat for any number of items). Once `cancelled()`, queued work is dropped and running
    work drained. If a worker process dies (a decoder crash), the items in flight are retried one
    at a time in a fresh process; an item that kills it again yields None."""
    window = max(4, workers * 4)
    pool = make_pool(workers)
    pending: deque[tuple[_T, Future[_R]]] = deque()
    try:
        while True:
            while not cancelled() and len(pending) < window:
                item = next(items, None)
                if item is None:
                    break
                pending.append((item, submit(pool, item)))
            if not pending:
                return
            item, future = pending.popleft()
            if cancelled() and future.cancel():
                continue
            try:
                result = future.result()
            except BrokenProcessPool:
                pool.shutdown(cancel_futures=True)
                in_flight = [item, *(queued for queued, _ in pending)]
                pending.clear()
                for suspect in in_flight:
                    if cancelled():
                        break
                    with make_pool(1) as solo:
                        try:
                            yield suspect, submit(solo, suspect).result()
                        except BrokenProcessPool:
                            logger.warning("decoder process died on {}", suspect)
                            yield suspect, None
                pool = make_pool(workers)
                continue
            yield item, result
    finally:
        pool.shutdown(cancel_futures=True)

"""What every forked worker process of `por` does first.

`por` forks workers (the tree builder, the proof export, the leaf list) from a process that
may hold the publisher's lock: a forked child inherits every open descriptor, the lock
among them. A worker orphaned by a killed publisher would hold that lock until it ended,
and the restart would be refused as a second publisher. So workers die with their parent.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["die_with_parent", "map_forked"]

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
_SIGKILL = 9


def die_with_parent() -> None:
    """Arm SIGKILL on the parent's death (Linux `PR_SET_PDEATHSIG`); elsewhere a worker
    ends when its task queue closes."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def map_forked(fn: Callable[[int], T], count: int, workers: int | None = None) -> list[T]:
    """`fn(i)` for i in range(count), in order: in this process with one worker, else in
    forked workers (one per core by default) that die with their parent. Forking lets
    `fn` read what the caller set up in module state before the call."""
    n = min(workers or os.cpu_count() or 1, max(count, 1))
    if n == 1:
        return [fn(i) for i in range(count)]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(n, mp_context=ctx, initializer=die_with_parent) as pool:
        return list(pool.map(fn, range(count)))

"""Bulk postings allocate millions of small acyclic tuples (legs, postings, undo records).

CPython's cyclic garbage collector rescans every young tracked object each time its
thresholds trip, which made a 1M-leg entry quadratic in practice (4x the legs took 10x
the time). Nothing in such a burst can form a cycle, so the collector is paused for its
duration and restored after (to whatever state it was in).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

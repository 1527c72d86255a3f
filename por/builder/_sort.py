"""Sorting 64-bit keys with whichever of numpy's kernels is fast on this CPU.

numpy's default sort dispatches to x86-simd-sort's AVX-512 quicksort wherever AVX-512 is
present. On Intel that is its fastest path (~0.5 ms per 131k keys); on AMD Zen 4 it is
the slowest (5.7 ms per 131k keys, 51 ms per million measured here): its partition step
stores with `vpcompress` to memory, which Zen 4 runs in microcode (numpy/x86-simd-sort
issue 6; numpy PR 32690 notes it too). There, a 16-bit radix pass (numpy's stable sort
of uint16 is a radix sort) followed by timsort over the nearly sorted result takes about
half the time, and timsort merges already-sorted runs ~4x faster than the quicksort sorts
them.

Which kernel wins is measured once per process (~3 ms, on 2^14 keys; the local engine
measures before it forks its workers, which inherit the answer). The result is the same
either way: a sort is a sort, only its speed depends on the choice.
"""

from __future__ import annotations

import functools
import time

import numpy as np
from numpy.typing import NDArray

__all__ = ["merge_sorted_runs", "simd_sort_is_fast", "sort_keys"]

_PROBE_KEYS = 1 << 14
_TOP_SHIFT = np.uint64(48)


def _radix_then_timsort(keys: NDArray[np.uint64]) -> None:
    """Sort in place: order by the top 16 bits (one radix argsort), then timsort, which
    finds the array nearly sorted (buckets of a few keys each)."""
    order = np.argsort((keys >> _TOP_SHIFT).astype(np.uint16), kind="stable")
    keys[:] = keys[order]
    keys.sort(kind="stable")


@functools.cache
def simd_sort_is_fast() -> bool:
    """Whether numpy's default (quick)sort beats radix + timsort on random keys here."""
    probe = np.random.default_rng(0).integers(0, 1 << 63, _PROBE_KEYS, dtype=np.uint64)
    best = {True: float("inf"), False: float("inf")}  # float-ok: seconds, not money
    for _ in range(4):  # the first round warms both up
        for quick in (True, False):
            keys = probe.copy()
            start = time.perf_counter()
            if quick:
                keys.sort()
            else:
                _radix_then_timsort(keys)
            best[quick] = min(best[quick], time.perf_counter() - start)
    return best[True] <= best[False]


def sort_keys(keys: NDArray[np.uint64]) -> None:
    """Sort 1-D uint64 `keys` in place, in no particular prior order."""
    if keys.size < 2:
        return
    if simd_sort_is_fast():
        keys.sort()
    else:
        _radix_then_timsort(keys)


def merge_sorted_runs(keys: NDArray[np.uint64]) -> None:
    """Sort in place 1-D uint64 `keys` made of a few sorted runs laid end to end."""
    if keys.size < 2:
        return
    keys.sort(kind=None if simd_sort_is_fast() else "stable")

"""Sorting leaves by tag and rejecting duplicates, on the whole tag array at once.

Sorting 32-byte keys: argsort the first 8 bytes as a big-endian uint64 (numpy's SIMD
sort); only if two prefixes tie (probability ~ n^2 / 2^65) fall back to a full 4-column
lexsort, so the order is always exactly bytewise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from por.builder._errors import TreeInputError

__all__ = ["check_sorted_unique", "prefix_keys", "sort_by_tag", "sorted_run"]


def _columns(tags: NDArray[np.uint8]) -> NDArray[np.uint64]:
    return np.ascontiguousarray(tags).view(">u8").astype(np.uint64)


def prefix_keys(tags: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """First 8 bytes of each tag as a native uint64: same order as the bytes."""
    return np.ascontiguousarray(tags).view(">u8")[:, 0].astype(np.uint64)


def sorted_run(tags: NDArray[np.uint8], first: int) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Indices first.. of a chunk of tags ordered by prefix key, and those keys in that
    order: one sorted run for the merge."""
    keys = prefix_keys(tags)
    order = np.argsort(keys)
    return order.astype(np.int64) + first, keys[order]


def sort_by_tag(
    tags: NDArray[np.uint8],
    describe: Callable[[int], str],
    runs: NDArray[np.int64] | None = None,
    run_keys: NDArray[np.uint64] | None = None,
) -> NDArray[np.int64]:
    """Permutation putting `tags` in bytewise ascending order; raises on a duplicate tag.

    `runs`, if given, is a permutation made of sorted runs (each worker sorted its own
    chunk with `sorted_run`); merging them with a stable sort (timsort finds the runs) is
    several times cheaper than sorting from scratch in this serial step. `run_keys` are
    the prefix keys in `runs` order, if the workers already have them.
    `describe(i)` names input i in the error ("account 3 ('alice')", "filler 7").
    """
    if runs is None:
        keys = prefix_keys(tags)
        perm = np.argsort(keys).astype(np.int64, copy=False)
        sorted_keys = np.take(keys, perm)
    else:
        if run_keys is None:
            run_keys = np.take(prefix_keys(tags), runs)
        merge = np.argsort(run_keys, kind="stable")
        perm = np.take(runs, merge)
        sorted_keys = np.take(run_keys, merge)
    ties = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    if ties.size == 0:
        return perm
    cols = _columns(tags)
    perm = np.lexsort((cols[:, 3], cols[:, 2], cols[:, 1], cols[:, 0])).astype(np.int64)
    rows = cols[perm]
    same = np.flatnonzero(np.all(rows[1:] == rows[:-1], axis=1))
    if same.size:
        a, b = int(perm[same[0]]), int(perm[same[0] + 1])
        raise TreeInputError(
            f"duplicate tag {tags[a].tobytes().hex()}: {describe(min(a, b))} and "
            f"{describe(max(a, b))} (tags must be unique: same account id and nonce?)"
        )
    return perm


def check_sorted_unique(tags: NDArray[np.uint8]) -> None:
    """A given leaf list must already be strictly ascending by tag."""
    cols = _columns(tags)
    if cols.shape[0] < 2:
        return
    a, b = cols[:-1], cols[1:]
    less = np.zeros(a.shape[0], dtype=bool)
    equal = np.ones(a.shape[0], dtype=bool)
    for k in range(4):
        less |= equal & (a[:, k] < b[:, k])
        equal &= a[:, k] == b[:, k]
    bad = np.flatnonzero(~less)
    if bad.size:
        i = int(bad[0])
        what = "duplicate tag" if bool(equal[i]) else "tags out of order"
        raise TreeInputError(
            f"{what} at leaves {i} and {i + 1}: leaves must be strictly ascending by tag"
        )

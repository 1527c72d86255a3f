"""Sorting leaves by tag and rejecting duplicates, on the whole tag array at once.

Sort keys are *packed*: the first bytes of the tag as a big-endian integer in the high
bits of a uint64, the leaf's input index in the low `index_bits` bits. Packed keys are
unique, so a plain sort (no argsort, no index array: `por.builder._sort`) orders them
and the low bits give the permutation. Two tags whose high bits tie (~ n^2 /
2^(65 - index_bits) pairs: none at 1M leaves, ~100 at 16M) are put in exact bytewise
order by comparing the full tags of each tied group; equal full tags are duplicates.
Workers sort their own chunks (`packed_run`); the runs are merged by sorting them again
(`merge_sorted_runs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import numpy as np
from numpy.typing import NDArray

from por.builder._errors import TreeInputError
from por.builder._sort import merge_sorted_runs, sort_keys

__all__ = [
    "DuplicateTags",
    "Perm",
    "check_sorted_unique",
    "duplicate_error",
    "index_bits",
    "merge_slice",
    "packed_keys",
    "packed_run",
    "sort_by_tag",
    "split_runs",
]

Perm = NDArray[np.int64] | NDArray[np.uint32]  # input indices in tag order (< 2^32 leaves)
MAX_TIED = 1 << 16  # beyond this many tied keys, one full lexsort instead of groups


def index_bits(leaf_count: int) -> int:
    """Bits needed for any input index of a tree of `leaf_count` leaves (at least 1)."""
    return max(1, (leaf_count - 1).bit_length())


def packed_keys(
    tags: NDArray[np.uint8], first: int, bits: int, out: NDArray[np.uint64] | None = None
) -> NDArray[np.uint64]:
    """(first 8 tag bytes, high 64 - bits of them) | (first + i), unsorted; into `out`
    if given (no temporaries when `tags` rows are contiguous)."""
    n = tags.shape[0]
    keys = np.empty(n, dtype=np.uint64) if out is None else out
    if tags.strides[1] == 1 and tags.strides[0] % 8 == 0 and tags.ctypes.data % 8 == 0:
        np.copyto(keys, tags.view(">u8")[:, 0])  # byte-swapped straight into `keys`
    else:
        keys[:] = np.ascontiguousarray(tags[:, :8]).view(">u8")[:, 0]
    keys &= np.uint64(((1 << 64) - 1) ^ ((1 << bits) - 1))
    keys += np.uint64(first)  # the low bits are zero and first + i < 2^bits: += is |=
    keys += _arange(n)
    return keys


_ARANGE: list[NDArray[np.uint64]] = []


def _arange(n: int) -> NDArray[np.uint64]:
    """0, 1, .. n-1 as uint64, from one cached array (a worker's chunks share it)."""
    if not _ARANGE or _ARANGE[0].size < n:
        _ARANGE[:] = [np.arange(n, dtype=np.uint64)]
    return _ARANGE[0][:n]


def packed_run(
    tags: NDArray[np.uint8], first: int, bits: int, out: NDArray[np.uint64] | None = None
) -> NDArray[np.uint64]:
    """A chunk's packed keys, sorted (in `out` if given): one run for the merge.

    Packed keys are unique, so stability is moot: `sort_keys` takes whichever kernel is
    fast on this CPU (the SIMD quicksort: ~0.45 ms per 131k keys on Intel, 5.7 ms on AMD
    Zen 4, where a 16-bit radix pass + timsort takes 2.8 ms).
    """
    keys = packed_keys(tags, first, bits, out)
    sort_keys(keys)
    return keys


def _columns(tags: NDArray[np.uint8]) -> NDArray[np.uint64]:
    return np.ascontiguousarray(tags).view(">u8").astype(np.uint64)


def sort_by_tag(
    tags: NDArray[np.uint8],
    describe: Callable[[int], str],
    runs: NDArray[np.uint64] | None = None,
    out: Perm | None = None,
) -> Perm:
    """Permutation putting `tags` in bytewise ascending order; raises on a duplicate tag.

    `runs`, if given, are all packed keys (`index_bits(len(tags))` bits) as sorted runs
    (each worker sorted its chunk with `packed_run`). The result is
    written to `out` if given. `describe(i)` names input i in the error ("account 3
    ('alice')", "filler 7").
    """
    n = tags.shape[0]
    bits = index_bits(n)
    if runs is None:
        merged = packed_run(tags, 0, bits)
    else:
        merged = runs.copy()
        merge_sorted_runs(merged)
    perm: Perm = out if out is not None else np.empty(n, dtype=np.int64)
    tied = _unpack(merged, bits, perm)
    if tied.size == 0:
        return perm
    if tied.size > MAX_TIED:
        return _lexsort(tags, describe, perm)
    try:
        _order_ties(tags, perm, tied)
    except DuplicateTags as dup:
        duplicate_error(tags, describe, dup)
    return perm


def _unpack(merged: NDArray[np.uint64], bits: int, out: Perm) -> NDArray[np.intp]:
    """The input indices of sorted packed keys into `out`; returns the positions i whose
    key ties with key i + 1 in its high bits (their order needs the full tags)."""
    np.bitwise_and(merged, np.uint64((1 << bits) - 1), out=out, casting="unsafe")
    high = merged >> np.uint64(bits)
    return np.flatnonzero(high[1:] == high[:-1])


class DuplicateTags(Exception):  # noqa: N818 - internal signal, never escapes the package
    """Inputs `a` and `b` have the same tag (turned into a `TreeInputError` by the caller,
    who can name them)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(a, b)
        self.a, self.b = min(a, b), max(a, b)


def _order_ties(tags: NDArray[np.uint8], perm: Perm, tied: NDArray[np.intp]) -> None:
    """Reorder each group of equal high keys by full tag; equal full tags raise
    `DuplicateTags`."""
    starts = tied[np.concatenate(([True], tied[1:] != tied[:-1] + 1))]
    ends = tied[np.concatenate((tied[1:] != tied[:-1] + 1, [True]))] + 2
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        group = sorted(perm[lo:hi].tolist(), key=lambda i: tags[i].tobytes())
        for a, b in zip(group, group[1:], strict=False):
            if tags[a].tobytes() == tags[b].tobytes():
                raise DuplicateTags(a, b)
        perm[lo:hi] = group


def split_runs(
    runs: list[NDArray[np.uint64]], ranks: list[int], bits: int
) -> list[list[int]] | None:
    """Cut sorted runs of unique packed keys at global ranks, for a parallel merge.

    Returns, for each run, the position of each rank's cut in it (`ranks` ascending):
    run r contributes run[cut[r][p-1]:cut[r][p]] to slice p. The cut value of each rank
    is found by bisection on the value (vectorised over ranks, <= 64 rounds of
    `searchsorted`). None if the keys on both sides of a cut tie in their high bits:
    their order needs full tags and may cross the cut (the caller sorts serially).
    """
    if not ranks:
        return [[] for _ in runs]
    want = np.array(ranks, dtype=np.int64)
    lo = np.zeros(want.size, dtype=np.uint64)
    hi = np.full(want.size, (1 << 64) - 1, dtype=np.uint64)
    one = np.uint64(1)
    while bool((lo < hi).any()):
        mid = lo + ((hi - lo) >> one)
        below = sum((np.searchsorted(run, mid, side="right") for run in runs), np.zeros_like(want))
        enough = below >= want + 1  # at least rank + 1 keys <= mid: the cut is <= mid
        hi = np.where(enough, mid, hi)
        lo = np.where(enough, lo, mid + one)
    cuts = [np.searchsorted(run, lo, side="left").tolist() for run in runs]
    last = np.zeros(want.size, dtype=np.uint64)
    for run, cut in zip(runs, cuts, strict=True):
        at = np.array(cut, dtype=np.int64)
        has = at > 0
        last[has] = np.maximum(last[has], run[at[has] - 1])
    shift = np.uint64(bits)
    if bool(((last >> shift) == (lo >> shift)).any()):
        return None
    return cuts


def merge_slice(
    pieces: list[NDArray[np.uint64]], tags: NDArray[np.uint8], bits: int, out: Perm
) -> None:
    """Merge the sorted pieces of one slice into `out` (input indices in tag order);
    raises `DuplicateTags`."""
    merged = np.concatenate(pieces) if len(pieces) != 1 else pieces[0].copy()
    merge_sorted_runs(merged)  # the SIMD quicksort, or timsort merging the runs (Zen 4)
    tied = _unpack(merged, bits, out)
    if tied.size:
        _order_ties(tags, out, tied)


def duplicate_error(
    tags: NDArray[np.uint8], describe: Callable[[int], str], dup: DuplicateTags
) -> NoReturn:
    raise TreeInputError(
        f"duplicate tag {tags[dup.a].tobytes().hex()}: {describe(dup.a)} and "
        f"{describe(dup.b)} (tags must be unique: same account id and nonce?)"
    ) from None


def _lexsort(tags: NDArray[np.uint8], describe: Callable[[int], str], perm: Perm) -> Perm:
    cols = _columns(tags)
    perm[:] = np.lexsort((cols[:, 3], cols[:, 2], cols[:, 1], cols[:, 0]))
    rows = cols[perm]
    same = np.flatnonzero(np.all(rows[1:] == rows[:-1], axis=1))
    if same.size:
        duplicate_error(tags, describe, DuplicateTags(int(perm[same[0]]), int(perm[same[0] + 1])))
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

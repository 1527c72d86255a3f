"""The partition function: one contiguous, power-of-two slice of the sorted leaves in,
its subtree's levels on disk and its top node out.

Engines differ only in where this runs (in-process, a forked worker, a Dask worker); the
function itself is pure apart from writing its own file (temp, then rename).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from por.builder._direct import StreamFile, aligned_empty
from por.builder._layout import FENCE_STRIDE, part_path
from por.builder._level import build_levels, hash_rows, leaf_preimages

__all__ = ["PartitionInput", "PartitionTop", "build_partition", "gather_partition"]


@dataclass(frozen=True, slots=True)
class PartitionInput:
    """Leaves [index*L, (index+1)*L) of the sorted, padded leaf list.

    Fields: `tags` uint8 (L, 32), `order` uint32 (L,) input index of each leaf,
    `amounts` uint64 (L, 2, A, 2). L is a power of two >= 2.
    """

    index: int
    tags: NDArray[np.uint8]
    order: NDArray[np.uint32]
    amounts: NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class PartitionTop:
    """The subtree's top node: hash (32 bytes) and sums, uint64 (2A, 2) limbs; plus
    `fences`: the tags at global leaf positions divisible by FENCE_STRIDE in this
    partition, for the proof store's in-memory tag index."""

    index: int
    hash: bytes
    sums: NDArray[np.uint64]
    fences: bytes


def gather_partition(
    index: int,
    leaves: int,
    tags: NDArray[np.uint8],
    perm: NDArray[np.int64],
    amounts: NDArray[np.uint64],
    accounts: int,
) -> PartitionInput:
    """Pick partition `index` out of unsorted tags/amounts using the sort permutation.

    perm[i] < accounts is an account (its amounts), otherwise a filler (zero vectors).
    """
    sel = perm[index * leaves : (index + 1) * leaves]
    real = sel < accounts
    if bool(real.all()):
        part_amounts = np.take(amounts, sel, axis=0)
    elif accounts == 0:
        part_amounts = np.zeros((leaves, *amounts.shape[1:]), dtype=np.uint64)
    else:
        # Fillers: clip their index to a real row, then zero them (np.take beats masks).
        part_amounts = np.take(amounts, np.minimum(sel, max(accounts - 1, 0)), axis=0)
        part_amounts[~real] = 0
    part_tags = aligned_empty((leaves, tags.shape[1]))
    np.take(tags, sel, axis=0, out=part_tags)
    order = aligned_empty((leaves * 4,)).view("<u4")
    order[:] = sel
    return PartitionInput(index, part_tags, order, part_amounts)


def build_partition(part: PartitionInput, out_dir: str) -> PartitionTop:
    """Hash the leaves, fold the subtree, stream each level to `part-NNNNN.bin`."""
    leaves = part.tags.shape[0]
    if leaves < 2 or leaves & (leaves - 1):
        raise ValueError(f"partition size must be a power of two >= 2, got {leaves}")
    sums = part.amounts.reshape(leaves, -1, 2)
    leaf_hashes = hash_rows(leaf_preimages(part.tags, sums))
    final = part_path(Path(out_dir), part.index)
    tmp = final.with_name(final.name + ".tmp")
    with StreamFile(tmp) as fh:
        fh.write(part.tags)
        fh.write(part.order.astype("<u4", copy=False).view(np.uint8))
        top_hash, top_sums = build_levels(leaf_hashes, sums, _Sink(fh))
    os.replace(tmp, final)
    first = (-part.index * leaves) % FENCE_STRIDE
    fences = np.ascontiguousarray(part.tags[first::FENCE_STRIDE]).tobytes()
    return PartitionTop(part.index, top_hash.tobytes(), top_sums, fences)


class _Sink:
    """Appends each level's pair records to the partition file as they are made."""

    def __init__(self, fh: StreamFile) -> None:
        self._fh = fh

    def __call__(self, level: int, pairs: NDArray[np.uint8]) -> None:
        self._fh.write(pairs)

"""The partition function: one contiguous, power-of-two slice of the sorted leaves in,
its subtree's levels on disk and its top node out.

Engines differ only in where this runs (in-process, a forked worker, a Dask worker); the
function itself is pure apart from writing its own file (temp, then rename). Its leaves
come either as a `PartitionInput` (arrays shipped to a Dask worker) or straight from the
unsorted input and the sort permutation (`build_sorted_partition`: gathered a block at a
time into the fold's own buffers, no partition-sized copy). A worker that builds several
partitions passes the same `Workspace` each time, so its buffers are faulted in once
(see `por.builder._fold`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from por.builder._errors import TreeInputError
from por.builder._fold import BlockFill, Workspace, check_partition_totals, fold_partition
from por.builder._layout import FENCE_STRIDE, part_path
from por.builder._order import Perm

__all__ = [
    "PartitionInput",
    "PartitionTop",
    "Workspace",
    "build_partition",
    "build_sorted_partition",
    "gather_partition",
    "thread_workspace",
]


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


_THREAD = threading.local()


def thread_workspace(leaves: int, n_assets: int) -> Workspace:
    """This thread's workspace for partitions of this shape (one kept per thread, so a
    long-lived worker holds at most one partition's buffers)."""
    ws: Workspace | None = getattr(_THREAD, "workspace", None)
    if ws is None or not ws.fits(leaves, n_assets):
        _THREAD.workspace = None
        ws = _THREAD.workspace = Workspace(leaves, n_assets)
    return ws


def gather_partition(
    index: int,
    leaves: int,
    tags: NDArray[np.uint8],
    perm: Perm,
    amounts: NDArray[np.uint64],
    accounts: int,
) -> PartitionInput:
    """Pick partition `index` out of unsorted tags/amounts using the sort permutation (for
    an engine that ships partitions elsewhere).

    perm[i] < accounts is an account (its amounts), otherwise a filler (zero vectors).
    """
    sel = perm[index * leaves : (index + 1) * leaves]
    part_tags = np.empty((leaves, tags.shape[1]), dtype=np.uint8)
    order = np.empty(leaves, dtype="<u4")
    part_amounts = np.empty((leaves, *amounts.shape[1:]), dtype=np.uint64)
    _gather(sel, tags, amounts, accounts, part_tags, order, part_amounts)
    return PartitionInput(index, part_tags, order, part_amounts)


def _gather(
    sel: Perm,
    tags: NDArray[np.uint8],
    amounts: NDArray[np.uint64],
    accounts: int,
    tags_out: NDArray[np.uint8],
    order_out: NDArray[np.uint32],
    amounts_out: NDArray[np.uint64],
) -> None:
    """Rows `sel` of tags and amounts into the outputs (fillers: zero amounts).

    `mode="clip"` lets `np.take` write straight into `out` (with the default "raise" it
    gathers into a temporary first) and maps every filler index to the last account,
    whose row is then zeroed.
    """
    np.take(tags, sel, axis=0, out=tags_out, mode="clip")
    order_out[:] = sel
    if accounts == 0:
        amounts_out[:] = 0
        return
    np.take(amounts, sel, axis=0, out=amounts_out, mode="clip")
    fillers = sel >= accounts
    if bool(fillers.any()):
        amounts_out[fillers] = 0


def build_sorted_partition(
    index: int,
    leaves: int,
    tags: NDArray[np.uint8],
    perm: Perm,
    amounts: NDArray[np.uint64],
    accounts: int,
    out_dir: str,
    workspace: Workspace,
) -> PartitionTop:
    """`build_partition` of partition `index`, its leaves gathered a block at a time from
    the unsorted input (`tags` of accounts then fillers, `amounts` of accounts) through
    the sort permutation. The caller has checked the tree's totals."""
    sel = perm[index * leaves : (index + 1) * leaves]
    scratch = workspace.amounts

    def fill(
        lo: int, hi: int, tags_out: NDArray[np.uint8], order_out: NDArray[np.uint32]
    ) -> NDArray[np.uint64]:
        out = scratch[: hi - lo]
        _gather(sel[lo:hi], tags, amounts, accounts, tags_out, order_out, out)
        return out

    return _write(index, leaves, fill, out_dir, workspace)


def build_partition(
    part: PartitionInput,
    out_dir: str,
    workspace: Workspace | None = None,
    *,
    totals_checked: bool = False,
) -> PartitionTop:
    """Hash the leaves, fold the subtree, write `part-NNNNN.bin`; return the top node.

    `totals_checked=True` says the caller has checked that the per-asset totals of a
    tree containing these leaves are < 2^128 (`build_tree` does, before phase 1);
    otherwise this partition's totals are checked here. A total reaching 2^128 raises
    `TreeInputError` before the file is created.
    """
    leaves = part.tags.shape[0]
    if leaves < 2 or leaves & (leaves - 1):
        raise ValueError(f"partition size must be a power of two >= 2, got {leaves}")
    n_assets = part.amounts.shape[2]
    if not totals_checked:
        bad = check_partition_totals(part.amounts.reshape(leaves, 2 * n_assets, 2))
        if bad >= 0:
            side = "equity" if bad < n_assets else "debt"
            raise TreeInputError(
                f"partition {part.index}: total {side} of asset {bad % n_assets} reaches "
                "2^128 (u128 overflow)"
            )
    ws = workspace if workspace is not None and workspace.fits(leaves, n_assets) else None
    ws = ws or Workspace(leaves, n_assets)

    def fill(
        lo: int, hi: int, tags_out: NDArray[np.uint8], order_out: NDArray[np.uint32]
    ) -> NDArray[np.uint64]:
        tags_out[:] = part.tags[lo:hi]
        order_out[:] = part.order[lo:hi]
        return part.amounts[lo:hi]

    return _write(part.index, leaves, fill, out_dir, ws)


def _write(index: int, leaves: int, fill: BlockFill, out_dir: str, ws: Workspace) -> PartitionTop:
    final = part_path(Path(out_dir), index)
    tmp = final.with_name(final.name + ".tmp")
    top_hash, top_sums, fences = fold_partition(ws, fill, tmp, index * leaves, FENCE_STRIDE)
    os.replace(tmp, final)
    return PartitionTop(index, top_hash, top_sums, fences)

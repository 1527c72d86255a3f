"""Cache-blocked folding of one partition's leaves into its subtree.

Every byte string hashed (a leaf preimage, a pair record) is laid out by numpy in a
buffer that is reused, and hashed while it is still in the CPU cache:

- leaves are taken `BLOCK_LEAVES` at a time: their preimages `0x00 || tag || enc(equity)
  || enc(debt)` go into one reused (B, 1 + 32 + 32A) buffer, are hashed, and the block is
  folded up its lowest levels (while a level of the block still has >= `MIN_BLOCK_PAIRS`
  pairs) before the next block is touched;
- each level's pair records `0x01 || L.hash || enc(L) || R.hash || enc(R)` are written
  straight into that level's section buffer (prefix bytes set once, hashes and big-endian
  sums written through strided views), which is then hashed in place and streamed to disk
  unchanged: the bytes hashed and the bytes stored are the same buffer;
- the nodes left after the blocked levels (`L >> blocked` of them, a few hundred KB) are
  folded level by level to the partition's top.

Sums are `[hi, lo]` native uint64 limbs, added with a carry and no overflow test: the
partition's exact totals are checked first (`check_partition_totals`), and amounts are
non-negative, so no sum inside the partition can reach 2^128. Workspaces (all these
buffers, ~0.5 KB per leaf) are kept from one partition to the next by the engines: fresh
memory costs a page fault per 4 KB, which on this VM is more than hashing that memory.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT, HASH_BYTES, LEAF_PREFIX, NODE_PREFIX
from por.builder._direct import aligned_empty

__all__ = [
    "BLOCK_LEAVES",
    "MIN_BLOCK_PAIRS",
    "Workspace",
    "check_partition_totals",
    "fold_partition",
    "hash_rows_into",
]

BLOCK_LEAVES = 2048
MIN_BLOCK_PAIRS = 128
_LEAF = LEAF_PREFIX[0]
_NODE = NODE_PREFIX[0]
_U128 = 16


class Workspace:
    """Buffers to fold partitions of `leaves` leaves and `n_assets` assets, reusable.

    Fields: `tags` (L, 32) and `order` (L,) u32 and `amounts` (L, 2, A, 2) for a gathered
    partition; `levels[k]` the pair records of level k, (L >> (k+1), 1 + 2 rec), each from
    `aligned_empty` (written to disk with O_DIRECT as they are); `leaf_rows` one block of
    leaf preimages. Prefix bytes are set once here and never overwritten.
    """

    def __init__(self, leaves: int, n_assets: int) -> None:
        if leaves < 2 or leaves & (leaves - 1):
            raise ValueError(f"partition size must be a power of two >= 2, got {leaves}")
        self.leaves = leaves
        self.n_assets = n_assets
        self.height = leaves.bit_length() - 1
        rec = HASH_BYTES + 2 * _U128 * n_assets
        self.record = rec
        self.tags = aligned_empty((leaves, HASH_BYTES))
        self.order = aligned_empty((leaves * 4,)).view("<u4")
        self.amounts = np.empty((leaves, 2, n_assets, 2), dtype=np.uint64)
        self.levels: list[NDArray[np.uint8]] = []
        self._hash_views: list[NDArray[np.uint8]] = []
        self._byte_views: list[NDArray[np.uint8]] = []
        self._sum_views: list[NDArray[np.uint64]] = []
        for k in range(self.height):
            pairs = aligned_empty((leaves >> (k + 1), 1 + 2 * rec))
            pairs[:, 0] = _NODE
            sides = pairs[:, 1:].reshape(pairs.shape[0], 2, rec)
            self.levels.append(pairs)
            self._hash_views.append(sides[:, :, :HASH_BYTES])
            self._byte_views.append(sides[:, :, HASH_BYTES:])
            self._sum_views.append(sides[:, :, HASH_BYTES:].view(">u8"))
        block = min(BLOCK_LEAVES, leaves)
        self.block = block
        self.leaf_rows = np.empty((block, 1 + rec), dtype=np.uint8)
        self.leaf_rows[:, 0] = _LEAF
        self._leaf_tags = self.leaf_rows[:, 1 : 1 + HASH_BYTES]
        self._leaf_sums = self.leaf_rows[:, 1 + HASH_BYTES :].view(">u8")
        self._leaf_bytes = self.leaf_rows[:, 1 + HASH_BYTES :]
        blocked = 0
        while blocked < self.height and (block >> (blocked + 1)) >= MIN_BLOCK_PAIRS:
            blocked += 1
        if block == leaves:
            blocked = self.height  # one block: fold it all the way up
        self.blocked = blocked

    def fits(self, leaves: int, n_assets: int) -> bool:
        return self.leaves == leaves and self.n_assets == n_assets


def hash_rows_into(rows: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """SHA-256 of each row of a C-contiguous (m, w) uint8 array -> read-only (m, 32).

    The one Python loop of the builder: a slice of a memoryview and a digest per row.
    """
    m, width = rows.shape
    mv = rows.reshape(-1).data
    sha = hashlib.sha256
    digests = b"".join([sha(mv[a : a + width]).digest() for a in range(0, m * width, width)])
    return np.frombuffer(digests, dtype=np.uint8).reshape(m, HASH_BYTES)


def _add(a: NDArray[np.uint64], b: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """u128 a + b on (..., 2) [hi, lo] limbs, carrying; the caller excludes overflow."""
    out = np.add(a, b)
    np.add(out[..., 0], out[..., 1] < a[..., 1], out=out[..., 0], casting="unsafe")
    return out


def check_partition_totals(amounts: NDArray[np.uint64]) -> int:
    """Index of the first (side, asset) whose exact total over these leaves is >= 2^128,
    or -1. `amounts` is (L, 2A, 2) limbs; each limb is summed as two uint32 halves in
    uint64 (exact for fewer than 2^32 leaves)."""
    flat = np.ascontiguousarray(amounts).reshape(amounts.shape[0], -1)
    halves = flat.view(np.uint32).reshape(flat.shape[0], amounts.shape[1], 4)
    sums = halves.sum(axis=0, dtype=np.uint64).tolist()
    for i, row in enumerate(sums):
        if np.little_endian:  # [hi.lo32, hi.hi32, lo.lo32, lo.hi32]
            hi_lo, hi_hi, lo_lo, lo_hi = row
        else:
            hi_hi, hi_lo, lo_hi, lo_lo = row
        if (((hi_hi << 32) + hi_lo) << 64) + (lo_hi << 32) + lo_lo >= AMOUNT_LIMIT:
            return i
    return -1


def _level(
    ws: Workspace,
    k: int,
    first: int,
    hashes: NDArray[np.uint8],
    sums: NDArray[np.uint64],
    enc: NDArray[np.uint8] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.uint64]]:
    """Write pairs [first, first + n/2) of level k from n nodes, hash them; parents out.

    `enc`, if given, is the nodes' `enc(equity) || enc(debt)` already as bytes (the leaf
    preimages hold them): copied instead of byte-swapped again.
    """
    half = hashes.shape[0] // 2
    stop = first + half
    ws._hash_views[k][first:stop] = hashes.reshape(half, 2, HASH_BYTES)
    if enc is None:
        np.copyto(ws._sum_views[k][first:stop], sums.reshape(half, 2, -1))
    else:
        ws._byte_views[k][first:stop] = enc.reshape(half, 2, -1)
    parents = hash_rows_into(ws.levels[k][first:stop])
    return parents, _add(sums[0::2], sums[1::2])


def fold_partition(
    ws: Workspace, tags: NDArray[np.uint8], amounts: NDArray[np.uint64]
) -> tuple[bytes, NDArray[np.uint64]]:
    """Fill `ws.levels` with every level's pair records; return the top (hash, sums).

    `tags` (L, 32) and `amounts` (L, 2, A, 2) are the partition's sorted leaves; the
    caller has checked the partition's totals (no u128 sum can overflow).
    """
    leaves = ws.leaves
    sums = amounts.reshape(leaves, 2 * ws.n_assets, 2)
    block, blocked = ws.block, ws.blocked
    per_block = block >> blocked
    n_blocks = leaves // block
    mid_hashes = np.empty((n_blocks * per_block, HASH_BYTES), dtype=np.uint8)
    mid_sums = np.empty((n_blocks * per_block, 2 * ws.n_assets, 2), dtype=np.uint64)
    for j in range(n_blocks):
        lo, hi = j * block, (j + 1) * block
        ws._leaf_tags[:] = tags[lo:hi]
        block_sums = sums[lo:hi]
        np.copyto(ws._leaf_sums, block_sums.reshape(block, -1))
        hashes = hash_rows_into(ws.leaf_rows)
        hashes, block_sums = _level(ws, 0, lo >> 1, hashes, block_sums, ws._leaf_bytes)
        for k in range(1, blocked):
            hashes, block_sums = _level(ws, k, lo >> (k + 1), hashes, block_sums)
        mid_hashes[j * per_block : (j + 1) * per_block] = hashes
        mid_sums[j * per_block : (j + 1) * per_block] = block_sums
    hashes, level_sums = mid_hashes, mid_sums
    for k in range(blocked, ws.height):
        hashes, level_sums = _level(ws, k, 0, hashes, level_sums)
    return hashes[0].tobytes(), level_sums[0]

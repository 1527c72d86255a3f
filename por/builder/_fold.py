"""Cache-blocked folding of one partition's leaves into its subtree, streamed to its file.

Every byte string hashed (a leaf preimage, a pair record) is laid out by numpy in a small
buffer that is reused, hashed while it is still in the CPU cache, and written to the
partition file from that same buffer:

- leaves are taken `BLOCK_LEAVES` at a time (gathered straight from the sorted order by
  the caller's `fill`): their preimages `0x00 || tag || enc(equity) || enc(debt)` go into
  one reused (B, 1 + 32 + 32A) buffer, are hashed, and the block is folded up its lowest
  levels (while a level of the block still has >= `MIN_BLOCK_PAIRS` pairs) before the
  next block is touched;
- each level's pair records `0x01 || L.hash || enc(L) || R.hash || enc(R)` are written
  straight into a *chunk* of that level's section (prefix bytes set once, hashes and
  big-endian sums through strided views), hashed in place, and the chunk is handed to a
  background writer (`O_DIRECT` at its offset in the file) as soon as it is full: the
  bytes hashed and the bytes stored are the same buffer, and the disk writes overlap the
  hashing instead of following it;
- the nodes left after the blocked levels (`L >> blocked` of them, a few hundred KB) are
  folded level by level to the partition's top.

A section is streamed through chunk buffers of `CHUNK_BYTES` or more (a whole number of
4 KB pages, so every write is aligned; two buffers where a chunk fills quickly, level 0):
a worker's memory is a few MB
whatever the partition size, touched once and then reused, so it stays in cache and costs
no page faults after the first partition (fresh memory costs a fault per 4 KB, which on
this VM is more than hashing it).

Sums are `[hi, lo]` native uint64 limbs, added with a carry and no overflow test: the
tree's or the partition's exact totals are checked first (`check_partition_totals`), and
amounts are non-negative, so no sum inside the partition can reach 2^128.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT, HASH_BYTES, LEAF_PREFIX, NODE_PREFIX
from por.builder._direct import ChunkFile, aligned_empty, padded_block
from por.builder._layout import (
    ORDER_BYTES,
    SECTION_ALIGN,
    level_offsets,
    order_offset,
    partition_header_bytes,
)
from por.builder._limbs import totals

__all__ = [
    "BLOCK_LEAVES",
    "GATHER_BLOCKS",
    "CHUNK_BYTES",
    "MIN_BLOCK_PAIRS",
    "BlockFill",
    "Workspace",
    "check_partition_totals",
    "digest_views",
    "fold_partition",
    "row_items",
    "row_views",
]

BLOCK_LEAVES = 2048
GATHER_BLOCKS = 8  # blocks gathered per call: random reads (TLB misses) in bursts, not
# interleaved with every block's hashing (~4 ms per 2^17-leaf partition at 10M accounts)
MIN_BLOCK_PAIRS = 128
CHUNK_BYTES = 1 << 20  # smallest write: O_DIRECT below ~1 MB costs CPU and throughput here
_LEAF = LEAF_PREFIX[0]
_NODE = NODE_PREFIX[0]
_U128 = 16
_HASH_ITEM = np.dtype(f"V{HASH_BYTES}")  # a digest as one opaque item (a dtype object:
# a string would be parsed on every call)

# fill(lo, hi, tags_out, order_out) -> amounts: leaves [lo, hi) of the partition in tree
# order; writes their tags (hi-lo, 32) and input indices (hi-lo,) u32 into the given views
# and returns their amounts (hi-lo, 2, A, 2) (zero vectors for fillers).
BlockFill = Callable[[int, int, NDArray[np.uint8], NDArray[np.uint32]], NDArray[np.uint64]]


def _chunk_rows(rows: int, width: int, multiple: int) -> int:
    """Rows per chunk of a section of `rows` rows: whole pages, >= CHUNK_BYTES, a multiple
    of `multiple` (what one block adds); the whole section if that is not smaller."""
    unit = math.lcm(SECTION_ALIGN // math.gcd(SECTION_ALIGN, width), multiple)
    units = -(-CHUNK_BYTES // (unit * width))
    chunk = unit << (units - 1).bit_length()  # powers of two: divides `rows` if smaller
    return rows if chunk >= rows else chunk


class _PairViews(NamedTuple):
    """A chunk buffer of pair records and its strided views: the left and right child's
    hash and `enc(equity) || enc(debt)` as one opaque item per pair (numpy then copies
    one item per row instead of dispatching a 32- or 128-byte inner loop per row: ~2x
    faster), and both children's encoded sums as big-endian uint64."""

    pairs: NDArray[np.uint8]
    rows: list[memoryview]
    left_hash: NDArray[np.void]
    right_hash: NDArray[np.void]
    left_enc: NDArray[np.void]
    right_enc: NDArray[np.void]
    sums: NDArray[Any]


def row_items(rows: NDArray[np.uint8], start: int, width: int) -> NDArray[np.void]:
    """Bytes [start, start + width) of every row of a (m, w) uint8 array (rows of
    contiguous bytes), as (m,) opaque items: numpy copies those one item per row, ~2x
    faster than a (m, width) uint8 slice, whose copy dispatches an inner loop per row."""
    return rows[:, start : start + width].view(f"V{width}")[:, 0]


class _Section:
    """One section of the partition file (`rows` rows of `width` bytes from `offset`),
    written chunk by chunk from a ring of reusable aligned buffers.

    A buffer is handed to the writer when its chunk is complete and is not touched again
    until the writer says it is done with it (`_free` events).
    """

    def __init__(self, rows: int, width: int, multiple: int, prefix: int | None = None) -> None:
        self.rows = rows
        self.width = width
        self.chunk = _chunk_rows(rows, width, multiple)
        if rows % self.chunk:
            raise ValueError(f"a section of {rows} rows cannot be cut in chunks of {self.chunk}")
        # a second buffer only where the writer could still be busy with the previous
        # chunk (one filled in fewer than 8 blocks): fewer fresh pages to fault in
        count = 1 if self.chunk == rows or self.chunk >= 8 * multiple else 2
        self.buffers = [aligned_empty((self.chunk, width)) for _ in range(count)]
        if prefix is not None:
            for buf in self.buffers:
                buf[:, 0] = prefix
        self.views: list[_PairViews] = []
        self._free = [threading.Event() for _ in range(count)]
        for event in self._free:
            event.set()
        self.offset = 0
        self._file: ChunkFile | None = None

    def start(self, file: ChunkFile, offset: int) -> None:
        self._file = file
        self.offset = offset

    def buffer(self, first: int) -> tuple[int, NDArray[np.uint8]]:
        """(index, buffer) of the chunk holding row `first`; waits, at the start of a
        chunk, until the writer has finished with the buffer's previous chunk."""
        c = first // self.chunk
        index = c % len(self.buffers)
        if first % self.chunk == 0:
            self._free[index].wait()
            assert self._file is not None
            self._file.check()
        return index, self.buffers[index]

    def done(self, stop: int) -> None:
        """Rows up to `stop` are written: send the chunk if `stop` completes it."""
        if stop % self.chunk:
            return
        c = stop // self.chunk - 1
        index = c % len(self.buffers)
        block = padded_block(self.buffers[index])
        assert block is not None, "chunk buffers come from aligned_empty"
        self._free[index].clear()
        assert self._file is not None
        self._file.pwrite(block, self.offset + c * self.chunk * self.width, self._free[index])


class Workspace:
    """Buffers to fold partitions of `leaves` leaves and `n_assets` assets, reusable.

    Fields: `leaf_rows` one block of leaf preimages, `amounts` a block of gathered
    amounts, the streamed sections (`tags`, `order`, one per level: pair records with
    their prefix bytes set once), and the arrays of the nodes left after the blocked
    levels. A few MB in all, whatever `leaves` is.
    """

    def __init__(self, leaves: int, n_assets: int) -> None:
        if leaves < 2 or leaves & (leaves - 1):
            raise ValueError(f"partition size must be a power of two >= 2, got {leaves}")
        self.leaves = leaves
        self.n_assets = n_assets
        self.height = leaves.bit_length() - 1
        rec = HASH_BYTES + 2 * _U128 * n_assets
        self.record = rec
        self.pair = 1 + 2 * rec
        block = min(BLOCK_LEAVES, leaves)
        self.block = block
        blocked = 0
        while blocked < self.height and (block >> (blocked + 1)) >= MIN_BLOCK_PAIRS:
            blocked += 1
        if block == leaves:
            blocked = self.height  # one block: fold it all the way up
        self.blocked = blocked
        self.leaf_rows = np.empty((block, 1 + rec), dtype=np.uint8)
        self.leaf_rows[:, 0] = _LEAF
        self._leaf_tags = row_items(self.leaf_rows, 1, HASH_BYTES)
        self._leaf_sums = self.leaf_rows[:, 1 + HASH_BYTES :].view(">u8")
        self._leaf_enc = row_items(self.leaf_rows, 1 + HASH_BYTES, rec - HASH_BYTES)
        self.leaf_views = row_views(self.leaf_rows)
        self.tags = _Section(leaves, HASH_BYTES, block)
        self.order = _Section(leaves, ORDER_BYTES, block)
        # leaves are gathered GATHER_BLOCKS blocks at a time (inside one tag chunk)
        self.group = min(GATHER_BLOCKS, self.tags.chunk // block, self.order.chunk // block)
        self.amounts = np.empty((self.group * block, 2, n_assets, 2), dtype=np.uint64)
        self.levels = [
            _Section(leaves >> (k + 1), self.pair, max(1, block >> (k + 1)), _NODE)
            for k in range(self.height)
        ]
        for section in self.levels:
            for pairs in section.buffers:
                sides = pairs[:, 1:].reshape(pairs.shape[0], 2, rec)
                enc = rec - HASH_BYTES
                section.views.append(
                    _PairViews(
                        pairs,
                        row_views(pairs),
                        row_items(pairs, 1, HASH_BYTES),
                        row_items(pairs, 1 + rec, HASH_BYTES),
                        row_items(pairs, 1 + HASH_BYTES, enc),
                        row_items(pairs, 1 + rec + HASH_BYTES, enc),
                        sides[:, :, HASH_BYTES:].view(">u8"),
                    )
                )
        self.tag_items = [buf.view(_HASH_ITEM)[:, 0] for buf in self.tags.buffers]
        self.order_u32 = [buf.reshape(-1).view(np.uint32) for buf in self.order.buffers]
        mid = leaves >> blocked
        self.mid_hashes = np.empty(mid, dtype=_HASH_ITEM)
        self.mid_sums = np.empty((mid, 2 * n_assets, 2), dtype=np.uint64)

    def fits(self, leaves: int, n_assets: int) -> bool:
        return self.leaves == leaves and self.n_assets == n_assets


def row_views(rows: NDArray[np.uint8]) -> list[memoryview]:
    """One memoryview per row of a reused C-contiguous (m, w) uint8 buffer, made once.

    Hashing through views made in advance skips slicing a memoryview per row on every
    call, ~100 ns of the ~500 ns a 161- or 193-byte row's hash took here (the bare loop
    over ready byte strings that `bench/tree.py` times as the floor is what is left).
    """
    m, width = rows.shape
    if not rows.flags.c_contiguous:
        raise ValueError("row views need a C-contiguous buffer")
    mv = rows.reshape(-1).data
    return [mv[a : a + width] for a in range(0, m * width, width)]


def digest_views(views: list[memoryview]) -> bytes:
    """SHA-256 of each view, concatenated: the builder's one hashing loop."""
    sha = hashlib.sha256
    return b"".join([sha(v).digest() for v in views])


def _pair_sums(sums: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Parents' sums from children's (2n, k, 2) [hi, lo] u128 limbs, carrying; the caller
    excludes overflow. Rows of k*2 limbs keep numpy's inner loops long (a (..., 2) view
    would dispatch one inner loop per two limbs)."""
    n = sums.shape[0] // 2
    rows = sums.reshape(n, 2, -1)
    left = rows[:, 0]
    out = np.add(left, rows[:, 1])
    np.add(out[:, 0::2], out[:, 1::2] < left[:, 1::2], out=out[:, 0::2], casting="unsafe")
    return out.reshape(n, *sums.shape[1:])


def check_partition_totals(amounts: NDArray[np.uint64]) -> int:
    """Index of the first (side, asset) whose exact total over these leaves is >= 2^128,
    or -1. `amounts` is (L, 2A, 2) limbs (exact totals: `_limbs.totals`)."""
    for i, total in enumerate(totals(amounts)):
        if total >= AMOUNT_LIMIT:
            return i
    return -1


def _level(
    ws: Workspace,
    k: int,
    first: int,
    hashes: NDArray[np.void],
    sums: NDArray[np.uint64],
    enc: NDArray[np.void] | None = None,
) -> tuple[NDArray[np.void], NDArray[np.uint64]]:
    """Write pairs [first, first + n/2) of level k from n nodes (inside one chunk), hash
    them, send the chunk if complete; returns the parents.

    `enc`, if given, is the nodes' `enc(equity) || enc(debt)` already as bytes (the leaf
    preimages hold them, as (n,) items): copied instead of byte-swapped again.
    """
    half = hashes.shape[0] // 2
    section = ws.levels[k]
    index, _ = section.buffer(first)
    views = section.views[index]
    lo = first % section.chunk
    hi = lo + half
    views.left_hash[lo:hi] = hashes[0::2]
    views.right_hash[lo:hi] = hashes[1::2]
    if enc is None:
        np.copyto(views.sums[lo:hi], sums.reshape(half, 2, -1))
    else:
        views.left_enc[lo:hi] = enc[0::2]
        views.right_enc[lo:hi] = enc[1::2]
    parents = np.frombuffer(digest_views(views.rows[lo:hi]), dtype=_HASH_ITEM)
    section.done(first + half)
    return parents, _pair_sums(sums)


def _upper_level(
    ws: Workspace, k: int, hashes: NDArray[np.void], sums: NDArray[np.uint64]
) -> tuple[NDArray[np.void], NDArray[np.uint64]]:
    """A whole level above the blocked ones, one chunk at a time."""
    half = hashes.shape[0] // 2
    step = ws.levels[k].chunk
    if half <= step:
        return _level(ws, k, 0, hashes, sums)
    parts = [
        _level(ws, k, a, hashes[2 * a : 2 * (a + step)], sums[2 * a : 2 * (a + step)])
        for a in range(0, half, step)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def fold_partition(
    ws: Workspace, fill: BlockFill, path: str | os.PathLike[str], first_leaf: int, stride: int
) -> tuple[bytes, NDArray[np.uint64], bytes]:
    """Fold one partition into `path` (temp name: the caller renames it); return the top
    (hash, sums (2A, 2)) and the fences (tags at global leaf positions divisible by
    `stride`; the partition's first leaf is `first_leaf`).

    The caller has checked totals covering these leaves (no u128 sum can overflow). The
    file is complete when this returns.
    """
    leaves = ws.leaves
    block, blocked = ws.block, ws.blocked
    per_block = block >> blocked
    fence_first = (-first_leaf) % stride
    fences: list[bytes] = []
    header = partition_header_bytes(leaves)
    offsets = level_offsets(leaves, ws.height, ws.pair, header, SECTION_ALIGN)
    with ChunkFile(path) as file:
        ws.tags.start(file, 0)
        ws.order.start(file, order_offset(leaves))
        for k, section in enumerate(ws.levels):
            section.start(file, offsets[k])
        span = ws.group * block
        for g in range(0, leaves, span):
            t_index, t_buf = ws.tags.buffer(g)
            o_index, _ = ws.order.buffer(g)
            t_lo = g % ws.tags.chunk
            o_lo = g % ws.order.chunk
            tags = t_buf[t_lo : t_lo + span]
            amounts = fill(g, g + span, tags, ws.order_u32[o_index][o_lo : o_lo + span])
            items = ws.tag_items[t_index][t_lo : t_lo + span]
            group_sums = amounts.reshape(span, 2 * ws.n_assets, 2)
            start = (fence_first - g) % stride
            if start < span:
                fences.append(np.ascontiguousarray(tags[start::stride]).tobytes())
            ws.tags.done(g + span)  # the writer only reads the chunk: we still may too
            ws.order.done(g + span)
            for lo in range(g, g + span, block):
                j = lo // block
                ws._leaf_tags[:] = items[lo - g : lo - g + block]
                block_sums = group_sums[lo - g : lo - g + block]
                np.copyto(ws._leaf_sums, block_sums.reshape(block, -1))
                hashes = np.frombuffer(digest_views(ws.leaf_views), dtype=_HASH_ITEM)
                hashes, block_sums = _level(ws, 0, lo >> 1, hashes, block_sums, ws._leaf_enc)
                for k in range(1, blocked):
                    hashes, block_sums = _level(ws, k, lo >> (k + 1), hashes, block_sums)
                ws.mid_hashes[j * per_block : (j + 1) * per_block] = hashes
                ws.mid_sums[j * per_block : (j + 1) * per_block] = block_sums
        hashes, level_sums = ws.mid_hashes, ws.mid_sums
        for k in range(blocked, ws.height):
            hashes, level_sums = _upper_level(ws, k, hashes, level_sums)
    return hashes[0].tobytes(), level_sums[0].copy(), b"".join(fences)

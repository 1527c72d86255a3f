"""The auditor's own fold of the Merkle sum tree, over numpy arrays (no builder code).

An auditor's rebuild must not share the exchange's builder: a bug there would be repeated
here and agree with itself. So this module writes the spec's rules out again, from
`proof-format.md` and the byte primitives of `por._hashing` only:

    leaf   = H(0x00 || tag || enc(equity) || enc(debt))
    parent = H(0x01 || L.hash || enc(L.equity) || enc(L.debt) || R.hash || enc(R.equity)
               || enc(R.debt)),  sums element-wise, each < 2^128

Amounts are u128 held as two uint64 limbs `[hi, lo]`; arrays have shape (n, 2A, 2) with
equity then debt, the order of the hash preimage. Sums carry from lo into hi and any
carry out of hi is an overflow (the spec forbids sums reaching 2^128). A subtree of
2^j leaves is folded level by level, each level's preimages laid out by numpy and hashed
by hashlib. `por.verify.fold_leaves` (plain Python) is the reference it is tested against.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

from por._hashing import HASH_BYTES, LEAF_PREFIX, NODE_PREFIX
from por.model import Node

__all__ = ["SumOverflow", "first_not_ascending", "subtree_node"]

Limbs = NDArray[np.uint64]
_ROWS_PER_JOIN = 2048  # digests joined while still in cache


class SumOverflow(ValueError):
    """A parent's sum reaches 2^128: `side` ("equity"/"debt"), `asset` index, `level`."""

    def __init__(self, side: str, asset: int, level: int) -> None:
        super().__init__(f"{side} sum of asset {asset} reaches 2^128 at level {level}")
        self.side = side
        self.asset = asset
        self.level = level


def _sha256_rows(rows: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """SHA-256 of every row of a C-contiguous (m, w) byte array -> (m, 32)."""
    m, width = rows.shape
    view = np.ascontiguousarray(rows).reshape(-1).data
    sha = hashlib.sha256
    parts = []
    for start in range(0, m * width, _ROWS_PER_JOIN * width):
        stop = min(m * width, start + _ROWS_PER_JOIN * width)
        parts.append(
            b"".join([sha(view[a : a + width]).digest() for a in range(start, stop, width)])
        )
    return np.frombuffer(b"".join(parts), dtype=np.uint8).reshape(m, HASH_BYTES)


def _big_endian(amounts: Limbs) -> NDArray[np.uint8]:
    """(m, k, 2) limbs -> (m, 16k) bytes: each amount as the spec's 16-byte u128."""
    m = amounts.shape[0]
    return np.ascontiguousarray(amounts, dtype=">u8").view(np.uint8).reshape(m, -1)


def _add(left: Limbs, right: Limbs, level: int, assets: int) -> Limbs:
    """left + right per amount, exactly; `SumOverflow` naming the first overflow."""
    total = left + right  # both limbs, wrapping
    carry = total[..., 1] < left[..., 1]
    high = total[..., 0]
    wrapped = high < left[..., 0]
    high += carry.astype(np.uint64)
    wrapped |= carry & (high == 0)
    if wrapped.any():
        column = int(np.argwhere(wrapped)[0][1])
        side = "equity" if column < assets else "debt"
        raise SumOverflow(side, column % assets, level)
    return total


def _to_int(limbs: Limbs) -> tuple[int, ...]:
    return tuple((int(hi) << 64) | int(lo) for hi, lo in limbs.tolist())


def subtree_node(tags: NDArray[np.uint8], amounts: Limbs) -> Node:
    """The root node of 2^j leaves (tags (n, 32), amounts (n, 2A, 2)), j >= 0."""
    n, columns, _ = amounts.shape
    assets = columns // 2
    rows = np.empty((n, 1 + HASH_BYTES + 16 * columns), dtype=np.uint8)
    rows[:, 0] = LEAF_PREFIX[0]
    rows[:, 1 : 1 + HASH_BYTES] = tags
    rows[:, 1 + HASH_BYTES :] = _big_endian(amounts)
    hashes = _sha256_rows(rows)
    sums = amounts
    level = 0
    while hashes.shape[0] > 1:
        level += 1
        half = hashes.shape[0] // 2
        record = HASH_BYTES + 16 * columns
        nodes = np.empty((2 * half, record), dtype=np.uint8)
        nodes[:, :HASH_BYTES] = hashes
        nodes[:, HASH_BYTES:] = _big_endian(sums)
        pairs = np.empty((half, 1 + 2 * record), dtype=np.uint8)
        pairs[:, 0] = NODE_PREFIX[0]
        pairs[:, 1:] = nodes.reshape(half, 2 * record)
        hashes = _sha256_rows(pairs)
        sums = _add(sums[0::2], sums[1::2], level, assets)
    root = sums[0]
    return Node(hashes[0].tobytes(), _to_int(root[:assets]), _to_int(root[assets:]))


def first_not_ascending(tags: NDArray[np.uint8]) -> int | None:
    """The first row i >= 1 whose tag is not strictly above row i-1's (bytewise), or None."""
    if tags.shape[0] < 2:
        return None
    words = np.ascontiguousarray(tags).view(">u8").astype(np.uint64)  # (n, 4) big-endian
    before, after = words[:-1], words[1:]
    differs = before != after
    first = differs.argmax(axis=1)  # first differing word (0 when equal)
    rows = np.arange(before.shape[0])
    above = after[rows, first] > before[rows, first]
    bad = np.flatnonzero(~(differs.any(axis=1) & above))
    return None if bad.size == 0 else int(bad[0]) + 1

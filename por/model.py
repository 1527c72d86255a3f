"""Plain values shared by the tree builders, the proof store and the verifier.

Leaf of the package graph: imports nothing of ours but the hashing primitives.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from por._hashing import AMOUNT_LIMIT, u16

__all__ = [
    "MAX_HEIGHT",
    "MAX_LEAVES",
    "AccountInput",
    "Node",
    "filler_tag",
    "padded_size",
]

MAX_HEIGHT = 32
MAX_LEAVES = 1 << MAX_HEIGHT  # a tree has at most 2^32 leaves (spec bound we enforce)


@dataclass(frozen=True, slots=True)
class AccountInput:
    """One customer's liabilities for one snapshot, as the tree builder receives them.

    `equity` and `debt` have one non-negative amount per snapshot asset, in asset order.
    """

    account_id: str
    nonce: bytes
    equity: tuple[int, ...]
    debt: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Node:
    """A Merkle sum tree node: hash plus the per-asset equity and debt sums below it."""

    hash: bytes
    equity: tuple[int, ...]
    debt: tuple[int, ...]


def filler_tag(secret: bytes, snapshot_id: str, index: int) -> bytes:
    """Tag of the `index`-th filler leaf.

    An HMAC under the exchange's secret: indistinguishable from a real tag to anyone
    without the secret, and identical on a rebuild of the same snapshot.
    """
    sid = snapshot_id.encode("utf-8")
    msg = b"por/filler" + u16(sid) + sid + index.to_bytes(8, "big")
    return hmac.new(secret, msg, hashlib.sha256).digest()


def padded_size(accounts: int, min_leaves: int = 0) -> int:
    """Leaf count after padding: a power of two, at least 2 (height >= 1) and >= min_leaves."""
    need = max(accounts, min_leaves, 2)
    size = 1 << (need - 1).bit_length()
    if size > MAX_LEAVES:
        raise ValueError(f"tree too large: {need} leaves needed, at most {MAX_LEAVES} allowed")
    return size


assert AMOUNT_LIMIT == 1 << 128

"""Byte-level primitives of `proof-format.md` (v1): the only place the hashing rules live.

Every other module (reference tree, fast builder, verifier, proof store) calls these, so
a change of encoding can only ever happen here, and the vectors pin it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "AMOUNT_BYTES",
    "AMOUNT_LIMIT",
    "HASH_BYTES",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "TAG_DOMAIN",
    "TAG_PREFIX",
    "enc_amount",
    "enc_vector",
    "leaf_hash",
    "node_hash",
    "tag_hash",
    "u16",
]

HASH_BYTES = 32
AMOUNT_BYTES = 16
AMOUNT_LIMIT = 1 << 128  # every amount and every sum is strictly below this
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
TAG_PREFIX = b"\x02"
TAG_DOMAIN = b"por/v1"


def u16(data: bytes) -> bytes:
    """Length prefix; raises when the string cannot be length-prefixed in two bytes."""
    if len(data) > 0xFFFF:
        raise ValueError(f"string too long for u16 length prefix: {len(data)} bytes")
    return len(data).to_bytes(2, "big")


def enc_amount(value: int) -> bytes:
    if not 0 <= value < AMOUNT_LIMIT:
        raise ValueError(f"amount out of range [0, 2^128): {value}")
    return value.to_bytes(AMOUNT_BYTES, "big")


def enc_vector(values: Sequence[int]) -> bytes:
    return b"".join(enc_amount(v) for v in values)


def tag_hash(snapshot_id: str, nonce: bytes, account_id: str) -> bytes:
    sid = snapshot_id.encode("utf-8")
    aid = account_id.encode("utf-8")
    return hashlib.sha256(
        TAG_PREFIX + TAG_DOMAIN + u16(sid) + sid + nonce + u16(aid) + aid
    ).digest()


def leaf_hash(tag: bytes, equity: Sequence[int], debt: Sequence[int]) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + tag + enc_vector(equity) + enc_vector(debt)).digest()


def node_hash(
    left_hash: bytes,
    left_equity: Sequence[int],
    left_debt: Sequence[int],
    right_hash: bytes,
    right_equity: Sequence[int],
    right_debt: Sequence[int],
) -> bytes:
    return hashlib.sha256(
        NODE_PREFIX
        + left_hash
        + enc_vector(left_equity)
        + enc_vector(left_debt)
        + right_hash
        + enc_vector(right_equity)
        + enc_vector(right_debt)
    ).digest()

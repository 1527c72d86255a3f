"""Account and filler tags for a slice of the input, with numpy-built preimages.

All preimages of a slice are laid out in one uint8 buffer (built with a handful of numpy
scatters), then one `hashlib.sha256` call per record over a memoryview slice: the Python
loop does nothing but hash.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

from por._hashing import HASH_BYTES, TAG_DOMAIN, TAG_PREFIX, u16
from por.builder._batch import NONCE_BYTES, AccountBatch
from por.builder._level import hash_rows

__all__ = [
    "FILLER_DOMAIN",
    "account_tags",
    "filler_messages",
    "filler_tags",
    "hmac_pads",
    "tag_preimages",
]

FILLER_DOMAIN = b"por/filler"  # must match por.model.filler_tag
_BLOCK = 64  # SHA-256 block size, for HMAC


def tag_preimages(
    batch: AccountBatch, snapshot_id: str
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """(buffer, offsets): preimage i is buffer[offsets[i]:offsets[i+1]].

    preimage = 0x02 || "por/v1" || u16(sid) || sid || nonce || u16(aid) || aid
    """
    sid = snapshot_id.encode("utf-8")
    prefix = np.frombuffer(TAG_PREFIX + TAG_DOMAIN + u16(sid) + sid, dtype=np.uint8)
    n = batch.count
    id_len = np.diff(batch.id_offsets)
    fixed = prefix.size + NONCE_BYTES + 2
    rec_len = id_len + fixed
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(rec_len, out=offsets[1:])
    buf = np.empty(int(offsets[-1]), dtype=np.uint8)
    starts = offsets[:-1]
    if n == 0:
        return buf, offsets
    if bool(np.all(id_len == id_len[0])):
        # All ids the same length (the common case): a 2-D view, plain slice assignments.
        rows = buf.reshape(n, int(rec_len[0]))
        rows[:, : prefix.size] = prefix
        rows[:, prefix.size : prefix.size + NONCE_BYTES] = batch.nonces
        rows[:, prefix.size + NONCE_BYTES] = (id_len >> 8).astype(np.uint8)
        rows[:, prefix.size + NONCE_BYTES + 1] = (id_len & 0xFF).astype(np.uint8)
        rows[:, fixed:] = np.frombuffer(batch.ids, dtype=np.uint8).reshape(n, -1)
        return buf, offsets
    buf[(starts[:, None] + np.arange(prefix.size)).ravel()] = np.tile(prefix, n)
    nonce_pos = starts[:, None] + (prefix.size + np.arange(NONCE_BYTES))
    buf[nonce_pos.ravel()] = batch.nonces.ravel()
    buf[starts + prefix.size + NONCE_BYTES] = (id_len >> 8).astype(np.uint8)
    buf[starts + prefix.size + NONCE_BYTES + 1] = (id_len & 0xFF).astype(np.uint8)
    total_id = len(batch.ids)
    if total_id:
        shift = np.repeat(starts + fixed - batch.id_offsets[:-1], id_len)
        buf[shift + np.arange(total_id)] = np.frombuffer(batch.ids, dtype=np.uint8)
    return buf, offsets


def account_tags(batch: AccountBatch, snapshot_id: str) -> NDArray[np.uint8]:
    """Tags of every account in the batch, shape (n, 32)."""
    buf, offsets = tag_preimages(batch, snapshot_id)
    n = batch.count
    if n and bool(np.all(np.diff(offsets) == offsets[1])):  # fixed-width records
        return hash_rows(buf.reshape(n, -1))
    mv = buf.data
    sha = hashlib.sha256
    bounds = offsets.tolist()
    digests = b"".join([sha(mv[a:b]).digest() for a, b in zip(bounds, bounds[1:], strict=False)])
    return np.frombuffer(digests, dtype=np.uint8).reshape(-1, HASH_BYTES)


def filler_messages(snapshot_id: str, start: int, stop: int) -> NDArray[np.uint8]:
    """HMAC messages of fillers [start, stop): "por/filler" || u16(sid) || sid || u64(i)."""
    sid = snapshot_id.encode("utf-8")
    prefix = np.frombuffer(FILLER_DOMAIN + u16(sid) + sid, dtype=np.uint8)
    rows = np.empty((stop - start, prefix.size + 8), dtype=np.uint8)
    rows[:, : prefix.size] = prefix
    rows[:, prefix.size :] = np.arange(start, stop, dtype=">u8").view(np.uint8).reshape(-1, 8)
    return rows


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """RFC 2104 inner and outer key blocks for HMAC-SHA256."""
    key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\x00")
    return bytes(k ^ 0x36 for k in key), bytes(k ^ 0x5C for k in key)


def filler_tags(secret: bytes, snapshot_id: str, start: int, stop: int) -> NDArray[np.uint8]:
    """Tags of fillers [start, stop): HMAC-SHA256 exactly as `por.model.filler_tag`.

    The keyed inner/outer states are computed once and copied per message, which is
    cheaper than `hmac.new` per filler (a 10M-account tree needs ~6.7M fillers).
    """
    rows = filler_messages(snapshot_id, start, stop)
    ipad, opad = hmac_pads(secret)
    inner0 = hashlib.sha256(ipad)
    outer0 = hashlib.sha256(opad)
    width = rows.shape[1]
    mv = rows.reshape(-1).data
    out: list[bytes] = []
    append = out.append
    for a in range(0, rows.size, width):
        inner = inner0.copy()
        inner.update(mv[a : a + width])
        outer = outer0.copy()
        outer.update(inner.digest())
        append(outer.digest())
    return np.frombuffer(b"".join(out), dtype=np.uint8).reshape(-1, HASH_BYTES)

"""Account and filler tags for a slice of the input, with numpy-built preimages.

Preimages are laid out by numpy in a reused buffer, `TAG_BLOCK` records at a time, then
one `hashlib.sha256` call per record over a memoryview of it made once per buffer: the
Python loop does nothing but hash, and the buffer it reads is still in cache.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from por._hashing import HASH_BYTES, TAG_DOMAIN, TAG_PREFIX, u16
from por.builder._batch import NONCE_BYTES, AccountBatch
from por.builder._fold import digest_views, row_items, row_views

__all__ = [
    "FILLER_DOMAIN",
    "TAG_BLOCK",
    "account_tags",
    "account_tags_into",
    "filler_messages",
    "filler_tags",
    "filler_tags_into",
    "hmac_pads",
    "tag_preimages",
]

FILLER_DOMAIN = b"por/filler"  # must match por.model.filler_tag
_BLOCK = 64  # SHA-256 block size, for HMAC
TAG_BLOCK = 2048  # accounts laid out and hashed at a time


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
    out = np.empty((batch.count, HASH_BYTES), dtype=np.uint8)
    account_tags_into(batch, snapshot_id, out)
    return out


def account_tags_into(batch: AccountBatch, snapshot_id: str, out: NDArray[np.uint8]) -> None:
    """Tags of every account in the batch into `out` (n, 32).

    Ids of one length (the common case): the preimages of `TAG_BLOCK` accounts at a time
    are laid out in one reused buffer (the prefix and the id length are written once),
    hashed while in cache, and the digests copied straight to `out`. Otherwise one buffer
    of variable-length records per batch.
    """
    n = batch.count
    if n == 0:
        return
    id_len = np.diff(batch.id_offsets)
    width = int(id_len[0])
    if not bool(np.all(id_len == width)):
        buf, offsets = tag_preimages(batch, snapshot_id)
        mv = buf.data
        sha = hashlib.sha256
        bounds = offsets.tolist()
        digests = b"".join(
            [sha(mv[a:b]).digest() for a, b in zip(bounds, bounds[1:], strict=False)]
        )
        out[:] = np.frombuffer(digests, dtype=np.uint8).reshape(-1, HASH_BYTES)
        return
    sid = snapshot_id.encode("utf-8")
    prefix = np.frombuffer(TAG_PREFIX + TAG_DOMAIN + u16(sid) + sid, dtype=np.uint8)
    fixed = prefix.size + NONCE_BYTES + 2
    block = min(TAG_BLOCK, n)
    rows = np.empty((block, fixed + width), dtype=np.uint8)
    rows[:, : prefix.size] = prefix
    rows[:, fixed - 2] = width >> 8
    rows[:, fixed - 1] = width & 0xFF
    # nonces and ids are copied as one opaque item per row (numpy's copy of a
    # (m, 32) uint8 slice would dispatch an inner loop per row: ~2x slower)
    nonces: NDArray[Any] = rows[:, prefix.size : prefix.size + NONCE_BYTES]
    all_nonces: NDArray[Any] = batch.nonces
    if all_nonces.strides[1] == 1:
        nonces = row_items(rows, prefix.size, NONCE_BYTES)
        all_nonces = row_items(all_nonces, 0, NONCE_BYTES)
    all_ids = np.frombuffer(batch.ids, dtype=np.uint8).reshape(n, width)
    ids = row_items(rows, fixed, width) if width else None
    id_items = row_items(all_ids, 0, width) if width else None
    views = row_views(rows)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        m = hi - lo
        nonces[:m] = all_nonces[lo:hi]
        if ids is not None and id_items is not None:
            ids[:m] = id_items[lo:hi]
        digests = digest_views(views if m == block else views[:m])
        out[lo:hi] = np.frombuffer(digests, dtype=np.uint8).reshape(m, HASH_BYTES)


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
    """Tags of fillers [start, stop): HMAC-SHA256 exactly as `por.model.filler_tag`."""
    out = np.empty((stop - start, HASH_BYTES), dtype=np.uint8)
    filler_tags_into(secret, snapshot_id, start, stop, out)
    return out


def filler_tags_into(
    secret: bytes, snapshot_id: str, start: int, stop: int, out: NDArray[np.uint8]
) -> None:
    """Tags of fillers [start, stop) into `out`, `TAG_BLOCK` messages at a time.

    The keyed inner/outer states are computed once and copied per message, which is
    cheaper than `hmac.new` per filler (a 10M-account tree needs ~6.7M fillers).
    """
    if stop <= start:
        return
    block = min(TAG_BLOCK, stop - start)
    rows = filler_messages(snapshot_id, start, start + block)
    counter = rows[:, -8:].view(">u8")[:, 0]
    ipad, opad = hmac_pads(secret)
    inner0 = hashlib.sha256(ipad)
    outer0 = hashlib.sha256(opad)
    views = row_views(rows)
    for lo in range(start, stop, block):
        m = min(block, stop - lo)
        counter[:m] = np.arange(lo, lo + m, dtype=np.uint64)
        out_digests: list[bytes] = []
        append = out_digests.append
        for view in views if m == block else views[:m]:
            inner = inner0.copy()
            inner.update(view)
            outer = outer0.copy()
            outer.update(inner.digest())
            append(outer.digest())
        out[lo - start : lo - start + m] = np.frombuffer(
            b"".join(out_digests), dtype=np.uint8
        ).reshape(-1, HASH_BYTES)

"""Rejecting duplicate account ids in a columnar batch, without a Python loop per account.

Two accounts with the same id but different nonces have different tags, so sorting by tag
cannot see them; the reference builder (`por.builder.reference`) rejects them, and so
must we. Each id gets a 64-bit fingerprint (its bytes as little-endian words, multiplied
by odd constants, summed, then mixed); the fingerprints are sorted once and equal
neighbours looked for.
Only if some tie are they packed with their index like the tag sort keys
(`por.builder._order`), sorted again, and the ids whose fingerprints tie compared byte for
byte, so a fingerprint collision costs time, never a wrong answer.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from por.builder._batch import AccountBatch
from por.builder._errors import TreeInputError
from por.builder._order import index_bits
from por.builder._sort import sort_keys

__all__ = ["MAX_PADDED_ID_BYTES", "check_unique_ids", "first_duplicate_id"]

MAX_PADDED_ID_BYTES = 64  # longer ids (rare): fingerprint the first 64 bytes and the length
_MIX = np.uint64(0xFF51AFD7ED558CCD)
_ODD = np.array(
    [
        0x9E3779B97F4A7C15 ^ (0x2545F4914F6CDD1D * (k + 1) & 0xFFFFFFFFFFFFFFFF) | 1
        for k in range(9)
    ],
    dtype=np.uint64,
)


def _padded_ids(batch: AccountBatch) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """(n, W) zero-padded id bytes (W a multiple of 8, <= MAX_PADDED_ID_BYTES) and lengths."""
    n = batch.count
    lengths = np.diff(batch.id_offsets)
    top = int(lengths.max())
    width = max(8, -(-min(top, MAX_PADDED_ID_BYTES) // 8) * 8)
    blob = np.frombuffer(batch.ids, dtype=np.uint8)
    out = np.zeros((n, width), dtype=np.uint8)
    if top == int(lengths.min()) and top <= width:  # one length: a plain 2-D copy
        out[:, :top] = blob.reshape(n, top)
        return out, lengths
    take = np.minimum(lengths, width)
    rows = np.repeat(np.arange(n, dtype=np.int64), take)
    starts = np.repeat(batch.id_offsets[:-1], take)
    cols = np.arange(rows.size, dtype=np.int64) - np.repeat(np.cumsum(take) - take, take)
    out[rows, cols] = blob[starts + cols]
    return out, lengths


def _id_words(batch: AccountBatch) -> tuple[list[NDArray[np.uint64]], NDArray[np.int64]]:
    """Little-endian 8-byte words covering every id's bytes, and the id lengths.

    Ids of one length >= 8 are read in place (unaligned strided views at offsets 0, 8, ..
    and length - 8); others are zero-padded first.
    """
    n = batch.count
    lengths = np.diff(batch.id_offsets)
    width = int(lengths[0])
    if 8 <= width <= MAX_PADDED_ID_BYTES and bool(np.all(lengths == width)):
        blob = np.frombuffer(batch.ids, dtype=np.uint8)
        starts = sorted({*range(0, width - 7, 8), width - 8})
        return [
            np.ndarray((n,), dtype="<u8", buffer=blob, offset=k, strides=(width,)) for k in starts
        ], lengths
    ids, _ = _padded_ids(batch)
    words = ids.view("<u8")
    return [words[:, k] for k in range(words.shape[1])], lengths


_FP_BLOCK = 1 << 16  # ids fingerprinted at a time: temporaries stay in cache, and no
# id-count-sized temporary is allocated (fresh memory costs a page fault per 4 KB here)


def _fingerprints(batch: AccountBatch) -> NDArray[np.uint64]:
    words, lengths = _id_words(batch)
    n = lengths.size
    out = np.empty(n, dtype=np.uint64)
    tmp = np.empty(min(n, _FP_BLOCK), dtype=np.uint64)
    for lo in range(0, n, _FP_BLOCK):
        hi = min(n, lo + _FP_BLOCK)
        fp, t = out[lo:hi], tmp[: hi - lo]
        t[:] = lengths[lo:hi]  # int64 -> uint64: lengths are < 2^16
        np.multiply(t, _ODD[-1], out=fp)
        for k, word in enumerate(words):
            np.multiply(word[lo:hi], _ODD[k % (_ODD.size - 1)], out=t)
            fp += t
            np.right_shift(fp, np.uint64(29), out=t)
            fp ^= t
        fp *= _MIX
        np.right_shift(fp, np.uint64(32), out=t)
        fp ^= t
    return out


def _fingerprints_collide(full: NDArray[np.uint64]) -> bool:
    """Whether two entries of `full` may be equal (True is then checked exactly); sorts
    `full` in place.

    One in-place sort (`sort_keys`: 5-28 ms per million by CPU, less than a numpy hash
    table's random reads and writes) and a comparison of neighbours.
    """
    if full.size < 2:
        return False
    sort_keys(full)
    return bool((full[1:] == full[:-1]).any())


def first_duplicate_id(batch: AccountBatch) -> tuple[int, int] | None:
    """(earlier, later) input indices of the first id (in input order) already used, or
    None."""
    n = batch.count
    if n < 2:
        return None
    if not _fingerprints_collide(_fingerprints(batch)):
        return None
    keys = _fingerprints(batch)  # again, in input order: ties are rare
    bits = index_bits(n)
    keys &= np.uint64(((1 << 64) - 1) ^ ((1 << bits) - 1))
    keys |= np.arange(n, dtype=np.uint64)
    sort_keys(keys)
    high = keys >> np.uint64(bits)
    tied = np.flatnonzero(high[1:] == high[:-1])
    if tied.size == 0:
        return None
    mask = np.uint64((1 << bits) - 1)
    found: tuple[int, int] | None = None
    seen: dict[bytes, int] = {}
    for pos in np.union1d(tied, tied + 1).tolist():
        i = int(keys[pos] & mask)
        key = batch.ids[int(batch.id_offsets[i]) : int(batch.id_offsets[i + 1])]
        j = seen.setdefault(key, i)
        if j != i:
            pair = (min(i, j), max(i, j))
            found = pair if found is None or pair[1] < found[1] else found
    return found


def check_unique_ids(batch: AccountBatch) -> None:
    """Raise `TreeInputError` naming the later account of a duplicated id."""
    pair = first_duplicate_id(batch)
    if pair is not None:
        first, later = pair
        raise TreeInputError(
            f"account {later} ({batch.account_id(later)!r}): duplicate account id, "
            f"already account {first}"
        )

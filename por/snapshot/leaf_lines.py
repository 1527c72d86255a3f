"""The published leaf list's lines, built with numpy a block of leaves at a time.

Why: formatting leaves one by one in Python (`str` of every amount, one `%` per line) was
~40 s of the hourly snapshot at 10^7 accounts. Here a block's lines are laid out in one
uint8 matrix, a row per leaf, in fixed-width columns: the constant JSON text, each
amount's decimal digits right-aligned in groups of four (looked up in a table of 4-digit
groups), the tag's hex. Positions before an amount's first digit hold a filler byte
(0xFF, never in the text); dropping every filler byte of the matrix, row after row, leaves
the lines back to back (`bytes.translate`, faster here than a boolean mask). Each
amount's groups start at a multiple of 4 bytes (filler before), so a group is one uint32
written per row. Integers only: a column whose amounts fit 64 bits in the block is divided
as uint64, a wider one by long division over 32-bit limbs; exact up to 2^128 - 1.

The line is the canonical JSON of `por.snapshot.run.leaf_list_line` (the plain
reference, tested against this): `{"debt":["..",..],"equity":["..",..],"tag":"<hex>"}`.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from por._hashing import HASH_BYTES

__all__ = ["BLOCK_LEAVES", "leaf_lines"]

# leaves per matrix (<= 2^13 * (146 + 2n * 43) bytes, 3.9 MB at 4 assets): written column by
# column, it stays in the caches; measured at 4 assets, 2^12..2^14 alike, 2^16 ~30% slower
BLOCK_LEAVES = 1 << 13
AMOUNT_BYTES = 16  # a u128, big-endian
_FILLER = 0xFF  # not an ASCII byte: marks the unused columns of the matrix
_FILLER_BYTE = bytes([_FILLER])
_GROUP = 10_000  # 4 decimal digits per table lookup
# uint64 operands throughout: no mixed signed/unsigned arithmetic (numpy would go to float)
_GROUP_U = np.uint64(_GROUP)
_CHUNK = np.uint64(100_000_000)  # 128-bit long division: (rest << 32 | limb) < 10^8 * 2^32 < 2^64
_LIMB_BITS = np.uint64(32)
_LIMB_MASK = np.uint64(0xFFFF_FFFF)
_LEADING = np.uint64(_GROUP)  # where the table's section of an amount's first digits starts
_LOWEST = np.uint64(2 * _GROUP)  # the same for its lowest group (0 -> "0")
_GROUPS_MAX = 10  # a u128 has at most 39 digits


def _group_table() -> NDArray[np.uint32]:
    """4 ASCII bytes per group value g < 10^4, three sections of 10^4 rows: g with its
    leading zeros (a group below a non-zero one); g as an amount's first digits, the
    zeros before them filler (0 -> all filler); the same for an amount's lowest group
    (0 -> "0"). Read as uint32 so that one `take` fetches a whole group."""
    g = np.arange(_GROUP, dtype=np.int64)[:, None]
    powers = np.array([1000, 100, 10, 1], dtype=np.int64)
    digits = (g // powers % 10 + ord("0")).astype(np.uint8)
    leading = np.where(g < powers, np.uint8(_FILLER), digits)
    lowest = leading.copy()
    lowest[0, 3] = ord("0")
    rows = np.ascontiguousarray(np.concatenate([digits, leading, lowest]))
    return rows.view(np.uint32).reshape(-1)


_TABLE = _group_table()


def _strip(limbs: list[NDArray[np.uint64]]) -> list[NDArray[np.uint64]]:
    """The limbs (most significant first) without the leading ones that are zero everywhere."""
    while limbs and not limbs[0].any():
        limbs = limbs[1:]
    return limbs


def _table_rows(high: NDArray[np.uint64], low: NDArray[np.uint64]) -> list[NDArray[np.int64]]:
    """The amounts `high * 2^64 + low` in base 10^4 as rows of the table, lowest group
    first, as many groups as the block's largest amount needs (at least one): a group's
    digit value, in the section of leading digits when nothing above it is non-zero."""
    rows: list[NDArray[np.int64]] = []
    if not high.any():
        value, section = low, _LOWEST
        while True:
            quotient = value // _GROUP_U
            first = quotient == 0  # no digit above this group
            rows.append((value - quotient * _GROUP_U + first * section).view(np.int64))
            if first.all():
                return rows
            value, section = quotient, _LEADING
    limbs = _strip([high >> _LIMB_BITS, high & _LIMB_MASK, low >> _LIMB_BITS, low & _LIMB_MASK])
    section = _LOWEST
    while limbs:  # long division by 10^8: the lowest two groups left, the quotient in limbs
        rest = np.zeros_like(low)
        for i, limb in enumerate(limbs):
            current = (rest << _LIMB_BITS) | limb
            limbs[i] = current // _CHUNK
            rest = current - limbs[i] * _CHUNK
        limbs = _strip(limbs)
        above = np.zeros_like(low)
        for limb in limbs:
            above |= limb
        first = above == 0  # no digit above this chunk
        upper = rest // _GROUP_U
        lower = rest - upper * _GROUP_U
        rows.append((lower + (first & (upper == 0)) * section).view(np.int64))
        rows.append((upper + first * _LEADING).view(np.int64))
        section = _LEADING
    while len(rows) > 1 and (rows[-1] == _LEADING).all():  # groups of filler only
        rows.pop()
    return rows


def _texts(n: int) -> list[bytes]:
    """The constant text around the line's 2n amounts and its tag, in order."""
    values = ",".join(['"%s"'] * n)
    line = '{"debt":[' + values + '],"equity":[' + values + '],"tag":"%s"}\n'
    return [text.encode("ascii") for text in line.split("%s")]


def _aligned(size: int) -> int:
    return -(-size // 4) * 4


def _layout(texts: list[bytes], groups: tuple[int, ...]) -> tuple[list[int], NDArray[np.uint8]]:
    """Where each amount's first group starts, then the tag (multiples of 4 bytes, each
    text just before them); and the template row: the texts, filler elsewhere."""
    starts = []
    col = 0
    for i, text in enumerate(texts[:-1]):
        col = _aligned(col + len(text))
        starts.append(col)
        col += 4 * groups[i] if i < len(groups) else 2 * HASH_BYTES
    template = np.full(_aligned(col + len(texts[-1])), _FILLER, dtype=np.uint8)
    for text, start in zip(texts, starts, strict=False):
        template[start - len(text) : start] = np.frombuffer(text, dtype=np.uint8)
    template[col : col + len(texts[-1])] = np.frombuffer(texts[-1], dtype=np.uint8)
    return starts, template


def _block(
    tags: bytes, amounts: NDArray[np.uint8], n: int, texts: list[bytes], buffer: NDArray[np.uint8]
) -> bytes:
    """The lines of one block of leaves, back to back. The matrix (in `buffer`, reused
    from block to block) starts as copies of the template row."""
    count = len(amounts)
    words = np.ascontiguousarray(amounts).view(">u8").T.astype(np.uint64, order="C")
    columns = [  # the key order of the line: the debts, then the equities
        _table_rows(words[2 * k], words[2 * k + 1]) for k in [*range(n, 2 * n), *range(n)]
    ]
    starts, template = _layout(texts, tuple(map(len, columns)))
    matrix = buffer[: count * len(template)].reshape(count, len(template))
    matrix[:] = template
    quads = matrix.view(np.uint32)
    for rows, start in zip(columns, starts, strict=False):
        for j, row in enumerate(reversed(rows)):
            quads[:, start // 4 + j] = _TABLE.take(row)
    hexed = np.frombuffer(binascii.hexlify(tags), dtype=np.uint8)
    matrix[:, starts[-1] : starts[-1] + 2 * HASH_BYTES] = hexed.reshape(count, 2 * HASH_BYTES)
    return matrix.tobytes().translate(None, _FILLER_BYTE)


def leaf_lines(
    tags: bytes, amounts: NDArray[np.uint8], n: int, block: int = BLOCK_LEAVES
) -> Iterator[bytes]:
    """The leaf list's lines of these leaves, in order, `block` leaves per yielded bytes.
    `tags`: 32 bytes per leaf, back to back; `amounts`: a row per leaf of 2n u128
    big-endian amounts, its n equities then its n debts (a record after its hash)."""
    count = len(tags) // HASH_BYTES
    if amounts.shape != (count, 2 * n * AMOUNT_BYTES) or len(tags) % HASH_BYTES:
        raise ValueError(
            f"leaf lines: expected {count} rows of {2 * n * AMOUNT_BYTES} amount bytes and"
            f" whole tags, got {amounts.shape} and {len(tags)} tag bytes"
        )
    texts = _texts(n)
    widest = len(_layout(texts, (_GROUPS_MAX,) * 2 * n)[1])
    buffer = np.empty(min(block, count) * widest, dtype=np.uint8)
    for start in range(0, count, block):
        stop = min(start + block, count)
        piece = tags[start * HASH_BYTES : stop * HASH_BYTES]
        yield _block(piece, amounts[start:stop], n, texts, buffer)

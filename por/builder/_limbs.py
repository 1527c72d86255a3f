"""u128 amounts as numpy limbs: each amount is a `[hi, lo]` pair of native uint64.

Arrays of amounts have shape `(..., 2)`. Addition carries from `lo` into `hi` and reports
overflow instead of wrapping; big-endian bytes (the spec's `u128`) come from one
`astype(">u8")`, so encoding a whole level is one numpy call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT

__all__ = [
    "U64",
    "add_u128",
    "be_bytes",
    "ints_to_limbs",
    "limbs_to_ints",
    "totals",
]

U64 = NDArray[np.uint64]
_MASK64 = (1 << 64) - 1


def ints_to_limbs(values: Sequence[int]) -> U64:
    """Python ints (already range-checked by the caller) -> array of shape (len, 2)."""
    obj = np.array(values, dtype=object)
    out = np.empty((len(values), 2), dtype=np.uint64)
    if len(values):
        out[:, 0] = (obj >> 64).astype(np.uint64)
        out[:, 1] = (obj & _MASK64).astype(np.uint64)
    return out


def limbs_to_ints(limbs: U64) -> list[int]:
    """Inverse of `ints_to_limbs` for a flat (k, 2) array (used for roots and tests)."""
    flat = limbs.reshape(-1, 2)
    return [(int(hi) << 64) | int(lo) for hi, lo in flat.tolist()]


def add_u128(a: U64, b: U64) -> tuple[U64, bool]:
    """Element-wise a + b on (..., 2) limb arrays; returns (sum, any_overflow).

    Adds both limbs at once (wrapping), then carries: a low limb that wrapped is smaller
    than its addend; the high limb overflowed if it wrapped on either addition.
    """
    out = np.add(a, b)
    hi = out[..., 0]
    carry = out[..., 1] < a[..., 1]
    overflow = hi < a[..., 0]
    np.add(hi, carry, out=hi, casting="unsafe")
    overflow |= hi < carry
    return out, bool(overflow.any())


def be_bytes(limbs: U64) -> NDArray[np.uint8]:
    """(m, k, 2) limbs -> (m, 16*k) uint8: each amount as 16 bytes big-endian."""
    m = limbs.shape[0]
    return np.ascontiguousarray(limbs, dtype=">u8").view(np.uint8).reshape(m, -1)


def totals(limbs: U64) -> list[int]:
    """Exact sum over axis 0 of an (m, k, 2) limb array, as k Python ints.

    Views each uint64 limb as two uint32 halves and sums those in uint64 (one pass; no
    wrap for m < 2^32), then recombines exactly with Python ints.
    """
    flat = np.ascontiguousarray(limbs).reshape(limbs.shape[0], limbs.shape[1] * 2)
    halves = flat.view(np.uint32).reshape(flat.shape[0], limbs.shape[1], 4)
    sums = halves.sum(axis=0, dtype=np.uint64).tolist()
    little = np.little_endian
    result = []
    for row in sums:  # [hi.lo32, hi.hi32, lo.lo32, lo.hi32] on little-endian machines
        hi_lo, hi_hi, lo_lo, lo_hi = row if little else (row[1], row[0], row[3], row[2])
        result.append((((hi_hi << 32) + hi_lo) << 64) + (lo_hi << 32) + lo_lo)
    return result


assert AMOUNT_LIMIT == 1 << 128

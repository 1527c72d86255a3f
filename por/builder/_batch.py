"""Columnar account input: what the fast builder works on.

A list of `AccountInput` objects costs microseconds per account to walk; the builder instead
takes arrays (ids as one UTF-8 blob with offsets, nonces as an (n, 32) array, amounts as
u128 limbs). `AccountBatch.from_accounts` converts and validates the object form;
`AccountBatch.from_arrays` validates arrays produced elsewhere (an export job, the bench).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT, HASH_BYTES
from por.builder._errors import TreeInputError
from por.builder._limbs import ints_to_limbs
from por.model import MAX_LEAVES, AccountInput

__all__ = ["NONCE_BYTES", "AccountBatch", "LeafBatch"]

NONCE_BYTES = 32
MAX_ID_BYTES = 0xFFFF  # u16 length prefix


@dataclass(frozen=True, slots=True)
class AccountBatch:
    """n accounts in columns.

    Fields: `ids` (UTF-8 account ids concatenated), `id_offsets` (int64, n+1, id i is
    ids[id_offsets[i]:id_offsets[i+1]]), `nonces` (uint8, (n, 32)), `amounts` (uint64,
    (n, 2, A, 2): [equity|debt][asset][hi|lo]).
    Guarantees: shapes consistent, every id <= 65535 bytes, n <= 2^32 (checked on creation).
    """

    ids: bytes
    id_offsets: NDArray[np.int64]
    nonces: NDArray[np.uint8]
    amounts: NDArray[np.uint64]

    @property
    def count(self) -> int:
        return int(self.nonces.shape[0])

    @property
    def n_assets(self) -> int:
        return int(self.amounts.shape[2])

    def account_id(self, i: int) -> str:
        lo, hi = int(self.id_offsets[i]), int(self.id_offsets[i + 1])
        return self.ids[lo:hi].decode("utf-8")

    def nonce(self, i: int) -> bytes:
        return bytes(self.nonces[i].data)

    def slice(self, start: int, stop: int) -> AccountBatch:
        """Accounts [start, stop), ids rebased so the slice ships alone (to a Dask worker)."""
        lo, hi = int(self.id_offsets[start]), int(self.id_offsets[stop])
        return AccountBatch(
            ids=self.ids[lo:hi],
            id_offsets=self.id_offsets[start : stop + 1] - lo,
            nonces=self.nonces[start:stop],
            amounts=self.amounts[start:stop],
        )

    @classmethod
    def from_arrays(
        cls,
        ids: bytes,
        id_offsets: NDArray[np.int64],
        nonces: NDArray[np.uint8],
        amounts: NDArray[np.uint64],
        n_assets: int,
    ) -> AccountBatch:
        """Validate shapes and dtypes; limbs cannot hold a negative or >= 2^128 amount."""
        n = nonces.shape[0] if nonces.ndim == 2 else -1
        if nonces.dtype != np.uint8 or nonces.ndim != 2 or nonces.shape[1] != NONCE_BYTES:
            raise TreeInputError(f"nonces must be uint8 (n, {NONCE_BYTES}), got {nonces.shape}")
        if amounts.dtype != np.uint64 or amounts.shape != (n, 2, n_assets, 2):
            raise TreeInputError(
                f"amounts must be uint64 of shape {(n, 2, n_assets, 2)} "
                f"(one equity and one debt vector of {n_assets} assets per account), "
                f"got {amounts.dtype} {amounts.shape}"
            )
        if (
            id_offsets.shape != (n + 1,)
            or int(id_offsets[0]) != 0
            or int(id_offsets[-1]) != len(ids)
        ):
            raise TreeInputError("id_offsets must have n+1 entries from 0 to len(ids)")
        lengths = np.diff(id_offsets)
        if n and (int(lengths.min()) < 0 or int(lengths.max()) > MAX_ID_BYTES):
            raise TreeInputError(f"account ids must be 0..{MAX_ID_BYTES} bytes of UTF-8")
        if n > MAX_LEAVES:
            raise TreeInputError(f"too many accounts: {n}, at most {MAX_LEAVES} leaves allowed")
        return cls(ids, id_offsets.astype(np.int64, copy=False), nonces, amounts)

    @classmethod
    def from_accounts(cls, accounts: Sequence[AccountInput], n_assets: int) -> AccountBatch:
        """Convert objects to columns, rejecting bad vectors with the account named."""
        n = len(accounts)
        if n > MAX_LEAVES:
            raise TreeInputError(f"too many accounts: {n}, at most {MAX_LEAVES} leaves allowed")
        id_parts: list[bytes] = []
        nonce_parts: list[bytes] = []
        flat: list[int] = []
        for i, acc in enumerate(accounts):
            aid = acc.account_id.encode("utf-8")
            if len(aid) > MAX_ID_BYTES:
                raise TreeInputError(f"account {i}: id longer than {MAX_ID_BYTES} bytes")
            if len(acc.nonce) != NONCE_BYTES:
                raise TreeInputError(
                    f"account {i} ({acc.account_id!r}): nonce must be {NONCE_BYTES} bytes, "
                    f"got {len(acc.nonce)}"
                )
            if len(acc.equity) != n_assets or len(acc.debt) != n_assets:
                raise TreeInputError(
                    f"account {i} ({acc.account_id!r}): vectors must have {n_assets} amounts "
                    f"(one per asset), got equity {len(acc.equity)}, debt {len(acc.debt)}"
                )
            id_parts.append(aid)
            nonce_parts.append(acc.nonce)
            flat.extend(acc.equity)
            flat.extend(acc.debt)
        if flat:
            _check_amounts(flat, accounts, n_assets)
        lengths = np.fromiter(map(len, id_parts), dtype=np.int64, count=n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        nonces = np.frombuffer(b"".join(nonce_parts), dtype=np.uint8).reshape(n, NONCE_BYTES)
        amounts = ints_to_limbs(flat).reshape(n, 2, n_assets, 2)
        return cls(b"".join(id_parts), offsets, nonces, amounts)


def _check_amounts(flat: list[int], accounts: Sequence[AccountInput], n_assets: int) -> None:
    """Fast path: C-level min/max and type set; slow path only to name the culprit."""
    if set(map(type, flat)) == {int} and min(flat) >= 0 and max(flat) < AMOUNT_LIMIT:
        return
    for j, value in enumerate(flat):
        if type(value) is not int or not 0 <= value < AMOUNT_LIMIT:
            i, rest = divmod(j, 2 * n_assets)
            side = "equity" if rest < n_assets else "debt"
            raise TreeInputError(
                f"account {i} ({accounts[i].account_id!r}): {side}[{rest % n_assets}] = "
                f"{value!r} is not an integer in [0, 2^128)"
            )


@dataclass(frozen=True, slots=True)
class LeafBatch:
    """A finished leaf list (real and filler), already sorted by tag and padded.

    Fields: `tags` (uint8 (m, 32)), `amounts` (uint64 (m, 2, A, 2)). This is what a
    published leaf file or a test vector's `leaves` holds.
    """

    tags: NDArray[np.uint8]
    amounts: NDArray[np.uint64]

    @classmethod
    def from_strings(
        cls, leaves: Sequence[tuple[bytes, Sequence[int], Sequence[int]]], n_assets: int
    ) -> LeafBatch:
        """From (tag, equity, debt) triples, validating lengths and amount ranges."""
        flat: list[int] = []
        for i, (tag, equity, debt) in enumerate(leaves):
            if len(tag) != HASH_BYTES:
                raise TreeInputError(f"leaf {i}: tag must be {HASH_BYTES} bytes, got {len(tag)}")
            if len(equity) != n_assets or len(debt) != n_assets:
                raise TreeInputError(f"leaf {i}: vectors must have {n_assets} amounts")
            flat.extend(equity)
            flat.extend(debt)
        for j, value in enumerate(flat):
            if type(value) is not int or not 0 <= value < AMOUNT_LIMIT:
                raise TreeInputError(
                    f"leaf {j // (2 * n_assets)}: amount {value!r} is not in [0, 2^128)"
                )
        m = len(leaves)
        tags = np.frombuffer(b"".join(t for t, _, _ in leaves), dtype=np.uint8).reshape(m, 32)
        return cls(tags, ints_to_limbs(flat).reshape(m, 2, n_assets, 2))

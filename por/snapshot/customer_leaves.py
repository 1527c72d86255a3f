"""Customer leaves of one snapshot: claims -> (equity, debt) vectors, nonces, the totals check.

Per account and asset the ledger reports one claim (the sum of all the account's buckets:
available, locked by orders or withdrawals, lent with interest, unsettled PnL, minus
borrowed with interest). Exactly as `proof-format.md` says: `equity = max(claim, 0)`,
`debt = max(-claim, 0)`. Every account the ledger reports has its leaves, an account
whose claims are all zero too (a zero leaf, like a filler): a user always finds
themselves, and the leaf count follows accounts, not funded accounts. Each account is then
split into pieces (`por.snapshot.pieces`); its nonce here is the nonce of its piece 0.

Nonce (32 bytes, fresh per snapshot, handed only to the account):

    nonce = HMAC-SHA256(key = snapshot secret,
                        msg = "por/nonce" || u16(snapshot_id) || snapshot_id
                              || u16(account_id) || account_id)

with `u16(b)` the 2-byte big-endian length of `b` and both strings UTF-8, as in the tag.
The domain string keeps nonces apart from the filler tags derived from the same secret
(`por.model.filler_tag`, "por/filler" || ...). Without the secret, nonces (and thus tags)
cannot be linked across snapshots.

The CHECK (`check_root_totals`): the tree root's equity and debt must equal, per asset
and to the unit, the totals of customer claims and debts the ledger computes itself; any
difference fails the snapshot loudly, naming the asset and both numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT, u16
from por.builder import AccountBatch
from por.model import Node
from por.snapshot.errors import SnapshotError, TotalsMismatchError

__all__ = [
    "ACCOUNT_ID_BYTES_MAX",
    "NONCE_DOMAIN",
    "CustomerLeaves",
    "check_root_totals",
    "claim_limbs",
    "collect_leaves",
    "derive_nonce",
    "leaves_from_columns",
    "split_claim",
]

NONCE_DOMAIN = b"por/nonce"
ACCOUNT_ID_BYTES_MAX = 0xFFFF  # u16 length prefix in the tag and the nonce
_U64 = 1 << 64
_I63 = 1 << 63
_LOW64 = _U64 - 1


def derive_nonce(secret: bytes, snapshot_id: str, account_id: str) -> bytes:
    """The account's 32-byte nonce for this snapshot (layout in the module docstring)."""
    sid = snapshot_id.encode("utf-8")
    aid = account_id.encode("utf-8")
    return hmac.digest(secret, NONCE_DOMAIN + u16(sid) + sid + u16(aid) + aid, "sha256")


def split_claim(claim: int) -> tuple[int, int]:
    """(equity, debt) of one claim: never both non-zero, never negative."""
    return (claim, 0) if claim >= 0 else (0, -claim)


@dataclass(frozen=True, slots=True)
class CustomerLeaves:
    """Every customer's vectors, in columns ready for the fast builder.

    Fields: `batch` (ids, nonces, u128 limbs; account i is row i), `equity_totals` and
    `debt_totals` (per asset, summed here while reading), `borrowers` (rows with any
    debt), `borrower_collateral` (per asset, the equity of those rows, before haircuts).
    """

    assets: tuple[str, ...]
    batch: AccountBatch
    equity_totals: tuple[int, ...]
    debt_totals: tuple[int, ...]
    borrowers: int
    borrower_collateral: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.batch.count


def collect_leaves(
    claims: Iterable[tuple[str, Sequence[int]]],
    assets: Sequence[str],
    snapshot_id: str,
    secret: bytes,
) -> CustomerLeaves:
    """Fold a stream of (account, claim vector) into leaf columns, validating every row.

    Raises SnapshotError for a system account (`@...`) or an empty id, an id over 65535
    bytes, the same account twice, a vector of the wrong length, or a claim that is not an
    int in (-2^128, 2^128). Accounts whose claims are all zero are kept (one zero leaf).
    """
    assets = tuple(assets)
    n_assets = len(assets)
    ids: list[str] = []
    flat: list[int] = []
    seen: set[str] = set()
    add_id, extend, remember = ids.append, flat.extend, seen.add
    for account, vector in claims:
        if not isinstance(account, str) or not account or account[0] == "@":
            raise SnapshotError(
                f"ledger source gave a claim for {account!r}: expected a customer "
                "account id (system accounts start with '@' and are never leaves)"
            )
        if account in seen:
            raise SnapshotError(f"ledger source gave the claims of {account!r} twice")
        if len(vector) != n_assets:
            raise SnapshotError(
                f"ledger source gave {len(vector)} claims for {account!r}, expected "
                f"{n_assets} (one per asset of {list(assets)})"
            )
        remember(account)
        add_id(account)
        extend(vector)
    seen.clear()
    _check_claims(ids, flat, assets)
    equity, debt = _split(flat, len(ids), n_assets)
    return _leaves(assets, _batch(ids, equity, debt, snapshot_id, secret, n_assets))


def leaves_from_columns(
    assets: Sequence[str],
    ids: bytes,
    id_offsets: NDArray[np.int64],
    amounts: NDArray[np.uint64],
    snapshot_id: str,
    secret: bytes,
    *,
    encoded: list[bytes] | None = None,
) -> CustomerLeaves:
    """The leaves of accounts already in columns (ids as a UTF-8 blob with offsets, amounts
    as `AccountBatch.amounts`): this snapshot's nonces, the totals. `encoded`: the ids
    already cut out of the blob, if the caller has them. The columns are trusted (they
    come from a snapshot's own files, checked by their digests); the batch checks shapes."""
    assets = tuple(assets)
    if encoded is None:
        bounds = id_offsets.tolist()
        encoded = [ids[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
    sid = snapshot_id.encode("utf-8")
    blob = _nonces(secret, NONCE_DOMAIN + u16(sid) + sid, encoded, ids, id_offsets)
    nonces = np.frombuffer(blob, dtype=np.uint8).reshape(len(encoded), 32)
    return _leaves(assets, AccountBatch.from_arrays(ids, id_offsets, nonces, amounts, len(assets)))


def claim_limbs(vectors: Sequence[Sequence[int]], n_assets: int) -> NDArray[np.uint64]:
    """Claim vectors (ints in (-2^128, 2^128), checked by the caller) as u128 limbs in the
    layout of `AccountBatch.amounts`: (n, 2, A, 2), [equity|debt][asset][hi|lo]."""
    flat = [value for vector in vectors for value in vector]
    equity, debt = _split(flat, len(vectors), n_assets)
    out = np.empty((len(vectors), 2, n_assets, 2), dtype=np.uint64)
    out[:, 0] = equity
    out[:, 1] = debt
    return out


def _leaves(assets: tuple[str, ...], batch: AccountBatch) -> CustomerLeaves:
    """The leaves of a batch: totals, borrowers and their collateral summed from its limbs."""
    equity, debt = batch.amounts[:, 0], batch.amounts[:, 1]
    borrowing = debt.any(axis=(1, 2))
    return CustomerLeaves(
        assets,
        batch,
        _column_sums(equity),
        _column_sums(debt),
        int(borrowing.sum()),
        _column_sums(equity[borrowing]),
    )


def _check_claims(ids: list[str], flat: list[int], assets: tuple[str, ...]) -> None:
    """Fast path: C-level type set, min and max; the slow path only names the culprit."""
    if not flat or (
        set(map(type, flat)) == {int} and min(flat) > -AMOUNT_LIMIT and max(flat) < AMOUNT_LIMIT
    ):
        return
    for j, value in enumerate(flat):
        if type(value) is not int or not -AMOUNT_LIMIT < value < AMOUNT_LIMIT:
            row, k = divmod(j, len(assets))
            raise SnapshotError(
                f"claim of {ids[row]!r} in {assets[k]} is {value!r}: expected an int in "
                "(-2^128, 2^128)"
            )


def _split(flat: list[int], n: int, n_assets: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """(equity, debt) as u128 limb arrays of shape (n, A, 2): [hi, lo].

    Column by column: an asset whose claims all fit 63 bits (most: satoshi, lamports,
    micro-USDC) goes through one int64 array; a wider one (wei) is split into its equity and
    debt parts by two list passes, each part converted to uint64 at once when it fits 64
    bits, else as high and low limbs (exact: no object arrays, ~2x faster than numpy over
    Python ints at 10^7 claims)."""
    equity = np.zeros((n, n_assets, 2), dtype=np.uint64)
    debt = np.zeros((n, n_assets, 2), dtype=np.uint64)
    if not flat:
        return equity, debt
    for k in range(n_assets):
        column = flat[k::n_assets]
        low, high = min(column), max(column)
        if low > -_I63 and high < _I63:
            values = np.array(column, dtype=np.int64)
            equity[:, k, 1] = np.maximum(values, 0).astype(np.uint64)
            debt[:, k, 1] = np.maximum(-values, 0).astype(np.uint64)
            continue
        parts = [(equity, high, column if low >= 0 else [v if v > 0 else 0 for v in column])]
        if low < 0:
            parts.append((debt, -low, [-v if v < 0 else 0 for v in column]))
        for target, largest, part in parts:
            if largest < _U64:
                target[:, k, 1] = np.array(part, dtype=np.uint64)
            else:
                target[:, k, 0] = np.array([v >> 64 for v in part], dtype=np.uint64)
                target[:, k, 1] = np.array([v & _LOW64 for v in part], dtype=np.uint64)
    return equity, debt


def _column_sums(limbs: NDArray[np.uint64]) -> tuple[int, ...]:
    """Exact per-asset sums of an (m, A, 2) limb array (32-bit halves summed in uint64)."""
    out = []
    for k in range(limbs.shape[1]):
        total = 0
        for limb, shift in ((0, 64), (1, 0)):
            col = limbs[:, k, limb]
            high = int((col >> np.uint64(32)).sum(dtype=np.uint64))
            low = int((col & np.uint64(0xFFFFFFFF)).sum(dtype=np.uint64))
            total += ((high << 32) + low) << shift
        out.append(total)
    return tuple(out)


def _batch(
    ids: list[str],
    equity: NDArray[np.uint64],
    debt: NDArray[np.uint64],
    snapshot_id: str,
    secret: bytes,
    n_assets: int,
) -> AccountBatch:
    n = len(ids)
    encoded = [a.encode("utf-8") for a in ids]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    if n and int(lengths.max()) > ACCOUNT_ID_BYTES_MAX:
        row = int(lengths.argmax())
        raise SnapshotError(
            f"account id {ids[row][:40]!r}... is {int(lengths[row])} bytes of UTF-8: "
            f"expected at most {ACCOUNT_ID_BYTES_MAX} (u16 length prefix)"
        )
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    sid = snapshot_id.encode("utf-8")
    blob = b"".join(encoded)
    nonce_blob = _nonces(secret, NONCE_DOMAIN + u16(sid) + sid, encoded, blob, offsets)
    nonces = np.frombuffer(nonce_blob, dtype=np.uint8).reshape(n, 32)
    amounts = np.empty((n, 2, n_assets, 2), dtype=np.uint64)
    amounts[:, 0] = equity
    amounts[:, 1] = debt
    return AccountBatch.from_arrays(blob, offsets, nonces, amounts, n_assets)


PARALLEL_NONCES_MIN = 1 << 18  # ids below this: one process (a fork costs more than it saves)


def _nonces(
    secret: bytes, prefix: bytes, ids: list[bytes], blob: bytes, offsets: NDArray[np.int64]
) -> bytes:
    """HMAC-SHA256(secret, prefix || u16(id) || id) for every id, back to back (`blob`
    and `offsets`: the same ids back to back, as the batch keeps them).

    RFC 2104 by hand: the inner and outer pad states (and the inner state after the
    shared prefix) are computed once and copied per id -- the same bytes as
    `derive_nonce`, several times faster than a fresh HMAC per id. From
    `PARALLEL_NONCES_MIN` ids on, slices are hashed by forked workers (one per core: at
    10^7 accounts the nonces are ~1 us each, the largest serial step of an hour's leaves).
    """
    if len(ids) < PARALLEL_NONCES_MIN or (os.cpu_count() or 1) < 2:
        return _nonce_run(secret, prefix, ids)
    from por.operator.workers import map_forked

    slices = 4 * (os.cpu_count() or 1)
    step = -(-len(ids) // slices)
    # The workers read the blob and its offsets, not the list: reading 10^7 list items
    # writes their reference counts, copying the parent's pages (~0.4 GB) into each.
    _NONCE_JOB.update(secret=secret, prefix=prefix, blob=blob, offsets=offsets, step=step)
    try:
        return b"".join(map_forked(_nonce_slice, -(-len(ids) // step)))
    finally:
        _NONCE_JOB.clear()


_NONCE_JOB: dict[str, Any] = {}  # what forked workers read (set before the fork)


def _nonce_slice(index: int) -> bytes:
    job = _NONCE_JOB
    step: int = job["step"]
    blob: bytes = job["blob"]
    bounds = job["offsets"][index * step : (index + 1) * step + 1].tolist()
    ids = [blob[a:b] for a, b in itertools.pairwise(bounds)]
    return _nonce_run(job["secret"], job["prefix"], ids)


def _nonce_run(secret: bytes, prefix: bytes, ids: list[bytes]) -> bytes:
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    inner.update(prefix)
    out = []
    for aid in ids:
        h = inner.copy()
        h.update(len(aid).to_bytes(2, "big") + aid)
        o = outer.copy()
        o.update(h.digest())
        out.append(o.digest())
    return b"".join(out)


def check_root_totals(
    root: Node, assets: Sequence[str], ledger_totals: Mapping[str, tuple[int, int]]
) -> None:
    """The snapshot's CHECK: root sums == the ledger's customer totals, per asset, exactly."""
    assets = tuple(assets)
    unknown = sorted(set(ledger_totals) - set(assets))
    if unknown:
        raise TotalsMismatchError(
            f"the ledger reports customer totals for {unknown}, which are not snapshot assets"
        )
    problems = []
    for k, symbol in enumerate(assets):
        claims, debts = ledger_totals.get(symbol, (0, 0))
        if root.equity[k] != claims:
            problems.append(
                f"{symbol}: tree root equity is {root.equity[k]}, ledger customer claims "
                f"total {claims} (difference {root.equity[k] - claims})"
            )
        if root.debt[k] != debts:
            problems.append(
                f"{symbol}: tree root debt is {root.debt[k]}, ledger customer debts "
                f"total {debts} (difference {root.debt[k] - debts})"
            )
    if problems:
        raise TotalsMismatchError(
            "the tree does not match the ledger, snapshot refused: " + "; ".join(problems)
        )

"""Customer leaves of one snapshot: claims -> (equity, debt) vectors, nonces, the totals check.

Per account and asset the ledger reports one claim (the sum of all the account's buckets:
available, locked by orders or withdrawals, lent with interest, unsettled PnL, minus
borrowed with interest). Exactly as `proof-format.md` says: `equity = max(claim, 0)`,
`debt = max(-claim, 0)`. Accounts with no claim at all get no leaf.

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

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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
    "collect_leaves",
    "derive_nonce",
    "split_claim",
]

NONCE_DOMAIN = b"por/nonce"
ACCOUNT_ID_BYTES_MAX = 0xFFFF  # u16 length prefix in the tag and the nonce
_U64 = 1 << 64


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
    claims: Iterable[tuple[str, str, int]],
    assets: Sequence[str],
    snapshot_id: str,
    secret: bytes,
) -> CustomerLeaves:
    """Fold a stream of (account, asset, claim) into leaf columns, validating each row.

    Raises SnapshotError for a system account (`@...`), an unknown asset, a claim that is
    not an int in (-2^128, 2^128), or the same (account, asset) twice.
    """
    assets = tuple(assets)
    position = {symbol: k for k, symbol in enumerate(assets)}
    n_assets = len(assets)
    rows: dict[str, int] = {}
    ids: list[str] = []
    equity: list[list[int]] = [[] for _ in assets]
    debt: list[list[int]] = [[] for _ in assets]
    seen: set[tuple[int, int]] = set()
    borrower_rows: set[int] = set()
    for account, asset, claim in claims:
        row = rows.get(account)
        if row is None:
            if not isinstance(account, str) or not account or account.startswith("@"):
                raise SnapshotError(
                    f"ledger source gave a claim for {account!r}: expected a customer "
                    "account id (system accounts start with '@' and are never leaves)"
                )
            row = rows[account] = len(ids)
            ids.append(account)
            for k in range(n_assets):
                equity[k].append(0)
                debt[k].append(0)
        k_asset = position.get(asset)
        if k_asset is None:
            raise SnapshotError(
                f"ledger source gave a claim of {account!r} in {asset!r}, which is not one of "
                f"the snapshot's assets {list(assets)}"
            )
        if type(claim) is not int or not -AMOUNT_LIMIT < claim < AMOUNT_LIMIT:
            raise SnapshotError(
                f"claim of {account!r} in {asset} is {claim!r}: expected an int in (-2^128, 2^128)"
            )
        if (row, k_asset) in seen:
            raise SnapshotError(f"ledger source gave the claim of {account!r} in {asset} twice")
        seen.add((row, k_asset))
        if claim >= 0:
            equity[k_asset][row] = claim
        else:
            debt[k_asset][row] = -claim
            borrower_rows.add(row)
    seen.clear()
    collateral = tuple(sum(equity[k][r] for r in borrower_rows) for k in range(n_assets))
    batch = _batch(ids, equity, debt, snapshot_id, secret, n_assets)
    return CustomerLeaves(
        assets,
        batch,
        tuple(sum(col) for col in equity),
        tuple(sum(col) for col in debt),
        len(borrower_rows),
        collateral,
    )


def _batch(
    ids: list[str],
    equity: list[list[int]],
    debt: list[list[int]],
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
    prefix = NONCE_DOMAIN + u16(sid) + sid
    digest = hmac.digest
    nonce_blob = b"".join(
        [digest(secret, prefix + len(a).to_bytes(2, "big") + a, "sha256") for a in encoded]
    )
    nonces = np.frombuffer(nonce_blob, dtype=np.uint8).reshape(n, 32)
    amounts = np.zeros((n, 2, n_assets, 2), dtype=np.uint64)
    for k in range(n_assets):
        for side, column in ((0, equity[k]), (1, debt[k])):
            hi, lo = _limbs(column)
            amounts[:, side, k, 1] = lo
            if hi is not None:
                amounts[:, side, k, 0] = hi
    return AccountBatch.from_arrays(b"".join(encoded), offsets, nonces, amounts, n_assets)


def _limbs(values: list[int]) -> tuple[NDArray[np.uint64] | None, NDArray[np.uint64]]:
    """(hi, lo) uint64 columns of non-negative ints < 2^128; hi is None when all < 2^64."""
    if not values or max(values) < _U64:
        return None, np.array(values, dtype=np.uint64)
    obj = np.array(values, dtype=object)
    return (obj >> 64).astype(np.uint64), (obj & (_U64 - 1)).astype(np.uint64)


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

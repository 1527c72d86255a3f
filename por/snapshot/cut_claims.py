"""The cut's claims, kept with each snapshot, so that the next hour reads only what changed.

A snapshot writes every customer's claims at its cut into `private/claims/` (0600, like
the rest of `private/`). The next hour's cut, given that snapshot (`take_snapshot(...,
previous=...)`), asks the ledger only what changed since (`IncrementalLedgerCut
.changes_since`: the accounts with a posting or opened in between, with their claims at
both cuts), merges it into these columns (`merge`), and gets the same leaves, to the
unit, as a full read of the cut: the database work follows what changed, not the number of
accounts (what stays O(accounts) is local: reading these files, the nonces).

Files of `private/claims/`:

    ids.bin          the account ids, UTF-8, back to back
    id_offsets.npy   int64 (n + 1): id i is ids.bin[id_offsets[i]:id_offsets[i + 1]]
    amounts.npy      uint64 (n, 2, A, 2): [equity|debt][asset][hi|lo], the claims as
                     u128 limbs (the layout of `AccountBatch.amounts`), in assets order
    claims.json      the record below

Record `claims.json` (`por-cut-claims/1`):
  Fields: `seq` and `time_ms` (the cut, and its ledger time or null), `assets` ([symbol,
    decimals] in the cut's order), `accounts` (n), `totals` (asset -> [claims, debts],
    decimal strings: the ledger's customer totals this snapshot's root was checked
    against), `in_flight` (asset -> the ledger's pending withdrawals), `system_accounts`
    (the system accounts with a balance at the cut), `borrowers` (how many rows have a
    debt), `files` (name -> SHA-256 hex of its bytes).
  Guarantees: written inside the snapshot's temporary directory, so it exists only in a
    complete snapshot, whose root matched `totals`; every account open at the cut has
    exactly one row (all-zero claims too).
  Updates: never. Deletion: with its snapshot.

Whatever makes the kept claims unusable (a missing or altered file, another format, other
assets, a cut after this one or of another ledger, the ledger disagreeing with a kept
account's claims) raises
`UnusableClaimsError`: the caller reads the whole cut instead, and says why.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT
from por.builder import AccountBatch
from por.snapshot.customer_leaves import (
    CustomerLeaves,
    claim_limbs,
    collect_leaves,
    leaves_from_columns,
)
from por.snapshot.errors import SnapshotError

__all__ = [
    "CLAIMS_DIR",
    "CLAIMS_FORMAT",
    "KeptClaims",
    "Merged",
    "UnusableClaimsError",
    "merge",
    "read_claims",
    "write_claims",
]

CLAIMS_DIR = "claims"  # under the snapshot's private/
CLAIMS_FORMAT = "por-cut-claims/1"
_RECORD = "claims.json"
_FILES = ("ids.bin", "id_offsets.npy", "amounts.npy")
_CHUNK = 1 << 23


class UnusableClaimsError(SnapshotError):
    """The kept claims cannot serve as the base of this cut (the message says why)."""


@dataclass(frozen=True, slots=True)
class KeptClaims:
    """A snapshot's kept claims, read back and checked against their digests."""

    seq: int
    time_ms: int | None
    assets: tuple[tuple[str, int], ...]
    ids: bytes
    id_offsets: NDArray[np.int64]
    amounts: NDArray[np.uint64]
    totals: dict[str, tuple[int, int]]
    in_flight: dict[str, int]
    system_accounts: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.id_offsets) - 1

    def borrowers(self) -> list[str]:
        """The accounts with a debt in any asset at the kept cut."""
        rows = np.flatnonzero(self.amounts[:, 1].any(axis=(1, 2))).tolist()
        bounds = self.id_offsets
        return [self.ids[int(bounds[r]) : int(bounds[r + 1])].decode("utf-8") for r in rows]


def write_claims(
    directory: Path,
    *,
    seq: int,
    time_ms: int | None,
    assets: Sequence[tuple[str, int]],
    batch: AccountBatch,
    totals: Mapping[str, tuple[int, int]],
    in_flight: Mapping[str, int],
    system_accounts: Iterable[str],
) -> None:
    """Write `directory` (new) with the files and record of the module docstring."""
    directory.mkdir(parents=True)
    amounts = np.ascontiguousarray(batch.amounts, dtype=np.uint64)
    (directory / "ids.bin").write_bytes(batch.ids)
    np.save(directory / "id_offsets.npy", batch.id_offsets.astype(np.int64), allow_pickle=False)
    np.save(directory / "amounts.npy", amounts, allow_pickle=False)
    record = {
        "format": CLAIMS_FORMAT,
        "seq": seq,
        "time_ms": time_ms,
        "assets": [[s, d] for s, d in assets],
        "accounts": batch.count,
        "borrowers": int(amounts[:, 1].any(axis=(1, 2)).sum()),
        "totals": {s: [str(c), str(d)] for s, (c, d) in sorted(totals.items())},
        "in_flight": {s: str(v) for s, v in sorted(in_flight.items())},
        "system_accounts": sorted(set(system_accounts)),
        "files": {name: _digest(directory / name) for name in _FILES},
    }
    (directory / _RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def read_claims(snapshot_dir: Path) -> KeptClaims:
    """The kept claims of the snapshot `snapshot_dir`, every file checked against the
    digest its record names; UnusableClaimsError saying what is wrong otherwise."""
    directory = snapshot_dir / "private" / CLAIMS_DIR
    try:
        record = json.loads((directory / _RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnusableClaimsError(f"{directory / _RECORD} is missing") from None
    except (OSError, ValueError) as exc:
        raise UnusableClaimsError(f"{directory / _RECORD} is unreadable: {exc}") from None
    try:
        return _parse(directory, record)
    except UnusableClaimsError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise UnusableClaimsError(f"{directory}: {type(exc).__name__}: {exc}") from None


def _parse(directory: Path, record: Any) -> KeptClaims:
    if not isinstance(record, dict) or record.get("format") != CLAIMS_FORMAT:
        raise UnusableClaimsError(f"{directory / _RECORD} is not a {CLAIMS_FORMAT} record")
    files = record["files"]
    for name in _FILES:
        path = directory / name
        if not path.is_file():
            raise UnusableClaimsError(f"{path} is missing")
        if not hmac.compare_digest(_digest(path), str(files[name])):
            raise UnusableClaimsError(f"{path} does not match the digest its record names")
    ids = (directory / "ids.bin").read_bytes()
    offsets = np.load(directory / "id_offsets.npy", allow_pickle=False)
    amounts = np.load(directory / "amounts.npy", allow_pickle=False)
    assets = tuple((str(s), int(d)) for s, d in record["assets"])
    n = int(record["accounts"])
    if (
        offsets.dtype != np.int64
        or offsets.shape != (n + 1,)
        or amounts.dtype != np.uint64
        or amounts.shape != (n, 2, len(assets), 2)
        or int(offsets[0]) != 0
        or int(offsets[-1]) != len(ids)
    ):
        raise UnusableClaimsError(f"{directory}: the columns do not have the recorded shapes")
    return KeptClaims(
        seq=int(record["seq"]),
        time_ms=None if record["time_ms"] is None else int(record["time_ms"]),
        assets=assets,
        ids=ids,
        id_offsets=offsets,
        amounts=amounts,
        totals={str(s): (int(c), int(d)) for s, (c, d) in record["totals"].items()},
        in_flight={str(s): int(v) for s, v in record["in_flight"].items()},
        system_accounts=tuple(str(a) for a in record["system_accounts"]),
    )


@dataclass(frozen=True, slots=True)
class Merged:
    """This cut's leaves from the kept claims and the changes, with the ledger's totals
    and in-flight withdrawals carried from the kept cut by the changes it reported."""

    leaves: CustomerLeaves
    totals: dict[str, tuple[int, int]]
    in_flight: dict[str, int]
    changed: int
    leaves_s: float  # float-ok: seconds on the ids and this snapshot's nonces (leaves stage)


def merge(
    kept: KeptClaims,
    changed: Iterable[tuple[str, Sequence[int] | None, Sequence[int]]],
    totals_change: Mapping[str, tuple[int, int]],
    in_flight_change: Mapping[str, int],
    snapshot_id: str,
    secret: bytes,
) -> Merged:
    """The kept claims with each changed account's row replaced (or appended, for an
    account new since the kept cut): the same rows as a full read of this cut.

    Every changed account's claims at the kept cut, as the ledger reports them, must be
    the kept row (and None exactly for an account not kept), and the merged columns must
    sum to the kept totals plus the ledger's change: else UnusableClaimsError (the kept
    file and the ledger disagree; the caller reads the whole cut). A malformed changed row
    (a system account, a claim out of range, ...) raises SnapshotError as a full read does.
    """
    symbols = tuple(s for s, _ in kept.assets)
    n_assets = len(symbols)
    rows = list(changed)
    fresh = collect_leaves(((a, after) for a, _, after in rows), symbols, snapshot_id, secret)
    begin = time.perf_counter()
    bounds = kept.id_offsets.tolist()
    blob = kept.ids
    encoded = [blob[bounds[i] : bounds[i + 1]] for i in range(kept.count)]  # (the nonces')
    leaves_s = time.perf_counter() - begin
    wanted = {a.encode("utf-8"): j for j, (a, _, _) in enumerate(rows)}
    where = [-1] * len(rows)
    if wanted:
        for i in [i for i, account in enumerate(encoded) if account in wanted]:
            where[wanted[encoded[i]]] = i
    old = [j for j, i in enumerate(where) if i >= 0]
    new = [j for j, i in enumerate(where) if i < 0]
    for j in new:
        if rows[j][1] is not None:
            raise UnusableClaimsError(
                f"the ledger says {rows[j][0]!r} existed at seq {kept.seq}, the kept claims "
                "do not have it"
            )
    amounts = kept.amounts
    if old:
        before = [vector for j in old if (vector := rows[j][1]) is not None]
        flat = [v for vector in before for v in vector]
        if (
            len(before) != len(old)
            or any(len(v) != n_assets for v in before)
            or set(map(type, flat)) - {int}
            or (flat and not (min(flat) > -AMOUNT_LIMIT and max(flat) < AMOUNT_LIMIT))
        ):
            raise UnusableClaimsError(
                f"the ledger gave claims at seq {kept.seq} that are not {n_assets} ints "
                "per kept account"
            )
        kept_rows = np.asarray([where[j] for j in old], dtype=np.int64)
        differs = np.flatnonzero(
            (claim_limbs(before, n_assets) != amounts[kept_rows]).any(axis=(1, 2, 3))
        )
        if differs.size:
            j = old[int(differs[0])]
            raise UnusableClaimsError(
                f"the kept claims of {rows[j][0]!r} differ from the ledger's at seq {kept.seq} "
                f"({differs.size} accounts differ)"
            )
        order = np.asarray(old, dtype=np.int64)
        amounts = amounts.copy() if not amounts.flags.writeable else amounts
        amounts[kept_rows] = fresh.batch.amounts[order]
    ids, offsets = blob, kept.id_offsets
    if new:
        added = [rows[j][0].encode("utf-8") for j in new]
        ids = blob + b"".join(added)
        lengths = np.fromiter(map(len, added), dtype=np.int64, count=len(added))
        offsets = np.concatenate([kept.id_offsets, bounds[-1] + np.cumsum(lengths)])
        amounts = np.concatenate([amounts, fresh.batch.amounts[np.asarray(new, dtype=np.int64)]])
        encoded.extend(added)
    begin = time.perf_counter()
    leaves = leaves_from_columns(
        symbols, ids, offsets, amounts, snapshot_id, secret, encoded=encoded
    )
    leaves_s += time.perf_counter() - begin
    totals = _add_pairs(kept.totals, totals_change, symbols)
    sums = {
        s: (leaves.equity_totals[k], leaves.debt_totals[k])
        for k, s in enumerate(symbols)
        if leaves.equity_totals[k] or leaves.debt_totals[k]
    }
    if sums != totals:
        raise UnusableClaimsError(
            f"the merged claims sum to {sums}, the ledger's totals at the kept cut plus its "
            f"change give {totals}"
        )
    in_flight = {
        s: v for s in symbols if (v := kept.in_flight.get(s, 0) + int(in_flight_change.get(s, 0)))
    }
    return Merged(leaves, totals, in_flight, len(rows), leaves_s)


def _add_pairs(
    base: Mapping[str, tuple[int, int]],
    change: Mapping[str, tuple[int, int]],
    symbols: Sequence[str],
) -> dict[str, tuple[int, int]]:
    unknown = sorted(set(change) - set(symbols))
    if unknown:
        raise UnusableClaimsError(f"the ledger reports a totals change for {unknown}")
    out = {}
    for s in symbols:
        b, c = base.get(s, (0, 0)), change.get(s, (0, 0))
        pair = (b[0] + int(c[0]), b[1] + int(c[1]))
        if min(pair) < 0:
            raise UnusableClaimsError(f"{s}: the carried totals {pair} are negative")
        if pair != (0, 0):
            out[s] = pair
    return out

"""Reserves of one snapshot: every chain's reading plus an ownership proof per address.

`collect_reserves` runs the readers and the key store; `ReserveReport.to_dict()` is the
public `reserves.json` form (addresses, balances, block/slot with hash and time, ownership
signatures); `verify_reserve_report` is the pure check a verifier runs on that form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from por.reserves.errors import OwnershipError, ReaderError, ReservesError
from por.reserves.keystore import KeyStore
from por.reserves.model import Chain, ReserveReading
from por.reserves.ownership import OwnershipProof, prove_ownership, verify_ownership
from por.reserves.reader import ReserveReader
from por.reserves.wallets import WalletRegistry

__all__ = ["REPORT_FORMAT", "ReserveReport", "collect_reserves", "verify_reserve_report"]

REPORT_FORMAT = "por-reserves-v1"


@dataclass(frozen=True, slots=True)
class ReserveReport:
    """What the exchange holds at a snapshot, and proof that it controls it."""

    exchange: str
    snapshot_id: str
    readings: tuple[ReserveReading, ...]
    proofs: tuple[OwnershipProof, ...]

    def totals(self) -> dict[str, int]:
        """Sum per asset symbol over all chains (a wrapped BTC counts as BTC, as labelled)."""
        out: dict[str, int] = {}
        for reading in self.readings:
            for asset, amount in reading.totals().items():
                out[asset] = out.get(asset, 0) + amount
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "exchange": self.exchange,
            "snapshot_id": self.snapshot_id,
            "chains": [r.to_dict() for r in self.readings],
            "ownership": [p.to_dict() for p in self.proofs],
            "totals": {a: str(v) for a, v in sorted(self.totals().items())},
        }


def collect_reserves(
    registry: WalletRegistry,
    readers: Mapping[Chain, ReserveReader],
    keystore: KeyStore,
    snapshot_id: str,
    at: datetime | None = None,
) -> ReserveReport:
    """Read every chain of the registry and sign ownership for every wallet.

    All or nothing: a failing reader (ReaderError) or a missing key (KeyStoreError) raises
    and no partial report exists.
    """
    readings = []
    for chain in sorted({w.chain for w in registry.wallets}):
        reader = readers.get(chain)
        if reader is None:
            raise ReaderError(f"no reader configured for chain {chain}")
        readings.append(reader.read(registry.on(chain), at))
    proofs = prove_ownership(keystore, registry.exchange, registry.wallets, snapshot_id)
    return ReserveReport(registry.exchange, snapshot_id, tuple(readings), proofs)


def verify_reserve_report(report: Mapping[str, Any]) -> None:
    """Every address with a balance has a valid ownership proof for this snapshot; totals add up.

    Pure: a parsed `reserves.json` in, None out or a ReservesError saying what is wrong.
    """
    try:
        if report["format"] != REPORT_FORMAT:
            raise ReservesError(f"reserves: unknown format {report['format']!r}")
        exchange, snapshot_id = str(report["exchange"]), str(report["snapshot_id"])
        proven: set[tuple[str, str]] = set()
        for raw in report["ownership"]:
            proof = OwnershipProof.from_dict(raw)
            verify_ownership(proof, exchange=exchange, snapshot_id=snapshot_id)
            proven.add((proof.chain, proof.address))
        totals: dict[str, int] = {}
        for chain in report["chains"]:
            for balance in chain["balances"]:
                if (chain["chain"], balance["address"]) not in proven:
                    raise OwnershipError(
                        f"reserves: {chain['chain']} address {balance['address']} "
                        "has no ownership proof"
                    )
                amount = int(balance["amount"])
                if amount < 0:
                    raise ReservesError(f"reserves: negative balance for {balance['address']}")
                totals[balance["asset"]] = totals.get(balance["asset"], 0) + amount
        stated = {a: int(v) for a, v in report["totals"].items()}
        if stated != totals:
            raise ReservesError(f"reserves: totals {stated} do not match the balances {totals}")
    except (KeyError, TypeError, ValueError) as exc:
        raise ReservesError(f"reserves: malformed report: {exc!r}") from exc

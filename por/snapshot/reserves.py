"""Reserves of one snapshot: every registered wallet read at one pin per chain, and signed.

Wires the reserves package (wallet registry, readers, key store, ownership proofs) for a
snapshot and checks that the wallet registry speaks the ledger's language: every reserve
asset must be a ledger asset with the same decimals (else amounts would be compared in
different units), and every chain with wallets needs a reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from por.reserves import ReserveReader, ReserveReading, WalletRegistry
from por.reserves.keystore import KeyStore
from por.reserves.ownership import OwnershipProof, prove_ownership, verify_ownership
from por.snapshot.errors import SnapshotConfigError, SnapshotError

__all__ = ["ReserveSetup", "SnapshotReserves", "read_reserves"]


@dataclass(frozen=True, slots=True)
class ReserveSetup:
    """What the snapshot needs to read and prove reserves: wallets, a reader per chain
    (keyed by chain name), and the key store that signs ownership messages."""

    registry: WalletRegistry
    readers: Mapping[str, ReserveReader]
    keystore: KeyStore


@dataclass(frozen=True, slots=True)
class SnapshotReserves:
    """Readings (one pin per chain), ownership proofs, and totals per asset."""

    exchange: str
    readings: tuple[ReserveReading, ...]
    proofs: tuple[OwnershipProof, ...]
    totals: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "por-reserves/1",
            "exchange": self.exchange,
            "totals": {k: str(v) for k, v in sorted(self.totals.items())},
            "readings": [r.to_dict() for r in self.readings],
            "ownership": [p.to_dict() for p in self.proofs],
        }


def _check_assets(registry: WalletRegistry, ledger_assets: Mapping[str, int]) -> None:
    for chain, specs in registry.assets.items():
        for symbol, spec in specs.items():
            if symbol not in ledger_assets:
                raise SnapshotConfigError(
                    f"wallet registry: asset {symbol} on {chain} is not a ledger asset "
                    f"(ledger has {sorted(ledger_assets)})"
                )
            if spec.decimals != ledger_assets[symbol]:
                raise SnapshotConfigError(
                    f"wallet registry: {symbol} on {chain} has {spec.decimals} decimals, "
                    f"the ledger's {symbol} has {ledger_assets[symbol]}"
                )


def read_reserves(
    setup: ReserveSetup, ledger_assets: Mapping[str, int], snapshot_id: str, at: datetime
) -> SnapshotReserves:
    """Read every chain at its pin, sign and verify every ownership message.

    Raises SnapshotConfigError (registry vs ledger, missing reader) or the reserves
    package's errors (ReaderError, KeyStoreError, OwnershipError) unchanged.
    """
    registry = setup.registry
    _check_assets(registry, ledger_assets)
    readings: list[ReserveReading] = []
    chains = sorted({w.chain for w in registry.wallets})
    for chain in chains:
        if chain not in setup.readers:
            raise SnapshotConfigError(
                f"wallet registry has {chain} wallets but no {chain} reader (RPC URL) was given"
            )
    proofs = prove_ownership(setup.keystore, registry.exchange, registry.wallets, snapshot_id)
    for proof in proofs:
        verify_ownership(proof, exchange=registry.exchange, snapshot_id=snapshot_id)
    totals: dict[str, int] = {}
    for chain in chains:
        wallets = registry.on(chain)
        reading = setup.readers[chain].read(wallets, at)
        expected = {(w.address, a) for w in wallets for a in w.assets}
        got = {(b.address, b.asset) for b in reading.balances}
        if reading.chain != chain or got != expected:
            raise SnapshotError(
                f"{chain} reader returned balances for other wallets/assets than asked "
                f"({len(got ^ expected)} differ)"
            )
        readings.append(reading)
        for balance in reading.balances:
            if balance.amount < 0:
                raise SnapshotError(f"{chain} reader returned a negative balance {balance}")
            totals[balance.asset] = totals.get(balance.asset, 0) + balance.amount
    return SnapshotReserves(registry.exchange, tuple(readings), proofs, totals)

"""Reserves of one snapshot: every registered wallet read at one pin per chain, and signed.

Wires the reserves package (wallet registry, readers, key store, ownership proofs) for a
snapshot and checks that the wallet registry speaks the ledger's language: every reserve
asset must be a ledger asset with the same decimals (else amounts would be compared in
different units), and every chain with wallets needs a reader. Chains are read first:
each ownership message binds its chain's identity, which the reader reports, and the
exchange's manifest key (`ReserveSetup.exchange_key`). A wallet with a per-period
attestation in `ReserveSetup.attestations` whose window covers the hour (cold storage,
`por reserves attest`) uses it; every other wallet signs this snapshot with the key store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from por.reserves import ReserveReader, ReserveReading, Wallet, WalletRegistry
from por.reserves.attestation import AttestationStore, check_attestation
from por.reserves.errors import KeyStoreError
from por.reserves.keystore import KeyStore
from por.reserves.ownership import Binding, OwnershipProof, prove_ownership, verify_ownership
from por.reserves.registry import AssetRegistry, expected_account
from por.snapshot.errors import SnapshotConfigError, SnapshotError

__all__ = ["ReserveSetup", "SnapshotReserves", "read_reserves"]


@dataclass(frozen=True, slots=True)
class ReserveSetup:
    """What the snapshot needs to read and prove reserves: wallets, a reader per chain
    (keyed by chain name; `por.reserves.quorum.AgreeingReader` for several nodes), the key
    store that signs ownership messages, and the exchange's manifest public key (64 hex)
    every ownership message names (the publisher fills it in from its signing key), and
    where the cold wallets' per-period attestations are (None: every wallet signs)."""

    registry: WalletRegistry
    readers: Mapping[str, ReserveReader]
    keystore: KeyStore
    exchange_key: str = ""
    attestations: AttestationStore | None = None


@dataclass(frozen=True, slots=True)
class SnapshotReserves:
    """Readings (one pin per chain), the wallets, ownership proofs, totals per asset, and
    the asset registry the balances were read by."""

    exchange: str
    readings: tuple[ReserveReading, ...]
    proofs: tuple[OwnershipProof, ...]
    totals: Mapping[str, int]
    wallets: tuple[Wallet, ...] = ()
    registry: AssetRegistry | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "por-reserves/1",
            "exchange": self.exchange,
            "totals": {k: str(v) for k, v in sorted(self.totals.items())},
            "wallets": [
                {"chain": w.chain, "address": w.address, "assets": list(w.assets), "role": w.role}
                for w in self.wallets
            ],
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
    key = setup.exchange_key
    if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
        raise SnapshotConfigError(
            "reserves: the exchange's manifest public key (64 lowercase hex) is needed: every"
            " ownership message names it"
        )
    assets = AssetRegistry.of(registry.assets, "wallet registry")
    readings: list[ReserveReading] = []
    chains = sorted({w.chain for w in registry.wallets})
    for chain in chains:
        if chain not in setup.readers:
            raise SnapshotConfigError(
                f"wallet registry has {chain} wallets but no {chain} reader (RPC URL) was given"
            )
    totals: dict[str, int] = {}
    for chain in chains:
        wallets = registry.on(chain)
        reading = setup.readers[chain].read(wallets, at)
        expected = {(w.address, a) for w in wallets for a in w.assets}
        got = {(b.address, b.asset) for b in reading.balances}
        if reading.chain != chain or got != expected or len(reading.balances) != len(expected):
            raise SnapshotError(
                f"{chain} reader returned balances for other wallets/assets than asked "
                f"({len(got ^ expected)} differ, {len(reading.balances)} for {len(expected)})"
            )
        if not reading.pin.chain_id:
            raise SnapshotError(f"{chain} reader did not say which chain it read (chain id)")
        for balance in reading.balances:
            spec = assets.get(chain, balance.asset)
            want = None if spec is None else expected_account(spec, balance.address)
            if want is None or want.lower() != balance.account.lower():
                raise SnapshotError(
                    f"{chain} reader read {balance.asset} of {balance.address} from"
                    f" {balance.account}, the registry says {want}"
                )
        readings.append(reading)
        for balance in reading.balances:
            if balance.amount < 0:
                raise SnapshotError(f"{chain} reader returned a negative balance {balance}")
            totals[balance.asset] = totals.get(balance.asset, 0) + balance.amount
    chain_ids: dict[str, str] = {r.chain: r.pin.chain_id for r in readings}
    attested = _attested(setup, snapshot_id, chain_ids)
    signing = [w for w in registry.wallets if (w.chain, w.address) not in attested]
    try:
        signed = prove_ownership(
            setup.keystore,
            signing,
            exchange=registry.exchange,
            exchange_key=key,
            chain_ids=chain_ids,
            period=snapshot_id,
        )
    except KeyStoreError as exc:
        if setup.attestations is None:
            raise
        raise KeyStoreError(
            f"{exc}; and no attestation in {setup.attestations.path} covers {snapshot_id}"
            " (cold wallets: `por reserves challenge`, sign offline, `por reserves attest`)"
        ) from None
    for proof in signed:
        binding = Binding(registry.exchange, key, proof.chain, chain_ids[proof.chain], snapshot_id)
        verify_ownership(proof, binding)
    by_wallet = {(p.chain, p.address): p for p in (*signed, *attested.values())}
    proofs = tuple(by_wallet[(w.chain, w.address)] for w in registry.wallets)
    return SnapshotReserves(
        registry.exchange, tuple(readings), proofs, totals, registry.wallets, assets
    )


def _attested(
    setup: ReserveSetup, snapshot_id: str, chain_ids: Mapping[str, str]
) -> dict[tuple[str, str], OwnershipProof]:
    """The stored per-period proofs that cover this hour, checked as a verifier would
    (default policy, this exchange's key, the chain read now)."""
    from por.reserves.attestation import parse_iso_utc

    if setup.attestations is None:
        return {}
    hour = parse_iso_utc(snapshot_id, "snapshot id")
    out: dict[tuple[str, str], OwnershipProof] = {}
    for wallet in setup.registry.wallets:
        proof = setup.attestations.covering(wallet.chain, wallet.address, hour)
        if proof is None:
            continue
        check_attestation(proof, wallet, hour)
        binding = Binding(setup.registry.exchange, setup.exchange_key, proof.chain,
                          chain_ids[proof.chain], proof.period, "period", proof.window,
                          proof.block[:2])  # fmt: skip
        verify_ownership(proof, binding)
        out[(wallet.chain, wallet.address)] = proof
    return out

"""Ownership proofs: EIP-191 and Ed25519 signatures over the snapshot's fixed text."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from por.reserves.errors import KeyStoreError, OwnershipError
from por.reserves.keystore import FileKeyStore, KeyStore, generate_keystore
from por.reserves.model import Wallet
from por.reserves.ownership import (
    OwnershipProof,
    ownership_message,
    prove_ownership,
    verify_ownership,
)

EXCHANGE = "Example Exchange"
SNAPSHOT = "2026-11-24T16:00:00Z"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[FileKeyStore, list[Wallet]]:
    store, eth, sol = generate_keystore(tmp_path / "keys.json", ethereum=2, solana=2)
    wallets = [Wallet("ethereum", a, ("ETH",), "hot") for a in eth]
    wallets += [Wallet("solana", a, ("SOL",), "cold") for a in sol]
    return store, wallets


def test_the_message_names_exchange_chain_address_and_snapshot() -> None:
    text = ownership_message(EXCHANGE, "solana", "Addr", SNAPSHOT)
    assert text == (
        "Proof of reserves: address ownership\n"
        "exchange: Example Exchange\nchain: solana\naddress: Addr\n"
        "snapshot: 2026-11-24T16:00:00Z\n"
    )


def test_signatures_of_every_address_verify(keys: tuple[FileKeyStore, list[Wallet]]) -> None:
    store, wallets = keys
    assert isinstance(store, KeyStore)
    proofs = prove_ownership(store, EXCHANGE, wallets, SNAPSHOT)
    assert [p.scheme for p in proofs] == ["eip191-personal-sign"] * 2 + ["ed25519"] * 2
    for proof in proofs:
        assert verify_ownership(proof, exchange=EXCHANGE, snapshot_id=SNAPSHOT) is None
        assert OwnershipProof.from_dict(proof.to_dict()) == proof


def test_a_signature_for_another_snapshot_is_refused(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    for proof in prove_ownership(store, EXCHANGE, wallets, "2026-11-24T15:00:00Z"):
        with pytest.raises(
            OwnershipError, match="not the text for snapshot '2026-11-24T16:00:00Z'"
        ):
            verify_ownership(proof, exchange=EXCHANGE, snapshot_id=SNAPSHOT)
        # relabelling the stale proof does not help: the signature is over the old text
        relabelled = dataclasses.replace(
            proof,
            snapshot_id=SNAPSHOT,
            message=ownership_message(EXCHANGE, proof.chain, proof.address, SNAPSHOT),
        )
        with pytest.raises(OwnershipError, match="recovers to|does not verify"):
            verify_ownership(relabelled, exchange=EXCHANGE, snapshot_id=SNAPSHOT)


def test_a_signature_presented_for_another_address_is_refused(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    proofs = prove_ownership(store, EXCHANGE, wallets, SNAPSHOT)
    for mine, other in ((proofs[0], proofs[1]), (proofs[2], proofs[3])):
        stolen = dataclasses.replace(
            mine,
            address=other.address,
            message=ownership_message(EXCHANGE, mine.chain, other.address, SNAPSHOT),
        )
        with pytest.raises(OwnershipError, match="recovers to .*not the address|does not verify"):
            verify_ownership(stolen, exchange=EXCHANGE, snapshot_id=SNAPSHOT)


def test_a_signature_for_another_exchange_is_refused(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    proof = prove_ownership(store, "Other Exchange", wallets[:1], SNAPSHOT)[0]
    with pytest.raises(OwnershipError, match="not the text"):
        verify_ownership(proof, exchange=EXCHANGE, snapshot_id=SNAPSHOT)


def test_malformed_signatures_are_refused_with_a_reason(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    eth, _, sol, _ = prove_ownership(store, EXCHANGE, wallets, SNAPSHOT)
    with pytest.raises(OwnershipError, match="wrong size: expected 65, got 64"):
        verify_ownership(
            dataclasses.replace(eth, signature=eth.signature[:-2]),
            exchange=EXCHANGE,
            snapshot_id=SNAPSHOT,
        )
    flipped = sol.signature[:-1] + ("2" if sol.signature[-1] != "2" else "3")
    with pytest.raises(OwnershipError, match="Ed25519|malformed"):
        verify_ownership(
            dataclasses.replace(sol, signature=flipped), exchange=EXCHANGE, snapshot_id=SNAPSHOT
        )


def test_a_missing_key_is_a_clear_error(keys: tuple[FileKeyStore, list[Wallet]]) -> None:
    store, _ = keys
    stranger = Wallet("ethereum", "0x" + "12" * 20, ("ETH",), "hot")
    with pytest.raises(
        KeyStoreError, match=f"no signing key for ethereum address {stranger.address}"
    ):
        prove_ownership(store, EXCHANGE, [stranger], SNAPSHOT)


def test_a_key_store_readable_by_others_is_refused(tmp_path: Path) -> None:
    generate_keystore(tmp_path / "keys.json", ethereum=1)
    os.chmod(tmp_path / "keys.json", 0o644)
    with pytest.raises(KeyStoreError, match="accessible by group/others .*chmod 600"):
        FileKeyStore(tmp_path / "keys.json")


def test_a_key_filed_under_the_wrong_address_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"ethereum": {"0x' + "12" * 20 + '": "0x' + "01" * 32 + '"}}')
    os.chmod(path, 0o600)
    with pytest.raises(KeyStoreError, match="filed under 0x1212.* is for 0x"):
        FileKeyStore(path)


def test_a_missing_key_store_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="cannot read key store"):
        FileKeyStore(tmp_path / "absent.json")


def test_text_fields_with_newlines_are_refused() -> None:
    with pytest.raises(OwnershipError, match="snapshot id must be a non-empty single line"):
        ownership_message(EXCHANGE, "ethereum", "0xabc", "2026\nsnapshot: other")

"""Ownership proofs: EIP-191 and Ed25519 signatures over a text bound to the exchange's key,
the chain, the address and the snapshot."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest

from por.reserves.errors import KeyStoreError, OwnershipError
from por.reserves.keystore import FileKeyStore, KeyStore, generate_keystore
from por.reserves.ownership import (
    Binding,
    OwnershipProof,
    ownership_message,
    prove_ownership,
    verify_ownership,
)
from por.reserves.values import Wallet

EXCHANGE = "Example Exchange"
SNAPSHOT = "2026-11-24T16:00:00Z"
KEY_A = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
KEY_B = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
CHAIN_IDS = {
    "ethereum": "eip155:1",
    "solana": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d",
}


def binding(chain: str, period: str = SNAPSHOT, key: str = KEY_A, **kw: str) -> Binding:
    return Binding(
        kw.get("exchange", EXCHANGE), key, chain, kw.get("chain_id", CHAIN_IDS[chain]), period
    )  # type: ignore[arg-type]


def prove(store: FileKeyStore, wallets: list[Wallet], period: str = SNAPSHOT, **kw: str) -> Any:
    return prove_ownership(
        store,
        wallets,
        exchange=kw.get("exchange", EXCHANGE),
        exchange_key=kw.get("key", KEY_A),
        chain_ids=CHAIN_IDS,
        period=period,
    )


def check(proof: OwnershipProof, **kw: str) -> None:
    verify_ownership(proof, binding(proof.chain, **kw))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[FileKeyStore, list[Wallet]]:
    store, eth, sol = generate_keystore(tmp_path / "keys.json", ethereum=2, solana=2)
    wallets = [Wallet("ethereum", a, ("ETH",), "hot") for a in eth]
    wallets += [Wallet("solana", a, ("SOL",), "cold") for a in sol]
    return store, wallets


def test_the_message_names_exchange_key_chain_id_address_kind_and_period() -> None:
    text = ownership_message(binding("solana"), "Addr")
    assert text == (
        "Proof of reserves: address ownership\n"
        "exchange: Example Exchange\n"
        f"exchange key: {KEY_A}\n"
        "chain: solana\n"
        f"chain id: {CHAIN_IDS['solana']}\n"
        "address: Addr\n"
        "kind: snapshot\n"
        "period: 2026-11-24T16:00:00Z\n"
    )


def test_signatures_of_every_address_verify(keys: tuple[FileKeyStore, list[Wallet]]) -> None:
    store, wallets = keys
    assert isinstance(store, KeyStore)
    proofs = prove(store, wallets)
    assert [p.scheme for p in proofs] == ["eip191-personal-sign"] * 2 + ["ed25519"] * 2
    for proof in proofs:
        assert check(proof) is None
        assert OwnershipProof.from_dict(proof.to_dict()) == proof


def test_a_signature_for_another_snapshot_is_refused(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    for proof in prove(store, wallets, "2026-11-24T15:00:00Z"):
        with pytest.raises(
            OwnershipError, match="signed for period '2026-11-24T15:00:00Z', expected '2026-11"
        ):
            check(proof)
        # relabelling the stale proof does not help: the signature is over the old text
        relabelled = dataclasses.replace(
            proof,
            period=SNAPSHOT,
            message=ownership_message(binding(proof.chain), proof.address),
        )
        with pytest.raises(OwnershipError, match="recovers to|does not verify"):
            check(relabelled)


def test_a_signature_presented_for_another_address_is_refused(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    proofs = prove(store, wallets)
    for mine, other in ((proofs[0], proofs[1]), (proofs[2], proofs[3])):
        stolen = dataclasses.replace(
            mine,
            address=other.address,
            message=ownership_message(binding(mine.chain), other.address),
        )
        with pytest.raises(OwnershipError, match="recovers to .*not the address|does not verify"):
            check(stolen)


def test_a_signature_for_another_exchange_is_refused(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    proof = prove(store, wallets[:1], exchange="Other Exchange")[0]
    with pytest.raises(OwnershipError, match="not the text these fields give"):
        check(proof)


def test_a_proof_for_another_exchange_key_is_refused_naming_both_keys(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    """Exchange B copies exchange A's proofs: they name A's key, B's manifests pin B's."""
    store, wallets = keys
    for proof in prove(store, wallets, key=KEY_A):
        with pytest.raises(
            OwnershipError,
            match=f"ownership signed for exchange key {KEY_A}, not the pinned key {KEY_B}",
        ):
            check(proof, key=KEY_B)
        # and rewriting the key field does not help: the signature is over A's text
        forged = dataclasses.replace(
            proof,
            exchange_key=KEY_B,
            message=ownership_message(binding(proof.chain, key=KEY_B), proof.address),
        )
        with pytest.raises(OwnershipError, match="recovers to|does not verify"):
            check(forged, key=KEY_B)


def test_a_proof_for_another_chain_id_is_refused(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    proof = prove(store, wallets[:1])[0]
    with pytest.raises(OwnershipError, match="signed for chain id 'eip155:1', expected 'eip155:5'"):
        check(proof, chain_id="eip155:5")


def test_malformed_signatures_are_refused_with_a_reason(
    keys: tuple[FileKeyStore, list[Wallet]],
) -> None:
    store, wallets = keys
    eth, _, sol, _ = prove(store, wallets)
    with pytest.raises(OwnershipError, match="wrong size: expected 65, got 64"):
        check(dataclasses.replace(eth, signature=eth.signature[:-2]))
    flipped = sol.signature[:-1] + ("2" if sol.signature[-1] != "2" else "3")
    with pytest.raises(OwnershipError, match="Ed25519|malformed"):
        check(dataclasses.replace(sol, signature=flipped))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("address", "xyz", "invalid Ethereum address 'xyz'"),
        ("address", ["0x00"], "address must be a string of at most"),
        ("address", "0x" + "ab" * 20, "not in its canonical form"),
        ("chain", "bitcoin", "unknown chain 'bitcoin'"),
        ("signature", 7, "signature must be a string"),
        ("message", "x" * 2000, "message must be a string of at most 1024"),
    ],
)
def test_a_malformed_proof_entry_is_refused_with_a_reason(
    keys: tuple[FileKeyStore, list[Wallet]], field: str, value: object, message: str
) -> None:
    store, wallets = keys
    raw = prove(store, wallets[:1])[0].to_dict()
    raw[field] = value
    with pytest.raises(OwnershipError, match=re.escape(message)):
        OwnershipProof.from_dict(raw)
    whole = prove(store, wallets[:1])[0].to_dict()
    with pytest.raises(OwnershipError, match="missing field 'kind'"):
        OwnershipProof.from_dict({k: v for k, v in whole.items() if k != "kind"})


def test_a_missing_key_is_a_clear_error(keys: tuple[FileKeyStore, list[Wallet]]) -> None:
    store, _ = keys
    stranger = Wallet("ethereum", "0x" + "12" * 20, ("ETH",), "hot")
    with pytest.raises(
        KeyStoreError, match=f"no signing key for ethereum address {stranger.address}"
    ):
        prove(store, [stranger])


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
    with pytest.raises(OwnershipError, match="period must be a non-empty single line"):
        ownership_message(binding("ethereum", "2026\nperiod: other"), "0xabc")
    with pytest.raises(OwnershipError, match="exchange key must be 64 lowercase hex"):
        ownership_message(binding("ethereum", key=KEY_A.upper()), "0xabc")

"""Ownership proofs: each custody address signs a fixed text naming the snapshot.

The text names the exchange, the chain, the address and the snapshot id, so a signature
proves control *at that snapshot* and a stale one is useless. Ethereum addresses sign it
with EIP-191 `personal_sign` (secp256k1; recovery uses coincurve when installed); Solana
addresses sign the exact UTF-8 bytes with Ed25519. Verification is pure: values in, None
out or OwnershipError.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from solders.pubkey import Pubkey
from solders.signature import Signature

from por.reserves.errors import OwnershipError
from por.reserves.keystore import KeyStore
from por.reserves.model import CHAINS, Chain, Wallet

__all__ = [
    "MESSAGE_HEADER",
    "OwnershipProof",
    "ownership_message",
    "prove_ownership",
    "sign_ownership",
    "verify_ownership",
]

MESSAGE_HEADER = "Proof of reserves: address ownership"
_SCHEMES = {"ethereum": "eip191-personal-sign", "solana": "ed25519"}


def _one_line(name: str, value: str) -> str:
    if not value or any(c in value for c in "\r\n"):
        raise OwnershipError(f"{name} must be a non-empty single line, got {value!r}")
    return value


def ownership_message(exchange: str, chain: Chain, address: str, snapshot_id: str) -> str:
    """The exact text an address signs for one snapshot."""
    if chain not in CHAINS:
        raise OwnershipError(f"unknown chain {chain!r}")
    return (
        f"{MESSAGE_HEADER}\n"
        f"exchange: {_one_line('exchange', exchange)}\n"
        f"chain: {chain}\n"
        f"address: {_one_line('address', address)}\n"
        f"snapshot: {_one_line('snapshot id', snapshot_id)}\n"
    )


@dataclass(frozen=True, slots=True)
class OwnershipProof:
    """A signature by `address` over `message` (hex for Ethereum, base58 for Solana)."""

    chain: Chain
    address: str
    snapshot_id: str
    scheme: str
    message: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "address": self.address,
            "snapshot_id": self.snapshot_id,
            "scheme": self.scheme,
            "message": self.message,
            "signature": self.signature,
        }

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> OwnershipProof:
        try:
            chain = raw["chain"]
            if chain not in CHAINS:
                raise OwnershipError(f"ownership proof: unknown chain {chain!r}")
            return OwnershipProof(
                chain,
                str(raw["address"]),
                str(raw["snapshot_id"]),
                str(raw["scheme"]),
                str(raw["message"]),
                str(raw["signature"]),
            )
        except KeyError as exc:
            raise OwnershipError(f"ownership proof: missing field {exc.args[0]!r}") from exc


def sign_ownership(
    keystore: KeyStore, exchange: str, wallet: Wallet, snapshot_id: str
) -> OwnershipProof:
    """Ask the key store for `wallet`'s signature over the snapshot's text."""
    text = ownership_message(exchange, wallet.chain, wallet.address, snapshot_id)
    raw = keystore.sign(wallet.chain, wallet.address, text.encode("utf-8"))
    signature = "0x" + raw.hex() if wallet.chain == "ethereum" else str(Signature.from_bytes(raw))
    return OwnershipProof(
        wallet.chain, wallet.address, snapshot_id, _SCHEMES[wallet.chain], text, signature
    )


def prove_ownership(
    keystore: KeyStore, exchange: str, wallets: Iterable[Wallet], snapshot_id: str
) -> tuple[OwnershipProof, ...]:
    """One proof per wallet (a missing key raises KeyStoreError: no partial set)."""
    return tuple(sign_ownership(keystore, exchange, w, snapshot_id) for w in wallets)


def verify_ownership(proof: OwnershipProof, *, exchange: str, snapshot_id: str) -> None:
    """None if `proof` is `proof.address`'s signature over this snapshot's text, else raise."""
    expected = ownership_message(exchange, proof.chain, proof.address, snapshot_id)
    if proof.snapshot_id != snapshot_id or not hmac.compare_digest(
        proof.message.encode(), expected.encode()
    ):
        raise OwnershipError(
            f"{proof.chain} {proof.address}: signed text is not the text for snapshot "
            f"{snapshot_id!r} of {exchange!r} (signed for snapshot {proof.snapshot_id!r})"
        )
    if proof.scheme != _SCHEMES[proof.chain]:
        raise OwnershipError(
            f"{proof.address}: scheme {proof.scheme!r}, expected {_SCHEMES[proof.chain]!r}"
        )
    if proof.chain == "ethereum":
        _verify_eip191(proof.address, expected, proof.signature)
    else:
        _verify_ed25519(proof.address, expected, proof.signature)


def _verify_eip191(address: str, text: str, signature: str) -> None:
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError as exc:
        raise OwnershipError(f"{address}: signature is not hex") from exc
    if len(raw) != 65:
        raise OwnershipError(
            f"{address}: EIP-191 signature has wrong size: expected 65, got {len(raw)}"
        )
    try:
        recovered = Account.recover_message(encode_defunct(text=text), signature=raw)
    except Exception as exc:  # eth-keys raises several types for malformed (r, s, v)
        raise OwnershipError(f"{address}: EIP-191 signature is malformed: {exc}") from exc
    if to_checksum_address(recovered) != to_checksum_address(address):
        raise OwnershipError(
            f"{address}: EIP-191 signature recovers to {recovered}, not the address"
        )


def _verify_ed25519(address: str, text: str, signature: str) -> None:
    try:
        key = Pubkey.from_string(address)
        sig = Signature.from_string(signature)
    except ValueError as exc:
        raise OwnershipError(f"{address}: malformed Solana address or signature: {exc}") from exc
    if not sig.verify(key, text.encode("utf-8")):
        raise OwnershipError(f"{address}: Ed25519 signature does not verify over the snapshot text")

"""Where ownership-signing keys live: a small interface and a file-based implementation.

The interface is only `sign`: keys never leave the store, so an HSM or a cloud KMS can
implement it (secp256k1 EIP-191 signing for Ethereum, Ed25519 for Solana). The file store
is for the demo and tests: one JSON file, mode 0600, of private keys by chain and address.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from solders.keypair import Keypair

from por.reserves.errors import KeyStoreError
from por.reserves.values import Chain

__all__ = [
    "FileKeyStore",
    "KeyStore",
    "generate_keystore",
]


@runtime_checkable
class KeyStore(Protocol):
    """Signs ownership messages with the key of a custody address."""

    def sign(self, chain: Chain, address: str, message: bytes) -> bytes:
        """Ethereum: 65-byte EIP-191 personal_sign (r||s||v) over `message`.
        Solana: 64-byte Ed25519 signature over exactly `message`.
        Raises KeyStoreError when the store has no key for `address`."""
        ...


class FileKeyStore:
    """Keys from a JSON file `{"ethereum": {addr: hex key}, "solana": {pubkey: base58 keypair}}`.

    The file must not be readable by group or others (like an SSH key). Every key must
    derive to the address it is filed under.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            mode = self.path.stat().st_mode
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeyStoreError(
                f"{self.path}: cannot read key store: {exc.strerror or exc}"
            ) from exc
        except ValueError as exc:
            raise KeyStoreError(f"{self.path}: key store is not valid JSON: {exc}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(
                f"{self.path}: key store is accessible by group/others "
                f"(mode {stat.S_IMODE(mode):o}); run chmod 600"
            )
        if not isinstance(raw, dict):
            raise KeyStoreError(f"{self.path}: expected an object of chains")
        self._eth: dict[str, bytes] = {}
        self._sol: dict[str, Keypair] = {}
        for address, key in dict(raw.get("ethereum", {})).items():
            try:
                secret = bytes.fromhex(str(key).removeprefix("0x"))
                derived = Account.from_key(secret).address
            except (ValueError, TypeError) as exc:
                raise KeyStoreError(f"{self.path}: ethereum key for {address} is invalid") from exc
            if derived.lower() != str(address).lower():
                raise KeyStoreError(
                    f"{self.path}: ethereum key filed under {address} is for {derived}"
                )
            self._eth[derived.lower()] = secret
        for address, key in dict(raw.get("solana", {})).items():
            try:
                keypair = Keypair.from_base58_string(str(key))
            except ValueError as exc:
                raise KeyStoreError(f"{self.path}: solana key for {address} is invalid") from exc
            if str(keypair.pubkey()) != address:
                raise KeyStoreError(
                    f"{self.path}: solana key filed under {address} is for {keypair.pubkey()}"
                )
            self._sol[address] = keypair

    def addresses(self, chain: Chain) -> list[str]:
        """Addresses with a key in this store."""
        if chain == "ethereum":
            return [to_checksum_address(a) for a in self._eth]
        return list(self._sol)

    def sign(self, chain: Chain, address: str, message: bytes) -> bytes:
        if chain == "ethereum":
            secret = self._eth.get(address.lower())
            if secret is None:
                raise KeyStoreError(f"no signing key for ethereum address {address} in {self.path}")
            signed = Account.sign_message(encode_defunct(primitive=message), private_key=secret)
            return bytes(signed.signature)
        if chain == "solana":
            keypair = self._sol.get(address)
            if keypair is None:
                raise KeyStoreError(f"no signing key for solana address {address} in {self.path}")
            return bytes(keypair.sign_message(message))
        raise KeyStoreError(f"unknown chain {chain!r}")


def generate_keystore(
    path: str | Path, *, ethereum: int = 0, solana: int = 0, extra: Iterable[Keypair] = ()
) -> tuple[FileKeyStore, list[str], list[str]]:
    """Create a demo key store with fresh keys (mode 0600, written then renamed).

    Returns the store and the new Ethereum and Solana addresses.
    """
    path = Path(path)
    eth = [Account.create() for _ in range(ethereum)]
    sol = [Keypair() for _ in range(solana)] + list(extra)
    raw = {
        "ethereum": {a.address: "0x" + bytes(a.key).hex() for a in eth},
        "solana": {str(k.pubkey()): str(k) for k in sol},
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(raw, handle, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return FileKeyStore(path), [a.address for a in eth], [str(k.pubkey()) for k in sol]

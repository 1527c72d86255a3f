"""Ownership proofs: each custody address signs a fixed text that binds it to one exchange.

The text names the exchange and its pinned Ed25519 public key (the key that signs the
manifests), the chain and its identity (CAIP-2 style: `eip155:<chain id>`, or
`solana:<genesis hash>`), the address, the kind of proof and its period (per-snapshot
proofs: the snapshot id). So a signature proves control *for that exchange, on that chain,
at that snapshot*: another exchange that copies it byte for byte is refused because its
pinned key is not the one signed, and a stale one is useless. Ethereum addresses sign it
with EIP-191 `personal_sign` (secp256k1; recovery uses coincurve when installed); Solana
addresses sign the exact UTF-8 bytes with Ed25519. Verification is pure: values in, None
out or OwnershipError naming what differs.

The text (every line ends with a newline; values are single lines):

    Proof of reserves: address ownership
    exchange: <name>
    exchange key: <64 lowercase hex>
    chain: <ethereum|solana>
    chain id: <eip155:N | solana:GENESIS>
    address: <EIP-55 address | base58 public key>
    kind: snapshot
    period: <snapshot id>

A per-period proof (kind `period`: cold wallets that sign once a period, offline; see
`por.reserves.attestation`) ends differently, so it names its window and a recent block
of that chain (a signature cannot be made before that block existed):

    kind: period
    period: <period id, e.g. 2026-W49>
    valid from: <window start, e.g. 2026-11-30T00:00:00Z>
    valid until: <window end (excluded), e.g. 2026-12-07T00:00:00Z>
    recent block: <block number | slot>
    recent block hash: <0x block hash | base58 blockhash>
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from solders.pubkey import Pubkey
from solders.signature import Signature

from por.reserves.errors import OwnershipError, ReservesError
from por.reserves.keystore import KeyStore
from por.reserves.values import CHAINS, Chain, Wallet
from por.reserves.wallets import normalize_address

__all__ = [
    "KINDS",
    "MESSAGE_HEADER",
    "Binding",
    "OwnershipProof",
    "ownership_message",
    "prove_ownership",
    "sign_ownership",
    "verify_ownership",
]

MESSAGE_HEADER = "Proof of reserves: address ownership"
KINDS = ("snapshot", "period")  # per-snapshot (hot wallets), per-period (cold wallets)
_SCHEMES = {"ethereum": "eip191-personal-sign", "solana": "ed25519"}
_HEX = frozenset("0123456789abcdef")
_FIELDS = ("chain", "chain_id", "address", "exchange_key", "kind", "period", "scheme")
_FIELDS_ALL = (*_FIELDS, "message", "signature")
MAX_FIELD_CHARS = 256
_ISO_TIME_CHARS = 20  # 2026-11-30T00:00:00Z


def _one_line(name: str, value: str) -> str:
    if not value or any(c in value for c in "\r\n"):
        raise OwnershipError(f"{name} must be a non-empty single line, got {value!r}")
    return value


def _key_hex(value: str) -> str:
    if len(value) != 64 or not set(value) <= _HEX:
        raise OwnershipError(f"exchange key must be 64 lowercase hex digits, got {value[:80]!r}")
    return value


@dataclass(frozen=True, slots=True)
class Binding:
    """What an ownership message binds besides the address: the exchange (its name and the
    manifest key), the chain and its identity, the kind of proof and its period."""

    exchange: str
    exchange_key: str  # 64 lowercase hex: the Ed25519 key that signs the manifests
    chain: Chain
    chain_id: str  # eip155:<chain id> | solana:<genesis hash>
    period: str  # kind "snapshot": the snapshot id; kind "period": the period id
    kind: str = "snapshot"
    window: tuple[str, str] = ("", "")  # kind "period": valid from, until (ISO UTC)
    block: tuple[int, str] = (0, "")  # kind "period": the recent block (number, hash)


def ownership_message(binding: Binding, address: str) -> str:
    """The exact text `address` signs."""
    if binding.chain not in CHAINS:
        raise OwnershipError(f"unknown chain {binding.chain!r}")
    if binding.kind not in KINDS:
        raise OwnershipError(f"unknown ownership proof kind {binding.kind!r}")
    return (
        f"{MESSAGE_HEADER}\n"
        f"exchange: {_one_line('exchange', binding.exchange)}\n"
        f"exchange key: {_key_hex(binding.exchange_key)}\n"
        f"chain: {binding.chain}\n"
        f"chain id: {_one_line('chain id', binding.chain_id)}\n"
        f"address: {_one_line('address', address)}\n"
        f"kind: {binding.kind}\n"
        f"period: {_one_line('period', binding.period)}\n"
    ) + (_period_lines(binding) if binding.kind == "period" else "")


def _period_lines(binding: Binding) -> str:
    start, end = binding.window
    number, block_hash = binding.block
    return (
        f"valid from: {_one_line('valid from', start)}\n"
        f"valid until: {_one_line('valid until', end)}\n"
        f"recent block: {number}\n"
        f"recent block hash: {_one_line('recent block hash', block_hash)}\n"
    )


@dataclass(frozen=True, slots=True)
class OwnershipProof:
    """A signature by `address` over `message` (hex for Ethereum, base58 for Solana), with
    the fields the message binds, so a verifier can say which one differs."""

    chain: Chain
    chain_id: str
    address: str
    exchange_key: str
    kind: str
    period: str
    scheme: str
    message: str
    signature: str
    window: tuple[str, str] = ("", "")  # kind "snapshot": (snapshot id, snapshot id)
    block: tuple[int, str, str] = (0, "", "")  # kind "period": number, hash, block time

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS_ALL}
        start, end = self.window if self.window[0] else (self.period, self.period)
        out["window"] = {"from": start, "until": end}
        if self.kind == "period":
            number, block_hash, time = self.block
            out["block"] = {"number": number, "hash": block_hash, "time": time}
        return out

    def binding(self, exchange: str) -> Binding:
        """The binding this proof claims (its own fields), for `verify_ownership`."""
        window = self.window if self.kind == "period" else ("", "")
        block = (self.block[0], self.block[1]) if self.kind == "period" else (0, "")
        return Binding(
            exchange,
            self.exchange_key,
            self.chain,
            self.chain_id,
            self.period,
            self.kind,
            window,
            block,
        )

    @staticmethod
    def from_dict(raw: object) -> OwnershipProof:
        """Parse one entry of reserves.json's `ownership`; OwnershipError if malformed."""
        if not isinstance(raw, dict):
            raise OwnershipError("ownership proof: expected an object")
        values: dict[str, str] = {}
        for name in _FIELDS_ALL:
            if name not in raw:
                raise OwnershipError(f"ownership proof: missing field {name!r}")
            value = raw[name]
            limit = 4 * MAX_FIELD_CHARS if name == "message" else MAX_FIELD_CHARS
            if not isinstance(value, str) or len(value) > limit:
                raise OwnershipError(
                    f"ownership proof: {name} must be a string of at most {limit} characters"
                )
            values[name] = value
        chain = values["chain"]
        if chain not in CHAINS:
            raise OwnershipError(f"ownership proof: unknown chain {chain[:40]!r}")
        try:
            address = normalize_address(chain, values["address"], "ownership proof")
        except ReservesError as exc:
            raise OwnershipError(str(exc)) from None
        if address != values["address"]:
            raise OwnershipError(
                f"ownership proof: address {values['address']} is not in its canonical form"
                f" {address}"
            )
        if values["kind"] not in KINDS:
            raise OwnershipError(f"ownership proof: unknown kind {values['kind'][:40]!r}")
        window = _window(raw.get("window"), values["kind"], values["period"])
        block = _block(raw.get("block")) if values["kind"] == "period" else (0, "", "")
        return OwnershipProof(**values, window=window, block=block)  # type: ignore[arg-type]


def _window(raw: object, kind: str, period: str) -> tuple[str, str]:
    """`window` {from, until}: absent or the snapshot id twice for a per-snapshot proof
    (older bundles have none); two ISO UTC times for a per-period proof."""
    if raw is None and kind == "snapshot":
        return ("", "")
    if not isinstance(raw, dict) or set(raw) != {"from", "until"}:
        raise OwnershipError("ownership proof: window must be an object {from, until}")
    start, end = raw["from"], raw["until"]
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_FIELD_CHARS for v in (start, end)):
        raise OwnershipError("ownership proof: window from/until must be strings")
    if kind == "snapshot":
        # (snapshot id, snapshot id) is the only right one: `verify_ownership` says so
        return ("", "") if start == end == period else (start, end)
    if len(start) != _ISO_TIME_CHARS or len(end) != _ISO_TIME_CHARS or not start < end:
        raise OwnershipError(
            "ownership proof: window: expected two ISO UTC times, from before until"
        )
    return (start, end)


def _block(raw: object) -> tuple[int, str, str]:
    if not isinstance(raw, dict) or set(raw) != {"number", "hash", "time"}:
        raise OwnershipError("ownership proof: block must be an object {number, hash, time}")
    number, block_hash, time = raw["number"], raw["hash"], raw["time"]
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 1 << 64:
        raise OwnershipError("ownership proof: block number must be an integer below 2^64")
    if not isinstance(block_hash, str) or not 0 < len(block_hash) <= 128:
        raise OwnershipError("ownership proof: block hash must be a string")
    if not isinstance(time, str) or len(time) != _ISO_TIME_CHARS:
        raise OwnershipError("ownership proof: block time must be an ISO UTC time")
    return (number, block_hash, time)


def sign_ownership(
    keystore: KeyStore, wallet: Wallet, binding: Binding, block_time: str = ""
) -> OwnershipProof:
    """Ask the key store for `wallet`'s signature over its text (`block_time`: the ISO
    time of a per-period binding's recent block, recorded beside the signature)."""
    if wallet.chain != binding.chain:
        raise OwnershipError(f"wallet {wallet.address} is on {wallet.chain}, not {binding.chain}")
    text = ownership_message(binding, wallet.address)
    raw = keystore.sign(wallet.chain, wallet.address, text.encode("utf-8"))
    signature = "0x" + raw.hex() if wallet.chain == "ethereum" else str(Signature.from_bytes(raw))
    return OwnershipProof(
        wallet.chain,
        binding.chain_id,
        wallet.address,
        binding.exchange_key,
        binding.kind,
        binding.period,
        _SCHEMES[wallet.chain],
        text,
        signature,
        binding.window if binding.kind == "period" else ("", ""),
        (*binding.block, block_time) if binding.kind == "period" else (0, "", ""),
    )


def prove_ownership(
    keystore: KeyStore,
    wallets: Iterable[Wallet],
    *,
    exchange: str,
    exchange_key: str,
    chain_ids: Mapping[str, str],
    period: str,
) -> tuple[OwnershipProof, ...]:
    """One per-snapshot proof per wallet (a missing key raises KeyStoreError: no partial set)."""
    out = []
    for wallet in wallets:
        chain_id = chain_ids.get(wallet.chain)
        if not chain_id:
            raise OwnershipError(f"no chain id known for {wallet.chain}: read the chain first")
        binding = Binding(exchange, exchange_key, wallet.chain, chain_id, period)
        out.append(sign_ownership(keystore, wallet, binding))
    return tuple(out)


def verify_ownership(proof: OwnershipProof, expected: Binding) -> None:
    """None if `proof` is `proof.address`'s signature over the text `expected` gives it.

    The fields are compared first, each with its own reason (the pinned exchange key
    above all: a proof copied from another exchange fails here), then the text, then the
    signature.
    """
    where = f"{proof.chain} {proof.address}"
    if not hmac.compare_digest(proof.exchange_key.encode(), expected.exchange_key.encode()):
        raise OwnershipError(
            f"{where}: ownership signed for exchange key {proof.exchange_key},"
            f" not the pinned key {expected.exchange_key}"
        )
    for name in ("chain", "chain_id", "kind", "period", "window", "block"):
        got, want = getattr(proof, name), getattr(expected, name)
        if name == "window" and expected.kind == "snapshot":
            got = want = (expected.period, expected.period)
            if proof.window not in (("", ""), want):
                got = proof.window
        if name == "block":
            got = got[:2]
        if got != want:
            raise OwnershipError(
                f"{where}: ownership signed for {name.replace('_', ' ')} {got!r}, expected {want!r}"
            )
    text = ownership_message(expected, proof.address)
    if not hmac.compare_digest(proof.message.encode(), text.encode()):
        raise OwnershipError(f"{where}: the signed text is not the text these fields give")
    if proof.scheme != _SCHEMES[proof.chain]:
        raise OwnershipError(
            f"{where}: scheme {proof.scheme!r}, expected {_SCHEMES[proof.chain]!r}"
        )
    if proof.chain == "ethereum":
        _verify_eip191(proof.address, text, proof.signature)
    else:
        _verify_ed25519(proof.address, text, proof.signature)


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
        raise OwnershipError(f"{address}: Ed25519 signature does not verify over its text")

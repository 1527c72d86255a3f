"""Errors of the reserves package: one root, a short flat hierarchy."""

from __future__ import annotations

__all__ = [
    "AssetRuleError",
    "AttestationRuleError",
    "KeyStoreError",
    "OwnershipError",
    "ReaderError",
    "ReservesError",
    "WalletFileError",
]


class ReservesError(Exception):
    """Root of every error raised by `por.reserves`."""


class WalletFileError(ReservesError):
    """The wallet registry file is unreadable or invalid (bad address, unknown chain...)."""


class ReaderError(ReservesError):
    """Balances could not be read consistently (RPC failure, reorg, lying node, mixed slots).

    Raised only after the reader's retries are exhausted; no partial reading is returned.
    """


class KeyStoreError(ReservesError):
    """A signing key is missing, unreadable or does not match its address."""


class OwnershipError(ReservesError):
    """An ownership signature does not verify for the stated address and snapshot."""


class AssetRuleError(ReservesError):
    """A balance breaks a rule of the asset registry: read from another contract or mint,
    listed twice, of an address outside the wallet list, of an SPL account whose mint or
    owner differs. Names the asset, the chain, the address and the rule (`rule` is a
    reject code such as `balance_listed_twice`)."""

    def __init__(self, rule: str, *, asset: str, chain: str, address: str, detail: str) -> None:
        super().__init__(f"{rule}: {asset} on {chain}, address {address}: {detail}")
        self.rule = rule
        self.asset = asset
        self.chain = chain
        self.address = address


class AttestationRuleError(OwnershipError):
    """A wallet's ownership proof breaks a rule of the attestation policy: a cold wallet's
    per-period attestation has expired, its window does not cover the hour, its recent
    block is not a block of that chain or is older than its period. Names the wallet's
    role, chain and address and the rule (`rule`, e.g. `attestation_expired`)."""

    def __init__(self, rule: str, *, role: str, chain: str, address: str, detail: str) -> None:
        super().__init__(f"{rule}: {role} wallet {address} on {chain}: {detail}")
        self.rule = rule
        self.role = role
        self.chain = chain
        self.address = address

"""Plain values of the reserves side: assets, wallets, pins and readings.

Records never change (frozen dataclasses). Amounts are `int` in the asset's smallest unit
(wei, satoshi of wrapped BTC, lamports, USDC micro-units) with `decimals` beside them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "CHAINS",
    "ROLES",
    "AssetKind",
    "AssetSpec",
    "Balance",
    "BlockPin",
    "Chain",
    "ReserveReading",
    "Role",
    "Wallet",
    "iso_utc",
]

Chain = Literal["ethereum", "solana"]
CHAINS: tuple[Chain, ...] = ("ethereum", "solana")
Role = Literal["hot", "cold"]
ROLES: tuple[Role, ...] = ("hot", "cold")
AssetKind = Literal["native", "erc20", "spl"]


def iso_utc(unix_seconds: int) -> str:
    """`2026-11-24T16:00:00Z` for a Unix time."""
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """How one reserve asset is held on one chain.

    `contract` is the ERC-20 token address (kind "erc20") or the SPL mint (kind "spl");
    native assets have none. `label` says what is really held, e.g. a wrapped BTC token
    counted as BTC.
    """

    symbol: str
    chain: Chain
    kind: AssetKind
    decimals: int
    contract: str | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class Wallet:
    """One custody address from the wallet registry."""

    chain: Chain
    address: str  # EIP-55 checksummed hex for Ethereum, base58 for Solana
    assets: tuple[str, ...]
    role: Role
    label: str = ""


@dataclass(frozen=True, slots=True)
class BlockPin:
    """The single chain state a reading comes from.

    Ethereum: block `number`, its `hash` and `parent_hash`, block `time`. Solana: the
    finalized `slot` as `number`, the blockhash where known, and the slot's block time.
    `requested_at` is the snapshot time asked for; on Solana `time` may be later (no
    archive reads), and the bundle shows both. `chain_id` names the chain itself
    (`eip155:<chain id>`, `solana:<genesis hash>`): ownership messages bind it, and an
    auditor's node must be on the same chain.
    """

    chain: Chain
    number: int
    hash: str
    time: int
    requested_at: int | None = None
    parent_hash: str = ""
    chain_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        key = "block" if self.chain == "ethereum" else "slot"
        out: dict[str, Any] = {
            "chain": self.chain,
            key: self.number,
            "hash": self.hash,
            "time": iso_utc(self.time),
        }
        if self.chain_id:
            out["chain_id"] = self.chain_id
        if self.requested_at is not None:
            out["requested_at"] = iso_utc(self.requested_at)
        return out


@dataclass(frozen=True, slots=True)
class Balance:
    """The amount of `asset` held by `address`, in the asset's smallest unit.

    `account` is where it was read: the address itself (native), the token contract
    (ERC-20) or the associated token account (SPL).
    """

    address: str
    asset: str
    amount: int
    account: str


@dataclass(frozen=True, slots=True)
class ReserveReading:
    """All balances of one chain's wallets, read at one pinned block or slot."""

    chain: Chain
    pin: BlockPin
    balances: tuple[Balance, ...]
    method: str  # how it was read: multicall3, state-override, batch, naive, rpc, litesvm
    attempts: int = 1
    notes: tuple[str, ...] = field(default=())

    def amount(self, address: str, asset: str) -> int:
        """The balance of one (address, asset); 0 when it was not read."""
        for balance in self.balances:
            if balance.address == address and balance.asset == asset:
                return balance.amount
        return 0

    def by_key(self) -> dict[tuple[str, str], int]:
        """Balances keyed by (address, asset)."""
        return {(b.address, b.asset): b.amount for b in self.balances}

    def totals(self) -> dict[str, int]:
        """Sum per asset over all addresses."""
        totals: dict[str, int] = {}
        for balance in self.balances:
            totals[balance.asset] = totals.get(balance.asset, 0) + balance.amount
        return totals

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts as decimal strings, so no reader loses precision)."""
        return {
            "chain": self.chain,
            "pin": self.pin.to_dict(),
            "method": self.method,
            "balances": [
                {
                    "address": b.address,
                    "asset": b.asset,
                    "amount": str(b.amount),
                    "account": b.account,
                }
                for b in self.balances
            ],
            "totals": {asset: str(total) for asset, total in sorted(self.totals().items())},
        }


def assets_of(wallets: Iterable[Wallet]) -> tuple[str, ...]:
    """Distinct asset symbols in first-seen order."""
    seen: dict[str, None] = {}
    for wallet in wallets:
        for asset in wallet.assets:
            seen.setdefault(asset, None)
    return tuple(seen)

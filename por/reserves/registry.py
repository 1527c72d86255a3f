"""The asset registry: which token contract, SPL mint or native coin *is* each reserve asset
on each chain, and its decimals.

Why: a balance is only worth what it is a balance of. A label ("BTC") says nothing; the
contract it was read from does. The exchange signs its registry in every manifest
(`reserve_assets`); an auditor pins the well-known contracts in a file of their own
(`--assets FILE`, the `assets` table of a wallet file) and every balance must be read from
the holder the registry names:

- native: the address itself (`account` == `address`);
- erc20: the token contract (`account` == `contract`);
- spl: the owner's associated token account of the mint (`account` ==
  ATA(`address`, `contract`)); a re-read also checks the account's mint and owner.

Fields (per chain, per symbol): `kind` (native | erc20 | spl), `decimals` (0..36),
`contract` (erc20: EIP-55 address; spl: base58 mint; absent for native).
Guarantees: one contract or mint is one asset per chain (a registry naming one contract
for two symbols is refused). Pure: parsed JSON in, values or ReservesError out.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address

from por.reserves.errors import ReservesError, WalletFileError
from por.reserves.values import AssetSpec, Chain
from por.reserves.wallets import parse_asset_table

__all__ = [
    "MAX_REGISTRY_BYTES",
    "AssetRegistry",
    "expected_account",
    "load_asset_registry",
    "registry_from_json",
]

MAX_REGISTRY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class AssetRegistry:
    """Asset specs keyed by (chain, symbol), and where the registry came from."""

    specs: Mapping[tuple[Chain, str], AssetSpec]
    source: str

    @staticmethod
    def of(assets: Mapping[Chain, Mapping[str, AssetSpec]], source: str) -> AssetRegistry:
        """From a wallet registry's `assets` table; refuses one contract for two symbols."""
        specs: dict[tuple[Chain, str], AssetSpec] = {}
        holders: dict[tuple[Chain, str], str] = {}
        for chain in sorted(assets):
            for symbol, spec in sorted(assets[chain].items()):
                if spec.contract is not None:
                    other = holders.setdefault((chain, spec.contract.lower()), symbol)
                    if other != symbol:
                        raise ReservesError(
                            f"{source}: {chain} contract {spec.contract} is registered for both"
                            f" {other} and {symbol}"
                        )
                specs[(chain, symbol)] = spec
        return AssetRegistry(specs, source)

    def get(self, chain: str, symbol: str) -> AssetSpec | None:
        return self.specs.get((chain, symbol))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[AssetSpec]:
        return iter(self.specs.values())

    def to_json(self) -> dict[str, Any]:
        """The signed manifest form: {chain: {symbol: {kind, decimals[, contract]}}}."""
        out: dict[str, Any] = {}
        for (chain, symbol), spec in sorted(self.specs.items()):
            entry: dict[str, Any] = {"kind": spec.kind, "decimals": spec.decimals}
            if spec.contract is not None:
                entry["contract"] = spec.contract
            out.setdefault(chain, {})[symbol] = entry
        return out

    def describe(self) -> str:
        """One line: every asset with what holds it."""
        parts = []
        for (chain, symbol), spec in sorted(self.specs.items()):
            what = "native" if spec.contract is None else f"{spec.kind} {spec.contract}"
            parts.append(f"{symbol} on {chain} = {what} ({spec.decimals} decimals)")
        return "; ".join(parts) or "(empty)"

    def differences(self, other: AssetRegistry) -> list[str]:
        """Entries both registries have that disagree (kind, contract or decimals)."""
        out = []
        for key, spec in sorted(self.specs.items()):
            theirs = other.specs.get(key)
            if theirs is not None and (theirs.kind, theirs.contract, theirs.decimals) != (
                spec.kind,
                spec.contract,
                spec.decimals,
            ):
                out.append(
                    f"{key[1]} on {key[0]}: {other.source} says {theirs.kind}"
                    f" {theirs.contract or ''} ({theirs.decimals} decimals), {self.source} says"
                    f" {spec.kind} {spec.contract or ''} ({spec.decimals} decimals)"
                )
        return out


def expected_account(spec: AssetSpec, address: str) -> str:
    """Where a balance of `spec` held by `address` must be read (see the module docstring)."""
    if spec.kind == "native" or spec.contract is None:
        return address
    if spec.kind == "erc20":
        return spec.contract
    owner, mint = Pubkey.from_string(address), Pubkey.from_string(spec.contract)
    return str(get_associated_token_address(owner, mint))


def registry_from_json(raw: object, source: str) -> AssetRegistry:
    """A registry from its manifest form, or from a file holding {"assets": {...}} (a wallet
    file's shape: a wallet file serves as it is)."""
    if isinstance(raw, dict) and "assets" in raw:
        raw = raw["assets"]
    try:
        return AssetRegistry.of(parse_asset_table(raw, source), source)
    except WalletFileError as exc:
        raise ReservesError(f"asset registry: {exc}") from None


def load_asset_registry(path: str | Path) -> AssetRegistry:
    """An auditor's pinned registry file (.json or .toml, at most 1 MiB)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_REGISTRY_BYTES + 1)
    except OSError as exc:
        raise ReservesError(f"{path}: cannot read asset registry: {exc.strerror or exc}") from None
    if len(data) > MAX_REGISTRY_BYTES:
        raise ReservesError(f"{path}: asset registry larger than {MAX_REGISTRY_BYTES} bytes")
    try:
        text = data.decode("utf-8")
        raw: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReservesError(f"{path}: asset registry is not valid JSON/TOML: {exc}") from None
    return registry_from_json(raw, f"pinned registry {path}")

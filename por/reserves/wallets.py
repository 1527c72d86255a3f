"""The wallet registry: which addresses hold the exchange's reserves, on which chain.

Loaded from a JSON or TOML file (by extension). Shape (TOML shown; JSON has the same keys):

    exchange = "Example Exchange"          # named in every ownership signature

    [assets.ethereum.ETH]                  # per chain, per asset symbol
    kind = "native"
    decimals = 18
    [assets.ethereum.BTC]
    kind = "erc20"
    contract = "0x..."                     # token contract
    decimals = 8
    label = "Wrapped BTC (ERC-20), counted as BTC"
    [assets.solana.USDC]
    kind = "spl"
    contract = "EPjF..."                   # SPL mint
    decimals = 6

    [[wallets]]
    chain = "ethereum"                     # ethereum | solana
    address = "0x..."                      # EIP-55 (or all lower/upper case) | base58 pubkey
    assets = ["ETH", "BTC"]
    role = "cold"                          # hot | cold
    label = "cold storage 1"               # optional

Every problem is reported as one WalletFileError naming the file and the entry.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_hash.auto import keccak
from solders.pubkey import Pubkey

from por.reserves.errors import WalletFileError
from por.reserves.values import CHAINS, ROLES, AssetKind, AssetSpec, Chain, Role, Wallet

__all__ = [
    "MAX_WALLETS",
    "WalletRegistry",
    "load_wallets",
    "eip55",
    "normalize_address",
    "parse_asset_table",
    "registry_from_dict",
    "write_wallets",
]

MAX_WALLETS = 1_000_000
_KINDS: dict[Chain, tuple[AssetKind, ...]] = {
    "ethereum": ("native", "erc20"),
    "solana": ("native", "spl"),
}


@dataclass(frozen=True, slots=True)
class WalletRegistry:
    """The exchange's name, its reserve assets per chain, and its wallets."""

    exchange: str
    assets: Mapping[Chain, Mapping[str, AssetSpec]]
    wallets: tuple[Wallet, ...]

    def on(self, chain: Chain) -> tuple[Wallet, ...]:
        """Wallets on one chain, in file order."""
        return tuple(w for w in self.wallets if w.chain == chain)

    def assets_on(self, chain: Chain) -> dict[str, AssetSpec]:
        """Asset specs of one chain by symbol."""
        return dict(self.assets.get(chain, {}))

    def to_dict(self) -> dict[str, Any]:
        """The file form (JSON)."""
        assets: dict[str, Any] = {}
        for chain, specs in self.assets.items():
            assets[chain] = {}
            for symbol, spec in specs.items():
                entry: dict[str, Any] = {"kind": spec.kind, "decimals": spec.decimals}
                if spec.contract:
                    entry["contract"] = spec.contract
                if spec.label:
                    entry["label"] = spec.label
                assets[chain][symbol] = entry
        wallets = []
        for w in self.wallets:
            item: dict[str, Any] = {
                "chain": w.chain,
                "address": w.address,
                "assets": list(w.assets),
                "role": w.role,
            }
            if w.label:
                item["label"] = w.label
            wallets.append(item)
        return {"exchange": self.exchange, "assets": assets, "wallets": wallets}


_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_UPPER_NIBBLES = frozenset("89abcdef")


def eip55(address: str) -> str:
    """The EIP-55 checksummed form of a 0x + 40 hex address (one Keccak-256; eth_utils'
    to_checksum_address is the reference, tested against it, and 5x slower)."""
    body = address[2:].lower()
    digest = keccak(body.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if d in _UPPER_NIBBLES else c for c, d in zip(body, digest, strict=False)
    )


def normalize_address(chain: str, address: object, where: str = "address") -> str:
    """The canonical text of an address, or WalletFileError saying why it is invalid.

    Ethereum: 0x + 40 hex; mixed case must be a valid EIP-55 checksum; returned
    checksummed. Solana: a base58 32-byte public key, returned as given.
    """
    if not isinstance(address, str):
        raise WalletFileError(f"{where}: address must be a string, got {type(address).__name__}")
    if chain == "ethereum":
        if not _HEX_ADDRESS.match(address):
            raise WalletFileError(
                f"{where}: invalid Ethereum address {address[:60]!r}: expected 0x and 40 hex digits"
            )
        body = address[2:]
        checksummed = eip55(address)
        if body != body.lower() and body != body.upper() and address != checksummed:
            raise WalletFileError(
                f"{where}: invalid Ethereum address {address!r}: bad EIP-55 checksum"
            )
        return checksummed
    if chain == "solana":
        try:
            key = Pubkey.from_string(address)
        except ValueError as exc:
            raise WalletFileError(
                f"{where}: invalid Solana address {address[:60]!r}: not a base58 32-byte public key"
            ) from exc
        if str(key) != address:
            raise WalletFileError(f"{where}: invalid Solana address {address!r}: not canonical")
        return address
    raise WalletFileError(f"{where}: unknown chain {chain!r}: expected one of {', '.join(CHAINS)}")


def _chain(value: object, where: str) -> Chain:
    if value not in CHAINS:
        raise WalletFileError(
            f"{where}: unknown chain {value!r}: expected one of {', '.join(CHAINS)}"
        )
    return value


def parse_asset_table(raw: object, where: str) -> dict[Chain, dict[str, AssetSpec]]:
    """The `assets` table (per chain, per symbol: kind, decimals, contract, label) checked;
    WalletFileError naming `where` and the entry."""
    if not isinstance(raw, dict) or not raw:
        raise WalletFileError(f"{where}: 'assets' must be a table of chains")
    out: dict[Chain, dict[str, AssetSpec]] = {}
    for chain_name, symbols in raw.items():
        chain = _chain(chain_name, f"{where}.{chain_name}")
        if not isinstance(symbols, dict) or not symbols:
            raise WalletFileError(f"{where}.{chain}: expected a table of asset symbols")
        out[chain] = {}
        for symbol, spec in symbols.items():
            at = f"{where}.{chain}.{symbol}"
            if not isinstance(spec, dict):
                raise WalletFileError(f"{at}: expected a table")
            kind = spec.get("kind")
            if kind not in _KINDS[chain]:
                raise WalletFileError(f"{at}: kind {kind!r} is not one of {_KINDS[chain]}")
            decimals = spec.get("decimals")
            if (
                not isinstance(decimals, int)
                or isinstance(decimals, bool)
                or not 0 <= decimals <= 36
            ):
                raise WalletFileError(f"{at}: decimals must be an integer 0..36, got {decimals!r}")
            contract = spec.get("contract")
            if kind == "native":
                if contract is not None:
                    raise WalletFileError(f"{at}: a native asset has no contract")
            else:
                contract = normalize_address(chain, contract, f"{at}.contract")
            label = spec.get("label", "")
            if not isinstance(label, str):
                raise WalletFileError(f"{at}: label must be a string")
            out[chain][symbol] = AssetSpec(symbol, chain, kind, decimals, contract, label)
    return out


def registry_from_dict(raw: object, source: str = "wallet file") -> WalletRegistry:
    """Validate the parsed file; every error names `source` and the entry."""
    if not isinstance(raw, dict):
        raise WalletFileError(f"{source}: expected a table/object at the top level")
    exchange = raw.get("exchange")
    if not isinstance(exchange, str) or not exchange.strip() or "\n" in exchange:
        raise WalletFileError(f"{source}: 'exchange' must be a one-line, non-empty name")
    assets = parse_asset_table(raw.get("assets"), f"{source}: assets")
    entries = raw.get("wallets")
    if not isinstance(entries, list) or not entries:
        raise WalletFileError(f"{source}: 'wallets' must be a non-empty list")
    if len(entries) > MAX_WALLETS:
        raise WalletFileError(f"{source}: {len(entries)} wallets, at most {MAX_WALLETS} allowed")
    wallets: list[Wallet] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries, start=1):
        where = f"{source}: wallet {i}"
        if not isinstance(entry, dict):
            raise WalletFileError(f"{where}: expected a table")
        chain = _chain(entry.get("chain"), where)
        address = normalize_address(chain, entry.get("address"), where)
        key = (chain, address.lower() if chain == "ethereum" else address)
        if key in seen:
            raise WalletFileError(f"{where}: duplicate {chain} address {address}")
        seen.add(key)
        symbols = entry.get("assets")
        if (
            not isinstance(symbols, list)
            or not symbols
            or not all(isinstance(s, str) for s in symbols)
        ):
            raise WalletFileError(f"{where}: 'assets' must be a non-empty list of symbols")
        for symbol in symbols:
            if symbol not in assets.get(chain, {}):
                raise WalletFileError(
                    f"{where}: asset {symbol!r} is not declared under assets.{chain}"
                )
        if len(set(symbols)) != len(symbols):
            raise WalletFileError(f"{where}: an asset is listed twice")
        role = entry.get("role")
        if role not in ROLES:
            raise WalletFileError(f"{where}: role {role!r} must be 'hot' or 'cold'")
        label = entry.get("label", "")
        if not isinstance(label, str):
            raise WalletFileError(f"{where}: label must be a string")
        wallets.append(Wallet(chain, address, tuple(symbols), cast(Role, role), label))
    return WalletRegistry(exchange.strip(), assets, tuple(wallets))


def load_wallets(path: str | Path) -> WalletRegistry:
    """Read and validate a wallet registry (.json or .toml)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WalletFileError(f"{path}: cannot read wallet file: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            raw: Any = tomllib.loads(data.decode("utf-8"))
        elif path.suffix.lower() == ".json":
            raw = json.loads(data)
        else:
            raise WalletFileError(f"{path}: wallet file must end in .json or .toml")
    except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError, JSONDecodeError
        raise WalletFileError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    return registry_from_dict(raw, str(path))


def write_wallets(path: str | Path, registry: WalletRegistry) -> Path:
    """Write a registry as JSON (temp file then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(registry.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path

"""The wallet registry file: valid TOML and JSON load; every error is one clear message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.reserves.errors import WalletFileError
from por.reserves.wallets import (
    load_wallets,
    normalize_address,
    registry_from_dict,
    write_wallets,
)

ETH_ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 example
SOL_ADDRESS = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"
USDC_ETH = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"

TOML = f"""
exchange = "Example Exchange"

[assets.ethereum.ETH]
kind = "native"
decimals = 18

[assets.ethereum.USDC]
kind = "erc20"
contract = "{USDC_ETH}"
decimals = 6

[assets.solana.SOL]
kind = "native"
decimals = 9

[assets.solana.USDC]
kind = "spl"
contract = "{USDC_MINT}"
decimals = 6

[[wallets]]
chain = "ethereum"
address = "{ETH_ADDRESS.lower()}"
assets = ["ETH", "USDC"]
role = "cold"
label = "cold 1"

[[wallets]]
chain = "solana"
address = "{SOL_ADDRESS}"
assets = ["SOL", "USDC"]
role = "hot"
"""


def _base() -> dict[str, Any]:
    return {
        "exchange": "Example Exchange",
        "assets": {
            "ethereum": {"ETH": {"kind": "native", "decimals": 18}},
            "solana": {"SOL": {"kind": "native", "decimals": 9}},
        },
        "wallets": [
            {"chain": "ethereum", "address": ETH_ADDRESS, "assets": ["ETH"], "role": "hot"}
        ],
    }


def test_a_toml_registry_loads_with_checksummed_addresses(tmp_path: Path) -> None:
    path = tmp_path / "wallets.toml"
    path.write_text(TOML)
    registry = load_wallets(path)
    assert registry.exchange == "Example Exchange"
    eth, sol = registry.wallets
    assert eth.address == ETH_ADDRESS, "lower-case input is returned EIP-55 checksummed"
    assert (eth.chain, eth.role, eth.assets, eth.label) == (
        "ethereum",
        "cold",
        ("ETH", "USDC"),
        "cold 1",
    )
    assert (sol.chain, sol.address, sol.role) == ("solana", SOL_ADDRESS, "hot")
    assert registry.assets_on("solana")["USDC"].contract == USDC_MINT
    assert registry.on("solana") == (sol,)


def test_a_registry_written_as_json_reads_back_equal(tmp_path: Path) -> None:
    toml = tmp_path / "wallets.toml"
    toml.write_text(TOML)
    registry = load_wallets(toml)
    again = load_wallets(write_wallets(tmp_path / "wallets.json", registry))
    assert again == registry


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["wallets"][0].update(address="0x1234"),
            "wallet 1: invalid Ethereum address '0x1234'",
        ),
        (
            lambda d: d["wallets"][0].update(address=ETH_ADDRESS.replace("a", "A", 1)),
            "bad EIP-55 checksum",
        ),
        (lambda d: d["wallets"][0].update(chain="bitcoin"), "wallet 1: unknown chain 'bitcoin'"),
        (
            lambda d: d["wallets"][0].update(chain="solana", address="not-base58!", assets=["SOL"]),
            "invalid Solana address 'not-base58!'",
        ),
        (lambda d: d["wallets"][0].update(role="warm"), "role 'warm' must be 'hot' or 'cold'"),
        (lambda d: d["wallets"][0].update(assets=["DOGE"]), "asset 'DOGE' is not declared"),
        (
            lambda d: d["wallets"].append(dict(d["wallets"][0])),
            "wallet 2: duplicate ethereum address",
        ),
        (lambda d: d["assets"].update(tron={}), "unknown chain 'tron'"),
        (
            lambda d: d["assets"]["ethereum"].update(USDC={"kind": "erc20", "decimals": 6}),
            "assets.ethereum.USDC.contract: address must be a string",
        ),
        (
            lambda d: d["assets"]["ethereum"]["ETH"].update(decimals=18.0),
            "decimals must be an integer",
        ),
        (lambda d: d.update(exchange="two\nlines"), "'exchange' must be a one-line"),
        (lambda d: d.update(wallets=[]), "'wallets' must be a non-empty list"),
    ],
)
def test_an_invalid_registry_is_one_clear_error(change: Any, message: str) -> None:
    raw = _base()
    change(raw)
    with pytest.raises(WalletFileError, match=message.replace("(", r"\(")):
        registry_from_dict(raw, "wallets.json")


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    raw = _base()
    raw["wallets"][0]["chain"] = "dogecoin"
    path.write_text(json.dumps(raw))
    with pytest.raises(WalletFileError, match=f"^{path}: wallet 1: unknown chain 'dogecoin'"):
        load_wallets(path)


def test_unreadable_malformed_and_unknown_format_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(WalletFileError, match="cannot read wallet file"):
        load_wallets(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("exchange = ")
    with pytest.raises(WalletFileError, match="not valid TOML"):
        load_wallets(bad)
    other = tmp_path / "wallets.yaml"
    other.write_text("x: 1")
    with pytest.raises(WalletFileError, match="must end in .json or .toml"):
        load_wallets(other)


@settings(max_examples=200, deadline=None)
@given(
    raw=st.binary(min_size=20, max_size=20),
    case=st.sampled_from(["lower", "upper", "eip55", "flip"]),
)
def test_fast_eip55_agrees_with_eth_utils(raw: bytes, case: str) -> None:
    """normalize_address's own EIP-55 against eth_utils (the reference), on every case."""
    from eth_utils.address import is_checksum_address, to_checksum_address

    from por.reserves.wallets import eip55

    reference = to_checksum_address("0x" + raw.hex())
    assert eip55("0x" + raw.hex()) == reference
    body = {"lower": raw.hex(), "upper": raw.hex().upper(), "eip55": reference[2:]}.get(
        case, reference[2:].swapcase()
    )
    address = "0x" + body
    mixed = body != body.lower() and body != body.upper()
    if mixed and not is_checksum_address(address):
        with pytest.raises(WalletFileError, match="bad EIP-55 checksum"):
            normalize_address("ethereum", address)
    else:
        assert normalize_address("ethereum", address) == reference

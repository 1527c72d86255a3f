"""End to end: a funded reserve world read on both chains, signed, and verified."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from por.chain.anvil import Anvil
from por.chain.reserve_world import build_reserve_world, split
from por.reserves.errors import OwnershipError, ReaderError, ReservesError
from por.reserves.report import collect_reserves, verify_reserve_report
from por.reserves.wallets import load_wallets

SNAPSHOT = "2026-11-24T16:00:00Z"
HOLDINGS = {
    ("ethereum", "ETH"): 1_000 * 10**18 + 1,
    ("ethereum", "USDC"): 2_000_000 * 10**6,
    ("ethereum", "BTC"): 12 * 10**8 + 7,
    ("solana", "SOL"): 50_000 * 10**9,
    ("solana", "USDC"): 500_000 * 10**6 + 3,
}


def test_split_adds_up_exactly() -> None:
    assert split(10, 3) == [4, 3, 3] and sum(split(10**30 + 1, 7)) == 10**30 + 1


def test_a_funded_world_reads_signs_and_verifies(anvil: Anvil, tmp_path: Path) -> None:
    world = build_reserve_world(anvil.url, tmp_path, exchange="Demo Exchange", holdings=HOLDINGS)
    assert load_wallets(world.wallets_path) == world.registry
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"
    report = collect_reserves(world.registry, world.readers(), world.keystore, SNAPSHOT)
    assert report.totals() == {
        "ETH": HOLDINGS[("ethereum", "ETH")],
        "BTC": HOLDINGS[("ethereum", "BTC")],
        "SOL": HOLDINGS[("solana", "SOL")],
        "USDC": HOLDINGS[("ethereum", "USDC")] + HOLDINGS[("solana", "USDC")],
    }
    public = report.to_dict()
    assert verify_reserve_report(public) is None
    assert [c["chain"] for c in public["chains"]] == ["ethereum", "solana"]
    assert public["chains"][1]["pin"]["slot"] == 1_000

    inflated = copy.deepcopy(public)
    inflated["chains"][0]["balances"][0]["amount"] = "1"
    with pytest.raises(ReservesError, match="totals .* do not match"):
        verify_reserve_report(inflated)
    unproven = copy.deepcopy(public)
    unproven["ownership"] = unproven["ownership"][1:]
    with pytest.raises(OwnershipError, match="has no ownership proof"):
        verify_reserve_report(unproven)
    stale = copy.deepcopy(public)
    stale["snapshot_id"] = "2026-11-24T17:00:00Z"
    with pytest.raises(OwnershipError, match="not the text for snapshot"):
        verify_reserve_report(stale)


def test_a_chain_without_a_reader_fails_the_collection(anvil: Anvil, tmp_path: Path) -> None:
    world = build_reserve_world(anvil.url, tmp_path, exchange="Demo", holdings=HOLDINGS)
    readers = world.readers()
    del readers["solana"]
    with pytest.raises(ReaderError, match="no reader configured for chain solana"):
        collect_reserves(world.registry, readers, world.keystore, SNAPSHOT)

"""End to end: a funded reserve world read on both chains, signed, and its public
reserves.json checked by the verifier's pure check (`por.reserves.verify`)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from por.chain.anvil import Anvil
from por.chain.reserve_world import ReserveWorld, build_reserve_world, split
from por.reserves.errors import AssetRuleError, OwnershipError, ReservesError
from por.reserves.registry import AssetRegistry
from por.reserves.verify import check_published_reserves
from por.reserves.wallets import load_wallets
from por.snapshot.errors import SnapshotConfigError
from por.snapshot.reserves import ReserveSetup, read_reserves

SNAPSHOT = "2026-11-24T16:00:00Z"
KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
LEDGER = {"BTC": 8, "ETH": 18, "SOL": 9, "USDC": 6}
HOLDINGS = {
    ("ethereum", "ETH"): 1_000 * 10**18 + 1,
    ("ethereum", "USDC"): 2_000_000 * 10**6,
    ("ethereum", "BTC"): 12 * 10**8 + 7,
    ("solana", "SOL"): 50_000 * 10**9,
    ("solana", "USDC"): 500_000 * 10**6 + 3,
}


def test_split_adds_up_exactly() -> None:
    assert split(10, 3) == [4, 3, 3] and sum(split(10**30 + 1, 7)) == 10**30 + 1


def _read(world: ReserveWorld, readers: Any = None) -> Any:
    setup = ReserveSetup(world.registry, readers or world.readers(), world.keystore, KEY)
    return read_reserves(setup, LEDGER, SNAPSHOT, datetime.now(UTC))


def _check(world: ReserveWorld, public: Any, snapshot: str = SNAPSHOT, key: str = KEY) -> Any:
    return check_published_reserves(
        public,
        snapshot_id=snapshot,
        exchange_key=key,
        registry=AssetRegistry.of(world.registry.assets, "test registry"),
        ledger_assets=LEDGER,
    )


def test_a_funded_world_reads_signs_and_verifies(anvil: Anvil, tmp_path: Path) -> None:
    world = build_reserve_world(anvil.url, tmp_path, exchange="Demo Exchange", holdings=HOLDINGS)
    assert load_wallets(world.wallets_path) == world.registry
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"
    found = _read(world)
    assert dict(found.totals) == {
        "ETH": HOLDINGS[("ethereum", "ETH")],
        "BTC": HOLDINGS[("ethereum", "BTC")],
        "SOL": HOLDINGS[("solana", "SOL")],
        "USDC": HOLDINGS[("ethereum", "USDC")] + HOLDINGS[("solana", "USDC")],
    }
    public = found.to_dict()
    checked = _check(world, public)
    assert checked.totals == found.totals and checked.proofs == len(world.registry.wallets)
    assert [r["chain"] for r in public["readings"]] == ["ethereum", "solana"]
    assert public["readings"][1]["pin"]["slot"] == 1_000
    assert public["readings"][0]["pin"]["chain_id"] == "eip155:31337"
    assert public["readings"][1]["pin"]["chain_id"].startswith("solana:")

    inflated = copy.deepcopy(public)
    inflated["readings"][0]["balances"][0]["amount"] = "1"
    with pytest.raises(ReservesError, match="totals .* differ from the sum"):
        _check(world, inflated)
    unproven = copy.deepcopy(public)
    unproven["ownership"] = unproven["ownership"][1:]
    with pytest.raises(OwnershipError, match="has no ownership proof"):
        _check(world, unproven)
    with pytest.raises(ReservesError, match="signed for period '2026-11-24T16:00:00Z'"):
        _check(world, public, snapshot="2026-11-24T17:00:00Z")
    with pytest.raises(ReservesError, match="not the pinned key 3d40"):
        _check(
            world, public, key="3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        )
    stray = copy.deepcopy(public)
    stray["wallets"] = stray["wallets"][1:]
    with pytest.raises(AssetRuleError, match="address_not_in_wallet_list"):
        _check(world, stray)


def test_a_chain_without_a_reader_fails_the_collection(anvil: Anvil, tmp_path: Path) -> None:
    world = build_reserve_world(anvil.url, tmp_path, exchange="Demo", holdings=HOLDINGS)
    readers = world.readers()
    del readers["solana"]
    with pytest.raises(SnapshotConfigError, match="solana wallets but no solana reader"):
        _read(world, readers)


def test_reserves_without_the_exchange_key_are_not_read(anvil: Anvil, tmp_path: Path) -> None:
    world = build_reserve_world(anvil.url, tmp_path, exchange="Demo", holdings=HOLDINGS)
    setup = ReserveSetup(world.registry, world.readers(), world.keystore)
    with pytest.raises(SnapshotConfigError, match="manifest public key"):
        read_reserves(setup, LEDGER, SNAPSHOT, datetime.now(UTC))

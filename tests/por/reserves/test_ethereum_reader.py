"""The Ethereum reader against a real Anvil node: pinned blocks, all read paths, liars."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from por.chain.anvil import Anvil
from por.chain.ethereum_world import (
    EthereumWorld,
    connect,
    demo_addresses,
    deploy_world,
    mine,
    mint_tokens,
    set_eth_balances,
)
from por.reserves.errors import ReaderError
from por.reserves.ethereum import EthereumReader
from por.reserves.values import Wallet
from tests.por.reserves.reserves_helpers import RpcProxy, rpc

ASSETS = ("ETH", "USDC", "BTC")
NO_SLEEP: Callable[[float], None] = lambda _s: None  # noqa: E731


def _fund(
    world: EthereumWorld, seed: str, count: int
) -> tuple[list[Wallet], dict[tuple[str, str], int]]:
    """`count` wallets with distinct ETH/USDC/BTC balances (some zero); finalized after."""
    w3 = connect(world.url)
    addresses = demo_addresses(count, seed)
    eth = {a: 10**18 + i * 7 for i, a in enumerate(addresses)}
    usdc = {a: (i % 5) * 1_000_000 + i for i, a in enumerate(addresses)}
    btc = {a: 0 if i % 3 == 0 else 10**8 * i for i, a in enumerate(addresses)}
    set_eth_balances(w3, eth)
    mint_tokens(w3, world.usdc, usdc, world.deployer)
    mint_tokens(w3, world.wbtc, btc, world.deployer)
    mine(w3, 3)  # finalized lags the head by 2 blocks on our Anvil
    wallets = [
        Wallet("ethereum", a, ASSETS, "hot" if i % 2 else "cold") for i, a in enumerate(addresses)
    ]
    expected = {}
    for a in addresses:
        expected[(a, "ETH")] = eth[a]
        expected[(a, "USDC")] = usdc[a]
        expected[(a, "BTC")] = btc[a]
    return wallets, expected


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def test_balances_are_read_at_the_pinned_block_and_ignore_later_changes(
    world: EthereumWorld,
) -> None:
    wallets, expected = _fund(world, "pinned", 12)
    reader = EthereumReader(world.url, world.asset_specs())
    before = reader.read(wallets)
    assert before.by_key() == expected, "first reading must show the funded balances"
    w3 = connect(world.url)
    # An hour later: mine a block first (cheat codes change the head block), then change.
    rpc(world.url, "evm_setNextBlockTimestamp", hex(before.pin.time + 3600))
    mine(w3)
    set_eth_balances(w3, {w.address: 1 for w in wallets})
    mint_tokens(w3, world.usdc, {w.address: 5 for w in wallets}, world.deployer)
    mine(w3, 3)

    at_old_hour = reader.read(wallets, at=_utc(before.pin.time + 1800))
    assert at_old_hour.pin.number >= before.pin.number
    assert at_old_hour.pin.time <= before.pin.time + 1800
    assert at_old_hour.by_key() == expected, "a reading pinned before the change must not see it"

    now = reader.read(wallets)
    assert now.pin.number > at_old_hour.pin.number
    assert all(now.amount(w.address, "ETH") == 1 for w in wallets)
    assert all(now.amount(w.address, "USDC") == expected[(w.address, "USDC")] + 5 for w in wallets)


def test_pinned_block_is_the_latest_finalized_block_at_or_before_the_time(
    world: EthereumWorld,
) -> None:
    reader = EthereumReader(world.url, world.asset_specs())
    w3 = connect(world.url)
    head = w3.eth.get_block("latest")
    base = int(head["timestamp"]) + 100
    rpc(world.url, "evm_setNextBlockTimestamp", hex(base))
    mine(w3)
    rpc(world.url, "evm_setNextBlockTimestamp", hex(base + 60))
    mine(w3)
    mine(w3, 3)
    pin = reader.pin_block(_utc(base + 59))
    block = w3.eth.get_block(pin.number)
    assert int(block["timestamp"]) == base, "expected the block at base, not the one 60 s later"
    assert pin.hash == "0x" + bytes(block["hash"]).hex()
    assert pin.requested_at == base + 59


def test_multicall_state_override_batch_and_naive_reads_agree(world: EthereumWorld) -> None:
    wallets, expected = _fund(world, "paths", 40)
    wallets[0] = Wallet("ethereum", wallets[0].address, ("ETH",), "hot")  # a subset of assets
    del expected[(wallets[0].address, "USDC")], expected[(wallets[0].address, "BTC")]
    at = _utc(connect(world.url).eth.get_block("finalized")["timestamp"])
    readings = {}
    for method in ("multicall3", "state-override", "batch", "naive"):
        # the override path places Multicall3's code where none is deployed
        address = (
            "0x000000000000000000000000000000000000bEEF"
            if method == "state-override"
            else world.multicall
        )
        assert address is not None
        reader = EthereumReader(
            world.url,
            world.asset_specs(),
            method=method,
            multicall_address=address,
            calls_per_chunk=7,
        )  # type: ignore[arg-type]
        readings[method] = reader.read(wallets, at=at)
    pins = {r.pin for r in readings.values()}
    assert len(pins) == 1, f"all paths must pin the same block, got {pins}"
    for method, reading in readings.items():
        assert reading.method == method
        assert reading.by_key() == expected, f"{method} disagrees with the funded balances"
    auto = EthereumReader(world.url, world.asset_specs()).read(wallets, at=at)
    assert auto.method == "multicall3" and auto.by_key() == expected


def test_auto_uses_a_state_override_where_multicall3_is_not_deployed(world: EthereumWorld) -> None:
    wallets, expected = _fund(world, "override", 5)
    reader = EthereumReader(
        world.url,
        world.asset_specs(),
        multicall_address="0x000000000000000000000000000000000000bEEF",
    )
    reading = reader.read(wallets)
    assert reading.method == "state-override"
    assert reading.by_key() == expected


def test_auto_falls_back_to_batches_where_state_overrides_are_refused(
    world: EthereumWorld, rpc_proxy: Callable[..., RpcProxy]
) -> None:
    wallets, expected = _fund(world, "nooverride", 5)

    def refuse_overrides(request: dict[str, Any]) -> dict[str, Any]:
        if request["method"] == "eth_call" and len(request["params"]) > 2:
            return {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": -32602, "message": "too many params"},
            }
        return request

    proxy = rpc_proxy(world.url, on_request=refuse_overrides)
    reader = EthereumReader(
        proxy.url,
        world.asset_specs(),
        multicall_address="0x000000000000000000000000000000000000bEEF",
    )
    reading = reader.read(wallets)
    assert reading.method == "batch"
    assert reading.by_key() == expected


def test_a_node_answering_for_another_block_is_caught(
    world: EthereumWorld, rpc_proxy: Callable[..., RpcProxy]
) -> None:
    wallets, _ = _fund(world, "liar", 3)

    def answer_for_latest(request: dict[str, Any]) -> dict[str, Any]:
        if request["method"] == "eth_call":
            request = {
                **request,
                "params": [request["params"][0], "latest", *request["params"][2:]],
            }
        return request

    proxy = rpc_proxy(world.url, on_request=answer_for_latest)
    reader = EthereumReader(proxy.url, world.asset_specs(), retries=1, sleep=NO_SLEEP)
    with pytest.raises(ReaderError, match="answered for another block") as info:
        reader.read(wallets)
    assert "after 2 attempts" in str(info.value)


def test_a_block_hash_that_changes_after_the_read_fails_as_a_reorg(
    world: EthereumWorld, rpc_proxy: Callable[..., RpcProxy]
) -> None:
    wallets, _ = _fund(world, "reorg", 3)
    sleeps: list[float] = []

    def rewrite_hash(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        by_number = request["method"] == "eth_getBlockByNumber" and request["params"][0] not in (
            "finalized",
            "latest",
        )
        if by_number and response.get("result"):
            result = dict(response["result"])
            result["hash"] = "0x" + "ab" * 32
            return {**response, "result": result}
        return response

    proxy = rpc_proxy(world.url, on_response=rewrite_hash)
    reader = EthereumReader(proxy.url, world.asset_specs(), retries=2, sleep=sleeps.append)
    with pytest.raises(ReaderError, match=r"hash changed during the read: .*reorg") as info:
        reader.read(wallets)
    assert "after 3 attempts" in str(info.value)
    assert sleeps == [0.25, 0.5], "retries must back off exponentially"


def test_a_transient_failure_is_retried_and_then_succeeds(
    world: EthereumWorld, rpc_proxy: Callable[..., RpcProxy]
) -> None:
    wallets, expected = _fund(world, "flaky", 3)
    failures = {"left": 1}

    def fail_once(request: dict[str, Any]) -> dict[str, Any]:
        if request["method"] == "eth_call" and failures["left"]:
            failures["left"] -= 1
            return {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": -32000, "message": "busy"},
            }
        return request

    proxy = rpc_proxy(world.url, on_request=fail_once)
    reading = EthereumReader(proxy.url, world.asset_specs(), sleep=NO_SLEEP).read(wallets)
    assert reading.attempts == 2
    assert reading.by_key() == expected


def test_an_unreachable_node_fails_with_a_clear_reason(world: EthereumWorld) -> None:
    reader = EthereumReader("http://127.0.0.1:9", world.asset_specs(), retries=1, sleep=NO_SLEEP)
    wallets = [Wallet("ethereum", demo_addresses(1, "x")[0], ("ETH",), "hot")]
    with pytest.raises(
        ReaderError, match=r"ethereum: no consistent reading after 2 attempts: .*Connection"
    ):
        reader.read(wallets)


def test_a_time_before_genesis_has_no_block(world: EthereumWorld) -> None:
    reader = EthereumReader(world.url, world.asset_specs())
    wallets = [Wallet("ethereum", demo_addresses(1, "x")[0], ("ETH",), "hot")]
    with pytest.raises(ReaderError, match="no block at or before 2001-01-01T00:00:00Z"):
        reader.read(wallets, at=datetime(2001, 1, 1, tzinfo=UTC))


def test_an_asset_not_configured_for_the_reader_is_refused(world: EthereumWorld) -> None:
    reader = EthereumReader(world.url, {"ETH": world.asset_specs()["ETH"]})
    wallets = [Wallet("ethereum", demo_addresses(1, "x")[0], ("ETH", "USDC"), "hot")]
    with pytest.raises(ReaderError, match="asset USDC is not configured"):
        reader.read(wallets)


def test_a_real_reorg_of_the_pinned_block_is_detected(rpc_proxy: Callable[..., RpcProxy]) -> None:
    """Anvil really replaces the pinned block (evm_revert + new blocks) mid-read."""
    with Anvil() as node:
        world = deploy_world(node.url)
        wallets, _ = _fund(world, "realreorg", 2)
        snapshot = rpc(node.url, "evm_snapshot")
        w3 = connect(node.url)
        mine(w3, 3)
        reorged: list[bool] = []

        def after(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
            # the balances were read on the old chain; now replace the pinned block
            if request["method"] == "eth_call" and not reorged:
                reorged.append(True)
                rpc(node.url, "evm_revert", snapshot)
                rpc(
                    node.url,
                    "evm_setNextBlockTimestamp",
                    hex(int(w3.eth.get_block("latest")["timestamp"]) + 7),
                )
                mine(w3, 3)
            return response

        proxy = rpc_proxy(node.url, on_response=after)
        reader = EthereumReader(proxy.url, world.asset_specs(), retries=0, sleep=NO_SLEEP)
        with pytest.raises(ReaderError, match="hash changed during the read"):
            reader.read(wallets)

"""The LiteSVM JSON-RPC endpoint answers like a Solana node for the methods it serves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from por.chain.litesvm_rpc import LiteSvmRpcServer
from por.chain.solana_world import SolanaWorld, create_solana_world, fund_sol, fund_usdc


@pytest.fixture
def served() -> Iterator[tuple[SolanaWorld, LiteSvmRpcServer]]:
    world = create_solana_world(slot=77, unix_timestamp=1_795_276_800)
    with LiteSvmRpcServer(world.svm) as server:
        yield world, server


def _post(url: str, body: Any) -> Any:
    return httpx.post(url, json=body, timeout=10).json()


def test_get_multiple_accounts_serves_real_account_data(served: Any) -> None:
    world, server = served
    owner = str(Keypair().pubkey())
    fund_sol(world.svm, {owner: 42})
    fund_usdc(world, {owner: 7})
    reply = _post(
        server.url,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getMultipleAccounts",
            "params": [[owner, str(world.usdc_mint)], {"encoding": "base64"}],
        },
    )
    assert reply["result"]["context"]["slot"] == 77
    sol, mint = reply["result"]["value"]
    assert sol["lamports"] == 42 and sol["owner"] == "11111111111111111111111111111111"
    assert mint["owner"] == "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"


def test_batches_slots_and_block_times(served: Any) -> None:
    _, server = served
    replies = _post(
        server.url,
        [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "getSlot",
                "params": [{"commitment": "finalized"}],
            },
            {"jsonrpc": "2.0", "id": 2, "method": "getBlockTime", "params": [77]},
            {"jsonrpc": "2.0", "id": 3, "method": "getBlockTime", "params": [5]},
        ],
    )
    assert replies[0]["result"] == 77
    assert replies[1]["result"] == 1_795_276_800
    assert replies[2]["error"]["code"] == -32009


def test_a_min_context_slot_in_the_future_is_an_error(served: Any) -> None:
    _, server = served
    reply = _post(
        server.url,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getMultipleAccounts",
            "params": [[], {"minContextSlot": 78}],
        },
    )
    assert reply["error"]["code"] == -32016
    assert "Minimum context slot has not been reached" in reply["error"]["message"]


def test_more_than_100_keys_unknown_methods_and_bad_json_are_errors(served: Any) -> None:
    _, server = served
    keys = [str(Keypair().pubkey()) for _ in range(101)]
    too_many = _post(
        server.url, {"jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts", "params": [keys]}
    )
    assert "max 100" in too_many["error"]["message"]
    unknown = _post(
        server.url, {"jsonrpc": "2.0", "id": 2, "method": "sendTransaction", "params": []}
    )
    assert unknown["error"]["code"] == -32601
    bad = httpx.post(server.url, content=b"{not json", timeout=10).json()
    assert bad["error"]["code"] == -32700

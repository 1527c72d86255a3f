"""Anvil process helper and the demo deployment helpers."""

from __future__ import annotations

import socket

import pytest

from por.chain.anvil import Anvil
from por.chain.errors import ChainError
from por.chain.ethereum_world import (
    connect,
    demo_addresses,
    deploy_world,
    mint_tokens,
    set_eth_balances,
)
from por.reserves.contracts import MULTICALL3_ADDRESS, load_artifact


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_anvil_starts_on_a_free_port_and_is_gone_after_the_block() -> None:
    with Anvil() as node:
        port = node.port
        assert port > 0 and _listening(port)
        assert connect(node.url).eth.chain_id == 31337
    assert not _listening(port), "the node must be killed on exit"
    with pytest.raises(ChainError, match="not running"):
        _ = node.url


def test_two_nodes_run_side_by_side() -> None:
    with Anvil() as a, Anvil() as b:
        assert a.port != b.port
        assert connect(a.url).eth.block_number == connect(b.url).eth.block_number == 0


def test_the_demo_world_deploys_and_funds_wallets() -> None:
    with Anvil() as node:
        world = deploy_world(node.url)
        w3 = connect(node.url)
        assert world.multicall == MULTICALL3_ADDRESS
        code = w3.eth.get_code(MULTICALL3_ADDRESS)
        assert "0x" + bytes(code).hex() == load_artifact("Multicall3").deployed_bytecode
        holders = demo_addresses(3, "t")
        set_eth_balances(w3, {h: 10**18 * (i + 1) for i, h in enumerate(holders)})
        mint_tokens(w3, world.usdc, {h: 5 for h in holders}, world.deployer)
        token = w3.eth.contract(address=world.usdc, abi=load_artifact("PorToken").abi)
        assert [w3.eth.get_balance(h) for h in holders] == [10**18, 2 * 10**18, 3 * 10**18]
        assert [token.functions.balanceOf(h).call() for h in holders] == [5, 5, 5]
        assert token.functions.totalSupply().call() == 15
        assert token.functions.decimals().call() == 6
        specs = world.asset_specs()
        assert specs["BTC"].contract == world.wbtc and "Wrapped BTC" in specs["BTC"].label

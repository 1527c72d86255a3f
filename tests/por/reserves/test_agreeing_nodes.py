"""Two nodes must agree (issue 18 item 4): `AgreeingReader` over real Anvil and LiteSVM
JSON-RPC endpoints, one of them behind a lying proxy that changes one balance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from solders.keypair import Keypair

from por.chain.ethereum_world import (
    EthereumWorld,
    connect,
    demo_addresses,
    mine,
    mint_tokens,
    set_eth_balances,
)
from por.chain.litesvm_rpc import LiteSvmRpcServer
from por.chain.solana_world import create_solana_world, fund_sol, fund_usdc
from por.reserves.errors import ReaderError
from por.reserves.ethereum import EthereumReader
from por.reserves.quorum import AgreeingReader
from por.reserves.solana import SolanaRpcReader
from por.reserves.values import Wallet
from tests.por.reserves.reserves_helpers import RpcProxy

NO_SLEEP: Callable[[float], None] = lambda _s: None  # noqa: E731
LIE = 10**18  # what the proxy adds to one balance


def _word(value: int) -> str:
    return value.to_bytes(32, "big").hex()


def _eth_wallets(world: EthereumWorld, seed: str) -> tuple[list[Wallet], int]:
    w3 = connect(world.url)
    addresses = demo_addresses(4, seed)
    target = 7 * 10**18 + 123_457  # a distinctive amount: its 32-byte word appears once
    set_eth_balances(w3, {a: target + i for i, a in enumerate(addresses)})
    mint_tokens(w3, world.usdc, {a: 10**6 + i for i, a in enumerate(addresses)}, world.deployer)
    mine(w3, 3)
    return [Wallet("ethereum", a, ("ETH", "USDC", "BTC"), "hot") for a in addresses], target


def _lying_eth_proxy(rpc_proxy: Callable[..., RpcProxy], upstream: str, honest: int) -> RpcProxy:
    """Forwards everything; in every eth_call answer, the word of `honest` grows by LIE."""

    def lie(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        result = response.get("result")
        if request.get("method") == "eth_call" and isinstance(result, str):
            response["result"] = result.replace(_word(honest), _word(honest + LIE))
        return response

    return rpc_proxy(upstream, on_response=lie)


def _eth(url: str, world: EthereumWorld) -> EthereumReader:
    return EthereumReader(url, world.asset_specs(), retries=1, sleep=NO_SLEEP)


def test_two_honest_ethereum_nodes_agree_and_the_reading_is_the_first_ones(
    world: EthereumWorld, rpc_proxy: Callable[..., RpcProxy]
) -> None:
    wallets, _ = _eth_wallets(world, "agree")
    second = rpc_proxy(world.url)  # a second endpoint onto the same chain
    alone = _eth(world.url, world).read(wallets)
    both = AgreeingReader([_eth(world.url, world), _eth(second.url, world)]).read(wallets)
    assert both.by_key() == alone.by_key() and both.pin == alone.pin
    assert both.pin.chain_id == "eip155:31337"


def test_a_node_that_changes_one_balance_stops_the_reading_naming_it(
    world: EthereumWorld, rpc_proxy: Callable[..., RpcProxy]
) -> None:
    wallets, target = _eth_wallets(world, "liar")
    liar = _lying_eth_proxy(rpc_proxy, world.url, target)
    assert _eth(liar.url, world).read(wallets).amount(wallets[0].address, "ETH") == target + LIE
    for readers in (
        [_eth(world.url, world), _eth(liar.url, world)],
        [_eth(liar.url, world), _eth(world.url, world)],
    ):
        with pytest.raises(ReaderError) as caught:
            AgreeingReader(readers).read(wallets)
        message = str(caught.value)
        assert "ethereum: nodes disagree at block" in message, message
        assert f"ETH of {wallets[0].address}" in message and "not published" in message
        assert str(target) in message and str(target + LIE) in message
        assert liar.url in message and world.url in message


def test_nodes_on_different_chains_do_not_agree(
    world: EthereumWorld, rpc_proxy: Callable[..., RpcProxy]
) -> None:
    wallets, _ = _eth_wallets(world, "chains")

    def other_chain(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") == "eth_chainId":
            response["result"] = "0x1"
        return response

    elsewhere = rpc_proxy(world.url, on_response=other_chain)
    with pytest.raises(ReaderError, match="nodes are on different chains.*eip155:1"):
        AgreeingReader([_eth(world.url, world), _eth(elsewhere.url, world)]).read(wallets)


def test_two_solana_nodes_must_agree_and_a_lying_one_is_named(
    rpc_proxy: Callable[..., RpcProxy],
) -> None:
    chain = create_solana_world()
    owners = [str(Keypair().pubkey()) for _ in range(3)]
    fund_sol(chain.svm, {o: 10**9 + i for i, o in enumerate(owners)})
    fund_usdc(chain, {o: 10**6 + i for i, o in enumerate(owners)})
    wallets = [Wallet("solana", o, ("SOL", "USDC"), "cold") for o in owners]
    specs = chain.asset_specs()

    def lie(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") == "getMultipleAccounts":
            for value in response["result"]["value"]:
                if value is not None and value["lamports"] == 10**9:
                    value["lamports"] += LIE
        return response

    with LiteSvmRpcServer(chain.svm) as a, LiteSvmRpcServer(chain.svm) as b:
        liar = rpc_proxy(b.url, on_response=lie)

        def sol(url: str) -> SolanaRpcReader:
            return SolanaRpcReader(url, specs, retries=1, sleep=NO_SLEEP)

        both = AgreeingReader([sol(a.url), sol(b.url)]).read(wallets)
        assert both.amount(owners[0], "SOL") == 10**9 and both.pin.chain_id.startswith("solana:")
        with pytest.raises(ReaderError, match=r"solana: nodes disagree at slot \d+: SOL of"):
            AgreeingReader([sol(a.url), sol(liar.url)]).read(wallets)

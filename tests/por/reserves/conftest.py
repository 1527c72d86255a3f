"""Fixtures: a real Anvil node with the demo contracts, and a JSON-RPC proxy that can lie."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from por.chain.anvil import Anvil
from por.chain.ethereum_world import EthereumWorld, deploy_world
from tests.por.reserves.reserves_helpers import RpcProxy


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    """One Anvil per test module (and per xdist worker), killed afterwards."""
    with Anvil() as node:
        yield node


@pytest.fixture(scope="module")
def world(anvil: Anvil) -> EthereumWorld:
    """USDC, wrapped BTC, the anchor and Multicall3 at its canonical address."""
    return deploy_world(anvil.url)


@pytest.fixture
def rpc_proxy() -> Iterator[Callable[..., RpcProxy]]:
    proxies: list[RpcProxy] = []

    def make(upstream: str, **hooks: Any) -> RpcProxy:
        proxy = RpcProxy(upstream, **hooks)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()

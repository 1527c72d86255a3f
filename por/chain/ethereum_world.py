"""Deploy the committed contracts on a local node and fund wallets quickly.

Reused by the tests, `por demo` and the benchmarks. Uses Anvil's unlocked dev accounts
and cheat codes (`anvil_setBalance`, `anvil_setCode`); nothing here is for a real chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_utils.address import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint, TxParams

from por.chain.errors import ChainError
from por.reserves.contracts import MULTICALL3_ADDRESS, load_artifact
from por.reserves.values import AssetSpec

__all__ = [
    "JSONRPC_BATCH_SIZE",
    "MINT_BATCH_SIZE",
    "EthereumWorld",
    "connect",
    "deploy_contract",
    "deploy_world",
    "demo_addresses",
    "install_multicall3",
    "mine",
    "mine_at",
    "mint_tokens",
    "set_eth_balances",
    "transfer_tokens",
]

JSONRPC_BATCH_SIZE = 1000  # requests per HTTP batch (geth's default BatchRequestLimit)
MINT_BATCH_SIZE = 400  # recipients per mintBatch transaction (~10M gas)


@dataclass(frozen=True, slots=True)
class EthereumWorld:
    """Addresses of the demo contracts on one node."""

    url: str
    deployer: str
    usdc: str
    wbtc: str
    multicall: str | None
    anchor: str

    def asset_specs(self) -> dict[str, AssetSpec]:
        """The reserve assets of this world, as a wallet registry would declare them."""
        return {
            "ETH": AssetSpec("ETH", "ethereum", "native", 18),
            "USDC": AssetSpec("USDC", "ethereum", "erc20", 6, self.usdc, "USD Coin (ERC-20, demo)"),
            "BTC": AssetSpec(
                "BTC",
                "ethereum",
                "erc20",
                8,
                self.wbtc,
                "Wrapped BTC (ERC-20, demo), counted as BTC",
            ),
        }


def connect(url: str, timeout_s: float = 60.0) -> Web3:  # float-ok: seconds
    """A web3 client over HTTP."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout_s}))
    return w3


def _rpc(w3: Web3, method: str, params: Sequence[Any]) -> Any:
    response = w3.provider.make_request(RPCEndpoint(method), list(params))
    if "error" in response:
        raise ChainError(f"{method} failed: {response['error']}")
    return response.get("result")


def mine(w3: Web3, blocks: int = 1) -> None:
    """Mine `blocks` empty blocks (Anvil)."""
    _rpc(w3, "anvil_mine", [hex(blocks)])


def mine_at(w3: Web3, timestamp: int) -> None:
    """Mine one block with this Unix timestamp (Anvil's `evm_mine`)."""
    _rpc(w3, "evm_mine", [timestamp])


def deploy_contract(w3: Web3, name: str, *args: Any, sender: str | None = None) -> str:
    """Deploy a committed artifact; returns the checksummed contract address."""
    artifact = load_artifact(name)
    account = sender or w3.eth.accounts[0]
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor(*args).transact(cast(TxParams, {"from": account}))
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ChainError(f"deploying {name} failed: receipt {receipt!r}")
    return to_checksum_address(receipt["contractAddress"])


def install_multicall3(w3: Web3, address: str = MULTICALL3_ADDRESS) -> str:
    """Put the committed Multicall3 runtime code at its canonical address (as on mainnet)."""
    _rpc(w3, "anvil_setCode", [address, load_artifact("Multicall3").deployed_bytecode])
    mine(w3)
    return to_checksum_address(address)


def deploy_world(
    url: str, *, publisher: str | None = None, with_multicall: bool = True
) -> EthereumWorld:
    """Deploy USDC, wrapped BTC, the anchor registry and (optionally) Multicall3."""
    w3 = connect(url)
    deployer = to_checksum_address(w3.eth.accounts[0])
    usdc = deploy_contract(w3, "PorToken", "USD Coin (demo)", "USDC", 6, sender=deployer)
    wbtc = deploy_contract(w3, "PorToken", "Wrapped BTC (demo)", "WBTC", 8, sender=deployer)
    anchor = deploy_contract(w3, "PorAnchor", publisher or deployer, sender=deployer)
    multicall = install_multicall3(w3) if with_multicall else None
    return EthereumWorld(url, deployer, usdc, wbtc, multicall, anchor)


def set_eth_balances(w3: Web3, balances: Mapping[str, int]) -> None:
    """Set native balances with `anvil_setBalance`, in JSON-RPC batches (fast set-up)."""
    items = list(balances.items())
    for start in range(0, len(items), JSONRPC_BATCH_SIZE):
        chunk = items[start : start + JSONRPC_BATCH_SIZE]
        requests = [(RPCEndpoint("anvil_setBalance"), [a, hex(v)]) for a, v in chunk]
        provider = cast(HTTPProvider, w3.provider)
        responses = provider.make_batch_request(requests)
        if not isinstance(responses, list):
            raise ChainError(f"anvil_setBalance batch failed: {responses!r}")
        for response in responses:
            if "error" in response:
                raise ChainError(f"anvil_setBalance failed: {response['error']}")


def mint_tokens(w3: Web3, token: str, balances: Mapping[str, int], sender: str) -> None:
    """Mint ERC-20 balances with `mintBatch`, MINT_BATCH_SIZE recipients per transaction."""
    contract = w3.eth.contract(
        address=to_checksum_address(token), abi=load_artifact("PorToken").abi
    )
    items = [(a, v) for a, v in balances.items() if v]
    hashes = []
    for start in range(0, len(items), MINT_BATCH_SIZE):
        chunk = items[start : start + MINT_BATCH_SIZE]
        call = contract.functions.mintBatch([a for a, _ in chunk], [v for _, v in chunk])
        hashes.append(call.transact(cast(TxParams, {"from": sender, "gas": 30_000_000})))
    for tx_hash in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt["status"] != 1:
            raise ChainError(f"mintBatch on {token} failed: {tx_hash.hex()}")


def transfer_tokens(w3: Web3, token: str, holder: str, to: str, amount: int) -> None:
    """A real ERC-20 transfer of `amount` from `holder` (impersonated: no key needed) to `to`."""
    contract = w3.eth.contract(
        address=to_checksum_address(token), abi=load_artifact("PorToken").abi
    )
    _rpc(w3, "anvil_impersonateAccount", [holder])
    try:
        tx = contract.functions.transfer(to, amount).transact(
            cast(TxParams, {"from": holder, "gas": 200_000})
        )
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=60)
        if receipt["status"] != 1:
            raise ChainError(f"token transfer from {holder} failed")
    finally:
        _rpc(w3, "anvil_stopImpersonatingAccount", [holder])


def demo_addresses(count: int, seed: str = "por-demo") -> list[str]:
    """Deterministic, distinct, checksummed addresses (no keys: balance holders only)."""
    out: list[str] = []
    for i in range(count):
        digest = hashlib.sha256(f"{seed}/{i}".encode()).digest()
        out.append(to_checksum_address(digest[-20:]))
    return out

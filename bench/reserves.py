"""Benchmark: reserve reads at a pinned block/slot.

Ethereum: N addresses x (ETH + USDC + wrapped BTC) on a local Anvil, read at one pinned
finalized block with Multicall3 aggregate3; the one-call-per-balance web3 loop is timed on
a sample and extrapolated. Then the same read from two agreeing nodes (a second Anvil
that replays the same set-up with the same block timestamps, so its blocks have the same
hashes; `por.reserves.quorum.AgreeingReader`), and the registry checks of issue 18 on the
result: the publisher's (every balance read from its registered holder) and the
verifiers' (`por.reserves.verify.check_reserve_balances`: wallet list, duplicates,
registered contract, decimals). Target: eth_with_checks_s = two nodes + both checks
<= 2 s for 10,000 addresses. Solana: N wallets with SOL + USDC (2N accounts) read from
LiteSVM in process (target <= 1 s for 10,000 accounts) and over the LiteSVM JSON-RPC
endpoint.

Prints ONE line of key=value pairs, with gauge_s (SHA-256 of 1M 64-byte strings: this
host's speed at the time). Set-up (funding) is not timed.

    .venv/bin/python bench/reserves.py [--eth N] [--sol N] [--naive-sample N]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import cast  # noqa: E402

from eth_utils.address import to_checksum_address  # noqa: E402
from solders.keypair import Keypair  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.types import TxParams  # noqa: E402

from por.chain.anvil import Anvil  # noqa: E402
from por.chain.ethereum_world import (  # noqa: E402
    MINT_BATCH_SIZE,  # noqa: E402
    _rpc,
    connect,
    demo_addresses,
    deploy_world,
    mine,
    set_eth_balances,
)
from por.chain.litesvm_rpc import LiteSvmRpcServer  # noqa: E402
from por.chain.solana_world import create_solana_world, fund_sol, fund_usdc  # noqa: E402
from por.reserves.contracts import load_artifact  # noqa: E402
from por.reserves.ethereum import EthereumReader  # noqa: E402
from por.reserves.quorum import AgreeingReader  # noqa: E402
from por.reserves.registry import AssetRegistry, expected_account  # noqa: E402
from por.reserves.solana import LiteSvmReader, SolanaRpcReader  # noqa: E402
from por.reserves.values import ReserveReading, Wallet  # noqa: E402
from por.reserves.verify import check_reserve_balances  # noqa: E402

GENESIS_TIME = 1_795_000_000
LEDGER = {"ETH": 18, "USDC": 6, "BTC": 8}


def gauge() -> float:
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def _mint_in_one_block(w3: Web3, token: str, amounts: dict[str, int], sender: str) -> None:
    """mintBatch transactions mined together (nonce order): the same block on every node."""
    contract = w3.eth.contract(
        address=to_checksum_address(token), abi=load_artifact("PorToken").abi
    )
    items = list(amounts.items())
    _rpc(w3, "evm_setAutomine", [False])
    try:
        hashes = [
            contract.functions.mintBatch(
                [a for a, _ in items[i : i + MINT_BATCH_SIZE]],
                [v for _, v in items[i : i + MINT_BATCH_SIZE]],
            ).transact(cast(TxParams, {"from": sender, "gas": 30_000_000}))
            for i in range(0, len(items), MINT_BATCH_SIZE)
        ]
        mine(w3, 1)
    finally:
        _rpc(w3, "evm_setAutomine", [True])
    for tx in hashes:
        assert w3.eth.get_transaction_receipt(tx)["status"] == 1


def _fund(url: str, addresses: list[str]) -> tuple[AssetRegistry, dict[str, object]]:
    """The same set-up on any node: fixed block timestamps make the same block hashes."""
    w3 = connect(url)
    _rpc(w3, "anvil_setBlockTimestampInterval", [12])
    world = deploy_world(url)
    set_eth_balances(w3, {a: 10**17 + i for i, a in enumerate(addresses)})
    usdc = {a: 10**6 + i for i, a in enumerate(addresses)}
    _mint_in_one_block(w3, world.usdc, usdc, world.deployer)
    _mint_in_one_block(
        w3, world.wbtc, {a: 10**4 + i for i, a in enumerate(addresses)}, world.deployer
    )
    mine(w3, 3)
    specs = world.asset_specs()
    return AssetRegistry.of({"ethereum": specs}, "bench registry"), dict(specs)


def registry_checks(
    reading: ReserveReading, wallets: list[Wallet], registry: AssetRegistry
) -> None:
    """What the publisher checks of a reading, and what a verifier checks of its JSON."""
    for b in reading.balances:
        spec = registry.get("ethereum", b.asset)
        assert spec is not None and expected_account(spec, b.address) == b.account
    doc = {
        "wallets": [
            {"chain": w.chain, "address": w.address, "assets": list(w.assets), "role": w.role}
            for w in wallets
        ],
        "readings": [reading.to_dict()],
    }
    _, (checked,) = check_reserve_balances(doc, registry=registry, ledger_assets=LEDGER)
    assert len(checked.balances) == len(reading.balances)


def bench_ethereum(count: int, naive_sample: int) -> dict[str, str]:
    with Anvil(timestamp=GENESIS_TIME) as node, Anvil(timestamp=GENESIS_TIME) as twin:
        addresses = demo_addresses(count, "bench")
        t0 = time.perf_counter()
        registry, specs = _fund(node.url, addresses)
        _fund(twin.url, addresses)
        setup_s = time.perf_counter() - t0
        wallets = [Wallet("ethereum", a, ("ETH", "USDC", "BTC"), "hot") for a in addresses]
        reader = EthereumReader(node.url, specs)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        reading = reader.read(wallets)
        read_s = time.perf_counter() - t0
        assert reading.method == "multicall3" and len(reading.balances) == 3 * count
        assert reading.amount(addresses[-1], "USDC") == 10**6 + count - 1
        both = AgreeingReader([reader, EthereumReader(twin.url, specs)])  # type: ignore[arg-type]
        t0 = time.perf_counter()
        agreed = both.read(wallets)
        two_s = time.perf_counter() - t0
        assert agreed.by_key() == reading.by_key() and agreed.pin == reading.pin
        t0 = time.perf_counter()
        registry_checks(agreed, wallets, registry)
        checks_s = time.perf_counter() - t0
        sample = wallets[:naive_sample]
        naive = EthereumReader(node.url, specs, method="naive")  # type: ignore[arg-type]
        t0 = time.perf_counter()
        naive_reading = naive.read(sample)
        naive_s = time.perf_counter() - t0
        assert naive_reading.by_key() == {
            k: v for k, v in reading.by_key().items() if k[0] in {w.address for w in sample}
        }
        return {
            "eth_addresses": str(count),
            "eth_balances": str(len(reading.balances)),
            "eth_read_s": f"{read_s:.3f}",
            "eth_two_nodes_s": f"{two_s:.3f}",
            "eth_registry_checks_s": f"{checks_s:.3f}",
            "eth_with_checks_s": f"{two_s + checks_s:.3f}",
            "eth_naive_sample": str(len(sample)),
            "eth_naive_s_est": f"{naive_s * count / len(sample):.1f}",
            "eth_setup_s": f"{setup_s:.1f}",
        }


def bench_solana(count: int) -> dict[str, str]:
    world = create_solana_world()
    owners = [str(Keypair().pubkey()) for _ in range(count)]
    fund_sol(world.svm, {o: 10**9 + i for i, o in enumerate(owners)})
    fund_usdc(world, {o: 10**6 + i for i, o in enumerate(owners)})
    wallets = [Wallet("solana", o, ("SOL", "USDC"), "hot") for o in owners]
    t0 = time.perf_counter()
    reading = LiteSvmReader(world.svm, world.asset_specs()).read(wallets)
    svm_s = time.perf_counter() - t0
    assert len(reading.balances) == 2 * count
    with LiteSvmRpcServer(world.svm) as server:
        t0 = time.perf_counter()
        rpc_reading = SolanaRpcReader(server.url, world.asset_specs()).read(wallets)
        rpc_s = time.perf_counter() - t0
    assert rpc_reading.by_key() == reading.by_key()
    return {
        "sol_wallets": str(count),
        "sol_accounts": str(2 * count),
        "sol_read_s": f"{svm_s:.3f}",
        "sol_rpc_read_s": f"{rpc_s:.3f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eth", type=int, default=10_000, help="Ethereum addresses")
    parser.add_argument("--sol", type=int, default=10_000, help="Solana wallets (x2 accounts)")
    parser.add_argument("--naive-sample", type=int, default=200, help="addresses timed naively")
    args = parser.parse_args()
    out = {**bench_ethereum(args.eth, args.naive_sample), **bench_solana(args.sol)}
    out["gauge_s"] = f"{gauge():.3f}"
    print(" ".join(f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()

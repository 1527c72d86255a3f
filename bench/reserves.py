"""Benchmark: reserve reads at a pinned block/slot.

Ethereum: N addresses x (ETH + USDC + wrapped BTC) on a local Anvil, read at one pinned
finalized block with Multicall3 aggregate3 (target <= 2 s for 10,000 addresses); the
one-call-per-balance web3 loop is timed on a sample and extrapolated. Solana: N wallets
with SOL + USDC (2N accounts) read from LiteSVM in process (target <= 1 s for 10,000
accounts) and over the LiteSVM JSON-RPC endpoint.

Prints ONE line of key=value pairs. Set-up (funding) is not timed.

    .venv/bin/python bench/reserves.py [--eth N] [--sol N] [--naive-sample N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solders.keypair import Keypair  # noqa: E402

from por.chain.anvil import Anvil  # noqa: E402
from por.chain.ethereum_world import (  # noqa: E402
    connect,
    demo_addresses,
    deploy_world,
    mine,
    mint_tokens,
    set_eth_balances,
)
from por.chain.litesvm_rpc import LiteSvmRpcServer  # noqa: E402
from por.chain.solana_world import create_solana_world, fund_sol, fund_usdc  # noqa: E402
from por.reserves.ethereum import EthereumReader  # noqa: E402
from por.reserves.model import Wallet  # noqa: E402
from por.reserves.solana import LiteSvmReader, SolanaRpcReader  # noqa: E402


def bench_ethereum(count: int, naive_sample: int) -> dict[str, str]:
    with Anvil() as node:
        world = deploy_world(node.url)
        w3 = connect(node.url)
        addresses = demo_addresses(count, "bench")
        t0 = time.perf_counter()
        set_eth_balances(w3, {a: 10**17 + i for i, a in enumerate(addresses)})
        mint_tokens(w3, world.usdc, {a: 10**6 + i for i, a in enumerate(addresses)}, world.deployer)
        mint_tokens(w3, world.wbtc, {a: 10**4 + i for i, a in enumerate(addresses)}, world.deployer)
        mine(w3, 3)
        setup_s = time.perf_counter() - t0
        wallets = [Wallet("ethereum", a, ("ETH", "USDC", "BTC"), "hot") for a in addresses]
        reader = EthereumReader(node.url, world.asset_specs())
        t0 = time.perf_counter()
        reading = reader.read(wallets)
        read_s = time.perf_counter() - t0
        assert reading.method == "multicall3" and len(reading.balances) == 3 * count
        assert reading.amount(addresses[-1], "USDC") == 10**6 + count - 1
        sample = wallets[:naive_sample]
        naive = EthereumReader(node.url, world.asset_specs(), method="naive")
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
    print(" ".join(f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()

"""Benchmark: `por watch` keeping up with one block per second for N addresses.

Anvil mines a block every second (interval mining) holding N addresses x (ETH + USDC +
wrapped BTC); the watch (`por.watch.run_watch`, the code `por watch` runs, this process
pinned to one core) follows it for S seconds, reading all 3N balances at every block
(Multicall3 `aggregate3` chunks at the block's hash). The hour it holds reserves against
is built in memory (net liabilities 90% of the funded totals): verifying a published
hour costs the same as `por verify bundle` once an hour and is not what this measures.

Prints ONE line of key=value pairs: blocks mined and checked, gaps, the per-block read
time (p50, max), the lag (head - block read, max), `keeps_up` (every block read, none
more than one behind), and gauge_s (SHA-256 of 1M 64-byte strings: this host's speed).

    .venv/bin/python bench/watch.py [--addresses N] [--seconds S]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por.chain.anvil import Anvil  # noqa: E402
from por.chain.ethereum_world import (  # noqa: E402
    _rpc,
    connect,
    demo_addresses,
    deploy_world,
    mine,
    mint_tokens,
    set_eth_balances,
)
from por.reserves.values import Wallet  # noqa: E402
from por.watch import WatchConfig, WatchedHour, WatchEvent, run_watch  # noqa: E402


def gauge() -> float:
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with Anvil() as node:
        w3 = connect(node.url)
        world = deploy_world(node.url)
        addresses = demo_addresses(args.addresses, "watch-bench")
        eth = {a: 10**17 + i for i, a in enumerate(addresses)}
        usdc = {a: 10**6 + i for i, a in enumerate(addresses)}
        btc = {a: 10**4 + i for i, a in enumerate(addresses)}
        set_eth_balances(w3, eth)
        mint_tokens(w3, world.usdc, usdc, world.deployer)
        mint_tokens(w3, world.wbtc, btc, world.deployer)
        mine(w3, 3)
        funded = {"ETH": sum(eth.values()), "USDC": sum(usdc.values()), "BTC": sum(btc.values())}
        hour = WatchedHour(
            snapshot_id="bench",
            log_size=1,
            net_liabilities={a: v * 9 // 10 for a, v in funded.items()},
            wallets={
                "ethereum": tuple(
                    Wallet("ethereum", a, ("ETH", "USDC", "BTC"), "hot") for a in addresses
                )
            },
            assets={"ethereum": world.asset_specs(), "solana": {}},
            published={},
            pins={},
            liabilities="pass",
        )
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
        first = w3.eth.block_number
        _rpc(w3, "evm_setIntervalMining", [1])  # a block every second from now on
        blocks: list[tuple[int, int, int]] = []  # (block, lag, read_ms)
        kinds: dict[str, int] = {}

        def emit(event: WatchEvent) -> None:
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
            if event.kind == "block":
                f = event.fields
                blocks.append((int(f["block"]), int(f["lag"]), int(f["read_ms"])))

        config = WatchConfig(
            site="(in memory)",
            public_key=bytes(32),
            eth_rpc=node.url,
            interval_s=0.2,
            max_seconds=args.seconds,
            site_every_s=1e9,
            each_block=True,
        )
        code = run_watch(config, emit, load_hour=lambda _s, _k: hour)
        last = w3.eth.block_number
        _rpc(w3, "evm_setIntervalMining", [0])
    reads = sorted(ms for _, _, ms in blocks)
    checked = {b for b, _, _ in blocks}
    mined = set(range(min(checked), max(checked) + 1)) if checked else set()
    max_lag = max((lag for _, lag, _ in blocks), default=-1)
    out = {
        "addresses": str(args.addresses),
        "balances_per_block": str(3 * args.addresses),
        "seconds": f"{args.seconds:g}",
        "blocks_mined": str(last - first),
        "blocks_checked": str(len(checked)),
        "gaps": str(kinds.get("gap", 0)),
        "shortfalls": str(kinds.get("shortfall", 0)),
        "read_ms_p50": str(reads[len(reads) // 2] if reads else -1),
        "read_ms_max": str(reads[-1] if reads else -1),
        "lag_max_blocks": str(max_lag),
        "keeps_up": str(bool(blocks) and checked == mined and max_lag <= 1 and code == 0).lower(),
        "cores": "1",
        "gauge_s": f"{gauge():.3f}",
    }
    print(" ".join(f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()

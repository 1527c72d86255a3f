#!/usr/bin/env python3
"""One mark update with 100,000 open positions: how long finding every account to
liquidate takes through the headroom index, against a full scan (the reference).

Setup (not timed): BTC-PERP (margin's default BTC curves: IMF 2 %, MMF 1 % growing with
sqrt(notional)), USDC collateral, N seeded longs and shorts at 2x-50x leverage with entries
spread +-2 % around 60,000, one counterparty holding the net; the index is built by one
full pass (accounts already underwater are handed to the counterparty, as liquidation
would have done). Then the mark drops by --move basis points and `find_liquidatable` runs once
(timed, as the liquidation job calls it; best of --repeat fresh builds). Prints one line:

    positions=... move_bp=... liquidatable=... candidates=... find_ms=... find_cpu_ms=...
    index_ms=... scan_ms=... heap_entries=...

find_ms = index query (index_ms: the heap pops; `candidates` accounts left their interval) +
the exact check of each candidate (`recheck` from the kept numbers of a single-position
account, else `evaluate`: margin's `account_risk`);
find_cpu_ms = time.process_time of the same span (less inflated by other jobs on a shared
machine than wall time).

`liquidatable` must equal the full scan's count (checked; exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange.engine import Exchange  # noqa: E402
from exchange.liquidation import (  # noqa: E402
    HeadroomIndex,
    find_liquidatable,
    liquidation_state,
    scan_liquidatable,
)
from exchange.matching import Position, matching_state  # noqa: E402
from exchange.pricing import pricing_state  # noqa: E402
from exchange.registry import default_registry  # noqa: E402

USDC = 1_000_000
BTC = 100_000_000
PRICE = 60_000 * USDC
SETUP = (
    '{"cmd":"asset","symbol":"BTC","decimals":8}',
    '{"cmd":"asset","symbol":"USDC","decimals":6}',
    '{"cmd":"clock","time":"2026-11-24T16:00:00Z"}',
    '{"cmd":"market","symbol":"BTC-PERP","kind":"perp","base":"BTC","quote":"USDC",'
    '"tick_size":"1000000","step_size":"100000","min_notional":"0",'
    '"maker_fee_ppm":0,"taker_fee_ppm":0}',
    '{"cmd":"perp_params","market":"BTC-PERP"}',
    f'{{"cmd":"index_price","asset":"BTC","price":"{PRICE}"}}',
    f'{{"cmd":"mark_price","market":"BTC-PERP","price":"{PRICE}"}}',
)


def build(n: int, seed: int) -> Exchange:
    ex = Exchange(default_registry())
    for line in SETUP:
        assert ex.apply_line(line).accepted, line
    state = ex.state
    ms = matching_state(state)
    rng = random.Random(seed)
    net = 0
    for i in range(n):
        account = f"t{i:06d}"
        state.accounts[account] = "user"
        collateral = rng.randrange(1_000, 50_000) * USDC
        state.balances[(account, "USDC", "available")] = collateral
        leverage = rng.randrange(20, 500)  # tenths: 2x .. 50x
        entry = PRICE * rng.randrange(9_800, 10_200) // 10_000
        size = collateral * leverage * BTC // (10 * entry) // 100_000 * 100_000 or 100_000
        if rng.random() < 0.5:
            size = -size
        ms.positions[(account, "BTC-PERP")] = Position(size, size * entry // BTC)
        net += size
    state.accounts["house"] = "user"
    state.balances[("house", "USDC", "available")] = 10**18
    ms.positions[("house", "BTC-PERP")] = Position(-net, -net * PRICE // BTC)
    for account in find_liquidatable(state):  # the first pass indexes everyone; accounts
        pos = ms.positions.pop((account, "BTC-PERP"))  # already underwater would have been
        ms.positions[("house", "BTC-PERP")].size += pos.size  # liquidated: hand them over
        liquidation_state(state).dirty.add(account)
    find_liquidatable(state)
    return ex


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--move", type=int, default=-20, help="mark move in basis points")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    best = float("inf")  # float-ok: wall-clock timing of the benchmark, not money
    crossed_s, checked, best_cpu = best, 0, best
    found: list[str] = []
    state = None
    crossed = HeadroomIndex.crossed
    seen: list[tuple[float, int]] = []  # float-ok: wall-clock timing, not money

    def timed(index: HeadroomIndex, prices: dict[str, int]) -> set[str]:
        start = time.perf_counter()
        out = crossed(index, prices)
        seen.append((time.perf_counter() - start, len(out)))
        return out

    HeadroomIndex.crossed = timed  # type: ignore[method-assign]  # index_ms, candidates
    for _ in range(args.repeat):
        ex = build(args.positions, args.seed)
        state = ex.state
        ps = pricing_state(state)
        new = PRICE * (10_000 + args.move) // 10_000
        ps.mark["BTC-PERP"] = new
        ps.index["BTC"] = new
        assert not liquidation_state(state).dirty
        seen.clear()
        cpu = time.process_time()
        start = time.perf_counter()
        found = find_liquidatable(state)
        end = time.perf_counter()
        cpu = time.process_time() - cpu
        best_cpu = min(best_cpu, cpu)
        if end - start < best:
            best, (crossed_s, checked) = end - start, seen[0]
    assert state is not None
    start = time.perf_counter()
    reference = scan_liquidatable(state)
    scan = time.perf_counter() - start
    entries = liquidation_state(state).index.size()
    print(
        f"positions={args.positions} move_bp={args.move} liquidatable={len(found)} "
        f"candidates={checked} find_ms={best * 1000:.1f} find_cpu_ms={best_cpu * 1000:.1f} "
        f"index_ms={crossed_s * 1000:.1f} "
        f"scan_ms={scan * 1000:.0f} heap_entries={entries}"
    )
    if found != reference:
        print(f"index found {len(found)}, full scan {len(reference)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Margin, settlement and lending throughput. Prints one line:

    settle_accounts=... settle_s=... settle_cpu_s=... interest_lends=... interest_s=... \
    interest_cpu_s=... risk_checks=... risk_check_us=...

- settle: one 10 s settlement tick over N accounts with perp positions (half long with only
  BTC collateral, half short with USDC lent), after the mark moved: every account realises
  PnL; longs lose and borrow USDC, shorts win and lend it. Timed: the settlement job alone
  (one journal entry; other modules' jobs at the same instant, e.g. liquidation's scan,
  are theirs to measure).
- interest: the hourly interest posting of a USDC pool with M lenders and 1,000 borrowers.
  Timed: the job alone (one journal entry of M + 1,000 legs).
- risk: the pre-trade margin check of a perp order (account with 3 markets' exposure).

Setup builds deposits through commands and, for speed, positions and the 1M lends
directly in the module states (the same structures the handlers build). Garbage collection
is frozen after setup (`gc.freeze()`), as a long-running exchange process would do; the
machine has 2 cores shared with other jobs, so figures are pessimistic.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from typing import Any

from exchange.engine import Exchange
from exchange.lending import lending_state
from exchange.lending._interest import post_interest
from exchange.margin import MarginRisk
from exchange.matching import OrderType, SelfTradePrevention, Side
from exchange.model import format_time, lending_pool
from exchange.settlement import settle
from exchange.values import RAY

USDC = 1_000_000
BTC = 100_000_000
T0 = 1_795_536_000_000  # 2026-11-24T16:00:00Z


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


def clock(ms: int) -> str:
    return cmd("clock", time=format_time(ms))


def world(ex: Exchange) -> None:
    for line in (
        cmd("asset", symbol="BTC", decimals=8),
        cmd("asset", symbol="USDC", decimals=6),
        cmd("lending_pool", asset="BTC"),
        cmd("lending_pool", asset="USDC"),
        cmd("collateral_params", asset="BTC", weight="0.9"),
        cmd("market", symbol="BTC-PERP", kind="perp", base="BTC", quote="USDC",
            tick_size="1000000", step_size="100000", min_notional="1000000",
            maker_fee_ppm=0, taker_fee_ppm=0),
        clock(T0 + 1),
        cmd("index_price", asset="BTC", price=str(50_000 * USDC)),
        cmd("mark_price", market="BTC-PERP", price=str(50_000 * USDC)),
    ):  # fmt: skip
        ev = ex.apply_line(line)
        assert ev.accepted, ev


def bench_settlement(n: int) -> tuple[float, float]:
    ex = Exchange()
    world(ex)
    ms = ex.state.ext["matching"]
    for i in range(n):
        a = f"u{i}"
        if i % 2:
            ex.apply_line(cmd("deposit", account=a, asset="USDC", amount=str(100_000 * USDC),
                              tx=f"t{i}"))  # fmt: skip
            pos = ms.position(a, "BTC-PERP")
            pos.size, pos.basis = -BTC // 10, -5_000 * USDC
        else:
            ex.apply_line(cmd("deposit", account=a, asset="BTC", amount=str(BTC), tx=f"t{i}"))
            pos = ms.position(a, "BTC-PERP")
            pos.size, pos.basis = BTC // 10, 5_000 * USDC
    ex.apply_line(cmd("mark_price", market="BTC-PERP", price=str(48_000 * USDC)))
    ex.state.time = T0 + 10_000
    gc.collect()
    gc.freeze()
    ctx = ex._ctx  # the job as the engine runs it, alone
    ctx._reset()
    cpu = time.process_time()
    start = time.perf_counter()
    settle(ctx, T0 + 10_000)
    ctx._check_touched()
    took = time.perf_counter() - start
    cpu = time.process_time() - cpu
    assert len({p[1] for p in ctx.postings}) >= n, "not every account settled"
    assert ex.state.balance("u0", "USDC", "borrowed") == -200 * USDC
    gc.unfreeze()
    return took, cpu


def bench_interest(m: int, borrowers: int = 1_000) -> tuple[float, float]:
    ex = Exchange()
    world(ex)
    state = ex.state
    balances = state.balances
    pool = lending_state(state).pool("USDC")
    lend = 1_000 * USDC
    for i in range(m):
        a = f"l{i}"
        state.accounts[a] = "user"
        balances[(a, "USDC", "lent")] = lend
        pool.shares[a] = lend * RAY // pool.lend_index
    pool.total_shares = sum(pool.shares.values())
    debt = m * lend // 2 // borrowers  # utilisation 0.5
    for j in range(borrowers):
        b = f"b{j}"
        state.accounts[b] = "user"
        balances[(b, "USDC", "available")] = debt
        balances[(b, "USDC", "borrowed")] = -debt
        pool.debts[b] = debt
    p = lending_pool("USDC")
    balances[(p, "USDC", "supplied")] = -m * lend
    balances[(p, "USDC", "loans")] = debt * borrowers
    balances[(p, "USDC", "liquidity")] = m * lend - debt * borrowers
    balances[("@custody", "USDC", "onchain")] = -m * lend
    gc.collect()
    gc.freeze()
    ctx = ex._ctx  # the job as the engine runs it, alone (no other job in the way)
    ctx._reset()
    cpu = time.process_time()
    start = time.perf_counter()
    post_interest(ctx, T0 + 3_600_000)
    ctx._check_touched()
    took = time.perf_counter() - start
    cpu = time.process_time() - cpu
    legs = len(ctx.postings)
    assert legs >= m + borrowers, f"only {legs} postings"
    gc.unfreeze()
    return took, cpu


def bench_risk(n: int) -> float:
    ex = Exchange()
    world(ex)
    ex.apply_line(cmd("deposit", account="a", asset="BTC", amount=str(10 * BTC), tx="a"))
    ms = ex.state.ext["matching"]
    ms.position("a", "BTC-PERP").size = BTC
    ms.position("a", "BTC-PERP").basis = 50_000 * USDC
    book = ms.books["BTC-PERP"]
    risk = MarginRisk()
    ctx = ex._ctx
    ctx._reset()
    args = (ctx, ms, book, "a", Side.BUY, OrderType.LIMIT, 50_000 * USDC, BTC // 10,
            SelfTradePrevention.REJECT_TAKER, False)  # fmt: skip
    assert risk.check(*args) is None
    start = time.perf_counter()
    for _ in range(n):
        risk.check(*args)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--lends", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=20_000)
    args = parser.parse_args()
    settle_s, settle_cpu = bench_settlement(args.accounts)
    interest_s, interest_cpu = bench_interest(args.lends)
    risk_s = bench_risk(args.checks)
    print(
        f"settle_accounts={args.accounts} settle_s={settle_s:.3f} settle_cpu_s={settle_cpu:.3f} "
        f"interest_lends={args.lends} interest_s={interest_s:.3f} "
        f"interest_cpu_s={interest_cpu:.3f} "
        f"risk_checks={args.checks} risk_check_us={risk_s * 1e6:.1f}"
    )


if __name__ == "__main__":
    main()

"""The hourly interest posting: borrowers pay, lenders earn, the exchange keeps the fee.

For each pool with debts, at every whole hour of ledger time (one journal entry per pool):

1. Borrow index: ib' = ib + ceil(ib * r / (WAD * 8760)), r = annual borrow rate (WAD) at
   the pool's time-weighted utilisation over the hour (`Pool.hour_utilisation`, rounded
   up; `borrow_rate` at the totals when they held all hour), so a borrow just before the
   hour moves the rate only for the time it was out. The posting starts the next hour's
   window (`Pool.restart_window`); a pool without interest to post keeps its window.
2. Borrower j pays i_j = ceil(d_j * ib' / RAY) - debt_j (scaled debt d_j, posted debt_j);
   I = sum of i_j.
3. Lenders' pot P = I - ceil(I * fee): the lend rate is thus borrow rate * U * (1 - fee).
   Lend index: il' = il + floor(max(P - n, 0) * RAY / S), S = total shares, n = lenders.
   Lender k earns l_k = max(0, floor(s_k * il' / RAY) - lent_k); L = sum of l_k <= P
   (each floor can gain at most 1 over the exact share, hence the n margin).
4. The exchange's fee is F = I - L >= ceil(I * fee) >= 0, credited to `@fees` as a lend
   of the pool (it earns like any lender).

So in the journal, borrowers' interest == lenders' interest + fee, exactly, every hour,
and every rounding is in the exchange's favour. The entry:

    B_j.borrowed -i_j ...   P.loans +I   A_k.lent +l_k ...   @fees.lent +F   P.supplied -(L+F)
"""

from __future__ import annotations

from itertools import repeat
from operator import floordiv, mul, neg, sub
from typing import TYPE_CHECKING

from exchange.model import FEES, lending_pool
from exchange.values import FRACTION, HOURS_PER_YEAR, RAY, WAD, ceil_div

from ._bulk import gc_paused
from ._ops import lending_state, pool_totals
from ._pool import hour_rate

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.model import Event
    from exchange.state import LedgerState

__all__ = ["INTEREST_JOB", "INTEREST_PERIOD_MS", "post_interest", "replay_interest"]

INTEREST_JOB = "lending_interest"
INTEREST_PERIOD_MS = 3_600_000


def post_interest(ctx: Context, instant: int) -> None:
    with gc_paused():
        _post_interest(ctx, instant)


def _post_interest(ctx: Context, instant: int) -> None:
    state = ctx.state
    ls = lending_state(state)
    balances = state.balances
    facts: dict[str, dict[str, str]] = {}
    for asset in sorted(ls.pools):
        pool = ls.pools[asset]
        debts = pool.debts
        if not debts:
            continue
        lent, borrowed, _ = pool_totals(state, asset)
        params = ls.params_of(asset)
        ib0 = pool.borrow_index
        ib1 = ib0 + ceil_div(ib0 * hour_rate(pool, params, instant, borrowed, lent),
                             WAD * HOURS_PER_YEAR)  # fmt: skip
        # The entry as columns (Context.post_columns): one leg per borrower, then one per
        # lender (a leg of 0 is dropped, as `post` does), then the pool's and the fee's legs.
        shares = pool.shares
        nb = len(debts)
        accounts = [*debts, *shares]
        buckets = ["borrowed"] * nb + ["lent"] * len(shares)
        held = ctx.balances_of(asset, accounts, buckets)
        # borrower j: -(interest) = floor(-d_j * ib' / RAY) - borrowed_j, posted when < 0
        owed = map(floordiv, map(mul, map(neg, debts.values()), repeat(ib1)), repeat(RAY))
        amounts = list(map(min, map(sub, owed, held[:nb]), repeat(0)))
        total_i = -sum(amounts)
        if not total_i:
            continue
        pot = total_i - ceil_div(total_i * params.fee, FRACTION)
        il0 = pool.lend_index
        margin = len(shares)
        il1 = il0
        if pool.total_shares and pot > margin:
            il1 = il0 + (pot - margin) * RAY // pool.total_shares
        if il1 != il0:  # lender k: floor(s_k * il' / RAY) - lent_k, posted when > 0
            grown = map(floordiv, map(mul, shares.values(), repeat(il1)), repeat(RAY))
            gains = list(map(sub, grown, held[nb:]))
            if gains and min(gains) < 0:  # (rare: a lend above its shares' value)
                gains = list(map(max, gains, repeat(0)))
            amounts += gains
        else:
            amounts += repeat(0, len(shares))
        total_l = total_i + sum(amounts)
        fee = total_i - total_l
        assert fee >= 0, "lenders were paid more than borrowers paid"  # proven in the docstring
        p = lending_pool(asset)
        old = (ib0, il0, shares.get(FEES), debts.get(FEES), pool.total_shares)
        tw = pool.restart_window(instant)

        def undo(pool=pool, old=old, tw=tw) -> None:  # type: ignore[no-untyped-def]
            pool.borrow_index, pool.lend_index = old[0], old[1]
            pool.restore(FEES, old[2], old[3], old[4])
            pool.tw_start, pool.tw_last, pool.tw_acc = tw

        ctx.on_rollback(undo)
        ctx.post_columns(
            asset,
            accounts,
            buckets,
            amounts,
            (p, asset, "loans", total_i),
            (FEES, asset, "lent", fee),
            (p, asset, "supplied", -(total_l + fee)),
        )
        pool.borrow_index = ib1
        pool.lend_index = il1
        pool.on_lent(FEES, fee, balances.get((FEES, asset, "lent"), 0))
        facts[asset] = {"borrow_index": str(ib1), "lend_index": str(il1), "fee": str(fee)}
    if facts:
        ctx.emit(interest=facts)


def replay_interest(state: LedgerState, event: Event) -> None:
    ls = lending_state(state)
    for asset, f in sorted((event.data or {}).get("interest", {}).items()):
        pool = ls.pool(asset)
        if event.ts is not None:
            pool.restart_window(event.ts)
        pool.borrow_index = int(f["borrow_index"])
        pool.lend_index = int(f["lend_index"])
        pool.on_lent(FEES, int(f["fee"]), state.balances.get((FEES, asset, "lent"), 0))

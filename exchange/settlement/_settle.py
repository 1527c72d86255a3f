"""Settlement every 10 s of ledger time: perp PnL realised into USDC at mark.

For each perp market with a mark, every open position's unrealised PnL
    upnl = floor(size * mark / 10^d) - basis            (rounded against the account)
is realised without changing its size: basis := basis + upnl (the entry resets to mark)
and the position's `realised` grows by upnl, against the market's clearing account
`@perp:SYMBOL` (as the matching engine books realised PnL on fills).

Then each account's whole `pnl_unsettled` balance x in the quote asset (this PnL, plus
PnL and fees of fills and funding since the last tick) is settled:
    x > 0   repays the account's USDC debt first, the rest goes to the USDC lending pool
            (auto-lend on) or to `available` (auto-lend off);
    x < 0   paid from `available`, then by redeeming USDC lends, then by borrowing USDC
            from the pool, as far as the pool allows (liquidity, throttle); what the pool
            cannot cover is paid by selling other collateral on its X/USDC book, IOC at
            the band edge (`_convert.py`, after the entry). What is still owed stays in
            `pnl_unsettled` (negative: liquidation's business).

One journal entry per quote asset and tick; per account at most one leg per bucket:
    acct.pnl_unsettled (upnl - settled)  acct.available / lent / borrowed (settled)
    @perp:M.pnl_unsettled -upnl          @lending:Q liquidity / supplied / loans
"""

from __future__ import annotations

from itertools import repeat
from operator import add
from typing import TYPE_CHECKING, Any

from exchange.lending import gc_paused, lending_state, observe_pool, pool_totals
from exchange.matching import clearing_account, find_matching_state
from exchange.model import lending_pool
from exchange.values import FRACTION, ceil_div

from ._convert import convert_after_settlement, replay_conversions
from ._funding import sample_premiums
from ._state import settlement_state

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.matching import MatchingState
    from exchange.model import Event
    from exchange.state import LedgerState

__all__ = ["SETTLEMENT_JOB", "SETTLEMENT_PERIOD_MS", "replay_settlement", "settle"]

_Undo = tuple[list[Any], list[int], list[int]]

SETTLEMENT_JOB = "settlement"
SETTLEMENT_PERIOD_MS = 10_000


def _marks(state: LedgerState, matching: MatchingState) -> dict[str, int]:
    from exchange.margin import mark_price

    out = {}
    for symbol, book in matching.books.items():
        market = book.market
        if market.is_perp:
            mark = mark_price(state, symbol, market.base)
            if mark is not None:
                out[symbol] = mark
    return out


def _realise(
    matching: MatchingState, marks: dict[str, int]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]], _Undo]:
    """Reset every open position's entry to mark. Returns (quote -> account -> upnl,
    quote -> market -> upnl total, undo: the moved positions, their old bases and old
    realised PnL, as three lists).

    Market facts are looked up once per market, not once per position (this loops over
    every open position every 10 s); `_reference.realise_reference` is the plain loop.
    The undo is kept in flat lists, not a tuple per position: fewer objects for the cyclic
    collector to visit after the tick."""
    books = matching.books
    per_account: dict[str, dict[str, int]] = {}
    per_market: dict[str, dict[str, int]] = {}
    moved_positions: list[Any] = []
    old_bases: list[int] = []
    old_realised: list[int] = []
    keep_position, keep_basis, keep_realised = (
        moved_positions.append,
        old_bases.append,
        old_realised.append,
    )
    of_market: dict[str, tuple[int, int, str]] = {}
    for symbol, mark in marks.items():
        market = books[symbol].market
        of_market[symbol] = (mark, market.scale, market.quote)
    moved: dict[str, int] = {}
    for (account, symbol), pos in matching.positions.items():
        facts = of_market.get(symbol)
        if facts is None:
            continue
        mark, scale, quote = facts
        accounts = per_account.get(quote)
        if accounts is None:
            accounts = per_account[quote] = {}
        size = pos.size
        basis = pos.basis
        if not size and not basis:
            # flat: realised PnL (fills) may still sit unsettled
            if account not in accounts:
                accounts[account] = 0
            continue
        upnl = size * mark // scale - basis
        accounts[account] = accounts.get(account, 0) + upnl
        if upnl:
            realised = pos.realised
            keep_position(pos)
            keep_basis(basis)
            keep_realised(realised)
            pos.basis = basis + upnl
            pos.realised = realised + upnl
            moved[symbol] = moved.get(symbol, 0) + upnl
    for symbol, total in moved.items():
        quote = of_market[symbol][2]
        per_market.setdefault(quote, {})[symbol] = total
    return per_account, per_market, (moved_positions, old_bases, old_realised)


def settle(ctx: Context, instant: int) -> None:
    with gc_paused():  # one bulk entry: see exchange.lending._bulk
        _settle(ctx)


def _settle(ctx: Context) -> None:
    state = ctx.state
    matching = find_matching_state(state)
    if matching is None or not matching.positions:
        return
    marks = _marks(state, matching)
    premiums = sample_premiums(state, matching, marks)
    if premiums:
        settlement_state(state).add_samples(premiums)
        ctx.on_rollback(lambda: settlement_state(state).remove_samples(premiums))
        ctx.emit(premium={m: str(v) for m, v in sorted(premiums.items())})
    per_account, per_market, undo = _realise(matching, marks)
    moved = bool(undo[0])
    if moved:

        def restore() -> None:
            for pos, basis, realised in zip(*undo, strict=True):
                pos.basis, pos.realised = basis, realised

        ctx.on_rollback(restore)
    settled = False
    for quote in sorted(per_account):
        short: list[str] = []
        if _settle_quote(ctx, quote, per_account[quote], per_market.get(quote, {}), short):
            settled = True
        if short:
            convert_after_settlement(ctx, matching, quote, short)
    if settled or moved:
        ctx.emit(marks={m: str(p) for m, p in sorted(marks.items())})


def _settle_quote(
    ctx: Context, quote: str, upnls: dict[str, int], markets: dict[str, int], short: list[str]
) -> bool:
    """Settle one quote asset: one entry, the accounts' legs built as columns (account,
    bucket, amount), the clearing and pool legs after them (`Context.post_columns`). The
    plain loop it must equal, leg for leg, is `_reference._settle_quote_reference`."""
    state = ctx.state
    balances = state.balances
    ls = lending_state(state)
    pool_open = ls.is_open(quote)
    throttle = ls.params_of(quote).throttle
    lent_total, borrowed_total, liquidity = pool_totals(state, quote)
    accounts: list[str] = []
    buckets: list[str] = []
    amounts: list[int] = []
    leg_account, leg_bucket, leg_amount = accounts.append, buckets.append, amounts.append
    to_pool = 0  # lent into the pool (+) or redeemed (-): liquidity and supplied
    loans = 0  # borrowed (+) or repaid (-): liquidity and loans
    # share changes for the pool: account, delta, balance after when it shrinks (flat
    # lists: no tuple per account left for the cyclic collector)
    lenders: list[str] = []
    lent_deltas: list[int] = []
    lent_after: list[int | None] = []
    borrowers: list[str] = []
    debt_deltas: list[int] = []
    debt_after: list[int | None] = []
    losers: list[tuple[str, int, int]] = []
    off = ls.auto_lend_off
    lend_all = pool_open and not off  # nobody opted out of auto-lend
    get = balances.get
    names = list(upnls)
    unsettled = map(get, zip(names, repeat(quote), repeat("pnl_unsettled")), repeat(0))
    totals = list(map(add, unsettled, upnls.values()))  # x: the whole unsettled PnL
    # winners first: their profits add pool liquidity the losers may then borrow
    for account, upnl, x in zip(names, upnls.values(), totals, strict=True):
        if x > 0:
            borrowed = get((account, quote, "borrowed"), 0)
            debt = -borrowed
            repaid = x if x < debt else debt
            rest = x - repaid
            if upnl != x:  # (a leg of 0 would be dropped by `post` anyway)
                leg_account(account)
                leg_bucket("pnl_unsettled")
                leg_amount(upnl - x)
            if repaid:
                leg_account(account)
                leg_bucket("borrowed")
                leg_amount(repaid)
                loans -= repaid
                borrowers.append(account)
                debt_deltas.append(repaid)
                debt_after.append(borrowed + repaid)
            if rest:
                if lend_all or (pool_open and (account, quote) not in off):
                    leg_account(account)
                    leg_bucket("lent")
                    leg_amount(rest)
                    to_pool += rest
                    lenders.append(account)
                    lent_deltas.append(rest)
                    lent_after.append(None)
                else:
                    leg_account(account)
                    leg_bucket("available")
                    leg_amount(rest)
        elif x < 0:
            losers.append((account, upnl, -x))
        elif upnl:
            leg_account(account)
            leg_bucket("pnl_unsettled")
            leg_amount(upnl)
    lent_total += to_pool
    borrowed_total += loans
    liquidity += to_pool - loans
    for account, upnl, loss in losers:
        paid = 0
        have = get((account, quote, "available"), 0)
        if have > 0:
            a = have if have < loss else loss
            leg_account(account)
            leg_bucket("available")
            leg_amount(-a)
            paid += a
        if paid < loss and pool_open:
            lent = get((account, quote, "lent"), 0)
            if lent > 0:
                room = lent_total - ceil_div(borrowed_total * FRACTION, throttle)
                r = min(loss - paid, lent, liquidity, room)
                if r > 0:
                    leg_account(account)
                    leg_bucket("lent")
                    leg_amount(-r)
                    lenders.append(account)
                    lent_deltas.append(-r)
                    lent_after.append(lent - r)
                    to_pool -= r
                    lent_total -= r
                    liquidity -= r
                    paid += r
            if paid < loss:
                room = lent_total * throttle // FRACTION - borrowed_total
                b = min(loss - paid, liquidity, room)
                if b > 0:
                    leg_account(account)
                    leg_bucket("borrowed")
                    leg_amount(-b)
                    borrowers.append(account)
                    debt_deltas.append(-b)
                    debt_after.append(None)
                    loans += b
                    borrowed_total += b
                    liquidity -= b
                    paid += b
        if paid < loss:
            short.append(account)
        if upnl + paid:
            leg_account(account)
            leg_bucket("pnl_unsettled")
            leg_amount(upnl + paid)
    if not amounts:
        return False
    legs = [(clearing_account(symbol), quote, "pnl_unsettled", -markets[symbol])
            for symbol in sorted(markets)]  # fmt: skip
    if to_pool or loans:
        observe_pool(ctx, ls.pool(quote))
        p = lending_pool(quote)
        legs.append((p, quote, "liquidity", to_pool - loans))
        legs.append((p, quote, "supplied", -to_pool))
        legs.append((p, quote, "loans", loans))
    ctx.post_columns(quote, accounts, buckets, amounts, *legs)
    if lenders or borrowers:
        pool = ls.pool(quote)
        shares, pool_debts = pool.shares, pool.debts
        old_shares = list(map(shares.get, lenders))
        old_debts = list(map(pool_debts.get, borrowers))
        total = pool.total_shares

        def undo() -> None:
            for table, who, olds in (
                (shares, lenders, old_shares),
                (pool_debts, borrowers, old_debts),
            ):
                for a, v in zip(reversed(who), reversed(olds), strict=True):
                    if v is None:
                        table.pop(a, None)
                    else:
                        table[a] = v
            pool.total_shares = total

        ctx.on_rollback(undo)
        pool.on_lent_many(zip(lenders, lent_deltas, lent_after, strict=True))
        pool.on_borrowed_many(zip(borrowers, debt_deltas, debt_after, strict=True))
    return True


def replay_settlement(state: LedgerState, event: Event) -> None:
    """Re-apply the entry resets at the recorded marks (postings are already applied;
    lends and debts come back through the lending module's share hook)."""
    data = event.data or {}
    if "premium" in data:
        settlement_state(state).add_samples({m: int(v) for m, v in data["premium"].items()})
    marks = {m: int(p) for m, p in data.get("marks", {}).items()}
    matching = find_matching_state(state)
    if marks and matching is not None:
        _realise(matching, marks)
    if "orders" in data and matching is not None:
        replay_conversions(matching, data, event.seq)

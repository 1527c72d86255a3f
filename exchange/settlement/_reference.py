"""Plain reference of the settlement tick (`_settle.settle`): the same rules as a Python
loop per position and account, posted leg by leg (`Context.post_each`). The fast path
must post exactly the same entry and leave the same positions and pool shares; tests
compare them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.lending import lending_state, observe_pool, pool_totals
from exchange.matching import clearing_account, find_matching_state
from exchange.model import lending_pool
from exchange.values import FRACTION, ceil_div

from ._convert import convert_after_settlement
from ._funding import sample_premiums
from ._state import settlement_state

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.matching import MatchingState
    from exchange.state import LedgerState

__all__ = ["realise_reference", "settle_reference"]


def _marks_reference(state: LedgerState, matching: MatchingState) -> dict[str, int]:
    from exchange.margin import mark_price

    out = {}
    for symbol, book in matching.books.items():
        market = book.market
        if market.is_perp:
            mark = mark_price(state, symbol, market.base)
            if mark is not None:
                out[symbol] = mark
    return out


def realise_reference(
    matching: MatchingState, marks: dict[str, int]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]], list[tuple[Any, int, int]]]:
    """Reset every open position's entry to mark. Returns (quote -> account -> upnl,
    quote -> market -> upnl total, undo list of (position, old basis, old realised))."""
    books = matching.books
    per_account: dict[str, dict[str, int]] = {}
    per_market: dict[str, dict[str, int]] = {}
    undo: list[tuple[Any, int, int]] = []
    for (account, symbol), pos in matching.positions.items():
        mark = marks.get(symbol)
        if mark is None:
            continue
        size = pos.size
        if not size and not pos.basis:
            # flat: realised PnL (fills) may still sit unsettled
            quote = books[symbol].market.quote
            per_account.setdefault(quote, {}).setdefault(account, 0)
            continue
        market = books[symbol].market
        upnl = size * mark // market.scale - pos.basis
        quote = market.quote
        accounts = per_account.setdefault(quote, {})
        accounts[account] = accounts.get(account, 0) + upnl
        if upnl:
            undo.append((pos, pos.basis, pos.realised))
            pos.basis += upnl
            pos.realised += upnl
            totals = per_market.setdefault(quote, {})
            totals[symbol] = totals.get(symbol, 0) + upnl
    return per_account, per_market, undo


def settle_reference(ctx: Context, instant: int) -> None:
    """The settlement tick as a Python loop per position and account, posted leg by leg."""
    state = ctx.state
    matching = find_matching_state(state)
    if matching is None or not matching.positions:
        return
    marks = _marks_reference(state, matching)
    premiums = sample_premiums(state, matching, marks)
    if premiums:
        settlement_state(state).add_samples(premiums)
        ctx.on_rollback(lambda: settlement_state(state).remove_samples(premiums))
        ctx.emit(premium={m: str(v) for m, v in sorted(premiums.items())})
    per_account, per_market, undo = realise_reference(matching, marks)
    if undo:

        def restore() -> None:
            for pos, basis, realised in undo:
                pos.basis, pos.realised = basis, realised

        ctx.on_rollback(restore)
    settled = False
    for quote in sorted(per_account):
        short: list[str] = []
        if _settle_quote_reference(
            ctx, quote, per_account[quote], per_market.get(quote, {}), short
        ):
            settled = True
        if short:
            convert_after_settlement(ctx, matching, quote, short)
    if settled or undo:
        ctx.emit(marks={m: str(p) for m, p in sorted(marks.items())})


def _settle_quote_reference(
    ctx: Context, quote: str, upnls: dict[str, int], markets: dict[str, int], short: list[str]
) -> bool:
    state = ctx.state
    balances = state.balances
    ls = lending_state(state)
    pool_open = ls.is_open(quote)
    throttle = ls.params_of(quote).throttle
    lent_total, borrowed_total, liquidity = pool_totals(state, quote)
    legs: list[tuple[str, str, str, int]] = []
    append = legs.append
    to_pool = 0  # lent into the pool (+) or redeemed (-): liquidity and supplied
    loans = 0  # borrowed (+) or repaid (-): liquidity and loans
    lends: list[tuple[str, int]] = []
    debts: list[tuple[str, int]] = []
    losers: list[tuple[str, int, int]] = []
    off = ls.auto_lend_off
    get = balances.get
    # winners first: their profits add pool liquidity the losers may then borrow
    for account, upnl in upnls.items():
        x = get((account, quote, "pnl_unsettled"), 0) + upnl
        if x > 0:
            debt = -get((account, quote, "borrowed"), 0)
            repaid = x if x < debt else debt
            rest = x - repaid
            append((account, quote, "pnl_unsettled", upnl - x))
            if repaid:
                append((account, quote, "borrowed", repaid))
                loans -= repaid
                debts.append((account, repaid))  # the change of the borrowed bucket
            if rest:
                if pool_open and (account, quote) not in off:
                    append((account, quote, "lent", rest))
                    to_pool += rest
                    lends.append((account, rest))
                else:
                    append((account, quote, "available", rest))
        elif x < 0:
            losers.append((account, upnl, -x))
        elif upnl:
            append((account, quote, "pnl_unsettled", upnl))
    lent_total += to_pool
    borrowed_total += loans
    liquidity += to_pool - loans
    for account, upnl, loss in losers:
        paid = 0
        have = get((account, quote, "available"), 0)
        if have > 0:
            a = have if have < loss else loss
            append((account, quote, "available", -a))
            paid += a
        if paid < loss and pool_open:
            lent = get((account, quote, "lent"), 0)
            if lent > 0:
                room = lent_total - ceil_div(borrowed_total * FRACTION, throttle)
                r = min(loss - paid, lent, liquidity, room)
                if r > 0:
                    append((account, quote, "lent", -r))
                    lends.append((account, -r))
                    to_pool -= r
                    lent_total -= r
                    liquidity -= r
                    paid += r
            if paid < loss:
                room = lent_total * throttle // FRACTION - borrowed_total
                b = min(loss - paid, liquidity, room)
                if b > 0:
                    append((account, quote, "borrowed", -b))
                    debts.append((account, -b))
                    loans += b
                    borrowed_total += b
                    liquidity -= b
                    paid += b
        if paid < loss:
            short.append(account)
        if upnl + paid:
            append((account, quote, "pnl_unsettled", upnl + paid))
    if not legs:
        return False
    for symbol in sorted(markets):
        append((clearing_account(symbol), quote, "pnl_unsettled", -markets[symbol]))
    if to_pool or loans:
        observe_pool(ctx, ls.pool(quote))
        p = lending_pool(quote)
        append((p, quote, "liquidity", to_pool - loans))
        append((p, quote, "supplied", -to_pool))
        append((p, quote, "loans", loans))
    ctx.post_each(*legs)
    if lends or debts:
        pool = ls.pool(quote)
        shares, pool_debts = pool.shares, pool.debts
        old_shares = [(a, shares.get(a)) for a, _ in lends]
        old_debts = [(a, pool_debts.get(a)) for a, _ in debts]
        total = pool.total_shares

        def undo() -> None:
            for table, olds in ((shares, old_shares), (pool_debts, old_debts)):
                for a, v in reversed(olds):
                    if v is None:
                        table.pop(a, None)
                    else:
                        table[a] = v
            pool.total_shares = total

        ctx.on_rollback(undo)
        on_lent, on_borrowed = pool.on_lent, pool.on_borrowed
        for account, delta in lends:
            on_lent(account, delta, get((account, quote, "lent"), 0))
        for account, delta in debts:
            on_borrowed(account, delta, get((account, quote, "borrowed"), 0))
    return True

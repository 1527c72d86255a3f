"""What a fill or a cancel does to the ledger and the engine's indexes: posting spot fills,
releasing a cancelled order's lock, forgetting finished orders. One home for the general
path (`_commands`) and the fast path (`_fast`), which both import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.market import Market
from exchange.model import FEES
from exchange.values import PPM, Side

if TYPE_CHECKING:
    from exchange.engine import Context, Leg

    from ._book import OrderBook, RestingOrder
    from ._state import MatchingState

__all__ = ["cancel_order", "forget", "forget_filled", "post_spot_fills", "unlock"]


def forget(ms: MatchingState, symbol: str, order: RestingOrder) -> None:
    """Drop a finished order (filled or cancelled) from the engine's indexes."""
    if order.client_id is not None:
        del ms.client_ids[(order.account, order.client_id)]
    if order.reduce_only:
        key = (order.account, symbol)
        orders = ms.reduce_only[key]
        orders.remove(order)
        if not orders:
            del ms.reduce_only[key]


def unlock(ctx: Context | None, market: Market, order: RestingOrder) -> None:
    """Give back what a resting spot order reserved (locked_order -> available)."""
    if ctx is None or market.kind:
        return
    if order.side:
        ctx.move(order.account, market.base, "locked_order", "available", order.remaining)
    else:
        amount = market.buy_lock(order.remaining, order.price)
        ctx.move(order.account, market.quote, "locked_order", "available", amount)


def cancel_order(
    ctx: Context | None, ms: MatchingState, book: OrderBook, order: RestingOrder
) -> None:
    """Cancel a resting order: out of the book, its lock released (live only), its client
    id and reduce-only entry forgotten. The `cancel` commands use it, and so do other
    modules (liquidation cancels every open order of an account it takes over)."""
    book.cancel(order.order_id)
    unlock(ctx, book.market, order)
    forget(ms, book.market.symbol, order)


def forget_filled(
    ms: MatchingState, symbol: str, fills: list[tuple[RestingOrder, int, int]]
) -> None:
    """`forget` the makers the fills completed."""
    for maker, _, _ in fills:
        if not maker.remaining:
            forget(ms, symbol, maker)


def post_spot_fills(
    ctx: Context,
    ms: MatchingState,
    market: Market,
    account: str,
    side: Side,
    fills: list[tuple[RestingOrder, int, int]],
) -> None:
    """Book spot fills: one balanced entry per fill (base and quote between taker and
    maker, both fees to @fees, rounded up), posted with `Context.post_entries` (the entries
    name the market's assets, accounts that hold orders and core buckets); makers that
    filled completely are forgotten. Used by the general and the fast order path."""
    symbol = market.symbol
    scale = market.scale
    taker_ppm = market.taker_fee_ppm
    maker_ppm = market.maker_fee_ppm
    base = market.base
    quote = market.quote
    entries: list[tuple[Leg, ...]] = []
    add = entries.append
    forget_filled(ms, symbol, fills)
    if side:  # taker sells into resting bids
        for maker, q, price in fills:
            notional = q * price // scale
            fee_t = -(-notional * taker_ppm // PPM)
            fee_m = -(-notional * maker_ppm // PPM)
            release = market.buy_lock(q, price)  # the maker's lock of q
            other = maker.account
            add((
                (account, base, "available", -q),
                (account, quote, "available", notional - fee_t),
                (other, quote, "locked_order", -release),
                (other, quote, "available", release - notional - fee_m),
                (other, base, "available", q),
                (FEES, quote, "available", fee_t + fee_m),
            ))  # fmt: skip
    else:  # taker buys from resting asks
        for maker, q, price in fills:
            notional = q * price // scale
            fee_t = -(-notional * taker_ppm // PPM)
            fee_m = -(-notional * maker_ppm // PPM)
            other = maker.account
            add((
                (account, quote, "available", -notional - fee_t),
                (account, base, "available", q),
                (other, base, "locked_order", -q),
                (other, quote, "available", notional - fee_m),
                (FEES, quote, "available", fee_t + fee_m),
            ))  # fmt: skip
    ctx.post_entries(entries)

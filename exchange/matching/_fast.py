"""Fast paths of `order` and `cancel` (see `exchange.engine.FastPath`): the common commands
of a busy spot book, executed in one call straight from the command's dict.

`fast_order` takes a limit order (GTC or IOC; no `type`, `post_only`, `reduce_only`, `stp`,
`cid` or `ts` field) on an Open spot market; `fast_cancel` a cancel by id of an open order
of the account. They run the general path's checks in the same order (`_commands._place`,
`_commands._cancel`), change the book the same way (`OrderBook.place_limit`, the tail of
`OrderBook.place`), post the same entries (fill entries through `Context.post_entries`) and
emit the same data, with fewer Python calls: no params object, each check once, the
default risk check and the lock inline.

Anything else, and any command the general path would reject before matching (unknown
account or order, off the grid, not enough available), is declined (False) before anything
changed and takes the general path, which gives the exact reject. `tests/exchange/matching/
test_matching_fast.py` runs random streams with and without the fast paths and demands
identical events, balances and digests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.fields import MAX_ID_LENGTH
from exchange.market import MAX_PRICE, MAX_QUANTITY
from exchange.values import PPM, OrderType, SelfTradePrevention, Side, TimeInForce

from ._book import NO_BAND
from ._errors import OrderRejected
from ._fills import cancel_order, post_spot_fills
from ._risk import DefaultRisk
from ._state import MODULE

if TYPE_CHECKING:
    from exchange.engine import Context

    from ._state import MatchingState

__all__ = ["fast_cancel", "fast_order"]

_BUY = Side.BUY
_SELL = Side.SELL
_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_LIMIT = OrderType.LIMIT
_REJECT_TAKER = SelfTradePrevention.REJECT_TAKER


def fast_order(ctx: Context, raw: dict[str, Any]) -> bool:
    """`order` of the common shape, or False (nothing changed): see the module docstring."""
    # -- shape: exactly cmd, account, market, side, price, quantity (and tif GTC/IOC)
    n = len(raw)
    if n == 6:
        tif = _GTC
    elif n == 7 and "tif" in raw:
        tif = raw["tif"]
        if tif == "GTC":
            tif = _GTC
        elif tif == "IOC":
            tif = _IOC
        else:
            return False
    else:
        return False
    try:
        account = raw["account"]
        symbol = raw["market"]
        side = raw["side"]
        price = raw["price"]
        quantity = raw["quantity"]
    except KeyError:
        return False
    if side == "buy":
        side = _BUY
    elif side == "sell":
        side = _SELL
    else:
        return False
    if not (
        type(account) is str
        and 0 < len(account) <= MAX_ID_LENGTH
        and type(symbol) is str
        and type(price) is str
        and price.isdigit()
        and price.isascii()
        and len(price) <= 40
        and price[0] != "0"
        and type(quantity) is str
        and quantity.isdigit()
        and quantity.isascii()
        and len(quantity) <= 40
        and quantity[0] != "0"
    ):
        return False
    limit = int(price)
    quantity = int(quantity)
    # -- the rules `_place` checks before matching, in its order
    state = ctx.state
    ms: MatchingState = state.ext[MODULE]
    book = ms.books.get(symbol)  # a book's symbol passed the market-symbol check
    if book is None or book.market_state or book.market.kind:
        return False
    if (
        account not in state.accounts
        or account[0] == "@"
        or quantity % book.step
        or quantity > MAX_QUANTITY
        or limit % book.tick
        or limit > MAX_PRICE
        or quantity * limit < book.min_notional_scaled
    ):  # (price and quantity are positive: digits without a leading zero)
        return False
    market = book.market
    band = ms.band
    if band is not NO_BAND:
        try:
            limit = band.order_limit(market, side, limit, False)
        except OrderRejected as rej:
            ctx.reject(rej.code, rej.detail)
        if (
            limit <= 0
            or limit % book.tick
            or limit > MAX_PRICE
            or quantity * limit < book.min_notional_scaled
        ):
            return False  # `OrderBook.place` rejects the band's limit (after the risk check)
    if side:
        lock = quantity
    else:  # `Market.buy_lock(quantity, limit)`, inline
        step = book.step
        per_step = step * limit // market.scale
        lock = quantity // step * (per_step - (-per_step * market.lock_fee_ppm // PPM))
    risk = ms.risk
    if type(risk) is DefaultRisk:  # its limit-order check, inline
        asset = market.base if side else market.quote
        if state.balances.get((account, asset, "available"), 0) < lock:
            return False  # the general path rejects, with its detail
    else:
        code = risk.check(ctx, ms, book, account, side, _LIMIT, limit, quantity, _REJECT_TAKER,
                          False)  # fmt: skip
        if code is not None:
            ctx.reject(code, f"{account} {side.wire} {quantity} {symbol}")

    # -- match and rest; from here on nothing rejects
    oid = ms.next_id
    order = book.place_limit(oid, account, side, limit, quantity, tif)
    ms.next_id = oid + 1
    fills = book.fills
    if not fills:
        if order.resting:  # its whole quantity's lock, reserved
            asset = market.base if side else market.quote
            ctx.move(account, asset, "available", "locked_order", lock)
            ctx.emit(id=oid, rested=quantity)
        else:
            ctx.emit(id=oid, expired=quantity)
        return True
    post_spot_fills(ctx, ms, market, account, side, fills)
    data: dict[str, Any] = {"id": oid, "fills": [[m.order_id, q, p] for m, q, p in fills]}
    fills.clear()
    remaining = order.remaining
    if order.resting:
        if side:
            ctx.move(account, market.base, "available", "locked_order", remaining)
        else:
            ctx.move(account, market.quote, "available", "locked_order",
                     market.buy_lock(remaining, limit))  # fmt: skip
        data["rested"] = remaining
    elif remaining:
        data["expired"] = remaining
    ctx.emit(**data)
    return True


def fast_cancel(ctx: Context, raw: dict[str, Any]) -> bool:
    """`cancel` by id (exactly cmd, account, market, id) of an open order of the account,
    or False (nothing changed): `_commands._cancel` of it, same postings and data."""
    if len(raw) != 4:
        return False
    try:
        account = raw["account"]
        symbol = raw["market"]
        order_id = raw["id"]
    except KeyError:
        return False
    if type(order_id) is not int or type(symbol) is not str or not 0 < order_id < 2**63:
        return False
    state = ctx.state
    ms: MatchingState = state.ext[MODULE]
    book = ms.books.get(symbol)
    if book is None:
        return False
    order = book.orders.get(order_id)
    # (an order's account passed the account-field check when it was placed)
    if (
        order is None
        or order.account != account
        or account not in state.accounts
        or account[0] == "@"
    ):
        return False
    cancel_order(ctx, ms, book, order)
    ctx.emit(id=order_id, cancelled=order.remaining)
    return True

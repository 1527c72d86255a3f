"""The matching commands of the command log: `market`, `order`, `cancel`, `cancel_all`.

Each command has a parser (shape only), a handler (ledger rules, postings) and a replay hook
(rebuilds books and positions from the journal without posting). Handler and replay hook run
the SAME execution function (`_place`, `_cancel`, ...): the handler with the ledger context,
the replay hook without. The replay hook then compares what it computed with what the
handler recorded in the event's data and refuses a journal that disagrees.

Postings (see docs/matching.md for the full table):
  spot resting order   available -> locked_order (buy: quote `Market.buy_lock`, sell: base)
  spot fill            one entry: base seller -> buyer, quote buyer -> seller, fees -> @fees
  perp fill            one entry: realised PnL and fees in pnl_unsettled, counterpart
                       @perp:SYMBOL (clearing), fees -> @fees
  cancel               locked_order -> available (spot)
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from exchange import fields
from exchange.engine import FastPath
from exchange.errors import InvalidCommandError, MarketConfigError
from exchange.market import FEE_PPM_MAX, Market, fee
from exchange.model import FEES, Event
from exchange.values import (
    MarketKind,
    MarketState,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

from ._book import NO_BAND, OrderBook, RestingOrder
from ._errors import OrderRejected, Reject
from ._fast import fast_cancel, fast_order
from ._fills import cancel_order, forget, forget_filled, post_spot_fills, unlock
from ._risk import DefaultRisk
from ._state import MODULE, MatchingState, matching_state

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.registry import Registry
    from exchange.state import LedgerState

__all__ = ["MAX_PERP_NOTIONAL", "clearing_account", "place_order", "register"]

MAX_PERP_NOTIONAL = 10**30  # a perp limit order's notional bound (quote units): no margin yet
_MARKET_RE = re.compile(r"[A-Z0-9]{1,16}([/-][A-Z0-9]{1,16})?")
_BUY = Side.BUY
_SELL = Side.SELL
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_REJECT_TAKER = SelfTradePrevention.REJECT_TAKER


def clearing_account(symbol: str) -> str:
    """The system account on the other side of a perp market's realised PnL."""
    return f"@perp:{symbol}"


# ---------------------------------------------------------------------------- parsers


def _choice(raw: dict[str, Any], name: str, table: dict[str, Any], default: Any) -> Any:
    value = raw.get(name)
    if value is None:
        if name in raw:
            raise InvalidCommandError(f"field {name!r} must not be null")
        return default
    try:
        return table[value]
    except (KeyError, TypeError):
        raise InvalidCommandError(
            f"field {name!r} must be one of {', '.join(sorted(table))}, got {value!r}"
        ) from None


def _flag(raw: dict[str, Any], name: str) -> bool:
    value = raw.get(name, False)
    if value is not True and value is not False:
        raise InvalidCommandError(f"field {name!r} must be true or false")
    return value


def _market_symbol(raw: dict[str, Any], name: str = "market") -> str:
    value = fields.string(raw, name)
    if not _MARKET_RE.fullmatch(value):
        raise InvalidCommandError(
            f"field {name!r} must look like BTC/USDC or BTC-PERP, got {value!r}"
        )
    return value


_SIDES = {"buy": _BUY, "sell": _SELL}
_TYPES = {"limit": _LIMIT, "market": _MARKET}
_TIFS = {"GTC": _GTC, "IOC": _IOC, "FOK": TimeInForce.FOK}
_STPS = {
    "RejectTaker": _REJECT_TAKER,
    "RejectMaker": SelfTradePrevention.REJECT_MAKER,
    "RejectBoth": SelfTradePrevention.REJECT_BOTH,
}
_KINDS = {kind.wire: kind for kind in MarketKind}
_STATES = {state.wire: state for state in MarketState}


class MarketParams:
    """A parsed `market` command: a full definition, or (kind None) a state change."""

    __slots__ = (
        "base",
        "kind",
        "maker_fee_ppm",
        "min_notional",
        "quote",
        "state",
        "step_size",
        "symbol",
        "taker_fee_ppm",
        "tick_size",
    )

    def __init__(self, raw: dict[str, Any]) -> None:
        self.symbol = _market_symbol(raw, "symbol")
        self.kind: MarketKind | None = _choice(raw, "kind", _KINDS, None)
        if self.kind is None:
            if "state" not in raw:
                raise InvalidCommandError("a market command needs 'kind' (define) or 'state'")
            self.state: MarketState = _choice(raw, "state", _STATES, None)
            return
        self.state = _choice(raw, "state", _STATES, MarketState.OPEN)
        self.base = fields.symbol(raw, "base")
        self.quote = fields.symbol(raw, "quote")
        self.tick_size = fields.amount(raw, "tick_size")
        self.step_size = fields.amount(raw, "step_size")
        self.min_notional = fields.amount(raw, "min_notional")
        self.maker_fee_ppm = fields.integer(raw, "maker_fee_ppm", -FEE_PPM_MAX, FEE_PPM_MAX)
        self.taker_fee_ppm = fields.integer(raw, "taker_fee_ppm", -FEE_PPM_MAX, FEE_PPM_MAX)


def _amount(raw: dict[str, Any], name: str) -> int:
    """`fields.amount` with a fast path for the common case: plain ASCII digits."""
    value = raw.get(name)
    if (
        type(value) is str
        and value.isdigit()
        and value.isascii()
        and len(value) <= 40
        and (value[0] != "0" or len(value) == 1)
    ):
        return int(value)
    return fields.amount(raw, name)  # the slow path: signs, and the exact error message


def _account(raw: dict[str, Any]) -> str:
    value = raw.get("account")
    if type(value) is str and 0 < len(value) <= fields.MAX_ID_LENGTH:
        return value
    return fields.string(raw, "account")  # raises the exact error


_KNOWN_MARKETS: set[str] = set()  # market strings whose shape was checked (bounded below)


def _market_fast(raw: dict[str, Any]) -> str:
    value = raw.get("market")
    if type(value) is str and value in _KNOWN_MARKETS:
        return value
    value = _market_symbol(raw)
    if len(_KNOWN_MARKETS) < 1024:
        _KNOWN_MARKETS.add(value)
    return value


class OrderParams:
    """A parsed `order` command (shape only; rules are the handler's)."""

    __slots__ = (
        "account",
        "cid",
        "market",
        "order_type",
        "post_only",
        "price",
        "quantity",
        "reduce_only",
        "side",
        "stp",
        "tif",
    )

    def __init__(self, raw: dict[str, Any]) -> None:
        get = raw.get
        account = get("account")
        if type(account) is not str or not 0 < len(account) <= fields.MAX_ID_LENGTH:
            account = fields.string(raw, "account")  # raises the exact error
        self.account = account
        market = get("market")
        self.market = (
            market if type(market) is str and market in _KNOWN_MARKETS else (_market_fast(raw))
        )
        side = get("side")
        if side == "buy":
            self.side = _BUY
        elif side == "sell":
            self.side = _SELL
        elif side is None and "side" not in raw:
            raise InvalidCommandError("missing field 'side'")
        else:
            self.side = _choice(raw, "side", _SIDES, None)
        order_type = _choice(raw, "type", _TYPES, _LIMIT) if "type" in raw else _LIMIT
        self.order_type: OrderType = order_type
        if order_type == _LIMIT:
            price = get("price")
            self.price = (
                int(price)
                if type(price) is str and price.isdigit() and price.isascii()
                and len(price) <= 40 and price[0] != "0"
                else fields.amount(raw, "price")
            )  # fmt: skip
            self.tif: TimeInForce = _choice(raw, "tif", _TIFS, _GTC) if "tif" in raw else _GTC
        else:
            if "price" in raw:
                raise InvalidCommandError("a market order has no 'price'")
            self.price = 0
            self.tif = _choice(raw, "tif", _TIFS, _IOC)
        quantity = get("quantity")
        self.quantity = (
            int(quantity)
            if type(quantity) is str and quantity.isdigit() and quantity.isascii()
            and len(quantity) <= 40 and quantity[0] != "0"
            else fields.amount(raw, "quantity")
        )  # fmt: skip
        self.post_only = _flag(raw, "post_only") if "post_only" in raw else False
        self.reduce_only = _flag(raw, "reduce_only") if "reduce_only" in raw else False
        self.stp: SelfTradePrevention = (
            _choice(raw, "stp", _STPS, _REJECT_TAKER) if "stp" in raw else _REJECT_TAKER
        )
        self.cid = fields.optional_string(raw, "cid") if "cid" in raw else None


class CancelParams:
    """A parsed `cancel` command: by engine order id or by client order id."""

    __slots__ = ("account", "cid", "market", "order_id")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.account = _account(raw)
        self.market = _market_fast(raw)
        order_id = raw.get("id")
        if type(order_id) is not int or not 0 < order_id < 2**63:  # (the common case inline)
            order_id = fields.integer(raw, "id", 1, 2**63 - 1) if "id" in raw else None
        self.order_id = order_id
        self.cid = fields.optional_string(raw, "cid") if "cid" in raw else None
        if (self.order_id is None) == (self.cid is None):
            raise InvalidCommandError("a cancel names exactly one of 'id' and 'cid'")


class CancelAllParams:
    __slots__ = ("account", "market")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.account = fields.string(raw, "account")
        self.market = _market_symbol(raw) if "market" in raw else None


# ---------------------------------------------------------------------------- shared execution


def _book(ms: MatchingState, symbol: str) -> OrderBook:
    book = ms.books.get(symbol)
    if book is None:
        raise OrderRejected(Reject.UNKNOWN_MARKET, symbol)
    return book


def place_order(
    ctx: Context | None, ms: MatchingState, raw: dict[str, Any], oid: int
) -> dict[str, Any]:
    """Place an order for an account from another module's handler (liquidation's IOC
    slices) or its replay hook (ctx None): the `order` command's shape check, rules, risk
    check and matching, under order id `oid`. Returns the event data; raises
    `OrderRejected` (or `InvalidCommandError` for a malformed `raw`) before anything
    changed. The caller advances `ms.next_id` and records what replay needs."""
    return _place(ctx, ms, OrderParams(raw), oid)


def _place(ctx: Context | None, ms: MatchingState, p: OrderParams, oid: int) -> dict[str, Any]:
    """Validate, risk-check (live only), match, book and rest one order. Returns event data.

    Raises `OrderRejected` before anything changed.
    """
    book = ms.books.get(p.market)
    if book is None:
        raise OrderRejected(Reject.UNKNOWN_MARKET, p.market)
    market = book.market
    account = p.account
    side = p.side
    quantity = p.quantity
    if ctx is not None and (account not in ctx.state.accounts or account[0] == "@"):
        ctx.require_user_account(account)  # rejects unknown_account / ..._user_account
    if p.cid is not None and (account, p.cid) in ms.client_ids:
        raise OrderRejected(Reject.DUPLICATE_CLIENT_ORDER_ID, f"{account} {p.cid}")
    limit = book.validate(side, p.price, quantity, p.order_type, p.tif, p.post_only)
    if ms.band is not NO_BAND and p.order_type == _LIMIT:  # price bands (exchange.pricing)
        limit = ms.band.order_limit(market, side, limit, p.post_only)
    perp = market.kind  # MarketKind.PERP is the truthy one
    if p.reduce_only:
        _check_reduce_only(ms, market, account, side, quantity)
    if perp and p.order_type == _LIMIT and quantity * limit // market.scale > MAX_PERP_NOTIONAL:
        raise OrderRejected(Reject.NOTIONAL_ABOVE_MAXIMUM, f"> {MAX_PERP_NOTIONAL}")
    if ctx is not None:
        code = ms.risk.check(
            ctx, ms, book, account, side, p.order_type, limit, quantity, p.stp, p.reduce_only
        )
        if code is not None:
            raise OrderRejected(code, f"{account} {side.wire} {quantity} {market.symbol}")

    order = book.place(
        oid,
        account,
        side,
        limit,
        quantity,
        p.order_type,
        p.tif,
        p.post_only,
        p.stp,
        p.cid,
        p.reduce_only,
    )
    # ---- from here on nothing rejects: the book changed
    data: dict[str, Any] = {"id": oid}
    fills = book.fills
    touched: list[str] | None = None
    if fills:
        if perp:
            _book_perp_fills(ctx, ms, market, order, fills)
            if ms.reduce_only:
                touched = [account] + [maker.account for maker, _, _ in fills]
        else:
            _book_spot_fills(ctx, ms, market, order, fills)
        data["fills"] = [[maker.order_id, q, price] for maker, q, price in fills]
        fills.clear()
    cancelled = book.cancelled
    if cancelled:
        for maker in cancelled:
            unlock(ctx, market, maker)
            forget(ms, market.symbol, maker)
        data["stp_cancelled"] = [maker.order_id for maker in cancelled]
        cancelled.clear()
    if order.resting:
        if ctx is not None and not perp:
            if side:
                ctx.move(account, market.base, "available", "locked_order", order.remaining)
            else:
                lock = market.buy_lock(order.remaining, order.price)
                ctx.move(account, market.quote, "available", "locked_order", lock)
        if p.cid is not None:
            ms.client_ids[(account, p.cid)] = order
        if p.reduce_only:
            ms.reduce_only.setdefault((account, market.symbol), []).append(order)
        data["rested"] = order.remaining
    elif order.remaining:
        data["expired"] = order.remaining
    if touched:
        dropped = _enforce_reduce_only(ctx, ms, book, touched)
        if dropped:
            data["reduce_only_cancelled"] = dropped
    return data


def _book_spot_fills(
    ctx: Context | None,
    ms: MatchingState,
    market: Market,
    taker: RestingOrder,
    fills: list[tuple[RestingOrder, int, int]],
) -> None:
    if ctx is not None:
        post_spot_fills(ctx, ms, market, taker.account, taker.side, fills)
    else:  # replay: the balances come from the journal, only forget
        forget_filled(ms, market.symbol, fills)


def _book_perp_fills(
    ctx: Context | None,
    ms: MatchingState,
    market: Market,
    taker: RestingOrder,
    fills: list[tuple[RestingOrder, int, int]],
) -> None:
    symbol = market.symbol
    scale = market.scale
    taker_ppm = market.taker_fee_ppm
    maker_ppm = market.maker_fee_ppm
    quote = market.quote
    clearing = clearing_account(symbol)
    account = taker.account
    taker_buys = not taker.side
    taker_pos = ms.position(account, symbol)
    for maker, q, price in fills:
        if not maker.remaining:
            forget(ms, symbol, maker)
        notional = q * price // scale
        pnl_t = taker_pos.apply_fill(taker_buys, q, notional)
        pnl_m = ms.position(maker.account, symbol).apply_fill(not taker_buys, q, notional)
        if ctx is None:
            continue
        fee_t = fee(notional, taker_ppm)
        fee_m = fee(notional, maker_ppm)
        ctx.post(
            (account, quote, "pnl_unsettled", pnl_t - fee_t),
            (maker.account, quote, "pnl_unsettled", pnl_m - fee_m),
            (clearing, quote, "pnl_unsettled", -pnl_t - pnl_m),
            (FEES, quote, "available", fee_t + fee_m),
        )


def _check_reduce_only(
    ms: MatchingState, market: Market, account: str, side: Side, quantity: int
) -> None:
    if not market.is_perp:
        raise OrderRejected(Reject.REDUCE_ONLY_REQUIRES_PERP, market.symbol)
    pos = ms.positions.get((account, market.symbol))
    size = pos.size if pos is not None else 0
    if size == 0 or (size > 0) == (side == _BUY):
        raise OrderRejected(Reject.REDUCE_ONLY_WOULD_INCREASE, f"position {size}")
    resting = sum(o.remaining for o in ms.reduce_only.get((account, market.symbol), ()))
    if resting + quantity > abs(size):
        raise OrderRejected(
            Reject.REDUCE_ONLY_EXCEEDS_POSITION,
            f"{quantity} + {resting} resting reduce-only > position {abs(size)}",
        )


def _enforce_reduce_only(
    ctx: Context | None, ms: MatchingState, book: OrderBook, accounts: list[str]
) -> list[int]:
    """Cancel resting reduce-only orders that no longer reduce: wrong side, or (oldest kept
    first) more than the position. Runs after every perp fill for the accounts it touched."""
    symbol = book.market.symbol
    dropped: list[int] = []
    seen: set[str] = set()
    for account in accounts:
        if account in seen:
            continue
        seen.add(account)
        orders = ms.reduce_only.get((account, symbol))
        if not orders:
            continue
        pos = ms.positions.get((account, symbol))
        size = pos.size if pos is not None else 0
        room = abs(size)
        doomed: list[RestingOrder] = []
        for order in orders:
            if size == 0 or (size > 0) == (order.side == _BUY) or order.remaining > room:
                doomed.append(order)
            else:
                room -= order.remaining
        for order in doomed:
            cancel_order(ctx, ms, book, order)
            dropped.append(order.order_id)
    return dropped


def _find(ms: MatchingState, p: CancelParams) -> tuple[OrderBook, RestingOrder]:
    book = _book(ms, p.market)
    if p.order_id is not None:
        order = book.orders.get(p.order_id)
        if order is None:
            raise OrderRejected(Reject.UNKNOWN_ORDER, f"no open order {p.order_id} in {p.market}")
        if order.account != p.account:
            raise OrderRejected(Reject.ORDER_NOT_OWNED, f"order {p.order_id} is not {p.account}'s")
        return book, order
    assert p.cid is not None
    found = ms.client_ids.get((p.account, p.cid))
    if found is None or found.order_id not in book.orders:
        raise OrderRejected(Reject.UNKNOWN_ORDER, f"no open order {p.cid!r} of {p.account}")
    return book, found


def _cancel(ctx: Context | None, ms: MatchingState, p: CancelParams) -> dict[str, Any]:
    book, order = _find(ms, p)
    cancel_order(ctx, ms, book, order)
    return {"id": order.order_id, "cancelled": order.remaining}


def _cancel_all(ctx: Context | None, ms: MatchingState, p: CancelAllParams) -> dict[str, Any]:
    if p.market is not None:
        books = [_book(ms, p.market)]
    else:
        books = [ms.books[symbol] for symbol in sorted(ms.books)]
    ids: list[int] = []
    for book in books:
        for order in book.resting_orders():
            if order.account == p.account:
                cancel_order(ctx, ms, book, order)
                ids.append(order.order_id)
    return {"ids": ids}


def _market(
    ctx: Context | None, ms: MatchingState, p: MarketParams, state: LedgerState
) -> dict[str, Any]:
    """Define a market, or change its state (entering Closed cancels every resting order)."""
    book = ms.books.get(p.symbol)
    if p.kind is None:
        if book is None:
            raise OrderRejected(Reject.UNKNOWN_MARKET, p.symbol)
        new = _replace_state(book.market, p.state)
    else:
        for asset in (p.base, p.quote):
            if asset not in state.assets:
                raise OrderRejected(Reject.UNKNOWN_ASSET, asset)
        try:
            new = Market(
                p.symbol,
                p.kind,
                p.base,
                p.quote,
                state.assets[p.base].decimals,
                p.tick_size,
                p.step_size,
                p.min_notional,
                p.maker_fee_ppm,
                p.taker_fee_ppm,
                p.state,
            )
        except MarketConfigError as exc:
            raise OrderRejected(Reject.MARKET_CONFIG_INVALID, str(exc)) from None
        if book is not None and _replace_state(book.market, p.state) != new:
            raise OrderRejected(
                Reject.MARKET_DEFINITION_MUST_NOT_CHANGE,
                f"{p.symbol}: only 'state' may change once a market exists",
            )
    data: dict[str, Any] = {"state": new.state.wire}
    if book is None:
        if new.is_perp:
            if ctx is not None:
                ctx.open_account(clearing_account(new.symbol), "system")
            else:
                state.accounts.setdefault(clearing_account(new.symbol), "system")
        books = ms.books
        books[new.symbol] = OrderBook(new, ms.band)
        if ctx is not None:
            ctx.on_rollback(lambda: books.pop(new.symbol, None))
        return data
    book.set_market(new)
    if new.state == MarketState.CLOSED:
        ids = []
        for order in book.resting_orders():
            cancel_order(ctx, ms, book, order)
            ids.append(order.order_id)
        data["cancelled"] = ids
    return data


def _replace_state(market: Market, state: MarketState) -> Market:
    from dataclasses import replace

    return replace(market, state=state)


# ---------------------------------------------------------------------------- ledger wiring


def _handle_order(ctx: Context, p: OrderParams) -> None:
    ms: MatchingState = ctx.state.ext[MODULE]
    oid = ms.next_id
    try:
        data = _place(ctx, ms, p, oid)
    except OrderRejected as rej:
        ctx.reject(rej.code, rej.detail)
    ms.next_id = oid + 1
    ctx.emit(**data)


def _handle_cancel(ctx: Context, p: CancelParams) -> None:
    ctx.require_user_account(p.account)
    try:
        data = _cancel(ctx, ctx.state.ext[MODULE], p)
    except OrderRejected as rej:
        ctx.reject(rej.code, rej.detail)
    ctx.emit(**data)


def _handle_cancel_all(ctx: Context, p: CancelAllParams) -> None:
    ctx.require_user_account(p.account)
    try:
        data = _cancel_all(ctx, ctx.state.ext[MODULE], p)
    except OrderRejected as rej:
        ctx.reject(rej.code, rej.detail)
    ctx.emit(**data)


def _handle_market(ctx: Context, p: MarketParams) -> None:
    try:
        data = _market(ctx, ctx.state.ext[MODULE], p, ctx.state)
    except OrderRejected as rej:
        ctx.reject(rej.code, rej.detail)
    ctx.emit(**data)


def _replayer(parse: Any, execute: Any) -> Any:
    """A replay hook: re-run `execute` without the ledger and demand the recorded data."""

    def hook(state: LedgerState, event: Event) -> None:
        ms = matching_state(state)
        params = parse(json.loads(event.command))
        recorded = event.data or {}
        if execute is _place:
            data = _place(None, ms, params, recorded["id"])
            ms.next_id = recorded["id"] + 1
        elif execute is _market:
            data = _market(None, ms, params, state)
        else:
            data = execute(None, ms, params)
        if data != recorded:
            raise ValueError(
                f"journal event {event.seq} ({event.cmd}): replay gives {data}, "
                f"the journal recorded {recorded}"
            )

    return hook


def _digest(state: LedgerState) -> bytes:
    ms = matching_state(state)
    h = hashlib.sha256()
    h.update(f"next|{ms.next_id}\n".encode())
    for symbol in sorted(ms.books):
        book = ms.books[symbol]
        m = book.market
        h.update(
            f"market|{symbol}|{m.kind.wire}|{m.base}|{m.quote}|{m.base_decimals}|{m.tick_size}|"
            f"{m.step_size}|{m.min_notional}|{m.maker_fee_ppm}|{m.taker_fee_ppm}|"
            f"{m.state.wire}\n".encode()
        )
        for o in book.resting_orders():
            h.update(
                f"order|{o.order_id}|{o.account}|{o.side.wire}|{o.price}|{o.quantity}|"
                f"{o.remaining}|{o.stp.wire}|{o.client_id}|{o.reduce_only}\n".encode()
            )
    for account, symbol in sorted(ms.positions):
        pos = ms.positions[(account, symbol)]
        if pos.size or pos.basis or pos.realised:
            h.update(
                f"position|{account}|{symbol}|{pos.size}|{pos.basis}|{pos.realised}\n".encode()
            )
    return h.digest()


def _new_state() -> MatchingState:
    """A fresh state with the default pre-trade check (margin swaps in its own)."""
    return MatchingState(DefaultRisk())


def register(registry: Registry, *, fast: bool = True) -> None:
    """Plug the matching commands into the ledger (see docs/ledger.md, handler API).

    `fast=False` leaves out the fast paths of `order` and `cancel` (`_fast.py`): every
    command then takes the general path, the reference the fast paths are tested against.
    """
    registry.state(MODULE, _new_state)
    registry.digest(MODULE, _digest)
    registry.command("market", MarketParams, _handle_market)
    order = FastPath(_handle_order, fast_order) if fast else _handle_order
    cancel = FastPath(_handle_cancel, fast_cancel) if fast else _handle_cancel
    registry.command("order", OrderParams, order)
    registry.command("cancel", CancelParams, cancel)
    registry.command("cancel_all", CancelAllParams, _handle_cancel_all)
    registry.on_replay("market", _replayer(MarketParams, _market))
    registry.on_replay("order", _replayer(OrderParams, _place))
    registry.on_replay("cancel", _replayer(CancelParams, _cancel))
    registry.on_replay("cancel_all", _replayer(CancelAllParams, _cancel_all))

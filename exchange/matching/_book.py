"""The order book of one market: price-time priority matching on integer prices.

Data structures (chosen for CPython speed, see docs/matching.md):
- `bids` / `asks`: dict price -> level, a level being a dict order id -> `RestingOrder` in
  insertion order (FIFO = time priority): append, cancel and pop-front are all O(1) (a
  `deque.remove` scan cost ~14 ns per order ahead of the cancelled one);
- `_bid_keys` / `_ask_keys`: sorted lists of the prices that have a level, stored so that the
  BEST price is always the LAST element (bids as +price ascending, asks as -price ascending):
  the best level is `keys[-1]`, an exhausted best level is `keys.pop()`, and new levels near
  the touch are inserted near the end (a short memmove);
- `orders`: dict order id -> `RestingOrder` for O(1) cancel.

The book knows nothing of accounts' balances or of the ledger: it validates an order against
the market's grid and state, matches it, and reports what happened in `fills` and
`cancelled` (the caller drains both). Rejects raise `OrderRejected` before anything changes.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Protocol

from exchange.market import MAX_PRICE, MAX_QUANTITY, Market
from exchange.values import MarketState, OrderType, SelfTradePrevention, Side, TimeInForce

from ._errors import OrderRejected, Reject

__all__ = ["NO_BAND", "OrderBook", "PriceBand", "RestingOrder"]

_BUY = Side.BUY
_SELL = Side.SELL
_GTC = TimeInForce.GTC
_FOK = TimeInForce.FOK
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_REJECT_TAKER = SelfTradePrevention.REJECT_TAKER
_REJECT_MAKER = SelfTradePrevention.REJECT_MAKER
_OPEN = MarketState.OPEN
_new_order = object.__new__


class PriceBand(Protocol):
    """The price-protection hook: how far a market order may walk the book.

    `worst_price` returns the worst price a market order on `side` may trade at, or None for
    "no band". The price-protection issue supplies the real band; until then `NO_BAND`.
    """

    def worst_price(self, market: Market, side: Side) -> int | None: ...

    def order_limit(self, market: Market, side: Side, limit: int, post_only: bool) -> int:
        """The limit a limit order matches with (may raise `OrderRejected`): the band may
        reject the price or bring an aggressive one back inside (see docs/pricing.md)."""
        ...


class _NoBand:
    __slots__ = ()

    def worst_price(self, market: Market, side: Side) -> int | None:
        return None

    def order_limit(self, market: Market, side: Side, limit: int, post_only: bool) -> int:
        return limit


NO_BAND: PriceBand = _NoBand()


class RestingOrder:
    """An order as the book holds it. Mutable: `remaining` shrinks as it fills.

    `resting` is True while the order is in the book. `client_id` and `reduce_only` are kept
    for the engine (cancel by client id, reduce-only upkeep); the book does not read them.
    `OrderBook.place` and `place_limit` set the slots inline (no `__init__` frame on the
    hot path): a new slot must be set there too (the tests read every slot of their orders).
    """

    __slots__ = (
        "order_id",
        "account",
        "side",
        "price",
        "quantity",
        "remaining",
        "stp",
        "client_id",
        "reduce_only",
        "resting",
    )

    def __init__(
        self,
        order_id: int,
        account: str,
        side: Side,
        price: int,
        quantity: int,
        stp: SelfTradePrevention,
        client_id: str | None,
        reduce_only: bool,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.side = side
        self.price = price  # the limit; for a market order the worst price it may reach
        self.quantity = quantity
        self.remaining = quantity
        self.stp = stp
        self.client_id = client_id
        self.reduce_only = reduce_only
        self.resting = False

    def __repr__(self) -> str:
        return (
            f"RestingOrder(id={self.order_id}, {self.account}, {Side(self.side).wire} "
            f"{self.remaining}/{self.quantity} @ {self.price})"
        )


# A fill as the book reports it: (maker order, quantity, price). The taker is the order
# returned by `place`. Tuples, not records: one is made per fill on the hot path.
Fill = tuple[RestingOrder, int, int]


class OrderBook:
    """Bids and asks of one market, with validation against its grid and state."""

    __slots__ = (
        "market",
        "band",
        "bids",
        "asks",
        "_bid_keys",
        "_ask_keys",
        "orders",
        "fills",
        "cancelled",
        "tick",
        "step",
        "min_notional_scaled",
        "market_state",
    )

    def __init__(self, market: Market, band: PriceBand = NO_BAND) -> None:
        self.band = band
        self.bids: dict[int, dict[int, RestingOrder]] = {}
        self.asks: dict[int, dict[int, RestingOrder]] = {}
        self._bid_keys: list[int] = []  # +price ascending: best bid last
        self._ask_keys: list[int] = []  # -price ascending: best ask last
        self.orders: dict[int, RestingOrder] = {}
        self.fills: list[Fill] = []
        self.cancelled: list[RestingOrder] = []  # makers removed by self-trade prevention
        self.set_market(market)

    def set_market(self, market: Market) -> None:
        """Install a (new version of the) market definition: grid, fees, state."""
        self.market = market
        self.tick = market.tick_size
        self.step = market.step_size
        self.min_notional_scaled = market.min_notional * market.scale
        self.market_state = market.state

    # ------------------------------------------------------------------ queries

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return -self._ask_keys[-1] if self._ask_keys else None

    def depth(self, side: Side, levels: int) -> list[tuple[int, int, int]]:
        """The best `levels` levels of `side` as (price, total remaining, order count)."""
        if side == _BUY:
            prices = self._bid_keys[::-1][:levels]
            book = self.bids
        else:
            prices = [-key for key in self._ask_keys[::-1][:levels]]
            book = self.asks
        return [(p, sum(o.remaining for o in book[p].values()), len(book[p])) for p in prices]

    def resting_orders(self) -> list[RestingOrder]:
        """Every resting order, in the book's priority order per side (bids first)."""
        out: list[RestingOrder] = []
        for price in reversed(self._bid_keys):
            out.extend(self.bids[price].values())
        for key in reversed(self._ask_keys):
            out.extend(self.asks[-key].values())
        return out

    # ------------------------------------------------------------------ commands

    def place(
        self,
        order_id: int,
        account: str,
        side: Side,
        price: int,
        quantity: int,
        order_type: OrderType = _LIMIT,
        tif: TimeInForce = _GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = _REJECT_TAKER,
        client_id: str | None = None,
        reduce_only: bool = False,
    ) -> RestingOrder:
        """Validate, match and (GTC limit remainder) rest an order.

        Returns the taker order: `remaining` is what did not fill, `resting` says whether
        that remainder now rests. Fills are appended to `self.fills`, makers cancelled by
        self-trade prevention to `self.cancelled`. Raises `OrderRejected` (nothing changed).
        """
        if self.market_state:
            self._check_state(order_type, post_only)
        if quantity <= 0 or quantity % self.step or quantity > MAX_QUANTITY:
            raise self._bad_quantity(quantity)
        if order_type == _LIMIT:
            if (
                price <= 0
                or price % self.tick
                or price > MAX_PRICE
                or quantity * price < self.min_notional_scaled
            ):
                raise self._bad_price(quantity, price)
        else:
            price = self._market_order_limit(side, tif, post_only)

        # Side.BUY is 0: `if side` is the sell branch (an int truth test, the cheapest check).
        if side:
            keys = self._bid_keys
            crosses = keys[-1] >= price if keys else False
        else:
            keys = self._ask_keys
            crosses = -keys[-1] <= price if keys else False
        if crosses:
            if post_only:
                best = keys[-1] if side else -keys[-1]
                raise OrderRejected(
                    Reject.POST_ONLY_WOULD_TAKE,
                    f"{side.wire} at {price} would take the best {'bid' if side else 'ask'} "
                    f"at {best}",
                )
            if tif == _FOK:
                fillable = self._fillable(account, side, price, stp, quantity)
                if fillable < quantity:
                    raise OrderRejected(
                        Reject.FOK_NOT_FILLABLE,
                        f"{fillable} of {quantity} fillable at {price} or better",
                    )
        elif tif == _FOK:
            raise OrderRejected(
                Reject.FOK_NOT_FILLABLE, f"0 of {quantity} fillable at {price} or better"
            )

        order = _new_order(RestingOrder)  # `RestingOrder(...)` inline: no __init__ frame
        order.order_id = order_id
        order.account = account
        order.side = side
        order.price = price
        order.quantity = quantity
        order.remaining = quantity
        order.stp = stp
        order.client_id = client_id
        order.reduce_only = reduce_only
        order.resting = False
        if crosses and self._match(order) or tif or order_type:
            return order  # filled, stopped by self-trade prevention, or not to rest (not GTC limit)
        if side:
            level = self.asks.get(price)
            if level is None:
                level = self.asks[price] = {}
                insort(self._ask_keys, -price)
        else:
            level = self.bids.get(price)
            if level is None:
                level = self.bids[price] = {}
                insort(self._bid_keys, price)
        level[order_id] = order
        self.orders[order_id] = order
        order.resting = True
        return order

    def place_limit(
        self, order_id: int, account: str, side: Side, price: int, quantity: int, tif: TimeInForce
    ) -> RestingOrder:
        """`place` of a limit order that passed `validate`, GTC or IOC, not post-only,
        self-trade prevention RejectTaker: the engine's plain path (no checks repeated).

        Same book changes and the same `fills` as `place` with those arguments (tested
        against it); `cancelled` stays empty (RejectTaker never cancels a maker).
        """
        if side:
            keys = self._bid_keys
            crosses = keys[-1] >= price if keys else False
        else:
            keys = self._ask_keys
            crosses = -keys[-1] <= price if keys else False
        order = _new_order(RestingOrder)  # as in `place`
        order.order_id = order_id
        order.account = account
        order.side = side
        order.price = price
        order.quantity = quantity
        order.remaining = quantity
        order.stp = _REJECT_TAKER
        order.client_id = None
        order.reduce_only = False
        order.resting = False
        if crosses and self._match(order) or tif:
            return order
        if side:
            level = self.asks.get(price)
            if level is None:
                level = self.asks[price] = {}
                insort(self._ask_keys, -price)
        else:
            level = self.bids.get(price)
            if level is None:
                level = self.bids[price] = {}
                insort(self._bid_keys, price)
        level[order_id] = order
        self.orders[order_id] = order
        order.resting = True
        return order

    def validate(
        self,
        side: Side,
        price: int,
        quantity: int,
        order_type: OrderType,
        tif: TimeInForce,
        post_only: bool,
    ) -> int:
        """The checks of `place` that need no matching (state, grid, minimum notional).

        Returns the limit the order would match up to (for a market order: the band's worst
        price or the end of the book). Raises `OrderRejected`; changes nothing.
        """
        if self.market_state:
            self._check_state(order_type, post_only)
        if quantity <= 0 or quantity % self.step or quantity > MAX_QUANTITY:
            raise self._bad_quantity(quantity)
        if order_type == _LIMIT:
            if (
                price <= 0
                or price % self.tick
                or price > MAX_PRICE
                or quantity * price < self.min_notional_scaled
            ):
                raise self._bad_price(quantity, price)
            return price
        return self._market_order_limit(side, tif, post_only)

    def cancel(self, order_id: int) -> RestingOrder:
        """Remove a resting order; raises `OrderRejected(unknown_order)` if none rests."""
        order = self.orders.pop(order_id, None)
        if order is None:
            raise OrderRejected(Reject.UNKNOWN_ORDER, str(order_id))
        order.resting = False
        price = order.price
        if order.side:
            level = self.asks[price]
            del level[order_id]
            if not level:
                del self.asks[price]
                keys = self._ask_keys
                del keys[bisect_left(keys, -price)]
        else:
            level = self.bids[price]
            del level[order_id]
            if not level:
                del self.bids[price]
                keys = self._bid_keys
                del keys[bisect_left(keys, price)]
        return order

    def cancel_all(self, account: str | None = None) -> list[RestingOrder]:
        """Cancel every resting order (of `account` if given), in priority order."""
        doomed = [o for o in self.resting_orders() if account is None or o.account == account]
        for order in doomed:
            self.cancel(order.order_id)
        return doomed

    # ------------------------------------------------------------------ internals

    def _bad_quantity(self, quantity: int) -> OrderRejected:
        if quantity <= 0:
            return OrderRejected(Reject.QUANTITY_MUST_BE_POSITIVE, f"got {quantity}")
        if quantity % self.step:
            return OrderRejected(
                Reject.QUANTITY_NOT_ON_STEP, f"{quantity} is not a multiple of {self.step}"
            )
        return OrderRejected(Reject.QUANTITY_ABOVE_MAXIMUM, f"{quantity} > {MAX_QUANTITY}")

    def _bad_price(self, quantity: int, price: int) -> OrderRejected:
        if price <= 0:
            return OrderRejected(Reject.PRICE_MUST_BE_POSITIVE, f"got {price}")
        if price % self.tick:
            return OrderRejected(
                Reject.PRICE_NOT_ON_TICK, f"{price} is not a multiple of {self.tick}"
            )
        if price > MAX_PRICE:
            return OrderRejected(Reject.PRICE_ABOVE_MAXIMUM, f"{price} > {MAX_PRICE}")
        notional = quantity * price // self.market.scale
        return OrderRejected(
            Reject.NOTIONAL_BELOW_MINIMUM, f"{notional} < {self.market.min_notional}"
        )

    def _market_order_limit(self, side: Side, tif: TimeInForce, post_only: bool) -> int:
        """The worst price a market order may reach: the band's, else the end of the book."""
        if post_only:
            raise OrderRejected(
                Reject.POST_ONLY_REQUIRES_LIMIT, "a market order cannot be post-only"
            )
        if tif == _GTC:
            raise OrderRejected(Reject.MARKET_ORDER_MUST_NOT_REST, "use IOC or FOK")
        return self.market_limit(side)

    def _check_state(self, order_type: OrderType, post_only: bool) -> None:
        state = self.market_state
        if state == MarketState.CLOSED:
            raise OrderRejected(Reject.MARKET_CLOSED, self.market.symbol)
        if state == MarketState.CANCEL_ONLY:
            raise OrderRejected(Reject.MARKET_CANCEL_ONLY, self.market.symbol)
        if state == MarketState.POST_ONLY and not post_only:
            raise OrderRejected(Reject.MARKET_POST_ONLY, self.market.symbol)
        if state == MarketState.LIMIT_ONLY and order_type != _LIMIT:
            raise OrderRejected(Reject.MARKET_LIMIT_ONLY, self.market.symbol)

    def preview(
        self, account: str, side: Side, limit: int, quantity: int, stp: SelfTradePrevention
    ) -> list[tuple[int, int]]:
        """The (quantity, price) fills a taker would get, without changing anything.

        Stops where `_match` would stop: at `limit`, at `quantity`, or at a resting order of
        `account` unless `stp` is RejectMaker (then that order would be cancelled, skipped).
        Used for FOK and for the funds a spot market buy needs.
        """
        out: list[tuple[int, int]] = []
        wanted = quantity
        if side == _BUY:
            book, prices = self.asks, [-k for k in reversed(self._ask_keys)]
            in_range = limit.__ge__
        else:
            book, prices = self.bids, list(reversed(self._bid_keys))
            in_range = limit.__le__
        for price in prices:
            if not in_range(price):
                break
            for maker in book[price].values():
                if maker.account == account:
                    if stp == _REJECT_MAKER:
                        continue
                    return out
                q = maker.remaining if maker.remaining < wanted else wanted
                out.append((q, price))
                wanted -= q
                if not wanted:
                    return out
        return out

    def _fillable(
        self, account: str, side: Side, limit: int, stp: SelfTradePrevention, wanted: int
    ) -> int:
        return sum(q for q, _ in self.preview(account, side, limit, wanted, stp))

    def market_limit(self, side: Side) -> int:
        """The limit a market order on `side` matches up to (band, else the book's end)."""
        worst = self.band.worst_price(self.market, side)
        if worst is None:
            return MAX_PRICE if side == _BUY else 0
        return worst

    def _match(self, taker: RestingOrder) -> bool:
        """Match `taker` against the opposite side. True if matching must stop for good
        (fully filled or self-trade prevention cancelled the taker)."""
        if taker.side == _BUY:
            book = self.asks
            keys = self._ask_keys
            sign = -1
        else:
            book = self.bids
            keys = self._bid_keys
            sign = 1
        limit = taker.price * sign
        account = taker.account
        remaining = taker.remaining
        fills = self.fills
        orders = self.orders
        stopped = False
        while keys:
            key = keys[-1]
            if key < limit:  # worse than the taker's limit
                break
            price = key * sign
            level = book[price]
            while level:
                maker = next(iter(level.values()))  # the oldest order of the level
                if maker.account == account:
                    mode = taker.stp
                    if mode != _REJECT_TAKER:  # RejectMaker or RejectBoth: maker goes
                        del level[maker.order_id]
                        del orders[maker.order_id]
                        maker.resting = False
                        self.cancelled.append(maker)
                    if mode != _REJECT_MAKER:  # RejectTaker or RejectBoth: taker stops
                        stopped = True
                        break
                    continue
                available = maker.remaining
                if available > remaining:
                    maker.remaining = available - remaining
                    fills.append((maker, remaining, price))
                    remaining = 0
                    break
                fills.append((maker, available, price))
                remaining -= available
                maker.remaining = 0
                maker.resting = False
                del level[maker.order_id]
                del orders[maker.order_id]
                if not remaining:
                    break
            if not level:
                del book[price]
                keys.pop()
            if stopped or not remaining:
                break
        taker.remaining = remaining
        return stopped or not remaining

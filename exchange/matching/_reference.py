"""A plain reference order book: one list of orders, sorted on every match.

Slow and obviously right; `tests/exchange/matching` runs random order streams through it and
through `OrderBook` and demands the same fills, cancels and resting orders (differential test).
It implements the same rules as `_book.py`, written the naive way.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.market import MAX_PRICE, Market
from exchange.values import OrderType, SelfTradePrevention, Side, TimeInForce

from ._errors import OrderRejected, Reject

__all__ = ["ReferenceBook", "RefOrder"]


@dataclass
class RefOrder:
    order_id: int
    account: str
    side: Side
    price: int
    remaining: int
    seq: int


class ReferenceBook:
    """Orders in one list; `place` returns (fills, stp-cancelled maker ids, taker remainder,
    rested?) where fills are (maker id, quantity, price)."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.orders: list[RefOrder] = []
        self.seq = 0

    def _opposite(self, side: Side, limit: int) -> list[RefOrder]:
        if side == Side.BUY:
            hits = [o for o in self.orders if o.side == Side.SELL and o.price <= limit]
            return sorted(hits, key=lambda o: (o.price, o.seq))
        hits = [o for o in self.orders if o.side == Side.BUY and o.price >= limit]
        return sorted(hits, key=lambda o: (-o.price, o.seq))

    def place(
        self,
        order_id: int,
        account: str,
        side: Side,
        price: int,
        quantity: int,
        order_type: OrderType,
        tif: TimeInForce,
        post_only: bool,
        stp: SelfTradePrevention,
    ) -> tuple[list[tuple[int, int, int]], list[int], int, bool]:
        m = self.market
        if quantity <= 0 or quantity % m.step_size:
            raise OrderRejected(Reject.QUANTITY_NOT_ON_STEP)
        if order_type == OrderType.MARKET:
            price = MAX_PRICE if side == Side.BUY else 0
        elif price <= 0 or price % m.tick_size:
            raise OrderRejected(Reject.PRICE_NOT_ON_TICK)
        elif quantity * price < m.min_notional * m.scale:
            raise OrderRejected(Reject.NOTIONAL_BELOW_MINIMUM)
        hits = self._opposite(side, price)
        if post_only and hits:
            raise OrderRejected(Reject.POST_ONLY_WOULD_TAKE)
        if tif == TimeInForce.FOK:
            total = 0
            for o in hits:
                if o.account == account:
                    if stp == SelfTradePrevention.REJECT_MAKER:
                        continue
                    break
                total += o.remaining
            if total < quantity:
                raise OrderRejected(Reject.FOK_NOT_FILLABLE)
        fills: list[tuple[int, int, int]] = []
        cancelled: list[int] = []
        remaining = quantity
        stopped = False
        for o in hits:
            if not remaining:
                break
            if o.account == account:
                if stp != SelfTradePrevention.REJECT_TAKER:
                    self.orders.remove(o)
                    cancelled.append(o.order_id)
                if stp != SelfTradePrevention.REJECT_MAKER:
                    stopped = True
                    break
                continue
            q = min(o.remaining, remaining)
            fills.append((o.order_id, q, o.price))
            o.remaining -= q
            remaining -= q
            if not o.remaining:
                self.orders.remove(o)
        rests = (
            bool(remaining)
            and not stopped
            and tif == TimeInForce.GTC
            and order_type == OrderType.LIMIT
        )
        if rests:
            self.seq += 1
            self.orders.append(RefOrder(order_id, account, side, price, remaining, self.seq))
        return fills, cancelled, remaining, rests

    def cancel(self, order_id: int) -> None:
        for o in self.orders:
            if o.order_id == order_id:
                self.orders.remove(o)
                return
        raise OrderRejected(Reject.UNKNOWN_ORDER)

    def snapshot(self) -> list[tuple[int, str, int, int, int]]:
        """(id, account, side, price, remaining) in priority order, bids first."""
        bids = sorted(
            (o for o in self.orders if o.side == Side.BUY), key=lambda o: (-o.price, o.seq)
        )
        asks = sorted(
            (o for o in self.orders if o.side == Side.SELL), key=lambda o: (o.price, o.seq)
        )
        return [(o.order_id, o.account, int(o.side), o.price, o.remaining) for o in bids + asks]

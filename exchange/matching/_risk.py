"""The default pre-trade risk check (`PreTradeRisk`, the hook in `_state.py`).

The engine calls `check` after an order passed the market's grid and state rules and before
it touches the book. Returning a reject code refuses the order (nothing changes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.market import fee
from exchange.values import OrderType, SelfTradePrevention, Side

from ._errors import Reject

if TYPE_CHECKING:
    from exchange.engine import Context

    from ._book import OrderBook
    from ._state import MatchingState

__all__ = ["DefaultRisk", "spot_need"]

_LIMIT = OrderType.LIMIT


def spot_need(
    book: OrderBook,
    account: str,
    side: Side,
    order_type: OrderType,
    limit: int,
    quantity: int,
    stp: SelfTradePrevention,
) -> tuple[str, int]:
    """(asset, amount) a spot order needs available: what it may spend.

    A sell needs its quantity of base. A limit buy needs `Market.buy_lock(quantity, limit)`
    (notional plus the highest fee, per step, rounded up). A market buy needs exactly what
    its fills would cost (previewed on the book: notional plus taker fee per fill).
    """
    market = book.market
    if side == Side.SELL:
        return market.base, quantity
    if order_type == OrderType.LIMIT:
        return market.quote, market.buy_lock(quantity, limit)
    taker = market.taker_fee_ppm
    scale = market.scale
    cost = 0
    for q, price in book.preview(account, side, limit, quantity, stp):
        notional = q * price // scale
        cost += notional + fee(notional, taker)
    return market.quote, cost


class DefaultRisk:
    """Spot: the account must have `spot_need` available. Perps: allowed (no margin yet)."""

    __slots__ = ()

    def check(
        self,
        ctx: Context,
        matching: MatchingState,
        book: OrderBook,
        account: str,
        side: Side,
        order_type: OrderType,
        limit: int,
        quantity: int,
        stp: SelfTradePrevention,
        reduce_only: bool,
    ) -> str | None:
        market = book.market
        if market.kind:  # perp
            return None
        if order_type == _LIMIT:  # the common case, inline
            if side:
                asset, need = market.base, quantity
            else:
                asset, need = market.quote, market.buy_lock(quantity, limit)
        else:
            asset, need = spot_need(book, account, side, order_type, limit, quantity, stp)
        if ctx.state.balances.get((account, asset, "available"), 0) < need:
            return Reject.INSUFFICIENT_AVAILABLE_BALANCE
        return None

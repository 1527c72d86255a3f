"""Matching engine: spot and perpetual order books with price-time priority.

`OrderBook` is the pure, fast book of one market. `register` plugs the `market`, `order`,
`cancel` and `cancel_all` commands into the ledger: they add accounts, client order ids,
pre-trade risk (`PreTradeRisk`), spot locks, perp positions, and book every fill as one
balanced journal entry; replay hooks rebuild the books from the journal. The `Market`
record (`exchange.market`) and the order and market vocabularies (`exchange.values`) are
shared values of every engine, re-exported here. See docs/matching.md.
"""

from exchange.errors import MarketConfigError
from exchange.market import FEE_PPM_MAX, MAX_PRICE, MAX_QUANTITY, Market, fee
from exchange.values import (
    MarketKind,
    MarketState,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

from ._book import NO_BAND, OrderBook, PriceBand, RestingOrder
from ._commands import MAX_PERP_NOTIONAL, clearing_account, place_order, register
from ._errors import MatchingError, OrderRejected, Reject
from ._fills import cancel_order
from ._invariants import check_matching
from ._position import Position
from ._risk import DefaultRisk, spot_need
from ._state import MatchingState, PreTradeRisk, find_matching_state, matching_state
from ._view import book_view

__all__ = [
    "FEE_PPM_MAX",
    "MAX_PERP_NOTIONAL",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "NO_BAND",
    "DefaultRisk",
    "Market",
    "MarketConfigError",
    "MarketKind",
    "MarketState",
    "MatchingError",
    "MatchingState",
    "OrderBook",
    "OrderRejected",
    "OrderType",
    "Position",
    "PreTradeRisk",
    "PriceBand",
    "Reject",
    "RestingOrder",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
    "book_view",
    "cancel_order",
    "check_matching",
    "clearing_account",
    "fee",
    "find_matching_state",
    "matching_state",
    "place_order",
    "register",
    "spot_need",
]

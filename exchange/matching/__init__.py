"""Matching engine: spot and perpetual order books with price-time priority.

`OrderBook` is the pure, fast book of one market; `MatchingEngine` adds accounts, client
order ids, pre-trade risk, and books every fill on the ledger. See docs/matching.md.
"""

from ._book import NO_BAND, OrderBook, PriceBand, RestingOrder
from ._errors import MarketConfigError, MatchingError, OrderRejected, Reject
from ._market import (
    FEE_PPM_MAX,
    MAX_PRICE,
    MAX_QUANTITY,
    PPM,
    Market,
    MarketKind,
    MarketState,
)
from ._types import OrderType, SelfTradePrevention, Side, TimeInForce

__all__ = [
    "FEE_PPM_MAX",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "NO_BAND",
    "PPM",
    "Market",
    "MarketConfigError",
    "MarketKind",
    "MarketState",
    "MatchingError",
    "OrderBook",
    "OrderRejected",
    "OrderType",
    "PriceBand",
    "Reject",
    "RestingOrder",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
]

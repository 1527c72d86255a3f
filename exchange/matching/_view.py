"""Read-only views of the books for the CLI (`por exchange book MARKET`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.values import Side

from ._errors import OrderRejected, Reject
from ._state import matching_state

if TYPE_CHECKING:
    from exchange.state import LedgerState

__all__ = ["book_view"]


def book_view(state: LedgerState, symbol: str, depth: int) -> dict[str, Any]:
    """The top `depth` levels per side of a market: JSON-ready, smallest units as strings.

    Raises `OrderRejected(unknown_market)` for an unknown symbol.
    """
    book = matching_state(state).books.get(symbol)
    if book is None:
        raise OrderRejected(Reject.UNKNOWN_MARKET, symbol)
    m = book.market

    def levels(side: Side) -> list[dict[str, Any]]:
        return [
            {"price": str(price), "quantity": str(quantity), "orders": count}
            for price, quantity, count in book.depth(side, depth)
        ]

    return {
        "market": m.symbol,
        "kind": m.kind.wire,
        "state": m.state.wire,
        "base": m.base,
        "quote": m.quote,
        "base_decimals": m.base_decimals,
        "bids": levels(Side.BUY),
        "asks": levels(Side.SELL),
    }

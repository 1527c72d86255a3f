"""The matching module's state inside the ledger state (`state.ext["matching"]`), and the
interface of its pre-trade risk hook (`PreTradeRisk`; the default check is `_risk.py`'s)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from exchange.values import OrderType, SelfTradePrevention, Side

from ._book import NO_BAND, OrderBook, PriceBand, RestingOrder
from ._position import Position

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.market import Market
    from exchange.state import LedgerState

__all__ = ["MODULE", "MatchingState", "PreTradeRisk", "find_matching_state", "matching_state"]

MODULE = "matching"  # the key of this state in `LedgerState.ext`


class PreTradeRisk(Protocol):
    """Decides whether an order may be placed. `limit` is the order's limit price, or for a
    market order the worst price it may reach (band or end of book)."""

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
    ) -> str | None: ...


class MatchingState:
    """Books, positions and order indexes. Rebuilt from the journal by the replay hooks.

    `next_id` is the next engine order id (gapless over accepted orders, from 1);
    `client_ids` maps (account, client id) to the OPEN order carrying it; `reduce_only`
    lists, per (account, market), the resting reduce-only orders in time order.
    `risk` and `band` are the hooks later issues fill in (pre-trade risk, price band);
    `risk` is given by whoever registers the state (`DefaultRisk`, or margin's check).
    """

    __slots__ = ("band", "books", "client_ids", "next_id", "positions", "reduce_only", "risk")

    def __init__(self, risk: PreTradeRisk) -> None:
        self.books: dict[str, OrderBook] = {}
        self.next_id = 1
        self.client_ids: dict[tuple[str, str], RestingOrder] = {}
        self.positions: dict[tuple[str, str], Position] = {}
        self.reduce_only: dict[tuple[str, str], list[RestingOrder]] = {}
        self.risk = risk
        self.band: PriceBand = NO_BAND

    def position(self, account: str, market: str) -> Position:
        """The account's position in a perp market (a flat one if it never traded)."""
        pos = self.positions.get((account, market))
        if pos is None:
            pos = self.positions[(account, market)] = Position()
        return pos

    def spot_market(self, base: str, quote: str) -> Market | None:
        """The spot market of `base` against `quote` (the first by symbol), if there is one:
        where settlement and liquidation sell collateral or buy a debt asset."""
        for symbol in sorted(self.books):
            market = self.books[symbol].market
            if not market.is_perp and market.base == base and market.quote == quote:
                return market
        return None


def matching_state(state: LedgerState) -> MatchingState:
    """The matching engine's state: the accessor other engines read it through."""
    ms: MatchingState = state.ext[MODULE]
    return ms


def find_matching_state(state: LedgerState) -> MatchingState | None:
    """The matching engine's state, or None when matching is not registered."""
    ms: MatchingState | None = state.ext.get(MODULE)
    return ms

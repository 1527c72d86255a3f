"""Index and mark prices, and the price bands of the order books.

`index_price` commands form each asset's index from several sources; a 1 s job turns index
plus the book's premium into each perp's mark; `PricingBand` is matching's price-band hook.
Mark is what margin, settlement and liquidation value positions at. See docs/pricing.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.values import FRACTION, format_fraction

from ._commands import MARK_PERIOD_MS, install_band, pricing_state, register, update_marks
from ._feeds import PriceFeed, RecordedFeed, index_command
from ._index import IndexRejected, IndexResult, compute_index, median
from ._mark import EWMA_SCALE, clamp_mark, ewma_step, impact_prices, premium_sample
from ._params import DEFAULT_BANDS, DEFAULT_INDEX, BandParams, IndexParams
from ._state import PRICE_MUST_BE_WITHIN_BAND, QUOTE_ASSET, PricingBand, PricingState

if TYPE_CHECKING:
    from exchange.state import LedgerState

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_INDEX",
    "EWMA_SCALE",
    "FRACTION",
    "MARK_PERIOD_MS",
    "PRICE_MUST_BE_WITHIN_BAND",
    "QUOTE_ASSET",
    "BandParams",
    "IndexParams",
    "IndexRejected",
    "IndexResult",
    "PriceFeed",
    "PricingBand",
    "PricingState",
    "RecordedFeed",
    "asset_price",
    "clamp_mark",
    "compute_index",
    "ewma_step",
    "format_fraction",
    "impact_prices",
    "index_command",
    "index_price",
    "install_band",
    "mark_price",
    "median",
    "premium_sample",
    "pricing_state",
    "register",
    "update_marks",
]


def index_price(state: LedgerState, asset: str) -> int | None:
    """The asset's index (USDC smallest units per whole unit), None before the first."""
    ps: PricingState | None = state.ext.get("pricing")
    return None if ps is None else ps.index.get(asset)


def mark_price(state: LedgerState, market: str) -> int | None:
    """The perp's mark price (quote smallest units per whole base unit), None before the
    first mark step after its base got an index."""
    ps: PricingState | None = state.ext.get("pricing")
    return None if ps is None else ps.mark.get(market)


def asset_price(state: LedgerState, asset: str) -> int | None:
    """Price of one whole unit of `asset` in USDC smallest units: the asset's index; for
    USDC without an index 10^decimals (1.0); None for another asset without one."""
    price = index_price(state, asset)
    if price is None and asset == QUOTE_ASSET:
        known = state.assets.get(asset)
        return None if known is None else 10**known.decimals
    return price

"""The pricing module's state (`state.ext["pricing"]`) and the price-band hook of matching."""

from __future__ import annotations

from exchange.market import Market
from exchange.matching import OrderRejected
from exchange.values import Side, ceil_mul, floor_mul

from ._params import DEFAULT_BANDS, DEFAULT_INDEX, BandParams, IndexParams

__all__ = ["QUOTE_ASSET", "PricingBand", "PricingState"]

QUOTE_ASSET = "USDC"
"""Every index is quoted in this asset: smallest units of USDC per one whole unit of the asset
(the matching engine's price unit for X/USDC and X-PERP markets)."""

PRICE_MUST_BE_WITHIN_BAND = "price_must_be_within_band"


class PricingState:
    """Index per asset, EWMA premium and mark per perp market, and their parameters.

    Fields: `index` (asset -> price), `index_time` (asset -> ms of its last update),
    `ewma` (market -> premium average at EWMA_SCALE), `mark` (market -> price),
    `index_params`, `band_params`, `marks_version` (count of mark updates, so readers can
    tell that marks moved), `pinned` (markets whose mark an operator set with `mark_price`:
    the job leaves them alone), `band` (the hook installed into matching).
    Rebuilt on replay from the `index_price` commands and the `mark_price` job's data.
    """

    __slots__ = (
        "band",
        "band_params",
        "ewma",
        "index",
        "index_params",
        "index_time",
        "mark",
        "marks_version",
        "pinned",
    )

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.index_time: dict[str, int] = {}
        self.ewma: dict[str, int] = {}
        self.mark: dict[str, int] = {}
        self.index_params: dict[str, IndexParams] = {}
        self.band_params: dict[str, BandParams] = {}
        self.marks_version = 0
        self.pinned: set[str] = set()
        self.band = PricingBand(self)

    def index_params_of(self, asset: str) -> IndexParams:
        return self.index_params.get(asset, DEFAULT_INDEX)

    def bands_of(self, market: str) -> BandParams:
        return self.band_params.get(market, DEFAULT_BANDS)

    def reference(self, market: Market) -> int | None:
        """The price bands are centred on: the mark for a perp, the base's index for a
        X/USDC spot market; None (no band) before there is one."""
        if market.is_perp:
            return self.mark.get(market.symbol)
        if market.quote != QUOTE_ASSET:
            return None
        return self.index.get(market.base)


class PricingBand:
    """Matching's `PriceBand` hook: market orders' worst price and limit-price rules."""

    __slots__ = ("_ps",)

    def __init__(self, ps: PricingState) -> None:
        self._ps = ps

    def impact_edges(self, market: Market) -> tuple[int, int] | None:
        """(lowest sell price, highest buy price) an aggressive order may fill at, on tick."""
        ref = self._ps.reference(market)
        if ref is None:
            return None
        p = self._ps.bands_of(market.symbol)
        tick = market.tick_size
        high = floor_mul(ref, p.max_impact) // tick * tick
        low = -(-ceil_mul(ref, p.min_impact) // tick) * tick
        return low, max(high, tick)

    def worst_price(self, market: Market, side: Side) -> int | None:
        edges = self.impact_edges(market)
        if edges is None:
            return None
        return edges[1] if side == Side.BUY else edges[0]

    def order_limit(self, market: Market, side: Side, limit: int, post_only: bool) -> int:
        """The limit a limit order matches with: rejects a price outside
        [min_multiplier, max_multiplier] x reference; an aggressive price beyond the impact
        band is brought back to the band's edge (IOC: the rest is cancelled; GTC: the rest
        rests at the edge). Post-only orders never take and keep their price."""
        ps = self._ps
        ref = ps.reference(market)
        if ref is None:
            return limit
        p = ps.bands_of(market.symbol)
        low = ceil_mul(ref, p.min_multiplier)
        high = floor_mul(ref, p.max_multiplier)
        if not low <= limit <= high:
            raise OrderRejected(
                PRICE_MUST_BE_WITHIN_BAND,
                f"{limit} is outside [{low}, {high}] (reference {ref}) in {market.symbol}",
            )
        if post_only:
            return limit
        edges = self.impact_edges(market)
        assert edges is not None
        return min(limit, edges[1]) if side == Side.BUY else max(limit, edges[0])

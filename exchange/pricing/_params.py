"""Parameters of the index (per asset) and of the mark and bands (per perp/spot market).

Defaults follow the vocabulary of Backpack's price filters (`minMultiplier`,
`maxImpactMultiplier`, `meanMarkPriceBand`, `meanPremiumBand`); every field is a fraction at
FRACTION scale (see `exchange.values`).
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.values import FRACTION

__all__ = ["DEFAULT_BANDS", "DEFAULT_INDEX", "BandParams", "IndexParams", "MAX_SOURCES"]

MAX_SOURCES = 32  # sources per index update: a larger feed set is a configuration mistake


@dataclass(frozen=True, slots=True)
class IndexParams:
    """How an asset's index is formed from its sources.

    `band`: a source counts when within `band` of the sources' median (default 1 %).
    `min_sources`: fewer agreeing sources than this is "too few" (see `_index.py`).
    `max_jump`: an index moving more than this fraction from the previous one is rejected.
    """

    band: int = 10_000_000
    min_sources: int = 1
    max_jump: int = 100_000_000

    def problems(self) -> list[str]:
        out = []
        if not 0 < self.band < FRACTION:
            out.append("band must be in (0, 1)")
        if not 1 <= self.min_sources <= MAX_SOURCES:
            out.append(f"min_sources must be in 1..{MAX_SOURCES}")
        if not 0 < self.max_jump < FRACTION:
            out.append("max_jump must be in (0, 1)")
        return out


@dataclass(frozen=True, slots=True)
class BandParams:
    """Price bands and mark parameters of one market (all fractions of the reference).

    `min_multiplier`/`max_multiplier`: a limit price outside [min, max] x reference is
    rejected (reference: mark for a perp, index of the base asset for spot).
    `min_impact`/`max_impact`: an aggressive order never fills beyond [min, max] x reference.
    `mark_min`/`mark_max`: the mark is held within [min, max] x index (mean mark band).
    `premium_tolerance`: each premium sample is clamped to +- tolerance x index.
    `window_s`: the EWMA's span in seconds (one sample per second; alpha = 2 / (span + 1)).
    `impact_quantity`: premium from the impact bid/ask of this base quantity (0: best bid/ask).
    """

    min_multiplier: int = 750_000_000
    max_multiplier: int = 1_250_000_000
    min_impact: int = 990_000_000
    max_impact: int = 1_010_000_000
    mark_min: int = 900_000_000
    mark_max: int = 1_100_000_000
    premium_tolerance: int = 10_000_000
    window_s: int = 300
    impact_quantity: int = 0

    def problems(self) -> list[str]:
        out = []
        if not 0 < self.min_multiplier <= self.min_impact <= FRACTION:
            out.append("need 0 < min_multiplier <= min_impact <= 1")
        if not FRACTION <= self.max_impact <= self.max_multiplier:
            out.append("need 1 <= max_impact <= max_multiplier")
        if not 0 < self.mark_min <= FRACTION <= self.mark_max:
            out.append("need 0 < mark_min <= 1 <= mark_max")
        if not 0 <= self.premium_tolerance < FRACTION:
            out.append("premium_tolerance must be in [0, 1)")
        if not 1 <= self.window_s <= 86_400:
            out.append("window_s must be in 1..86400")
        if self.impact_quantity < 0:
            out.append("impact_quantity must not be negative")
        return out


DEFAULT_INDEX = IndexParams()
DEFAULT_BANDS = BandParams()

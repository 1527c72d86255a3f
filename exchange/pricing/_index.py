"""The index price of an asset: the mean of its sources that agree with their median.

Pure arithmetic on ints (prices in quote smallest units per whole base unit). The rules:

1. A source quoting zero or a negative price is filtered (`price_must_be_positive`).
   No valid source left: the update is rejected (`index_needs_a_valid_source`).
2. The median m of the valid sources (for an even count the floor of the mean of the two
   middle ones). A source counts when |p - m| <= band x m; the others are filtered
   (`source_outside_median_band`).
3. If the counting sources are a strict majority of the valid ones and at least
   `min_sources`, index = floor(mean of them).
4. Fall-back when too few agree (e.g. two sources 3 % apart): the sources within the band
   of the PREVIOUS index count instead (if there is one and at least `min_sources` of them);
   otherwise the update is rejected (`index_sources_must_agree`).
5. An index further than `max_jump` from the previous index is rejected
   (`index_jump_must_be_within_band`): a bad update never moves the index, hence never the
   mark.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.values import format_fraction

from ._params import IndexParams

__all__ = ["IndexRejected", "IndexResult", "compute_index", "median"]


class IndexRejected(Exception):  # noqa: N818 - an outcome with a reason code
    """The update is refused; `reason` names the broken rule."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IndexResult:
    """The new index, the sources it used, and why the others were filtered."""

    price: int
    used: tuple[str, ...]
    filtered: dict[str, str]
    fallback: bool


def median(prices: list[int]) -> int:
    ordered = sorted(prices)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) // 2


def _within(price: int, centre: int, band: int) -> bool:
    return abs(price - centre) * 10**9 <= band * centre


def compute_index(
    sources: dict[str, int], previous: int | None, params: IndexParams
) -> IndexResult:
    """Apply the rules above; raises `IndexRejected`."""
    filtered: dict[str, str] = {}
    valid: dict[str, int] = {}
    for name in sorted(sources):
        if sources[name] > 0:
            valid[name] = sources[name]
        else:
            filtered[name] = "price_must_be_positive"
    if not valid:
        raise IndexRejected("index_needs_a_valid_source", f"{len(sources)} sources, none positive")
    m = median(list(valid.values()))
    kept = [n for n, p in valid.items() if _within(p, m, params.band)]
    fallback = False
    if not (2 * len(kept) > len(valid) and len(kept) >= params.min_sources):
        if previous is None:
            raise IndexRejected(
                "index_sources_must_agree",
                f"{len(kept)} of {len(valid)} sources within the band of median {m}, "
                "and no previous index to fall back on",
            )
        kept = [n for n, p in valid.items() if _within(p, previous, params.band)]
        if len(kept) < params.min_sources:
            raise IndexRejected(
                "index_sources_must_agree",
                f"{len(kept)} sources within the band of the previous index {previous}, "
                f"need {params.min_sources}",
            )
        fallback = True
        reason = "source_outside_previous_band"
    else:
        reason = "source_outside_median_band"
    for name in valid:
        if name not in kept:
            filtered[name] = reason
    price = sum(valid[n] for n in kept) // len(kept)
    if previous is not None and not _within(price, previous, params.max_jump):
        raise IndexRejected(
            "index_jump_must_be_within_band",
            f"{price} is more than {format_fraction(params.max_jump)} away from {previous}",
        )
    return IndexResult(price, tuple(kept), filtered, fallback)

"""The mark price of a perp: index + EWMA of the clamped premium, in exact integers.

Every second of ledger time (the `mark_price` job) each perp market whose base asset has an
index takes one premium sample from its book:

    premium = max(0, bid - index) - max(0, index - ask)

where bid/ask are the impact bid/ask (the average price of selling/buying
`impact_quantity` into the book) or, with `impact_quantity` 0, the best bid/ask; a missing
side contributes 0, so an empty book samples 0 and the mark drifts back to the index. The
sample is clamped to +- premium_tolerance x index (mean premium band).

The average is an exponentially weighted moving average with span N = `window_s`
(300 s = 5 minutes): alpha = 2 / (N + 1). It is kept at `EWMA_SCALE` (10^9 x price units)
so that small premiums do not vanish, and updated as

    ewma += floor((sample * EWMA_SCALE - ewma) * 2 / (N + 1))       (floor toward -inf)

mark = index + floor(ewma / EWMA_SCALE), then held inside [mark_min, mark_max] x index
(lower bound rounded up, upper bound rounded down).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.values import Side, ceil_mul, floor_mul

from ._params import BandParams

if TYPE_CHECKING:
    from exchange.matching import OrderBook

__all__ = [
    "EWMA_SCALE",
    "IMPACT_LEVELS",
    "clamp_mark",
    "ewma_step",
    "impact_prices",
    "premium_sample",
]

EWMA_SCALE = 10**9
IMPACT_LEVELS = 64  # levels an impact price may walk


def impact_prices(book: OrderBook, quantity: int) -> tuple[int | None, int | None]:
    """(bid, ask): best prices, or the average fill price (floor) of `quantity` on each side.

    A side with less than `quantity` within its best `IMPACT_LEVELS` levels counts as
    missing (None)."""
    if quantity <= 0:
        return book.best_bid(), book.best_ask()
    out: list[int | None] = []
    for side in (Side.BUY, Side.SELL):
        want = quantity
        cost = 0
        for price, size, _ in book.depth(side, IMPACT_LEVELS):
            take = size if size < want else want
            cost += take * price
            want -= take
            if not want:
                break
        out.append(cost // quantity if not want else None)
    return out[0], out[1]


def premium_sample(index: int, bid: int | None, ask: int | None, params: BandParams) -> int:
    """One clamped premium sample (price units)."""
    premium = 0
    if bid is not None and bid > index:
        premium += bid - index
    if ask is not None and ask < index:
        premium -= index - ask
    cap = floor_mul(index, params.premium_tolerance)
    return max(-cap, min(cap, premium))


def ewma_step(ewma: int, sample: int, window_s: int) -> int:
    """One EWMA update (ewma at EWMA_SCALE, sample in price units)."""
    return ewma + (sample * EWMA_SCALE - ewma) * 2 // (window_s + 1)


def clamp_mark(index: int, ewma: int, params: BandParams) -> int:
    """index + premium average, held within the mean mark band of the index."""
    mark = index + ewma // EWMA_SCALE
    low = ceil_mul(index, params.mark_min)
    high = floor_mul(index, params.mark_max)
    return max(low, min(high, mark))

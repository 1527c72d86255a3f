"""Hourly funding per perp: premium sampled every settlement tick, paid longs <-> shorts.

Premium sample (FRACTION scale, truncated toward zero), with the impact bid/ask the
average fill price of `impact_notional` USDC worth of base on each side of the book
(`exchange.pricing.impact_prices`; a side without that depth contributes nothing):
    premium = (max(0, impact_bid - index) - max(0, index - impact_ask)) / index
Rate at the hour, from the average P of the hour's samples:
    rate = P + clamp(interest - P, -0.0005, +0.0005), then clamped to +-funding_cap
Payment of a position: |size| * mark / 10^d * |rate|; longs pay shorts when rate > 0,
shorts pay longs when rate < 0. Payers' amounts round up, receivers' round down; the
difference (>= 0) goes to `@fees`, so every funding entry sums to zero in the journal.
Payments go to `pnl_unsettled` and are settled into USDC at the next settlement tick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.matching import find_matching_state
from exchange.model import FEES
from exchange.values import FRACTION

from ._state import settlement_state

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.matching import MatchingState
    from exchange.model import Event
    from exchange.state import LedgerState

__all__ = [
    "FUNDING_JOB",
    "FUNDING_PERIOD_MS",
    "PREMIUM_CLAMP",
    "funding_rate",
    "pay_funding",
    "premium",
    "replay_funding",
    "sample_premiums",
]

FUNDING_JOB = "funding"
FUNDING_PERIOD_MS = 3_600_000
PREMIUM_CLAMP = 500_000  # 0.05 % at FRACTION scale


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def premium(index: int, bid: int | None, ask: int | None) -> int:
    """One premium sample at FRACTION scale (truncated toward zero)."""
    p = 0
    if bid is not None and bid > index:
        p += bid - index
    if ask is not None and ask < index:
        p -= index - ask
    return _trunc_div(p * FRACTION, index)


def funding_rate(samples_sum: int, count: int, interest: int, cap: int) -> int:
    """rate = P + clamp(interest - P, +-0.05 %), clamped to +-cap (FRACTION scale)."""
    avg = _trunc_div(samples_sum, count) if count else 0
    rate = avg + max(-PREMIUM_CLAMP, min(PREMIUM_CLAMP, interest - avg))
    return max(-cap, min(cap, rate))


def sample_premiums(
    state: LedgerState, matching: MatchingState, marks: dict[str, int]
) -> dict[str, int]:
    """A premium sample for each perp market with open interest and a base index."""
    from exchange.margin import index_price, margin_state
    from exchange.pricing import impact_prices

    open_markets = {symbol for (_, symbol), pos in matching.positions.items() if pos.size}
    out = {}
    ms = margin_state(state)
    for symbol in sorted(open_markets):
        if symbol not in marks:
            continue
        book = matching.books[symbol]
        market = book.market
        index = index_price(state, market.base)
        if index is None:
            continue
        qty = ms.perp_of(symbol).impact_notional * market.scale // index
        qty -= qty % market.step_size
        bid, ask = impact_prices(book, qty)
        out[symbol] = premium(index, bid, ask)
    return out


def pay_funding(ctx: Context, instant: int) -> None:
    from exchange.margin import margin_state, mark_price

    state = ctx.state
    ss = settlement_state(state)
    matching = find_matching_state(state)
    if not ss.samples or matching is None:
        return
    ms = margin_state(state)
    rates: dict[str, int] = {}
    legs: dict[str, list[tuple[str, str, str, int]]] = {}
    residual: dict[str, int] = {}
    for symbol in sorted(ss.samples):
        book = matching.books.get(symbol)
        if book is None:
            continue
        market = book.market
        mark = mark_price(state, symbol, market.base)
        if mark is None:
            continue
        total, count = ss.samples[symbol]
        params = ms.perp_of(symbol)
        rate = funding_rate(total, count, params.funding_interest, params.funding_cap)
        rates[symbol] = rate
        if not rate:
            continue
        quote = market.quote
        out = legs.setdefault(quote, [])
        denominator = market.scale * FRACTION
        size_rate = abs(rate) * mark
        for (account, sym), pos in matching.positions.items():
            if sym != symbol or not pos.size:
                continue
            exact = abs(pos.size) * size_rate
            if (pos.size > 0) == (rate > 0):  # payer
                amount = -(-exact // denominator)
                out.append((account, quote, "pnl_unsettled", -amount))
                residual[quote] = residual.get(quote, 0) + amount
            else:
                amount = exact // denominator
                out.append((account, quote, "pnl_unsettled", amount))
                residual[quote] = residual.get(quote, 0) - amount
    for quote in sorted(legs):
        if legs[quote]:
            ctx.post(*legs[quote], (FEES, quote, "available", residual[quote]))
    old_samples = dict(ss.samples)
    old_rates = dict(ss.rates)
    ss.samples.clear()
    ss.rates.update(rates)

    def undo() -> None:
        ss.samples.update(old_samples)
        ss.rates.clear()
        ss.rates.update(old_rates)

    ctx.on_rollback(undo)
    ctx.emit(funding={m: str(r) for m, r in sorted(rates.items())})


def replay_funding(state: LedgerState, event: Event) -> None:
    ss = settlement_state(state)
    ss.samples.clear()
    ss.rates.update({m: int(r) for m, r in (event.data or {}).get("funding", {}).items()})

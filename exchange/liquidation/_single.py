"""Single-position accounts re-checked at a new mark from a few kept numbers.

Most accounts a mark update pops hold one perp position (and its open orders) with
collateral only, no debt. Their exact check, `exchange.margin.account_risk`, sums every
asset's buckets and scans the market's resting orders; yet between two events of their
own only the mark moves. So when `evaluate` has checked such an account exactly, it keeps
what its risk is made of apart from the mark (`SinglePosition`), and the next check at a
new mark computes, with margin's own functions and roundings, what account_risk would:

    headroom(P) = collateral + floor(size * P / 10^d) - basis - ceil(N * MMF(N) / 10^9)
    N = ceil(qty * P / 10^d)          MMF(N) = margin_curve(mmf_base, mmf_factor, usd_sqrt(N))

(equity = collateral + unrealised with no liability; maintenance of the one exposure).
Used only while it still holds: the account was not touched since (a touched account is
checked fully), the held assets' prices and every margin parameter it depends on are the
ones it was computed with (compared here). `evaluate`'s full check is the reference; the
tests and the benchmark compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from exchange.margin import QUOTE, margin_curve, margin_state, usd_sqrt
from exchange.values import FRACTION, ceil_div

if TYPE_CHECKING:
    from exchange.margin import AccountRisk, CollateralParams, PerpParams
    from exchange.state import LedgerState

    from ._headroom import SidedDriver

__all__ = ["SinglePosition", "headroom_at", "single_position"]


@dataclass(frozen=True, slots=True)
class SinglePosition:
    """An account's risk apart from its one perp's mark (a cache: never in the digest).

    `held`: (asset, price or None, collateral parameters) of every asset with a positive
    net balance, as they were when `collateral` was computed; `drivers`: their sided
    drivers (`sided_room`), the perp's is made at each check."""

    symbol: str
    size: int
    basis: int
    qty: int
    scale: int
    collateral: int
    params: PerpParams
    quote_decimals: int
    decimals: int
    held: tuple[tuple[str, int | None, CollateralParams], ...]
    drivers: tuple[SidedDriver, ...]


def single_position(
    state: LedgerState,
    risk: AccountRisk,
    held: list[tuple[str, int]],
    drivers: list[SidedDriver],
) -> SinglePosition | None:
    """The kept numbers of an exactly checked account (`risk`, priced), if it has that
    shape: one perp exposure, no debt. `held`: (asset, net) of its positive nets;
    `drivers`: the account's sided drivers (its collateral's are kept)."""
    if len(risk.items) != 1 or risk.liabilities or risk.unpriced:
        return None
    item = risk.items[0]
    if item.name.startswith("borrow:"):
        return None
    qty = risk.market_qty.get(item.name, 0)
    if not qty:
        return None
    from exchange.matching import matching_state
    from exchange.pricing import asset_price

    ms = margin_state(state)
    market = matching_state(state).books[item.name].market
    quote = state.assets.get(QUOTE)
    return SinglePosition(
        item.name,
        item.size,
        item.size * item.mark // market.scale - item.unrealised,  # the position's basis
        qty,
        market.scale,
        risk.collateral,
        ms.perp_of(item.name),
        quote.decimals if quote is not None else 6,
        market.base_decimals,
        tuple((a, asset_price(state, a), ms.collateral_of(a)) for a, _ in held),
        tuple(d for d in drivers if d[0].startswith("asset:")),
    )


def headroom_at(
    state: LedgerState, single: SinglePosition, prices: dict[str, int]
) -> tuple[int, int, int] | None:
    """(headroom, mark, MMF) exactly as account_risk would give them at `prices`, or None
    when the kept numbers no longer apply (a held price or a parameter changed)."""
    mark = prices.get(f"perp:{single.symbol}")
    if mark is None:
        return None
    ms = margin_state(state)
    params = ms.perp_of(single.symbol)
    if params is not single.params and params != single.params:
        return None
    for asset, price, collateral in single.held:
        if prices.get(f"asset:{asset}") != price:
            return None
        now = ms.collateral_of(asset)
        if now is not collateral and now != collateral:
            return None
    scale = single.scale
    notional = ceil_div(single.qty * mark, scale)
    mmf = margin_curve(
        params.mmf_base, params.mmf_factor, usd_sqrt(notional, single.quote_decimals)
    )
    maintenance = ceil_div(notional * mmf, FRACTION)
    unrealised = single.size * mark // scale - single.basis
    return single.collateral + unrealised - maintenance, mark, mmf

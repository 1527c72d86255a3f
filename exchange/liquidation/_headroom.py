"""Which accounts a price move can push into liquidation, found without a full scan.

For an account with headroom h = equity - maintenance (USDC units) and price drivers d (a
perp's mark, an asset's index) with quantities q_d (base units, scale 10^dec_d), a move of
the driver's price by dP changes equity by at most q_d * |dP| / 10^dec_d (collateral
weights are <= 1) and maintenance by at most 1.5 * MMF' times that, where MMF' is the
fraction at the moved notional (MMF = max(base, factor * sqrt(notional)) grows at most
1.5 x as fast as the notional, and with moves of at most 50 % MMF' <= 1.33 * MMF). So the
headroom falls by at most L_d * |dP| with L_d = k_d * q_d / 10^dec_d, k_d = 1 + 2 * MMF_d
(k_d = 1 for collateral). Giving every driver the same relative room
r = min(h / sum_d(L_d * P_d), 1/2), the account cannot reach maintenance while every
price stays strictly inside P_d * (1 - r) .. P_d * (1 + r) (`room`).

Sided intervals (`sided_room`, what the liquidation check indexes): h is a sum of one term
per driver, and many terms cannot shrink one way: a short's PnL grows and its maintenance
falls as the mark falls, a debt's value and maintenance fall with its price, collateral
without a size penalty only gains when its price rises. Such a side gets the 50 % cap; the
other sides share h as above, with the loss rate of the side that can hurt (a long's fall
costs its size, no more: its maintenance falls too). A price update then pops only the
accounts it can actually bring closer to liquidation.

The index keeps, per driver, a max-heap of the lower edges and a min-heap of the upper
edges. A price update pops exactly the accounts whose interval it left (plus stale
entries, dropped by version), which the caller re-evaluates exactly: a conservative
interval can only cause an extra evaluation, never a missed liquidation.
"""

from __future__ import annotations

import builtins
import heapq

__all__ = ["SENSITIVITY", "HeadroomIndex", "SidedDriver", "room", "sided_room"]

SENSITIVITY = 2  # k = 1 + SENSITIVITY * MMF
SCALE = 10**9
SAFETY = 64  # USDC smallest units kept back from the headroom for rounding in the model


def room(
    headroom: int, drivers: list[tuple[str, int, int, int, int]]
) -> list[tuple[str, int, int]]:
    """(driver, low, high) intervals for drivers (name, price, quantity, decimals, MMF at
    FRACTION scale; 0 for collateral): `sided_room` with both sides of each driver
    shrinking the headroom at k * quantity, k = 1 + SENSITIVITY * MMF."""
    return sided_room(
        headroom,
        [
            (name, price, dec, loss, loss)
            for name, price, qty, dec, mmf in drivers
            for loss in ((SCALE + SENSITIVITY * mmf) * qty,)
        ],
    )


SidedDriver = tuple[str, int, int, int | None, int | None]
"""(driver, price, decimals, fall, rise): how fast the headroom can shrink when the price
falls / rises, as a base quantity at SCALE (the headroom loses at most
`fall * |dP| / (SCALE * 10^decimals)` USDC units when the price falls by dP), or None when
a move that way (of at most 50 %) cannot shrink it (see `sided_room`)."""


def sided_room(headroom: int, drivers: list[SidedDriver]) -> list[tuple[str, int, int]]:
    """(driver, low, high) intervals with a side per direction.

    The headroom is a sum of one term per driver (collateral and liability of each asset at
    its index, PnL and maintenance of each perp at its mark), so each driver's move acts
    alone. Where a direction cannot shrink its term (None), that side gets the 50 % cap;
    e.g. a short's PnL grows and its maintenance falls with the mark, so a falling mark
    never brings a short closer to liquidation. The other sides share the headroom as in
    `room`: r = min((h - 64) / sum_d(loss_d * P_d / 10^dec_d), 1/2), loss_d the larger of
    the driver's shrinking sides. At h <= 64 every side is closed (any move pops)."""
    weight = 0
    for _, price, dec, fall, rise in drivers:
        loss = max(fall or 0, rise or 0)
        if loss:
            weight += -(-loss * price // (SCALE * 10**dec))
    h = headroom - SAFETY
    if h <= 0:
        return [(d[0], d[1], d[1]) for d in drivers]
    cap = SCALE // 2
    r = min(h * SCALE // weight, cap) if weight > 0 else cap
    out = []
    for name, price, _, fall, rise in drivers:
        down = price * (cap if fall is None else r) // SCALE
        up = price * (cap if rise is None else r) // SCALE
        out.append((name, price - down, price + up))
    return out


class HeadroomIndex:
    """Per-driver heaps of interval edges with lazy deletion (a version per account)."""

    __slots__ = ("_highs", "_lows", "_version", "tracked")

    def __init__(self) -> None:
        self._lows: dict[str, list[tuple[int, int, str]]] = {}
        self._highs: dict[str, list[tuple[int, int, str]]] = {}
        self._version: dict[str, int] = {}
        self.tracked: set[str] = set()

    def set(self, account: str, intervals: list[tuple[str, int, int]]) -> None:
        """Replace the account's intervals (an empty list: nothing can liquidate it)."""
        v = self._version.get(account, 0) + 1
        self._version[account] = v
        if not intervals:
            self.tracked.discard(account)
            return
        self.tracked.add(account)
        for driver, low, high in intervals:
            heapq.heappush(self._lows.setdefault(driver, []), (-low, v, account))
            heapq.heappush(self._highs.setdefault(driver, []), (high, v, account))

    def drop(self, account: str) -> None:
        self.set(account, [])

    def crossed(self, prices: dict[str, int]) -> builtins.set[str]:  # (`set` is a method)
        """Accounts whose interval some price touched or left; their entries are removed
        (the caller re-evaluates them and calls `set`)."""
        out: builtins.set[str] = set()
        version = self._version
        pop = heapq.heappop
        for driver, price in prices.items():
            lows = self._lows.get(driver)
            while lows and -lows[0][0] >= price:
                _, v, account = pop(lows)
                if version.get(account) == v:
                    out.add(account)
            highs = self._highs.get(driver)
            while highs and highs[0][0] <= price:
                _, v, account = pop(highs)
                if version.get(account) == v:
                    out.add(account)
        for account in out:  # their remaining entries are stale now
            version[account] = version.get(account, 0) + 1
            self.tracked.discard(account)
        return out

    def size(self) -> int:
        return sum(len(h) for h in self._lows.values()) + sum(len(h) for h in self._highs.values())

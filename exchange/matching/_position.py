"""Perpetual positions: signed size and the exact entry notional behind it.

Average entry price is the exact rational `basis / size` (both ints, quote units and base
units): nothing is rounded while a position grows. When it shrinks, the share of the basis
that leaves is rounded in the exchange's favour (up for a long, down for a short), so the
realised PnL of a reduction is never overstated; the rounding telescopes: once a position
is flat, its realised PnL is exactly what it received minus what it paid.
"""

from __future__ import annotations

__all__ = ["Position"]


class Position:
    """One account's position in one perpetual market.

    Fields: `size` (base smallest units, > 0 long, < 0 short), `basis` (signed entry
    notional in quote units, same sign as size, 0 when flat), `realised` (cumulative
    realised PnL, quote units, before fees).
    """

    __slots__ = ("basis", "realised", "size")

    def __init__(self, size: int = 0, basis: int = 0, realised: int = 0) -> None:
        self.size = size
        self.basis = basis
        self.realised = realised

    def apply_fill(self, buy: bool, quantity: int, notional: int) -> int:
        """Change the position by a fill (`notional` = quantity at the fill price, exact).

        Returns the PnL this fill realises (quote units; 0 when it only opens/increases).
        """
        size = self.size
        signed_qty = quantity if buy else -quantity
        signed_notional = notional if buy else -notional
        if size == 0 or (size > 0) == buy:  # open or increase
            self.size = size + signed_qty
            self.basis += signed_notional
            return 0
        held = abs(size)
        closed = quantity if quantity < held else held
        if size > 0:  # long reduced by a sell: basis leaving rounds up
            leaving = -(-self.basis * closed // held)
            exit_notional = notional * closed // quantity
            pnl = exit_notional - leaving
            self.basis -= leaving
        else:  # short reduced by a buy: |basis| leaving rounds down
            leaving = -self.basis * closed // held
            exit_notional = notional * closed // quantity
            pnl = leaving - exit_notional
            self.basis += leaving
        self.size = size + signed_qty
        if quantity > closed:  # flipped: the rest opens at the fill price
            self.basis = signed_notional - (signed_notional * closed // quantity)
        self.realised += pnl
        return pnl

    def __repr__(self) -> str:
        return f"Position(size={self.size}, basis={self.basis}, realised={self.realised})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Position):
            return NotImplemented
        return (self.size, self.basis, self.realised) == (other.size, other.basis, other.realised)

    __hash__ = None  # type: ignore[assignment]

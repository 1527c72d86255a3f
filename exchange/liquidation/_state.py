"""The liquidation module's state (`state.ext["liquidation"]`).

Ledger facts (in the digest, rebuilt by replay): backstop liquidity providers and their
remaining capacity, the parameters. Derived caches (not in the digest, rebuilt lazily on
the first job after a start): the headroom index, the accounts touched since the last
check, and who owns which resting order (to know the makers of a fill).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._headroom import HeadroomIndex
from ._single import SinglePosition

__all__ = ["LiquidationParams", "LiquidationState"]


@dataclass(frozen=True, slots=True)
class LiquidationParams:
    """`auto_close`: below equity < auto_close x maintenance the book is skipped and the
    account goes to the backstop at once (Backpack's auto-close margin fraction, here as a
    share of the maintenance requirement). `slice`: share of a position one book step
    closes, or of a debt one spot-book step repays (rounded up to the step size). Both at
    FRACTION scale."""

    auto_close: int = 500_000_000
    slice: int = 100_000_000


class LiquidationState:
    __slots__ = ("built", "dirty", "index", "owners", "params", "providers", "singles")

    def __init__(self) -> None:
        self.providers: dict[str, int] = {}  # account -> remaining capacity (USDC units)
        self.params = LiquidationParams()
        self.index = HeadroomIndex()
        self.dirty: set[str] = set()
        self.owners: dict[int, str] = {}
        self.singles: dict[str, SinglePosition] = {}  # kept numbers of `_single`
        self.built = False

"""The settlement module's state: premium samples per perp market, last funding rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.state import LedgerState

__all__ = ["SettlementState", "settlement_state"]


@dataclass(slots=True)
class SettlementState:
    """`state.ext["settlement"]`.

    Fields: `samples` (market -> [sum, count] of premium samples at FRACTION scale since
    the last funding), `rates` (market -> last funding rate, FRACTION scale).
    Updates: a sample per settlement tick while the market has open interest; reset by the
    hourly funding. Rebuilt from the events' data on replay.
    """

    samples: dict[str, list[int]] = field(default_factory=dict)
    rates: dict[str, int] = field(default_factory=dict)

    def add_samples(self, premiums: dict[str, int]) -> None:
        for market, value in premiums.items():
            got = self.samples.setdefault(market, [0, 0])
            got[0] += value
            got[1] += 1

    def remove_samples(self, premiums: dict[str, int]) -> None:
        for market, value in premiums.items():
            got = self.samples[market]
            got[0] -= value
            got[1] -= 1
            if not got[1]:
                del self.samples[market]


def settlement_state(state: LedgerState) -> SettlementState:
    ss: SettlementState = state.ext["settlement"]
    return ss

"""Helpers for pricing tests: core + matching + pricing, BTC/USDC and BTC-PERP, checked
invariants after every event, and a replay check."""

from __future__ import annotations

from typing import Any

from exchange.model import Event, format_time
from exchange.pricing import pricing_state
from exchange.replay import rebuild, state_digest
from tests.exchange.matching.matching_venue import Venue

MODULES = ("exchange.core", "exchange.matching", "exchange.pricing")
T0 = 1_795_000_000_000  # a whole second, ms since the epoch
TICK = 100_000  # 0.1 USDC per BTC
STEP = 1_000  # 0.00001 BTC
P = 60_000_000_000  # 60 000 USDC per BTC in micro-USDC

SETUP = (
    {"cmd": "asset", "symbol": "BTC", "decimals": 8},
    {"cmd": "asset", "symbol": "USDC", "decimals": 6},
    {"cmd": "clock", "time": format_time(T0)},
    {
        "cmd": "market", "symbol": "BTC/USDC", "kind": "spot", "base": "BTC", "quote": "USDC",
        "tick_size": str(TICK), "step_size": str(STEP), "min_notional": "0",
        "maker_fee_ppm": 0, "taker_fee_ppm": 0,
    },
    {
        "cmd": "market", "symbol": "BTC-PERP", "kind": "perp", "base": "BTC", "quote": "USDC",
        "tick_size": str(TICK), "step_size": str(STEP), "min_notional": "0",
        "maker_fee_ppm": 0, "taker_fee_ppm": 0,
    },
)  # fmt: skip


class PriceVenue(Venue):
    """The matching tests' venue with the pricing module, a clock, and orders on BTC-PERP."""

    default_market = "BTC-PERP"

    def __init__(self, modules: tuple[str, ...] = MODULES) -> None:
        super().__init__(modules, SETUP)

    def at(self, seconds: int) -> str:
        return format_time(T0 + seconds * 1000)

    def index(self, *prices: int, asset: str = "BTC", at: int | None = None) -> Event:
        sources = {f"s{i}": str(p) for i, p in enumerate(prices)}
        fields: dict[str, Any] = {"asset": asset, "sources": sources}
        if at is not None:
            fields["ts"] = self.at(at)
        return self.do("index_price", **fields)

    def clock(self, seconds: int) -> None:
        self.ok({"cmd": "clock", "time": self.at(seconds)})

    def mark(self, market: str = "BTC-PERP") -> int | None:
        return pricing_state(self.state).mark.get(market)

    def assert_replays(self) -> None:
        rebuilt = rebuild(self.events(), self.registry)
        assert state_digest(rebuilt, self.registry) == state_digest(self.state, self.registry), (
            "rebuilding from the journal gives another state"
        )

"""Helpers for pricing tests: core + matching + pricing, BTC/USDC and BTC-PERP, checked
invariants after every event, and a replay check."""

from __future__ import annotations

import json
from typing import Any

from exchange.engine import Exchange, MemoryJournal
from exchange.invariants import check_events, check_state
from exchange.matching import check_matching
from exchange.model import Event, format_time
from exchange.pricing import pricing_state
from exchange.registry import build_registry
from exchange.replay import rebuild, state_digest

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


class PriceVenue(Exchange):
    def __init__(self, modules: tuple[str, ...] = MODULES) -> None:
        self.memory = MemoryJournal()
        super().__init__(build_registry(modules), journal=self.memory)
        self.after_event.append(self._check)
        for raw in SETUP:
            self.ok(raw)

    def _check(self, event: Event) -> None:
        problems = check_state(self.state, self.registry) + check_matching(self.state)
        problems += check_events([*self.memory.events, *self.pending])
        assert not problems, f"after seq {event.seq} ({event.cmd}): {problems}"

    def do(self, cmd: str, **fields: Any) -> Event:
        return self.apply_line(json.dumps({"cmd": cmd, **fields}))

    def ok(self, raw: dict[str, Any]) -> Event:
        event = self.apply_line(json.dumps(raw))
        assert event.accepted, f"{raw} was rejected: {event.reason} {event.detail}"
        return event

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

    def fund(self, account: str, asset: str, amount: int) -> None:
        self.ok({"cmd": "deposit", "account": account, "asset": asset,
                 "amount": str(amount), "tx": f"{account}:{asset}:{self.state.seq}"})  # fmt: skip

    def order(self, account: str, side: str, quantity: int, price: int | None = None,
              market: str = "BTC-PERP", **extra: Any) -> Event:  # fmt: skip
        fields: dict[str, Any] = {"account": account, "market": market, "side": side,
                                  "quantity": str(quantity), **extra}  # fmt: skip
        if price is not None:
            fields["price"] = str(price)
        else:
            fields.setdefault("type", "market")
        return self.do("order", **fields)

    def mark(self, market: str = "BTC-PERP") -> int | None:
        return pricing_state(self.state).mark.get(market)

    def events(self) -> list[Event]:
        self.flush()
        return self.memory.events

    def assert_replays(self) -> None:
        rebuilt = rebuild(self.events(), self.registry)
        assert state_digest(rebuilt, self.registry) == state_digest(self.state, self.registry), (
            "rebuilding from the journal gives another state"
        )

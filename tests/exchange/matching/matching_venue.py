"""Helpers for matching tests: the ledger's checked exchange plus the matching invariants
after every event, with BTC/USDC spot and BTC-PERP markets and funded traders."""

from __future__ import annotations

import json
from typing import Any

from exchange.engine import Exchange, MemoryJournal
from exchange.invariants import check_events, check_state
from exchange.matching import check_matching, matching_state
from exchange.model import Event
from exchange.registry import build_registry

MODULES = ("exchange.core", "exchange.matching")  # the matching rules alone: no auto-lend

TICK = 100_000  # 0.1 USDC per BTC
STEP = 1_000  # 0.00001 BTC
P = 60_000_000_000  # 60 000 USDC per BTC, in micro-USDC

MARKETS = (
    {"cmd": "asset", "symbol": "BTC", "decimals": 8},
    {"cmd": "asset", "symbol": "USDC", "decimals": 6},
    {
        "cmd": "market", "symbol": "BTC/USDC", "kind": "spot", "base": "BTC", "quote": "USDC",
        "tick_size": str(TICK), "step_size": str(STEP), "min_notional": "100000",
        "maker_fee_ppm": -100, "taker_fee_ppm": 500,
    },
    {
        "cmd": "market", "symbol": "BTC-PERP", "kind": "perp", "base": "BTC", "quote": "USDC",
        "tick_size": str(TICK), "step_size": str(STEP), "min_notional": "100000",
        "maker_fee_ppm": 0, "taker_fee_ppm": 500,
    },
)  # fmt: skip


class Venue(Exchange):
    """An in-memory exchange that asserts the ledger's and the matching invariants after
    every event; `do(cmd, **fields)` applies one command."""

    default_market = "BTC/USDC"  # where `order` goes unless told

    def __init__(
        self, modules: tuple[str, ...] = MODULES, setup: tuple[dict[str, Any], ...] = MARKETS
    ) -> None:
        self.memory = MemoryJournal()
        super().__init__(build_registry(modules), journal=self.memory)
        self.after_event.append(self._check)
        for raw in setup:
            self.ok(raw)

    def _check(self, event: Event) -> None:
        problems = check_state(self.state, self.registry) + check_matching(self.state)
        problems += check_events([*self.memory.events, *self.pending])
        assert not problems, f"after seq {event.seq} ({event.cmd}): {problems}"

    def events(self) -> list[Event]:
        self.flush()
        return self.memory.events

    def do(self, cmd: str, **fields: Any) -> Event:
        return self.apply_line(json.dumps({"cmd": cmd, **fields}))

    def ok(self, raw: dict[str, Any]) -> Event:
        event = self.apply_line(json.dumps(raw))
        assert event.accepted, f"{raw} was rejected: {event.reason} {event.detail}"
        return event

    def fund(self, account: str, asset: str, amount: int) -> None:
        self.ok({"cmd": "deposit", "account": account, "asset": asset,
                 "amount": str(amount), "tx": f"{account}:{asset}:{self.state.seq}"})  # fmt: skip

    def order(self, account: str, side: str, quantity: int, price: int | None = None,
              market: str | None = None, **extra: Any) -> Event:  # fmt: skip
        fields: dict[str, Any] = {"account": account, "market": market or self.default_market,
                                  "side": side,
                                  "quantity": str(quantity), **extra}  # fmt: skip
        if price is not None:
            fields["price"] = str(price)
        else:
            fields.setdefault("type", "market")
        return self.do("order", **fields)

    def bal(self, account: str, asset: str, bucket: str = "available") -> int:
        return self.state.balance(account, asset, bucket)

    def books(self) -> Any:
        return matching_state(self.state).books

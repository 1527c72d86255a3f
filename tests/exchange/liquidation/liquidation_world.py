"""A full exchange (every engine module) with BTC, USDC, a zero-fee BTC-PERP with flat
margin curves (IMF 10 %, MMF 5 %), a market maker, and helpers to check the ledger.
`World(spot=True)` adds the BTC/USDC spot market of `SPOT` (taker fee 0.1 %)."""

from __future__ import annotations

import json
from typing import Any

from exchange.engine import Exchange, MemoryJournal
from exchange.invariants import check_events, check_state
from exchange.liquidation import net_value
from exchange.matching import check_matching, matching_state
from exchange.model import Event, format_time, is_system_account
from exchange.registry import default_registry
from exchange.replay import check_replay

BTC = 100_000_000
USDC = 1_000_000
T0 = 1_795_000_000_000
TICK = 1_000_000  # 1 USDC
STEP = 100_000  # 0.001 BTC

WORLD: tuple[dict[str, Any], ...] = (
    {"cmd": "asset", "symbol": "BTC", "decimals": 8},
    {"cmd": "asset", "symbol": "USDC", "decimals": 6},
    {"cmd": "lending_pool", "asset": "BTC"},
    {"cmd": "lending_pool", "asset": "USDC"},
    {"cmd": "collateral_params", "asset": "BTC", "weight": "0.9"},
    {"cmd": "market", "symbol": "BTC-PERP", "kind": "perp", "base": "BTC", "quote": "USDC",
     "tick_size": str(TICK), "step_size": str(STEP), "min_notional": "0",
     "maker_fee_ppm": 0, "taker_fee_ppm": 0},
    {"cmd": "perp_params", "market": "BTC-PERP", "imf_base": "0.1", "imf_factor": "0",
     "mmf_base": "0.05", "mmf_factor": "0"},
    {"cmd": "clock", "time": format_time(T0)},
)  # fmt: skip

SPOT_FEE_PPM = 1_000  # 0.1 % taker, no maker fee
SPOT: tuple[dict[str, Any], ...] = (
    {"cmd": "market", "symbol": "BTC/USDC", "kind": "spot", "base": "BTC", "quote": "USDC",
     "tick_size": str(TICK), "step_size": str(STEP), "min_notional": str(10 * USDC),
     "maker_fee_ppm": 0, "taker_fee_ppm": SPOT_FEE_PPM},
)  # fmt: skip


class World(Exchange):
    def __init__(self, *, spot: bool = False) -> None:
        self.memory = MemoryJournal()
        super().__init__(default_registry(), journal=self.memory)
        self.after_event.append(self._check)
        self.seconds = 0
        for raw in WORLD + SPOT if spot else WORLD:
            self.ok(raw)

    def _check(self, event: Event) -> None:
        problems = check_state(self.state, self.registry) + check_matching(self.state)
        problems += check_events([*self.memory.events, *self.pending])
        assert not problems, f"after seq {event.seq} ({event.cmd}): {problems}"

    def ok(self, raw: dict[str, Any]) -> Event:
        event = self.apply_line(json.dumps(raw))
        assert event.accepted, f"{raw} was rejected: {event.reason} {event.detail}"
        return event

    def do(self, cmd: str, **fields: Any) -> Event:
        return self.apply_line(json.dumps({"cmd": cmd, **fields}))

    def tick(self, seconds: int = 1) -> list[Event]:
        """Let `seconds` of ledger time pass; returns the job events recorded meanwhile."""
        before = len(self.pending)
        self.seconds += seconds
        self.ok({"cmd": "clock", "time": format_time(T0 + self.seconds * 1000)})
        return [e for e in self.pending[before:] if e.kind == "job"]

    def fund(self, account: str, asset: str, amount: int) -> None:
        self.ok({"cmd": "deposit", "account": account, "asset": asset, "amount": str(amount),
                 "tx": f"{account}:{asset}:{self.state.seq}"})  # fmt: skip

    def order(self, account: str, side: str, quantity: int, price: int, **extra: Any) -> Event:
        extra.setdefault("market", "BTC-PERP")
        return self.ok({"cmd": "order", "account": account, "side": side,
                        "quantity": str(quantity), "price": str(price), **extra})  # fmt: skip

    def index(self, price: int) -> None:
        self.ok({"cmd": "index_price", "asset": "BTC", "price": str(price)})

    def mark(self, price: int) -> None:
        self.ok({"cmd": "mark_price", "market": "BTC-PERP", "price": str(price)})

    def bal(self, account: str, asset: str = "USDC", bucket: str = "available") -> int:
        return self.state.balance(account, asset, bucket)

    def claim(self, account: str, asset: str = "USDC") -> int:
        return sum(v for (a, s, _), v in self.state.balances.items() if a == account and s == asset)

    def size(self, account: str) -> int:
        pos = matching_state(self.state).positions.get((account, "BTC-PERP"))
        return pos.size if pos is not None else 0

    def steps(self, events: list[Event]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for e in events:
            if e.cmd == "liquidation" and e.data:
                out.extend(e.data["steps"])
        return out

    def events(self) -> list[Event]:
        self.flush()
        return self.memory.events

    def assert_replays(self) -> None:
        report = check_replay(self.state, self.events(), self.registry)
        assert report.ok, f"rebuilt or re-executed journal differs from the live state: {report}"

    def users(self) -> list[str]:
        return sorted(a for a in self.state.accounts if not is_system_account(a))

    def assert_no_hidden_hole(self) -> None:
        """Nobody is left below zero without an insurance, ADL or backstop step naming it,
        and the headroom index missed nobody: a full scan finds no one left to liquidate."""
        covers = ("insurance", "adl", "backstop_capital", "backstop_lp")
        steps = self.steps(self.events())
        named = {s["account"] for s in steps if s["stage"] in covers}
        for account in self.users():
            value = net_value(self.state, account)
            assert value >= 0 or account in named, f"{account} is at {value} with no named cover"

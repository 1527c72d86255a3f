"""The fast paths of `order` and `cancel` (`exchange/matching/_fast.py`) against the general
path: the same random command streams through an exchange with them and one without
(`register(registry, fast=False)`) give identical events (status, reason, detail, data,
postings), identical errors for malformed commands, and the same balances and digest."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching_venue import MARKETS, STEP, TICK, P

from exchange.engine import Exchange, FastPath, MemoryJournal
from exchange.errors import InvalidCommandError
from exchange.matching import (
    Market,
    MarketKind,
    OrderBook,
    OrderType,
    RestingOrder,
    Side,
    TimeInForce,
    matching_state,
)
from exchange.model import Event, format_time
from exchange.replay import check_replay, state_digest
from tests.exchange.registries import registry_of

MATCHING = ("exchange.core", "exchange.matching")
MARGIN = ("exchange.core", "exchange.matching", "exchange.pricing", "exchange.lending",
          "exchange.margin")  # fmt: skip
T0 = 1_795_000_000_000
TRADERS = ("a", "b", "c")
ACCOUNTS = (*TRADERS, *TRADERS, *TRADERS, "d", "zz", "@fees")  # d: no funds, zz: unknown


def _setup(modules: tuple[str, ...]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [*MARKETS]
    if modules == MARGIN:
        lines.insert(2, {"cmd": "clock", "time": format_time(T0)})
        lines[3:3] = [
            {"cmd": "index_price", "asset": "BTC", "price": str(P)},
            {"cmd": "collateral_params", "asset": "BTC", "weight": "0.9",
             "penalty": "0.000005", "imf_base": "0.1", "mmf_base": "0.05"},
            {"cmd": "collateral_params", "asset": "USDC", "weight": "1", "penalty": "0",
             "imf_base": "0.1", "mmf_base": "0.05"},
        ]  # fmt: skip
    for who in (*TRADERS, "d"):
        if who != "d":
            for asset, amount in (("USDC", 200_000_000_000), ("BTC", 300_000_000)):
                lines.append({"cmd": "deposit", "account": who, "asset": asset,
                              "amount": str(amount), "tx": f"{who}{asset}"})  # fmt: skip
    lines.append({"cmd": "deposit", "account": "d", "asset": "USDC", "amount": "1", "tx": "d"})
    return lines


class Pair:
    """Two exchanges, with and without the fast paths, fed the same commands."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        self.fast = Exchange(registry_of(modules, fast=True), journal=MemoryJournal())
        self.slow = Exchange(registry_of(modules, fast=False), journal=MemoryJournal())
        self.took: Counter[tuple[str, bool]] = Counter()
        for name in ("order", "cancel"):
            handle = self.fast.registry.commands[name].handle
            assert isinstance(handle, FastPath)
            assert not isinstance(self.slow.registry.commands[name].handle, FastPath)
            handle.fast = self._counting(name, handle.fast)
        for raw in _setup(modules):
            assert self.apply(raw)[0].accepted, raw

    def _counting(self, name: str, fast: Any) -> Any:
        def counted(ctx: Any, raw: dict[str, Any]) -> bool:
            took: bool = fast(ctx, raw)
            self.took[name, took] += 1
            return took

        return counted

    def apply(self, raw: dict[str, Any], line: bool = True) -> tuple[Event, Event]:
        text = json.dumps(raw) if line else json.dumps(raw, separators=(",", ":"))
        outcomes: list[Any] = []
        for ex in (self.fast, self.slow):
            try:
                outcomes.append(ex.apply_line(text) if line else ex.apply(dict(raw), text))
            except InvalidCommandError as exc:
                outcomes.append(("invalid", str(exc)))
        assert outcomes[0] == outcomes[1], f"{raw}: fast path {outcomes[0]}, general {outcomes[1]}"
        return outcomes[0], outcomes[1]

    def check_same_state(self) -> None:
        assert self.fast.state.balances == self.slow.state.balances
        assert self.fast.state.seq == self.slow.state.seq
        assert state_digest(self.fast.state, self.fast.registry) == state_digest(
            self.slow.state, self.slow.registry
        )
        self.fast.flush()
        events = self.fast.journal.events  # type: ignore[union-attr]
        report = check_replay(self.fast.state, events, self.fast.registry)
        assert report.ok, f"replay differs: {report}"


def _order(rng: random.Random, n: int) -> dict[str, Any]:
    r = rng.random
    raw: dict[str, Any] = {
        "cmd": "order",
        "account": rng.choice(ACCOUNTS),
        "market": "BTC/USDC" if r() < 0.85 else rng.choice(["BTC-PERP", "ETH/USDC"]),
        "side": rng.choice(["buy", "sell"]) if r() < 0.98 else "BUY",
        "price": str(P + rng.randint(-5, 5) * TICK),
        "quantity": str(rng.randint(1, 40) * STEP * 100),
    }
    if r() < 0.08:
        raw["price"] = rng.choice([str(P + 1), "0", "0123", str(10**25), P, "-100000", None,
                                   str(2 * P), str(P // 2)])  # fmt: skip
    if r() < 0.08:
        raw["quantity"] = rng.choice(["1", str(STEP), str(10**12), str(10**25), "", 5000])
    if r() < 0.3:
        raw["tif"] = rng.choice(["GTC", "IOC", "IOC", "FOK", "gtc", None, 1])
    if r() < 0.12:
        extra = rng.choice(["cid", "cid", "post_only", "stp", "type", "reduce_only", "ts", "x"])
        if extra == "cid":
            raw["cid"] = f"c{rng.randint(0, 30)}"
        elif extra == "post_only":
            raw["post_only"] = True
        elif extra == "stp":
            raw["stp"] = rng.choice(["RejectMaker", "RejectBoth", "RejectTaker"])
        elif extra == "type":
            raw["type"] = "market"
            del raw["price"]
            raw["tif"] = "IOC"
        elif extra == "reduce_only":
            raw["reduce_only"] = True
        elif extra == "ts":
            raw["ts"] = format_time(T0 + n * 1000)
        else:
            raw["note"] = "hi"
    if r() < 0.02:
        raw.pop(rng.choice(["account", "market", "side", "price", "quantity"]), None)
    return raw


def _cancel(rng: random.Random, pair: Pair, n: int) -> dict[str, Any]:
    account = rng.choice(ACCOUNTS)
    market = "BTC/USDC" if rng.random() < 0.9 else rng.choice(["BTC-PERP", "ETH/USDC"])
    book = matching_state(pair.fast.state).books.get(market)
    open_ids = sorted(book.orders) if book is not None else []
    mine = [i for i in open_ids if book is not None and book.orders[i].account == account]
    r = rng.random()
    if mine and r < 0.6:
        order_id: Any = rng.choice(mine)
    elif open_ids and r < 0.8:
        order_id = rng.choice(open_ids)  # usually someone else's
    else:
        order_id = rng.choice([rng.randint(1, n + 2), str(n), True, 0, -3])
    raw: dict[str, Any] = {"cmd": "cancel", "account": account, "market": market, "id": order_id}
    if rng.random() < 0.05:
        del raw["id"]
        raw["cid"] = f"c{rng.randint(0, 30)}"
    elif rng.random() < 0.03:
        raw["ts"] = format_time(T0 + n * 1000)
    return raw


def _command(rng: random.Random, pair: Pair, n: int) -> dict[str, Any]:
    r = rng.random()
    if r < 0.6:
        return _order(rng, n)
    if r < 0.93:
        return _cancel(rng, pair, n)
    if r < 0.95:
        return {"cmd": "cancel_all", "account": rng.choice(TRADERS)}
    if r < 0.96:  # mostly back to Open: the fast path only takes an Open market's orders
        state = rng.choice(["Open", "Open", "Open", "CancelOnly", "PostOnly", "LimitOnly",
                            "Closed"])  # fmt: skip
        return {"cmd": "market", "symbol": "BTC/USDC", "state": state}
    who = rng.choice(TRADERS)
    return {"cmd": "deposit", "account": who, "asset": rng.choice(["BTC", "USDC"]),
            "amount": str(rng.randint(1, 10**11)), "tx": f"top{n}"}  # fmt: skip


def _run(modules: tuple[str, ...], seed: int, length: int) -> Pair:
    rng = random.Random(seed)
    pair = Pair(modules)
    for n in range(length):
        pair.apply(_command(rng, pair, n), line=rng.random() < 0.5)
    pair.check_same_state()
    return pair


@pytest.mark.parametrize("modules", [MATCHING, MARGIN], ids=["matching", "margin"])
@pytest.mark.parametrize("seed", range(4))
def test_fast_paths_give_the_general_paths_events_and_state(
    modules: tuple[str, ...], seed: int
) -> None:
    pair = _run(modules, seed, 600)
    took = pair.took
    # the streams exercise both outcomes of both fast paths
    assert took["order", True] > 60, took
    assert took["order", False] > 20, took
    assert took["cancel", True] > 25, took
    assert took["cancel", False] > 20, took


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(1, 150), st.sampled_from([MATCHING, MARGIN]))
def test_random_streams_agree_with_and_without_the_fast_paths(
    seed: int, length: int, modules: tuple[str, ...]
) -> None:
    _run(modules, seed, length)


def test_fast_path_declines_a_wrapped_handler() -> None:
    """A module that wraps `order` gets a plain function: the engine never takes the fast
    path around it."""
    registry = registry_of(MATCHING, fast=True)
    spec = registry.commands["order"]
    seen: list[Any] = []

    def wrapped(ctx: Any, params: Any) -> None:
        seen.append(params)
        spec.handle(ctx, params)

    registry.commands["order"] = type(spec)(spec.name, spec.parse, wrapped, spec.time_field)
    ex = Exchange(registry, journal=MemoryJournal())
    for raw in _setup(MATCHING):
        assert ex.apply(raw).accepted
    event = ex.apply_line(json.dumps({"cmd": "order", "account": "a", "market": "BTC/USDC",
                                      "side": "buy", "price": str(P),
                                      "quantity": str(100 * STEP)}))  # fmt: skip
    assert event.accepted and event.data == {"id": 1, "rested": 100 * STEP}
    assert len(seen) == 1, "the wrapper did not run"


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 200))
def test_place_limit_changes_the_book_as_place_does(seed: int, length: int) -> None:
    rng = random.Random(seed)
    books = [OrderBook(_market()), OrderBook(_market())]
    for n in range(1, length + 1):
        if rng.random() < 0.3:
            for book in books:
                if n - 5 in book.orders:
                    book.cancel(n - 5)
            continue
        args = (n, rng.choice(TRADERS), Side(rng.randrange(2)),
                P + rng.randint(-5, 5) * TICK, rng.randint(1, 40) * STEP * 100)  # fmt: skip
        tif = rng.choice([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC])
        general = books[0].place(*args, OrderType.LIMIT, tif)
        plain = books[1].place_limit(*args, tif)
        outcomes = [
            ([(m.order_id, q, p) for m, q, p in b.fills], [m.order_id for m in b.cancelled],
             o.remaining, o.resting)
            for b, o in zip(books, (general, plain), strict=True)
        ]  # fmt: skip
        assert outcomes[0] == outcomes[1], f"order {args} {tif}"
        for book in books:
            book.fills.clear()
            book.cancelled.clear()
        assert [vars_of(o) for o in books[0].resting_orders()] == [
            vars_of(o) for o in books[1].resting_orders()
        ]


def vars_of(order: RestingOrder) -> tuple[Any, ...]:
    return tuple(getattr(order, name) for name in RestingOrder.__slots__)


def _market() -> Market:
    raw = MARKETS[2]
    return Market("BTC/USDC", MarketKind.SPOT, "BTC", "USDC", 8, int(raw["tick_size"]),
                  int(raw["step_size"]), 100_000, -100, 500)  # fmt: skip

"""Liquidation wraps every handler to note the accounts a command touched (the headroom
index only follows prices); the matching fast paths must survive the wrapping and note the
same accounts, or an account that changed its exposure through a fast-path order would be
found late. Borrowers here buy BTC with borrowed USDC through fast-path spot orders, then
the price falls: with and without the fast paths, the same events and state."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from liquidation_world import BTC, SPOT, STEP, T0, TICK, USDC, WORLD

from exchange.engine import Exchange, FastPath, MemoryJournal
from exchange.model import format_time
from exchange.replay import state_digest
from tests.exchange.registries import registry_of

PRICE = 60_000 * USDC


def _lines() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [*WORLD, *SPOT]
    out.append({"cmd": "index_price", "asset": "BTC", "price": str(PRICE)})
    for asset, amount in (("USDC", 10**8 * USDC), ("BTC", 1_000 * BTC)):
        out.append({"cmd": "deposit", "account": "mm", "asset": asset, "amount": str(amount),
                    "tx": f"mm{asset}"})  # fmt: skip
    for level in range(1, 40):
        for side, price in (("buy", PRICE - level * 10 * TICK), ("sell", PRICE + level * TICK)):
            out.append({"cmd": "order", "account": "mm", "market": "BTC/USDC", "side": side,
                        "price": str(price), "quantity": str(2_000 * STEP)})  # fmt: skip
    out.append({"cmd": "clock", "time": format_time(T0 + 1_000)})  # the index is built
    buys: list[dict[str, Any]] = []
    for i in range(20):
        who = f"b{i:02d}"
        out.append({"cmd": "deposit", "account": who, "asset": "BTC", "amount": str(BTC),
                    "tx": who})  # fmt: skip
        borrow = PRICE * (60 + i) // 100
        out.append({"cmd": "borrow", "account": who, "asset": "USDC", "amount": str(borrow)})
        qty = borrow * BTC // (PRICE + 40 * TICK) * 990 // 1000 // STEP * STEP
        buys.append({"cmd": "order", "account": who, "market": "BTC/USDC", "side": "buy",
                     "tif": "IOC", "price": str(PRICE + 40 * TICK),
                     "quantity": str(qty)})  # fmt: skip
    # a liquidation run indexes the borrowers as they are now; only the buys' note tells
    # it that they then swapped USDC for BTC (more exposed to its fall)
    out.append({"cmd": "clock", "time": format_time(T0 + 2_000)})
    out += buys
    price = PRICE
    for second in range(3, 110):
        price = price * 99 // 100 // TICK * TICK
        out.append({"cmd": "index_price", "asset": "BTC", "price": str(price),
                    "ts": format_time(T0 + second * 1_000)})  # fmt: skip
    return out


def test_fast_path_orders_are_noted_for_liquidation_as_general_ones() -> None:
    fast = Exchange(registry_of(fast=True), journal=MemoryJournal())
    slow = Exchange(registry_of(fast=False), journal=MemoryJournal())
    took: Counter[bool] = Counter()
    handle = fast.registry.commands["order"].handle
    assert isinstance(handle, FastPath), "liquidation's wrapper dropped the fast path"
    inner = handle.fast

    def counted(ctx: Any, raw: dict[str, Any]) -> bool:
        result: bool = inner(ctx, raw)
        took[result] += 1
        return result

    handle.fast = counted
    for raw in _lines():
        line = json.dumps(raw)
        a, b = fast.apply_line(line), slow.apply_line(line)
        assert a == b, f"{line}: fast {a}, general {b}"
        assert a.accepted, f"{line}: {a.reason} {a.detail}"
    assert took[True] >= 90, f"the fast path was hardly taken: {took}"
    steps = [s for e in slow.pending if e.cmd == "liquidation" and e.data for s in e.data["steps"]]
    borrowers = {s["account"] for s in steps if s["account"].startswith("b")}
    assert len(borrowers) >= 5, f"the fall liquidated too few borrowers: {borrowers}"
    assert fast.state.balances == slow.state.balances
    assert state_digest(fast.state, fast.registry) == state_digest(slow.state, slow.registry)

"""A seeded crash in the command log: leveraged longs and shorts, auto-lent collateral, USDC
borrowers (BTC collateral) and a few BTC borrowers (USDC collateral), a market maker on
BTC-PERP and on the BTC/USDC spot book, an insurance fund and a backstop provider; then a
price path."""

from __future__ import annotations

import json
import random
from typing import Any

from liquidation_world import BTC, SPOT, STEP, T0, TICK, USDC, WORLD

from exchange.model import format_time


def _cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


def crash_log(seed: int, accounts: int, path: list[int], start: int = 60_000) -> list[str]:
    """Command lines: setup at `start` USDC per BTC, then one index update (3 sources) and a
    market-maker refresh (perp and spot) per element of `path` (relative moves in basis
    points), 10 s apart."""
    rng = random.Random(seed)
    lines = [json.dumps(raw) for raw in WORLD + SPOT]
    price = start * USDC
    t = T0

    def at(seconds: int) -> str:
        return format_time(T0 + seconds * 1000)

    lines.append(_cmd("index_price", asset="BTC", sources={"a": str(price), "b": str(price)}))
    lines.append(_cmd("deposit", account="mm", asset="USDC", amount=str(50_000_000 * USDC),
                      tx="mm"))  # fmt: skip
    lines.append(_cmd("deposit", account="mm", asset="BTC", amount=str(100 * BTC), tx="mm:BTC"))
    lines.append(_cmd("deposit", account="treasury", asset="USDC", amount=str(20_000 * USDC),
                      tx="treasury"))  # fmt: skip
    lines.append(_cmd("insurance_fund", **{"from": "treasury"}, asset="USDC",
                      amount=str(20_000 * USDC)))  # fmt: skip
    lines.append(_cmd("deposit", account="lp", asset="USDC", amount=str(500_000 * USDC), tx="lp"))
    lines.append(_cmd("backstop_provider", account="lp", capacity=str(100_000 * USDC)))
    lines.append(_cmd("clock", time=at(1)))

    def refresh(p: int) -> list[str]:
        out = [_cmd("cancel_all", account="mm")]
        mid = p // TICK * TICK
        for level in range(1, 6):
            gap = level * mid // 1000 // TICK * TICK  # 0.1 % per level
            out.append(_cmd("order", account="mm", market="BTC-PERP", side="buy",
                            price=str(mid - gap), quantity=str(20 * STEP * level)))  # fmt: skip
            out.append(_cmd("order", account="mm", market="BTC-PERP", side="sell",
                            price=str(mid + gap), quantity=str(20 * STEP * level)))  # fmt: skip
            out.append(_cmd("order", account="mm", market="BTC/USDC", side="buy",
                            price=str(mid - gap), quantity=str(BTC // 2 * level)))  # fmt: skip
            out.append(_cmd("order", account="mm", market="BTC/USDC", side="sell",
                            price=str(mid + gap), quantity=str(5 * STEP * level)))  # fmt: skip
        return out

    lines += refresh(price)
    for i in range(accounts):
        name = f"u{i:03d}"
        kind = rng.random()
        if kind < 0.8:  # traders
            collateral = rng.randrange(2_000, 20_000) * USDC
            lines.append(_cmd("deposit", account=name, asset="USDC", amount=str(collateral),
                              tx=name))  # fmt: skip
            leverage = rng.randrange(2, 9)
            qty = collateral * leverage * BTC // price // STEP * STEP
            side = "buy" if kind < 0.5 else "sell"
            lines.append(_cmd("order", account=name, market="BTC-PERP", side=side,
                              type="market", quantity=str(max(qty, STEP))))  # fmt: skip
            lines += refresh(price)
        elif kind < 0.94:  # borrowers: BTC collateral (auto-lent), borrow USDC and spend it
            btc = rng.randrange(10, 100) * BTC // 100
            lines.append(_cmd("deposit", account=name, asset="BTC", amount=str(btc), tx=name))
            value = btc * price // BTC
            borrow = value * rng.randrange(40, 85) // 100
            lines.append(_cmd("borrow", account=name, asset="USDC", amount=str(borrow)))
            lines.append(_cmd("transfer", **{"from": name, "to": "mm"}, asset="USDC",
                              amount=str(borrow)))  # fmt: skip
        else:  # short by borrowing: USDC collateral (auto-lent), borrow BTC and spend it
            usdc = rng.randrange(2_000, 20_000) * USDC
            lines.append(_cmd("deposit", account=name, asset="USDC", amount=str(usdc), tx=name))
            btc = usdc * rng.randrange(40, 85) // 100 * BTC // price // STEP * STEP
            lines.append(_cmd("borrow", account=name, asset="BTC", amount=str(btc)))
            lines.append(_cmd("transfer", **{"from": name, "to": "mm"}, asset="BTC",
                              amount=str(btc)))  # fmt: skip
    seconds = 2
    for move in path:
        price = max(price * (10_000 + move) // 10_000, TICK)
        seconds += 10
        sources = {"a": str(price), "b": str(price + price // 2_000), "c": str(price * 3)}
        lines.append(_cmd("index_price", ts=at(seconds), asset="BTC", sources=sources))
        lines += refresh(price)
    lines.append(_cmd("clock", time=at(seconds + 30)))
    del t
    return lines

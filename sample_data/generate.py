#!/usr/bin/env python3
"""Generate the sample data: a seeded, reproducible day of a realistic exchange.

Files (all rewritten by `python sample_data/generate.py`; a test checks them byte for byte):

    config.jsonl      the exchange's configuration as command-log lines: assets with their
                      decimals, lending pools (rate curves), collateral weights and haircut
                      decay, spot and perp markets (ticks, steps, fees), perp margin curves,
                      price bands, index rules, liquidation parameters
    day.jsonl         a day of 2,000 accounts (heavy-tailed sizes): deposits, auto-lend
                      opt-outs, explicit borrowers, backstop providers, an insurance fund,
                      market makers quoting around a recorded-shape price path (index prices
                      from three sources), takers on spot and perps, withdrawals, and a 30 %
                      BTC drop in ten minutes at 15:00 that liquidates leveraged accounts
    onchain.jsonl     the exchange's wallets' balances at every hour boundary: what the
                      deposits brought and the completed withdrawals took, per wallet
    wallets.json      the exchange's custody wallets (Ethereum and Solana addresses, roles)
    demo-keys.json    DEMO ONLY private keys of those wallets, the manifest signing key and the
                      snapshot secret: public on purpose, never use them for anything real
    commands.jsonl    a small core-ledger sample (deposits, transfers, withdrawals, a few
                      orders) used by `por exchange` examples and the ledger's CLI tests

Apply the day with `por exchange run sample_data/config.jsonl` then
`por exchange run sample_data/day.jsonl` (or watch `por demo` do everything).

Only integers feed the output (random draws are integers or comparisons of `random()`
with constants), so the same seed gives the same bytes on every platform.
`generate_day(accounts=N, hours=H)` makes other sizes in memory (`por demo --accounts N`).
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20261124
ACCOUNTS = 2000
HOURS = 24
START = datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC)
START_MS = int(START.timestamp()) * 1000
EXCHANGE_NAME = "Example Exchange (demo)"

ASSETS = (("BTC", 8), ("ETH", 18), ("SOL", 9), ("USDC", 6))
DECIMALS = dict(ASSETS)
USDC = 10**6
# opening index prices, micro-USDC per whole unit
OPEN = {"BTC": 60_000 * USDC, "ETH": 3_000 * USDC, "SOL": 150 * USDC}
# (symbol, kind, base, tick, step, maker ppm, taker ppm); tick * step is a multiple of
# 10^base_decimals, so every notional is a whole micro-USDC (docs/matching.md)
MARKETS = (
    ("BTC/USDC", "spot", "BTC", 100_000, 1_000, -100, 500),
    ("ETH/USDC", "spot", "ETH", 10_000, 10**14, 0, 500),
    ("SOL/USDC", "spot", "SOL", 1_000, 10**6, 100, 600),
    ("BTC-PERP", "perp", "BTC", 100_000, 1_000, 0, 500),
    ("ETH-PERP", "perp", "ETH", 10_000, 10**14, 0, 500),
    ("SOL-PERP", "perp", "SOL", 1_000, 10**6, 0, 500),
)
MARKET = {m[0]: m for m in MARKETS}
SOURCES = ("coinbase", "kraken", "bitstamp")
# crash: BTC -30 %, ETH -18 %, SOL -22 % in ten minutes (basis points)
CRASH_BPS = {"BTC": 3_000, "ETH": 1_800, "SOL": 2_200}
CRASH_S = 600
CALM_INDEX_S = 300  # index update period in calm markets
FAST_S = 10  # both during and just after the crash
MAKERS = {"BTC": "mm-btc", "ETH": "mm-eth", "SOL": "mm-sol"}
QUOTE_GAPS_BPS = (10, 60)  # market makers' levels around the index (refreshed with it)
TAIL_P = 0.42  # heavy tail: each extra factor of 3 with this probability
WALLET_SPLIT = {  # asset -> [(chain, share in percent)]
    "BTC": (("ethereum", 100),),
    "ETH": (("ethereum", 100),),
    "SOL": (("solana", 100),),
    "USDC": (("ethereum", 55), ("solana", 45)),
}
HOT_PERCENT = 20  # of each chain's holdings in the hot wallet; the rest in the cold one


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def iso(ms: int) -> str:
    """Ledger time text (UTC, seconds; the day never needs milliseconds)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_ms(h: int) -> int:
    return START_MS + h * 3_600_000


# -- configuration --------------------------------------------------------------------


def config_lines() -> list[str]:
    """The exchange's configuration, one command per line (docs/commands.md, margin.md,
    matching.md, liquidation.md). Fractions are decimal strings."""
    out: list[dict[str, Any]] = [{"cmd": "asset", "symbol": s, "decimals": d} for s, d in ASSETS]
    slope1 = {"BTC": "0.04", "ETH": "0.05", "SOL": "0.09", "USDC": "0.06"}
    for symbol, _ in ASSETS:
        out.append({"cmd": "lending_pool", "asset": symbol, "optimal_utilisation": "0.9",
                    "base_rate": "0", "slope1": slope1[symbol], "slope2": "0.6", "fee": "0.1",
                    "throttle": "0.95"})  # fmt: skip
    collateral = {
        "BTC": ("0.9", "0.000005", "0.1", "0.05"),
        "ETH": ("0.9", "0.000005", "0.1", "0.05"),
        "SOL": ("0.8", "0.00001", "0.15", "0.075"),
        "USDC": ("1", "0", "0.1", "0.05"),
    }
    for symbol, (weight, penalty, imf, mmf) in collateral.items():
        out.append({"cmd": "collateral_params", "asset": symbol, "weight": weight,
                    "penalty": penalty, "imf_base": imf, "mmf_base": mmf})  # fmt: skip
    for symbol, kind, base, tick, step, maker, taker in MARKETS:
        out.append({"cmd": "market", "symbol": symbol, "kind": kind, "base": base,
                    "quote": "USDC", "tick_size": str(tick), "step_size": str(step),
                    "min_notional": str(5 * USDC), "maker_fee_ppm": maker,
                    "taker_fee_ppm": taker})  # fmt: skip
    perp = {  # Backpack's published curves: BTC-PERP, ETH-PERP, SOL-PERP
        "BTC-PERP": ("0.02", "0.00002494", "0.01", "0.00001247"),
        "ETH-PERP": ("0.02", "0.00003", "0.01", "0.000015"),
        "SOL-PERP": ("0.02", "0.000075", "0.0135", "0.0000375"),
    }
    for symbol, (imf_b, imf_f, mmf_b, mmf_f) in perp.items():
        out.append({"cmd": "perp_params", "market": symbol, "imf_base": imf_b,
                    "imf_factor": imf_f, "mmf_base": mmf_b, "mmf_factor": mmf_f,
                    "impact_notional": str(10_000 * USDC), "funding_interest": "0.0000125",
                    "funding_cap": "0.01"})  # fmt: skip
    for symbol, *_ in MARKETS:
        out.append({"cmd": "price_bands", "market": symbol, "min_multiplier": "0.75",
                    "max_multiplier": "1.25", "min_impact": "0.99", "max_impact": "1.01",
                    "mark_min": "0.9", "mark_max": "1.1", "premium_tolerance": "0.01",
                    "window_s": 300})  # fmt: skip
    for symbol in OPEN:
        out.append({"cmd": "index_params", "asset": symbol, "band": "0.01", "min_sources": 2,
                    "max_jump": "0.1"})  # fmt: skip
    out.append({"cmd": "liquidation_params", "auto_close": "0.5", "slice": "0.1"})
    return [_line(o) for o in out]


# -- wallets and demo keys --------------------------------------------------------------


def demo_keys(seed: int = SEED) -> dict[str, Any]:
    """DEMO ONLY keys, derived from the seed (so the files are reproducible)."""
    from eth_account import Account
    from solders.keypair import Keypair

    def secret(label: str) -> bytes:
        return hashlib.sha256(f"por-demo/{seed}/{label}".encode()).digest()

    eth = [Account.from_key(secret(f"ethereum/{i}")) for i in range(2)]
    sol = [Keypair.from_seed(secret(f"solana/{i}")) for i in range(2)]
    return {
        "WARNING": "DEMO ONLY: these keys are public (committed to the repository). "
        "Never send real funds to these addresses or sign anything real with them.",
        "ethereum": {a.address: "0x" + bytes(a.key).hex() for a in eth},
        "solana": {str(k.pubkey()): str(k) for k in sol},
        "manifest_signing_key": secret("manifest-signing-key").hex(),
        "snapshot_secret": secret("snapshot-secret").hex(),
    }


def demo_wallets(keys: dict[str, Any]) -> list[dict[str, Any]]:
    """The exchange's custody wallets: one hot and one cold per chain."""
    out: list[dict[str, Any]] = []
    chain_assets = {"ethereum": ["ETH", "USDC", "BTC"], "solana": ["SOL", "USDC"]}
    for chain in ("ethereum", "solana"):
        for i, address in enumerate(keys[chain]):
            role = "hot" if i == 0 else "cold"
            out.append({"chain": chain, "address": address, "assets": chain_assets[chain],
                        "role": role, "label": f"{chain} {role} wallet (demo)"})  # fmt: skip
    return out


def wallet_balances(
    custody: dict[str, int], wallets: list[dict[str, Any]]
) -> list[tuple[str, str, str, int]]:
    """Split the exchange's holdings per asset over chains and hot/cold wallets:
    [(chain, address, asset, amount)], amounts adding up exactly to `custody`."""
    out: list[tuple[str, str, str, int]] = []
    for asset, _ in ASSETS:
        total = custody.get(asset, 0)
        left = total
        splits = WALLET_SPLIT[asset]
        for n, (chain, percent) in enumerate(splits):
            on_chain = left if n == len(splits) - 1 else total * percent // 100
            left -= on_chain
            hot, cold = [w for w in wallets if w["chain"] == chain]
            hot_amount = on_chain * HOT_PERCENT // 100
            out.append((chain, hot["address"], asset, hot_amount))
            out.append((chain, cold["address"], asset, on_chain - hot_amount))
    return out


# -- the day ---------------------------------------------------------------------------


@dataclass
class Day:
    """A generated day: command lines, on-chain balances per hour, notable accounts."""

    lines: list[str]
    onchain: list[str]
    owners: dict[str, str]
    crash_at_ms: int
    hours: int
    counts: dict[str, int] = field(default_factory=dict)


class _Timeline:
    """Commands at times; emitted in (time, insertion) order with a `ts` each."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, dict[str, Any]]] = []
        self._n = 0

    def at(self, ms: int, cmd: str, **fields: Any) -> None:
        self._n += 1
        heapq.heappush(self._heap, (ms, self._n, {"cmd": cmd, **fields}))

    def drain(self) -> list[tuple[int, dict[str, Any]]]:
        out = []
        while self._heap:
            ms, _, obj = heapq.heappop(self._heap)
            out.append((ms, obj))
        return out


def _tail(rng: random.Random, base: int) -> int:
    """Heavy-tailed size: base x uniform(1..10) x 3^k, k geometric (a few whales)."""
    k = 0
    while k < 9 and rng.random() < TAIL_P:
        k += 1
    return base * rng.randrange(100, 1000) // 100 * 3**k


def _on(value: int, step: int) -> int:
    return value // step * step


class _Prices:
    """The recorded-shape price path: calm random walk, the crash, a partial recovery."""

    def __init__(self, rng: random.Random, crash_at: int, end: int) -> None:
        self.rng = rng
        self.crash_at = crash_at
        self.end = end
        self.points: dict[str, list[tuple[int, int]]] = {a: [] for a in OPEN}

    def build(self) -> list[int]:
        """Fill `points` per asset; returns the update instants."""
        rng = self.rng
        instants: list[int] = []
        t = START_MS
        after_crash = self.crash_at + CRASH_S * 1000
        fast_until = after_crash + CRASH_S * 1000
        while t < self.end:
            instants.append(t)
            t += FAST_S * 1000 if self.crash_at <= t < fast_until else CALM_INDEX_S * 1000
        price = dict(OPEN)
        vol = {"BTC": 18, "ETH": 24, "SOL": 34}  # bps per 5 minutes
        crash_from: dict[str, int] = {}
        for t in instants:
            for asset in OPEN:
                if self.crash_at <= t <= after_crash:
                    crash_from.setdefault(asset, price[asset])
                    done = (t - self.crash_at) // 1000
                    drop = CRASH_BPS[asset] * done // CRASH_S
                    noise = rng.randrange(-8, 9)
                    price[asset] = crash_from[asset] * (10_000 - drop + noise) // 10_000
                elif t > after_crash and t < fast_until:
                    price[asset] = price[asset] * (10_000 + rng.randrange(-10, 16)) // 10_000
                else:
                    step = rng.randrange(-vol[asset], vol[asset] + 1)
                    drift = 1 if t > after_crash else 0  # slow recovery after the crash
                    price[asset] = price[asset] * (10_000 + step + drift) // 10_000
                self.points[asset].append((t, price[asset]))
        return instants


def generate_day(seed: int = SEED, accounts: int = ACCOUNTS, hours: int = HOURS) -> Day:
    """The sample day for `accounts` customers over `hours` hours (published at 01:00 ..
    `hours`:00). The crash starts at 15:00 in a 24-hour day, at 5/8 of shorter days."""
    if accounts < 20 or not 1 <= hours <= 24:
        raise ValueError("accounts must be >= 20 and hours 1..24")
    rng = random.Random(seed)
    end = hour_ms(hours)
    crash_at = START_MS + (hours * 3600 * 15 // 24) // 60 * 60 * 1000
    if crash_at + 2 * CRASH_S * 1000 > end - 60_000:
        crash_at = max(START_MS + 600_000, end - 2 * CRASH_S * 1000 - 600_000)
    tl = _Timeline()
    custody: dict[str, int] = {a: 0 for a, _ in ASSETS}
    flows: list[tuple[int, str, int]] = []  # (ms, asset, +deposit / -withdrawal)
    counts = {"deposits": 0, "withdrawals": 0, "orders": 0, "borrows": 0, "opt_outs": 0}
    tx_n = 0

    def deposit(ms: int, account: str, asset: str, amount: int) -> None:
        nonlocal tx_n
        tx_n += 1
        digest = hashlib.sha256(f"{seed}/tx/{tx_n}".encode()).hexdigest()[:32]
        tl.at(ms, "deposit", account=account, asset=asset, amount=str(amount),
              tx=f"{asset.lower()}:{digest}:{tx_n % 4}")  # fmt: skip
        flows.append((ms, asset, amount))
        counts["deposits"] += 1

    wd_n = 0

    def withdraw(ms: int, account: str, asset: str, amount: int, delay_s: int) -> None:
        nonlocal wd_n
        wd_n += 1
        wid = f"w-{wd_n}"
        tl.at(ms, "withdraw", account=account, asset=asset, amount=str(amount),
              address=f"{asset.lower()}-addr-{account}", id=wid)  # fmt: skip
        done = min(ms + delay_s * 1000, end - 30_000)
        digest = hashlib.sha256(f"{seed}/out/{wd_n}".encode()).hexdigest()[:32]
        tl.at(done, "withdraw_complete", id=wid, tx=f"{asset.lower()}:{digest}:0")
        flows.append((done, asset, -amount))
        counts["withdrawals"] += 1

    prices = _Prices(random.Random(seed + 1), crash_at, end)
    instants = prices.build()
    path = prices.points

    def price_at(asset: str, ms: int) -> int:
        if asset == "USDC":
            return USDC
        points = path[asset]
        lo, hi = 0, len(points) - 1
        while lo < hi:  # last update at or before ms
            mid = (lo + hi + 1) // 2
            if points[mid][0] <= ms:
                lo = mid
            else:
                hi = mid - 1
        return points[lo][1]

    # house accounts at the start: market makers (auto-lend off), treasury and insurance
    # fund, backstop providers
    t0 = START_MS
    scale = max(1, accounts // 2000)
    for asset, maker in MAKERS.items():
        tl.at(t0, "account", id=maker)
        for sym in (asset, "USDC"):
            tl.at(t0, "auto_lend", account=maker, asset=sym, enabled=False)
        base_units = {"BTC": 400 * 10**8, "ETH": 8_000 * 10**18, "SOL": 200_000 * 10**9}
        deposit(t0, maker, asset, base_units[asset] * scale)
        deposit(t0, maker, "USDC", 60_000_000 * USDC * scale)
    deposit(t0, "treasury", "USDC", 5_000_000 * USDC * scale)
    tl.at(t0, "insurance_fund", **{"from": "treasury"}, asset="USDC",
          amount=str(4_000_000 * USDC * scale))  # fmt: skip
    providers = []
    for i in range(3):
        name = f"backstop-{i + 1}"
        providers.append(name)
        deposit(t0, name, "USDC", (3 + i) * 1_000_000 * USDC * scale)
        tl.at(t0 + 1000, "backstop_provider", account=name,
              capacity=str((2 + i) * 1_000_000 * USDC * scale))  # fmt: skip

    # market makers re-quote around every index update, so the index stays inside the
    # spread: the premium is zero, the mark equals the index and moves only with it
    quote_qty = {  # base units per level 1, doubled per level
        "BTC": (50_000_000, 1_000), "ETH": (10 * 10**18, 10**14), "SOL": (400 * 10**9, 10**6)
    }  # fmt: skip
    for t in instants:
        for asset in OPEN:
            p = price_at(asset, t)
            srcs = {}
            for s in SOURCES:
                srcs[s] = str(p * (10_000 + rng.randrange(-3, 4)) // 10_000)
            if rng.random() < 0.01:  # a stale or broken source: filtered by the median band
                srcs[SOURCES[rng.randrange(3)]] = str(p * 103 // 100)
            tl.at(t, "index_price", asset=asset, sources=srcs)
        for asset, maker in MAKERS.items():
            p = price_at(asset, t)
            qty, _step = quote_qty[asset]
            tl.at(t, "cancel_all", account=maker)
            for symbol in (f"{asset}/USDC", f"{asset}-PERP"):
                tick, step = MARKET[symbol][3], MARKET[symbol][4]
                for level, gap in enumerate(QUOTE_GAPS_BPS):
                    q = str(_on(qty << level, step))
                    bid = _on(p * (10_000 - gap) // 10_000, tick)
                    ask = -(-p * (10_000 + gap) // 10_000 // tick) * tick
                    tl.at(t, "order", account=maker, market=symbol, side="buy",
                          price=str(bid), quantity=q)  # fmt: skip
                    tl.at(t, "order", account=maker, market=symbol, side="sell",
                          price=str(ask), quantity=q)  # fmt: skip
                    counts["orders"] += 2

    # customers
    names = [f"u{i:06d}" for i in range(1, accounts + 1)]
    owners: dict[str, str] = {}
    biggest = (0, "")
    worst_long = (0, "")
    usdc_lendable = 0
    borrowed_total = 0
    first_trade = START_MS + 1_800_000  # trading opens after the morning's deposits
    usable = end - 1_200_000

    def when(after: int) -> int:
        """A random instant between `after` and the end of trading, on the second."""
        span = max(1, (usable - after) // 1000)
        return after + rng.randrange(span) * 1000

    for name in names:
        kind = rng.random()
        early = rng.random() < 0.7
        late = max(1801, (usable - START_MS) // 1000)
        joined = START_MS + (rng.randrange(1, 1800) if early else rng.randrange(1800, late)) * 1000
        if kind < 0.45:  # holders: one to three assets, some opt out of auto-lend, some withdraw
            held: list[tuple[str, int]] = []
            for asset, _ in rng.sample(ASSETS, rng.choice((1, 1, 2, 3))):
                unit = {"BTC": 2 * 10**5, "ETH": 3 * 10**15, "SOL": 5 * 10**7, "USDC": 10 * USDC}
                amount = _tail(rng, unit[asset])
                if rng.random() < 0.12:
                    if not held:
                        tl.at(joined, "account", id=name)
                    tl.at(joined, "auto_lend", account=name, asset=asset, enabled=False)
                    counts["opt_outs"] += 1
                    owners.setdefault("auto-lend opt-out", name)
                elif asset == "USDC":
                    usdc_lendable += amount
                deposit(joined, name, asset, amount)
                held.append((asset, amount))
                value = amount * price_at(asset, joined) // 10 ** DECIMALS[asset]
                if value > biggest[0]:
                    biggest = (value, name)
            if rng.random() < 0.15:
                asset, amount = held[0]
                withdraw(when(joined + 60_000), name, asset, amount * rng.randrange(10, 60) // 100,
                         rng.randrange(60, 1800))  # fmt: skip
            owners.setdefault("small holder", name)
        elif kind < 0.70:  # spot traders
            usdc = _tail(rng, 50 * USDC)
            deposit(joined, name, "USDC", usdc)
            usdc_lendable += usdc
            base = rng.choice(("BTC", "ETH", "SOL"))
            symbol = f"{base}/USDC"
            tick, step = MARKET[symbol][3], MARKET[symbol][4]
            held_base = 0
            if rng.random() < 0.5:
                held_base = _on(
                    _tail(rng, {"BTC": 10**5, "ETH": 2 * 10**15, "SOL": 4 * 10**7}[base]), step
                )
                if held_base:
                    deposit(joined, name, base, held_base)
            spend = usdc // 3
            for _ in range(rng.randrange(1, 4)):
                t = when(max(joined, first_trade) + 1000)
                p = price_at(base, t)
                side = "sell" if held_base and rng.random() < 0.4 else "buy"
                if side == "buy":
                    q = _on(spend * 10 ** DECIMALS[base] // p // 4, step)
                else:
                    q = _on(held_base // 3, step)
                if q * p // 10 ** DECIMALS[base] < 10 * USDC:
                    continue
                if side == "sell":
                    held_base -= q
                if rng.random() < 0.5:  # marketable: takes from the makers
                    tl.at(t, "order", account=name, market=symbol, side=side, type="market",
                          quantity=str(q))  # fmt: skip
                else:  # resting limit away from the touch; some cancelled later
                    gap = rng.randrange(20, 300)
                    px = p * (10_000 - gap if side == "buy" else 10_000 + gap) // 10_000
                    px = _on(px, tick) if side == "buy" else -(-px // tick) * tick
                    cid = f"{name}-{counts['orders']}"
                    tl.at(t, "order", account=name, market=symbol, side=side, price=str(px),
                          quantity=str(q), cid=cid)  # fmt: skip
                    if rng.random() < 0.4:
                        tl.at(min(t + rng.randrange(60, 3600) * 1000, end - 60_000), "cancel",
                              account=name, market=symbol, cid=cid)  # fmt: skip
                counts["orders"] += 1
        elif kind < 0.92:  # perp traders: USDC collateral, 2x-10x, mostly BTC, longs favoured
            collateral = _tail(rng, 200 * USDC)
            deposit(joined, name, "USDC", collateral)
            usdc_lendable += collateral
            base = "BTC" if rng.random() < 0.6 else rng.choice(("ETH", "SOL"))
            symbol = f"{base}-PERP"
            step = MARKET[symbol][4]
            leverage = rng.randrange(2, 11)
            side = "buy" if rng.random() < 0.62 else "sell"
            t = when(max(joined, first_trade) + 1000)
            if t > crash_at - 60_000 and rng.random() < 0.7:  # most positions predate the crash
                t = (
                    first_trade
                    + rng.randrange(max(1, (crash_at - first_trade) // 1000 - 120)) * 1000
                )
                t = max(t, joined + 1000)
            if t >= usable:
                continue
            p = price_at(base, t)
            q = _on(collateral * leverage * 10 ** DECIMALS[base] // p, step)
            if q * p // 10 ** DECIMALS[base] < 20 * USDC:
                continue
            tl.at(t, "order", account=name, market=symbol, side=side, type="market",
                  quantity=str(q))  # fmt: skip
            counts["orders"] += 1
            if base == "BTC" and side == "buy" and t < crash_at and leverage > worst_long[0]:
                worst_long = (leverage, name)
            if rng.random() < 0.45:  # closes later (reduce-only: never flips)
                t2 = when(t + 60_000)
                tl.at(t2, "order", account=name, market=symbol,
                      side="sell" if side == "buy" else "buy", type="market", quantity=str(q),
                      reduce_only=True)  # fmt: skip
                counts["orders"] += 1
        else:  # borrowers: BTC or ETH collateral (auto-lent), borrow USDC, withdraw it
            asset = rng.choice(("BTC", "ETH"))
            amount = _tail(rng, {"BTC": 5 * 10**6, "ETH": 10**17}[asset])
            deposit(joined, name, asset, amount)
            t = when(joined + 1000)
            value = amount * price_at(asset, t) // 10 ** DECIMALS[asset]
            loan = value * rng.randrange(35, 70) // 100
            if loan < 10 * USDC or borrowed_total + loan > usdc_lendable * 35 // 100:
                continue
            borrowed_total += loan
            tl.at(t, "borrow", account=name, asset="USDC", amount=str(loan))
            counts["borrows"] += 1
            owners.setdefault("borrower", name)
            if rng.random() < 0.6 and t + 120_000 < usable:
                withdraw(t + 60_000, name, "USDC", loan, rng.randrange(60, 900))
    owners["whale"] = biggest[1]
    if worst_long[1]:
        owners["leveraged BTC long"] = worst_long[1]

    # hour boundaries close each hour's cut (a `clock` at HH:00:00 makes it final)
    for h in range(1, hours + 1):
        tl.at(hour_ms(h), "clock", time=iso(hour_ms(h)))
    lines = [_line({"cmd": "clock", "time": iso(START_MS)})]
    for ms, obj in tl.drain():
        if obj["cmd"] != "clock":
            obj = {**obj, "ts": iso(ms)}
        lines.append(_line(obj))

    # on-chain: the wallets hold exactly what was deposited minus what was paid out
    wallets = demo_wallets(demo_keys(seed))
    onchain: list[str] = []
    flows.sort(key=lambda f: f[0])
    k = 0
    for h in range(1, hours + 1):
        while k < len(flows) and flows[k][0] < hour_ms(h):
            custody[flows[k][1]] += flows[k][2]
            k += 1
        for chain, address, asset, amount in wallet_balances(custody, wallets):
            onchain.append(_line({"before": iso(hour_ms(h)), "chain": chain, "address": address,
                                  "asset": asset, "balance": str(amount)}))  # fmt: skip
    counts["lines"] = len(lines)
    return Day(lines, onchain, owners, crash_at, hours, counts)


# -- the small core-ledger sample (commands.jsonl) --------------------------------------

_CORE_BASE = {"BTC": 10**6, "ETH": 10**17, "SOL": 10**9, "USDC": 10**8}


def core_sample(seed: int = SEED, accounts: int = 240, steps: int = 2400) -> list[str]:
    """A few hundred accounts' deposits (heavy-tailed), transfers, withdrawals that complete
    or are cancelled, the odd command the ledger must reject, and ~200 orders on six
    markets. Kept for `por exchange` examples and the ledger's CLI tests."""
    rng = random.Random(seed)
    lines = [_line({"cmd": "asset", "symbol": s, "decimals": d}) for s, d in ASSETS]
    now = START
    lines.append(_line({"cmd": "clock", "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    names = [f"user{i:04d}" for i in range(accounts)]
    available: dict[tuple[str, str], int] = {}
    pending: list[tuple[str, str, str, int]] = []
    txs: list[str] = []
    n_w = 0

    def t(at: datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")

    def deposit(account: str, asset: str) -> None:
        amount = max(int(_CORE_BASE[asset] * min(rng.paretovariate(1.16), 20_000)), 1)
        tx = f"{asset.lower()}:{rng.getrandbits(64):016x}:{rng.randrange(4)}"
        txs.append(tx)
        available[(account, asset)] = available.get((account, asset), 0) + amount
        lines.append(_line({"cmd": "deposit", "account": account, "asset": asset,
                            "amount": str(amount), "tx": tx}))  # fmt: skip

    for name in names:
        for asset, _ in rng.sample(ASSETS, rng.choice((1, 1, 2))):
            deposit(name, asset)
    for _ in range(steps):
        if rng.random() < 0.08:
            now += timedelta(seconds=rng.randrange(1, 120))
            lines.append(_line({"cmd": "clock", "time": t(now)}))
        r = rng.random()
        account = rng.choice(names)
        asset = rng.choice(ASSETS)[0]
        have = available.get((account, asset), 0)
        if r < 0.30:
            deposit(account, asset)
        elif r < 0.62:
            if not have:
                continue
            to = rng.choice(names)
            if to == account:
                continue
            amount = max(1, have * rng.randrange(1, 60) // 100)
            available[(account, asset)] = have - amount
            available[(to, asset)] = available.get((to, asset), 0) + amount
            obj: dict[str, Any] = {"cmd": "transfer", "from": account, "to": to,
                                   "asset": asset, "amount": str(amount)}  # fmt: skip
            if rng.random() < 0.2:
                now += timedelta(seconds=rng.randrange(1, 5))
                obj["ts"] = t(now)
            lines.append(_line(obj))
        elif r < 0.80:
            if not have:
                continue
            amount = max(1, have * rng.randrange(5, 90) // 100)
            n_w += 1
            available[(account, asset)] = have - amount
            pending.append((f"w-{n_w}", account, asset, amount))
            lines.append(_line({"cmd": "withdraw", "account": account, "asset": asset,
                                "amount": str(amount),
                                "address": f"addr-{account}-{asset.lower()}",
                                "id": f"w-{n_w}"}))  # fmt: skip
        elif r < 0.95:
            if not pending:
                continue
            wid, acct, wasset, amount = pending.pop(rng.randrange(len(pending)))
            if rng.random() < 0.85:
                tx = f"{wasset.lower()}:{rng.getrandbits(64):016x}:0"
                lines.append(_line({"cmd": "withdraw_complete", "id": wid, "tx": tx}))
            else:
                available[(acct, wasset)] = available.get((acct, wasset), 0) + amount
                lines.append(_line({"cmd": "withdraw_cancel", "id": wid}))
        else:  # commands the ledger must reject (recorded with their reason)
            kind = rng.randrange(3)
            if kind == 0 and txs:
                lines.append(_line({"cmd": "deposit", "account": account, "asset": asset,
                                    "amount": "1", "tx": rng.choice(txs)}))  # fmt: skip
            elif kind == 1:
                n_w += 1
                lines.append(_line({"cmd": "withdraw", "account": account, "asset": asset,
                                    "amount": str(have + 1), "address": "addr-x",
                                    "id": f"w-{n_w}"}))  # fmt: skip
            else:
                lines.append(_line({"cmd": "transfer", "from": account,
                                    "to": rng.choice(names), "asset": asset,
                                    "amount": "0"}))  # fmt: skip
    _core_trading(random.Random(seed + 1), names, available, lines)
    now += timedelta(seconds=60)
    lines.append(_line({"cmd": "clock", "time": t(now)}))
    return lines


_CORE_MID = {"BTC": 60_000_000_000, "ETH": 3_000_000_000, "SOL": 150_000_000}


def _core_trading(
    rng: random.Random, names: list[str], available: dict[tuple[str, str], int], lines: list[str]
) -> None:
    for symbol, kind, base, tick, step, maker, taker in MARKETS:
        lines.append(_line({"cmd": "market", "symbol": symbol, "kind": kind, "base": base,
                            "quote": "USDC", "tick_size": str(tick), "step_size": str(step),
                            "min_notional": "1000000", "maker_fee_ppm": maker,
                            "taker_fee_ppm": taker}))  # fmt: skip
    for base, mid in _CORE_MID.items():  # prices first: orders need a known price to check
        lines.append(_line({"cmd": "index_price", "asset": base, "price": str(mid)}))
    open_cids: list[tuple[str, str, str]] = []
    for n in range(600):
        symbol, kind, base, tick, step, _, taker_ppm = rng.choice(MARKETS)
        mid = _CORE_MID[base]
        account = rng.choice(names)
        side = rng.choice(("buy", "sell"))
        taking = rng.random() < 0.25
        ticks = rng.randrange(1, 40) * (-1 if (side == "buy") != taking else 1)
        price = mid + ticks * tick
        steps = rng.randrange(1, 200) * max(1, 10 ** DECIMALS[base] // 1000 // step)
        quantity = steps * step
        if kind == "spot":
            if side == "buy":
                per_step = step * price // 10 ** DECIMALS[base]
                need = steps * (per_step + -(-per_step * taker_ppm // 1_000_000))
                asset = "USDC"
            else:
                need, asset = quantity, base
        else:  # a perp: USDC collateral for the initial margin at well under 2x leverage
            need, asset = quantity * price // 10 ** DECIMALS[base] // 2, "USDC"
        have = available.get((account, asset), 0)
        if need > have // 3:
            continue
        available[(account, asset)] = have - need
        obj: dict[str, Any] = {"cmd": "order", "account": account, "market": symbol,
                               "side": side, "price": str(price),
                               "quantity": str(quantity)}  # fmt: skip
        if taking:
            obj["tif"] = "IOC"
        elif rng.random() < 0.4:
            obj["cid"] = f"c{n}"
            open_cids.append((account, symbol, f"c{n}"))
        lines.append(_line(obj))
        if open_cids and rng.random() < 0.15:
            acct, market, cid = open_cids.pop(rng.randrange(len(open_cids)))
            lines.append(_line({"cmd": "cancel", "account": acct, "market": market, "cid": cid}))
        if rng.random() < 0.02:  # rejected: price off the tick
            bad = dict(obj, price=str(price + 1), tif="IOC")
            bad.pop("cid", None)
            lines.append(_line(bad))


# -- files ------------------------------------------------------------------------------


def render(seed: int = SEED) -> dict[str, str]:
    """Every committed file's exact text, by file name."""
    day = generate_day(seed)
    keys = demo_keys(seed)
    wallets = {"exchange": EXCHANGE_NAME, "wallets": demo_wallets(keys),
               "split": {a: [list(s) for s in v] for a, v in WALLET_SPLIT.items()},
               "hot_percent": HOT_PERCENT}  # fmt: skip
    return {
        "config.jsonl": "".join(line + "\n" for line in config_lines()),
        "day.jsonl": "".join(line + "\n" for line in day.lines),
        "onchain.jsonl": "".join(line + "\n" for line in day.onchain),
        "wallets.json": json.dumps(wallets, indent=2) + "\n",
        "demo-keys.json": json.dumps(keys, indent=2) + "\n",
        "commands.jsonl": "".join(line + "\n" for line in core_sample(seed)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", default=str(Path(__file__).parent), help="directory")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render(args.seed).items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

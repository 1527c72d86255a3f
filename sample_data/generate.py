#!/usr/bin/env python3
"""Generate sample_data/commands.jsonl: a seeded, reproducible day of an exchange's ledger.

Four assets (BTC 8, ETH 18, SOL 9, USDC 6 decimals); a few hundred accounts whose deposits
are heavy-tailed (a few whales, many small accounts); transfers, withdrawals that complete
or are cancelled, clock lines, and the odd command the ledger must reject (a duplicate
deposit tx, a withdrawal above the available balance, a zero transfer).

The same seed gives the same file byte for byte:
    python sample_data/generate.py            # rewrites sample_data/commands.jsonl
    python sample_data/generate.py --out -    # to stdout
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ASSETS = (("BTC", 8), ("ETH", 18), ("SOL", 9), ("USDC", 6))
# a typical small deposit per asset, in smallest units: 0.01 BTC, 0.1 ETH, 1 SOL, 100 USDC
BASE = {"BTC": 10**6, "ETH": 10**17, "SOL": 10**9, "USDC": 10**8}
START = datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC)


def _line(obj: dict[str, object]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(seed: int = 20261124, accounts: int = 240, steps: int = 2400) -> list[str]:
    rng = random.Random(seed)
    lines = [_line({"cmd": "asset", "symbol": s, "decimals": d}) for s, d in ASSETS]
    now = START
    lines.append(_line({"cmd": "clock", "time": _time(now)}))
    names = [f"user{i:04d}" for i in range(accounts)]
    available: dict[tuple[str, str], int] = {}
    pending: list[tuple[str, str, str, int]] = []  # (id, account, asset, amount)
    txs: list[str] = []
    opened: set[str] = set()
    n_w = 0

    def deposit(account: str, asset: str) -> None:
        amount = int(BASE[asset] * min(rng.paretovariate(1.16), 20_000))
        amount = max(amount, 1)
        tx = f"{asset.lower()}:{rng.getrandbits(64):016x}:{rng.randrange(4)}"
        txs.append(tx)
        opened.add(account)
        available[(account, asset)] = available.get((account, asset), 0) + amount
        lines.append(
            _line(
                {
                    "cmd": "deposit",
                    "account": account,
                    "asset": asset,
                    "amount": str(amount),
                    "tx": tx,
                }
            )
        )

    # everybody starts with one or two deposits
    for name in names:
        for asset, _ in rng.sample(ASSETS, rng.choice((1, 1, 2))):
            deposit(name, asset)
    for _ in range(steps):
        if rng.random() < 0.08:
            now += timedelta(seconds=rng.randrange(1, 120))
            lines.append(_line({"cmd": "clock", "time": _time(now)}))
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
            obj: dict[str, object] = {
                "cmd": "transfer",
                "from": account,
                "to": to,
                "asset": asset,
                "amount": str(amount),
            }
            if rng.random() < 0.2:
                now += timedelta(seconds=rng.randrange(1, 5))
                obj["ts"] = _time(now)
            lines.append(_line(obj))
        elif r < 0.80:
            if not have:
                continue
            amount = max(1, have * rng.randrange(5, 90) // 100)
            n_w += 1
            wid = f"w-{n_w}"
            available[(account, asset)] = have - amount
            pending.append((wid, account, asset, amount))
            lines.append(
                _line(
                    {
                        "cmd": "withdraw",
                        "account": account,
                        "asset": asset,
                        "amount": str(amount),
                        "address": f"addr-{account}-{asset.lower()}",
                        "id": wid,
                    }
                )
            )
        elif r < 0.95:
            if not pending:
                continue
            wid, acct, wasset, amount = pending.pop(rng.randrange(len(pending)))
            if rng.random() < 0.85:
                lines.append(
                    _line(
                        {
                            "cmd": "withdraw_complete",
                            "id": wid,
                            "tx": f"{wasset.lower()}:{rng.getrandbits(64):016x}:0",
                        }
                    )
                )
            else:
                available[(acct, wasset)] = available.get((acct, wasset), 0) + amount
                lines.append(_line({"cmd": "withdraw_cancel", "id": wid}))
        else:
            # commands the ledger must reject (recorded with their reason)
            kind = rng.randrange(3)
            if kind == 0 and txs:
                lines.append(
                    _line(
                        {
                            "cmd": "deposit",
                            "account": account,
                            "asset": asset,
                            "amount": "1",
                            "tx": rng.choice(txs),
                        }
                    )
                )
            elif kind == 1:
                n_w += 1
                lines.append(
                    _line(
                        {
                            "cmd": "withdraw",
                            "account": account,
                            "asset": asset,
                            "amount": str(have + 1),
                            "address": "addr-x",
                            "id": f"w-{n_w}",
                        }
                    )
                )
            else:
                lines.append(
                    _line(
                        {
                            "cmd": "transfer",
                            "from": account,
                            "to": rng.choice(names),
                            "asset": asset,
                            "amount": "0",
                        }
                    )
                )
    _trading(random.Random(seed + 1), names, available, lines)
    now += timedelta(seconds=60)
    lines.append(_line({"cmd": "clock", "time": _time(now)}))
    return lines


# Markets (docs/matching.md): tick * step is a multiple of 10^base_decimals, so every notional
# is a whole micro-USDC. (symbol, kind, base, tick, step, maker ppm, taker ppm, mid price)
MARKETS = (
    ("BTC/USDC", "spot", "BTC", 100_000, 1_000, -100, 500, 60_000_000_000),
    ("ETH/USDC", "spot", "ETH", 10_000, 10**14, 0, 500, 3_000_000_000),
    ("SOL/USDC", "spot", "SOL", 1_000, 10**6, 100, 600, 150_000_000),
    ("BTC-PERP", "perp", "BTC", 100_000, 1_000, 0, 500, 60_000_000_000),
    ("ETH-PERP", "perp", "ETH", 10_000, 10**14, 0, 500, 3_000_000_000),
    ("SOL-PERP", "perp", "SOL", 1_000, 10**6, 0, 500, 150_000_000),
)
DECIMALS = dict(ASSETS)


def _trading(
    rng: random.Random, names: list[str], available: dict[tuple[str, str], int], lines: list[str]
) -> None:
    """Markets and a few hundred orders: makers quote around the mid, takers cross, some
    cancels by client id, and a few orders the engine must reject. Spot orders spend at
    most a third of what the generator knows is available (proceeds are not counted), so
    funds never run short."""
    for symbol, kind, base, tick, step, maker, taker, _ in MARKETS:
        lines.append(
            _line(
                {
                    "cmd": "market", "symbol": symbol, "kind": kind, "base": base,
                    "quote": "USDC", "tick_size": str(tick), "step_size": str(step),
                    "min_notional": "1000000", "maker_fee_ppm": maker, "taker_fee_ppm": taker,
                }
            )
        )  # fmt: skip
    open_cids: list[tuple[str, str, str]] = []  # (account, market, cid)
    for n in range(600):
        symbol, kind, base, tick, step, _, taker_ppm, mid = rng.choice(MARKETS)
        account = rng.choice(names)
        side = rng.choice(("buy", "sell"))
        taking = rng.random() < 0.25
        ticks = rng.randrange(1, 40) * (-1 if (side == "buy") != taking else 1)
        price = mid + ticks * tick
        steps = rng.randrange(1, 200) * max(1, 10**DECIMALS[base] // 1000 // step)
        quantity = steps * step
        if kind == "spot":
            if side == "buy":
                per_step = step * price // 10 ** DECIMALS[base]
                need = steps * (per_step + -(-per_step * taker_ppm // 1_000_000))
                asset = "USDC"
            else:
                need, asset = quantity, base
            have = available.get((account, asset), 0)
            if need > have // 3:
                continue
            available[(account, asset)] = have - need
        obj: dict[str, object] = {
            "cmd": "order", "account": account, "market": symbol, "side": side,
            "price": str(price), "quantity": str(quantity),
        }  # fmt: skip
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--accounts", type=int, default=240)
    parser.add_argument("--steps", type=int, default=2400)
    default_out = Path(__file__).with_name("commands.jsonl")
    parser.add_argument("--out", default=str(default_out), help="file, or - for stdout")
    args = parser.parse_args()
    text = "".join(line + "\n" for line in generate(args.seed, args.accounts, args.steps))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        tmp = Path(args.out + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ledgers for snapshot tests: a persisted ledger (SQLite or PostgreSQL, via `db_url`) built
from a small command log with the default engine modules (core, lending, ...): deposits
are auto-lent to the pools, `borrow` records a debt in the `borrowed` bucket.
"""

from __future__ import annotations

import json
from typing import Any

from exchange.commandlog import run_lines
from exchange.ledger import PersistedLedger, open_ledger

HOUR_MS = 1_795_536_000_000  # 2026-11-24T16:00:00Z
AT = "2026-11-24T16:00:00Z"


def cmd(name: str, **params: Any) -> str:
    return json.dumps({"cmd": name, **params})


def make_ledger(url: str, lines: list[str]) -> PersistedLedger:
    """A fresh persisted ledger holding `lines` (one transaction per command)."""
    ledger = open_ledger(url, create=True)
    append(ledger, lines)
    return ledger


def append(ledger: PersistedLedger, lines: list[str]) -> None:
    exchange = ledger.load()
    summary = run_lines(exchange, [line.encode() for line in lines], "test", batch=1)
    assert summary.rejected == 0, f"a setup command was rejected: {ledger.events()[-1]}"


# A small ledger around the 16:00 boundary. At the cut:
#   alice: BTC 1.5 (1.0 lent to the pool, 0.5 locked by a pending withdrawal)
#   bob:   ETH 2, BTC -0.01 (borrowed 0.01 BTC against his ETH and gave it to carol)
#   carol: BTC 0.01
#   @fees: none; @custody: BTC -1.5, ETH -2
# After the boundary (must never be seen): dave deposits, bob deposits more.
BEFORE = [
    cmd("asset", symbol="BTC", decimals=8),
    cmd("asset", symbol="ETH", decimals=18),
    cmd("lending_pool", asset="BTC"),
    cmd("clock", time="2026-11-24T15:00:00Z"),
    cmd("index_price", asset="BTC", price="100000000000"),  # USDC units per BTC: 100,000
    cmd("index_price", asset="ETH", price="3000000000"),
    cmd("collateral_params", asset="ETH", weight="0.9"),
    cmd("deposit", account="alice", asset="BTC", amount="150000000", tx="btc:1"),
    cmd("deposit", account="bob", asset="ETH", amount="2000000000000000000", tx="eth:1"),
    cmd("account", id="carol"),
    cmd("withdraw", account="alice", asset="BTC", amount="50000000", address="bc1q", id="w1"),
    cmd("borrow", account="bob", asset="BTC", amount="1000000"),
    cmd("transfer", **{"from": "bob", "to": "carol", "asset": "BTC", "amount": "1000000"}),
    cmd("clock", time="2026-11-24T15:59:59.999Z"),
]
AFTER = [
    cmd("clock", time="2026-11-24T16:00:00Z"),
    cmd("deposit", account="dave", asset="BTC", amount="70000000", tx="btc:2"),
    cmd("deposit", account="bob", asset="ETH", amount="1", tx="eth:2"),
    cmd("withdraw_complete", id="w1", tx="0xabc"),
    cmd("asset", symbol="SOL", decimals=9),
]
CUT_SEQ = len(BEFORE)

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


def make_ledger(url: str, lines: list[str], *, rejected: int = 0) -> PersistedLedger:
    """A fresh persisted ledger holding `lines` (one transaction per command)."""
    ledger = open_ledger(url, create=True)
    append(ledger, lines, rejected=rejected)
    return ledger


def append(ledger: PersistedLedger, lines: list[str], *, rejected: int = 0) -> None:
    exchange = ledger.load()
    summary = run_lines(exchange, [line.encode() for line in lines], "test", batch=1)
    assert summary.rejected == rejected, (
        f"expected {rejected} rejected setup commands, got {summary.rejected}: "
        f"{[e for e in ledger.events() if e.status != 'accepted']}"
    )


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


# Borrowers, prices and haircuts around the 16:00 boundary (docs/margin.md scales: prices
# in micro-USDC per whole unit, fractions at 10^9). At the cut:
#   lena:  BTC 1 and USDC 10,000, both lent to the pools
#   bob:   BTC 0.1 (lent), USDC -5,000 (borrowed and given to carol)
#   carol: BTC 0.02, USDC 5,000
#   eve:   ETH 1.5 of which 0.5 locked by a pending withdrawal, BTC -0.02 (borrowed, given
#          to carol); ETH fell from 3,000 to 2,000 USD just before the cut
# Index: BTC 100,000.000001 (two agreeing sources), ETH 2,000 (operator), USDC 1 (none set).
# Haircuts: BTC weight 0.95 with penalty 0.002 (inverse-sqrt decay), ETH weight 0.8.
BORROWERS = [
    cmd("asset", symbol="BTC", decimals=8),
    cmd("asset", symbol="ETH", decimals=18),
    cmd("asset", symbol="USDC", decimals=6),
    cmd("lending_pool", asset="BTC"),
    cmd("lending_pool", asset="USDC"),
    cmd("clock", time="2026-11-24T15:59:58Z"),
    cmd("index_price", asset="BTC", sources={"a": "100000000001", "b": "100000000001"}),
    cmd("index_price", asset="ETH", price="3000000000"),
    cmd("collateral_params", asset="BTC", weight="0.95", penalty="0.002"),
    cmd("collateral_params", asset="ETH", weight="0.8"),
    cmd("account", id="carol"),
    cmd("deposit", account="lena", asset="BTC", amount="100000000", tx="b1"),
    cmd("deposit", account="lena", asset="USDC", amount="10000000000", tx="u1"),
    cmd("deposit", account="bob", asset="BTC", amount="10000000", tx="b2"),
    cmd("borrow", account="bob", asset="USDC", amount="5000000000"),
    cmd("transfer", **{"from": "bob", "to": "carol", "asset": "USDC", "amount": "5000000000"}),
    cmd("deposit", account="eve", asset="ETH", amount="1500000000000000000", tx="e1"),
    cmd("withdraw", account="eve", asset="ETH", amount="500000000000000000", address="0x", id="w"),
    cmd("borrow", account="eve", asset="BTC", amount="2000000"),
    cmd("transfer", **{"from": "eve", "to": "carol", "asset": "BTC", "amount": "2000000"}),
    cmd("clock", time="2026-11-24T15:59:59.999Z"),
    cmd("index_price", asset="ETH", price="2000000000"),
    # rejected (a 50 % jump from 2,000): must not count as the index
    cmd("index_price", asset="ETH", sources={"a": "1000000000"}),
]
BORROWERS_REJECTED = 1
BORROWERS_AFTER = [
    cmd("clock", time="2026-11-24T16:00:00Z"),
    cmd("index_price", asset="ETH", price="1000000000"),
    cmd("collateral_params", asset="ETH", weight="0.1"),
]
# What the ledger's risk model gives at the cut (worked out in tests/exchange/test_export.py)
BORROWER_BOOK = {
    "BTC": (2_000_000, 10_000_000, 2_000_000_001, 9_166_666_660),
    "ETH": (0, 10**18, 0, 1_600_000_000),
    "USDC": (5_000_000_000, 0, 5_000_000_000, 0),
}
BORROWER_SHORTFALL = (2, 1, 400_000_001)

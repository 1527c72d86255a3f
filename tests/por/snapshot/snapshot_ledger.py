"""Ledgers for snapshot tests: a persisted ledger (SQLite or PostgreSQL, via `db_url`) built
from a small command log, with a test-only `borrow` command so that customers can owe.

`borrow` posts `available +a` and `borrowed -a` to one account (a recorded debt, as the
lending module will): the borrower's claim stays 0 until the funds leave, e.g. by a
transfer, after which it is negative and the leaf has debt.
"""

from __future__ import annotations

import json
from typing import Any

from exchange import fields
from exchange.commandlog import run_lines
from exchange.db import open_database
from exchange.engine import Context
from exchange.ledger import PersistedLedger
from exchange.registry import Registry, build_registry

HOUR_MS = 1_795_536_000_000  # 2026-11-24T16:00:00Z
AT = "2026-11-24T16:00:00Z"


def cmd(name: str, **params: Any) -> str:
    return json.dumps({"cmd": name, **params})


def _parse_borrow(raw: dict[str, Any]) -> tuple[str, str, int]:
    return fields.string(raw, "account"), fields.string(raw, "asset"), fields.amount(raw)


def _borrow(ctx: Context, p: tuple[str, str, int]) -> None:
    account, asset, amount = p
    ctx.require_positive(amount)
    ctx.require_asset(asset)
    ctx.require_user_account(account)
    ctx.post((account, asset, "available", amount), (account, asset, "borrowed", -amount))


def registry_with_borrow() -> Registry:
    registry = build_registry()
    registry.command("borrow", _parse_borrow, _borrow)
    return registry


def make_ledger(url: str, lines: list[str]) -> PersistedLedger:
    """A fresh persisted ledger holding `lines` (one transaction per command)."""
    ledger = PersistedLedger(open_database(url, create=True), registry_with_borrow())
    append(ledger, lines)
    return ledger


def append(ledger: PersistedLedger, lines: list[str]) -> None:
    exchange = ledger.load()
    summary = run_lines(exchange, [line.encode() for line in lines], "test", batch=1)
    assert summary.rejected == 0, f"a setup command was rejected: {ledger.events()[-1]}"


# A small ledger around the 16:00 boundary. At the cut:
#   alice: BTC 1.5 (1.0 available, 0.5 locked by a pending withdrawal)
#   bob:   ETH 2, BTC -0.2 (borrowed 0.2 BTC and gave it to carol)
#   carol: BTC 0.2
#   @fees: none; @custody: BTC -1.5, ETH -2
# After the boundary (must never be seen): dave deposits, bob deposits more.
BEFORE = [
    cmd("asset", symbol="BTC", decimals=8),
    cmd("asset", symbol="ETH", decimals=18),
    cmd("clock", time="2026-11-24T15:00:00Z"),
    cmd("deposit", account="alice", asset="BTC", amount="150000000", tx="btc:1"),
    cmd("deposit", account="bob", asset="ETH", amount="2000000000000000000", tx="eth:1"),
    cmd("account", id="carol"),
    cmd("withdraw", account="alice", asset="BTC", amount="50000000", address="bc1q", id="w1"),
    cmd("borrow", account="bob", asset="BTC", amount="20000000"),
    cmd("transfer", **{"from": "bob", "to": "carol", "asset": "BTC", "amount": "20000000"}),
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

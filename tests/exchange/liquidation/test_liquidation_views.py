"""The liquidation report and the distance to liquidation, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from liquidation_world import BTC, SPOT, T0, USDC, WORLD

from cli.exchange import exchange
from exchange.model import format_time


def _log(path: Path) -> Path:
    lines = [json.dumps(raw) for raw in WORLD]
    for raw in (
        {"cmd": "index_price", "asset": "BTC", "price": str(60_000 * USDC)},
        {"cmd": "mark_price", "market": "BTC-PERP", "price": str(60_000 * USDC)},
        {"cmd": "deposit", "account": "mm", "asset": "USDC", "amount": str(10**6 * USDC),
         "tx": "1"},
        {"cmd": "deposit", "account": "alice", "asset": "USDC", "amount": str(1_000 * USDC),
         "tx": "2"},
        {"cmd": "order", "account": "mm", "market": "BTC-PERP", "side": "sell",
         "quantity": str(BTC // 10), "price": str(60_000 * USDC)},
        {"cmd": "order", "account": "alice", "market": "BTC-PERP", "side": "buy",
         "quantity": str(BTC // 10), "price": str(60_000 * USDC)},
        {"cmd": "mark_price", "market": "BTC-PERP", "price": str(45_000 * USDC)},
        {"cmd": "clock", "time": format_time(T0 + 5_000)},
        {"cmd": "order", "account": "mm", "market": "BTC-PERP", "side": "sell",
         "quantity": str(BTC // 100), "price": str(46_000 * USDC)},
    ):  # fmt: skip
        lines.append(json.dumps(raw))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_liquidations_lists_each_step_and_account_shows_the_distance(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    result = runner.invoke(exchange, ["run", str(_log(tmp_path / "log.jsonl")), "--db", db])
    assert result.exit_code == 0, result.output
    result = runner.invoke(exchange, ["liquidations", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["account"], r["stage"], r["reason"]) for r in rows] == [
        ("alice", "adl", "adl_at_bankruptcy_price")
    ]
    assert rows[0]["price"] == 50_000 * USDC and "ts" not in rows[0]
    result = runner.invoke(exchange, ["account", "mm", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)["liquidation"]
    assert view["liquidatable"] is False and int(view["headroom"]) > 0


def test_liquidations_lists_a_borrowers_sale_on_the_spot_book_and_the_repayment(
    tmp_path: Path,
) -> None:
    lines = [json.dumps(raw) for raw in WORLD + SPOT]
    for raw in (
        {"cmd": "index_price", "asset": "BTC", "price": str(60_000 * USDC)},
        {"cmd": "deposit", "account": "lender", "asset": "USDC",
         "amount": str(100_000 * USDC), "tx": "1"},
        {"cmd": "deposit", "account": "dave", "asset": "BTC", "amount": str(BTC), "tx": "2"},
        {"cmd": "borrow", "account": "dave", "asset": "USDC", "amount": str(40_000 * USDC)},
        {"cmd": "transfer", "from": "dave", "to": "lender", "asset": "USDC",
         "amount": str(40_000 * USDC)},
        {"cmd": "deposit", "account": "mm", "asset": "USDC", "amount": str(10**6 * USDC),
         "tx": "3"},
        {"cmd": "order", "account": "mm", "market": "BTC/USDC", "side": "buy",
         "quantity": str(BTC), "price": str(45_200 * USDC)},
        {"cmd": "index_price", "asset": "BTC", "price": str(45_600 * USDC)},
        {"cmd": "clock", "time": format_time(T0 + 3_000)},
    ):  # fmt: skip
        lines.append(json.dumps(raw))
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(lines) + "\n")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    result = runner.invoke(exchange, ["run", str(log), "--db", db])
    assert result.exit_code == 0, result.output
    result = runner.invoke(exchange, ["liquidations", "--db", db, "--account", "dave"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    sale, repaid = lines[:2]
    # the default slice is 10 % of the 40,000 USDC debt: 0.089 BTC sold at 45,200
    assert " dave book sell_collateral_through_book debt=USDC filled=8900000 " in sale
    assert "market=BTC/USDC" in sale and "proceeds=4018777200" in sale
    assert repaid.endswith("dave repay repay_borrow_from_own_funds amount=4018777200 asset=USDC")

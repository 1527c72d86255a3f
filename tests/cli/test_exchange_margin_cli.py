"""`por exchange account A` shows the account's margin: collateral, equity, fractions,
positions, lends and borrows with their rates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.main import cli

USDC = 1_000_000
BTC = 100_000_000


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


LOG = [
    cmd("asset", symbol="BTC", decimals=8),
    cmd("asset", symbol="USDC", decimals=6),
    cmd("lending_pool", asset="BTC"),
    cmd("lending_pool", asset="USDC"),
    cmd("collateral_params", asset="BTC", weight="0.9"),
    cmd("market", symbol="BTC-PERP", kind="perp", base="BTC", quote="USDC",
        tick_size="1000000", step_size="100000", min_notional="1000000",
        maker_fee_ppm=0, taker_fee_ppm=0),
    cmd("clock", time="2026-11-24T16:00:00Z"),
    cmd("index_price", asset="BTC", price=str(50_000 * USDC)),
    cmd("mark_price", market="BTC-PERP", price=str(50_000 * USDC)),
    cmd("deposit", account="alice", asset="BTC", amount=str(BTC), tx="a1"),
    cmd("deposit", account="bob", asset="USDC", amount=str(1_000_000 * USDC), tx="b1"),
    cmd("order", account="bob", market="BTC-PERP", side="sell", price=str(50_000 * USDC),
        quantity=str(BTC)),
    cmd("order", account="alice", market="BTC-PERP", side="buy", price=str(50_000 * USDC),
        quantity=str(BTC)),
    cmd("mark_price", market="BTC-PERP", price=str(48_000 * USDC)),
    cmd("clock", time="2026-11-24T16:00:10Z"),
]  # fmt: skip


def por(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"traceback: {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


def run_log(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(LOG) + "\n")
    code, _, err = por("exchange", "run", str(log), "--db", db)
    assert code == 0, err
    return db


def test_the_account_view_shows_equity_positions_lends_and_the_usdc_debt(tmp_path: Path) -> None:
    db = run_log(tmp_path)
    code, out, err = por("exchange", "account", "alice", "--db", db, "--json")
    assert code == 0, err
    margin = json.loads(out)["margin"]
    assert margin["collateral"] == str(45_000 * USDC), "1 BTC at 50,000 with weight 0.9"
    # settled at 48,000: the 2,000 loss is a USDC borrow, the position's PnL is now 0
    assert margin["liabilities"] == str(2_000 * USDC)
    assert margin["equity"] == str(43_000 * USDC)
    # exposure: the perp (48,000 at IMF 0.02) and the USDC borrow (2,000 at IMF 0.1):
    # (960 + 200) / 50,000
    assert margin["exposure"] == str(50_000 * USDC)
    assert margin["account_imf"] == "0.0232"
    (pos,) = [p for p in margin["positions"] if p["market"] == "BTC-PERP"]
    assert (pos["size"], pos["mark"], pos["unrealised"]) == (str(BTC), str(48_000 * USDC), "0")
    assert [b["asset"] for b in margin["borrows"]] == ["USDC"]
    assert margin["borrows"][0]["amount"] == str(2_000 * USDC)
    assert [lend["asset"] for lend in margin["lends"]] == ["BTC"]
    assert margin["auto_lend"] == {"BTC": True, "USDC": True}


def test_the_text_view_has_a_margin_line_and_the_rates(tmp_path: Path) -> None:
    db = run_log(tmp_path)
    code, out, err = por("exchange", "account", "alice", "--db", db)
    assert code == 0, err
    assert "margin: collateral 45000  equity 43000" in out
    assert "position BTC-PERP: size 100000000 mark 48000" in out
    assert "borrow USDC: 2000 at " in out
    assert "lend BTC: 1 at 0 a year" in out

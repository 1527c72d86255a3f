"""por.snapshot.reconcile: exact-integer coverage, PASS/FAIL, USD and collateral views."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from por.model import Node
from por.snapshot.reconcile import (
    Reconciliation,
    coverage_ppm,
    format_signed_units,
    reconcile,
    render_table,
)

SID = "2026-11-24T16:00:00Z"
ASSETS = (("BTC", 8), ("ETH", 18))
ROOT = Node(bytes(32), (170_000_000, 3 * 10**18), (20_000_000, 0))


def _report(reserves: dict[str, int], **kw: Any) -> Reconciliation:
    args: dict[str, Any] = {
        "borrowers": 1,
        "borrower_collateral": (0, 3 * 10**18),
        "prices": None,
        "haircuts_ppm": None,
    }
    args.update(kw)
    return reconcile(
        SID,
        ASSETS,
        ROOT,
        reserves,
        {"BTC": 150_000_000, "ETH": 3 * 10**18},
        {"BTC": 50_000_000},
        {"BTC": 7},
        **args,
    )


def test_reserves_equal_to_net_liabilities_pass_and_one_unit_less_fails() -> None:
    exact = _report({"BTC": 150_000_000, "ETH": 3 * 10**18})
    assert exact.passed, "reserves == net liabilities is covered"
    short = _report({"BTC": 149_999_999, "ETH": 3 * 10**18})
    assert not short.passed, "one satoshi short must FAIL"
    btc, eth = short.lines
    assert (btc.passed, eth.passed) == (False, True)
    assert short.to_dict()["status"] == "FAIL"


def test_a_line_reports_net_liabilities_gap_in_flight_and_an_exact_coverage() -> None:
    report = _report({"BTC": 149_000_000, "ETH": 4 * 10**18})
    btc = report.lines[0]
    assert btc.net_liabilities == 150_000_000
    assert btc.custody_gap == -1_000_000, "reserves - ledger custody"
    row = btc.to_dict()
    assert row["coverage"] == {"reserves": "149000000", "net_liabilities": "150000000"}
    assert row["coverage_ppm"] == 993_333, "149/150 rounded down, never up"
    assert row["in_flight_withdrawals"] == "50000000"
    assert row["system_accounts"] == "7"
    assert all(isinstance(v, str) for k, v in row.items() if k.endswith("liabilities")), (
        "amounts are decimal strings in JSON"
    )


def test_coverage_rounds_down_and_is_absent_without_net_liabilities() -> None:
    assert coverage_ppm(2, 3) == 666_666
    assert coverage_ppm(10**40, 10**40 - 1) == 1_000_000
    assert coverage_ppm(0, 0) is None
    assert coverage_ppm(5, -1) is None, "customers owe more than they are owed"


def test_the_usd_view_rounds_reserves_down_and_liabilities_up() -> None:
    # BTC at 100000.00000001 USD, ETH at 3000 USD (prices scaled by 10^8)
    prices = {"BTC": 10_000_000_000_001, "ETH": 300_000_000_000}
    report = _report({"BTC": 1, "ETH": 1}, prices=prices)
    usd = report.usd
    # reserves: 1 sat -> floor(1 * 10000000000001 / 10^8) = 100000; 1 wei -> 0
    assert usd.reserves == 100_000
    # liabilities: 150000000 sat -> exactly 150000000 * 10000000000001 / 10^8, no remainder
    # 3 ETH -> 3 * 3000 USD; both ceil
    expected = -(-150_000_000 * 10_000_000_000_001 // 10**8) + 3 * 300_000_000_000
    assert usd.net_liabilities == expected
    assert usd.missing == ()


def test_without_prices_the_usd_view_is_absent_and_said_so() -> None:
    report = _report({"BTC": 0, "ETH": 0})
    data = report.to_dict()
    assert data["usd"] is None
    assert "USD view absent" in " ".join(data["notes"])


def test_collateral_is_reported_raw_without_haircuts_and_reduced_with_them() -> None:
    raw = _report({"BTC": 0, "ETH": 0}).collateral
    assert raw.collateral == {"BTC": 0, "ETH": 3 * 10**18}
    assert raw.debts == {"BTC": 20_000_000, "ETH": 0}
    assert raw.collateral_after_haircuts is None
    assert any("no haircuts" in n for n in raw.notes)
    cut = _report(
        {"BTC": 0, "ETH": 0},
        haircuts_ppm={"ETH": 250_000},
        prices={"BTC": 10**13, "ETH": 3 * 10**11},
    ).collateral
    assert cut.collateral_after_haircuts == {"BTC": 0, "ETH": 3 * 10**18 * 3 // 4}
    assert cut.debt_usd == 20_000_000 * 10**13 // 10**8  # 0.2 BTC = 20000 USD (x10^8)
    assert cut.collateral_usd == 675_000_000_000  # 2.25 ETH x 3000 USD
    assert cut.to_dict()["over_collateralised"] is False


def test_the_report_serialises_to_json_and_renders_a_table() -> None:
    report = _report({"BTC": 150_000_000, "ETH": 3 * 10**18})
    json.dumps(report.to_dict())
    console = Console(width=200, record=True)
    console.print(render_table(report))
    text = console.export_text()
    assert "Snapshot 2026-11-24T16:00:00Z: PASS" in text
    assert "1.5" in text and "100.0000%" in text


def test_signed_units_render_exactly() -> None:
    assert format_signed_units(-150_000_000, 8) == "-1.5"
    assert format_signed_units(1, 18) == "0.000000000000000001"
    assert format_signed_units(7, 0) == "7"

"""por.snapshot.reconcile: exact-integer coverage, PASS/FAIL, USD and collateral views."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from por.model import Node
from por.snapshot.reconcile import (
    BorrowerBook,
    Reconciliation,
    coverage_ppm,
    format_signed_units,
    reconcile,
    render_collateral_table,
    render_table,
    render_usd_table,
)

SID = "2026-11-24T16:00:00Z"
ASSETS = (("BTC", 8), ("ETH", 18))
ROOT = Node(bytes(32), (170_000_000, 3 * 10**18), (20_000_000, 0))


def _report(reserves: dict[str, int], **kw: Any) -> Reconciliation:
    args: dict[str, Any] = {
        "borrowers": 1,
        "borrower_collateral": (0, 3 * 10**18),
        "prices": None,
        "price_decimals": 6,
        "book": None,
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


# BTC at 100,000.000001 USD, ETH at 3,000 USD (USD x 10^6 per whole unit)
PRICES = {"BTC": 100_000_000_001, "ETH": 3_000_000_000}


def test_the_usd_view_rounds_liabilities_up_and_debts_and_reserves_down() -> None:
    """ROOT: 1.7 BTC owed, 0.2 BTC owed by customers, 3 ETH owed; reserves 1.5 BTC, 4 ETH.

    BTC liabilities ceil(170_000_000 x 100_000_000_001 / 10^8) = ceil(170_000_000_001.7)
    = 170_000_000_002; debts floor(20_000_000_000.2); reserves floor(150_000_000_001.5).
    In BTC the reserves cover the net exactly; in USD the roundings (all against the
    exchange) leave a surplus of -1 micro-USD. ETH: 9,000 USD owed, 12,000 held.
    """
    report = _report({"BTC": 150_000_000, "ETH": 4 * 10**18}, prices=PRICES)
    assert report.lines[0].passed, "in BTC units reserves == net liabilities"
    usd = report.usd
    assert usd is not None
    btc, eth = usd.lines
    assert (btc.liabilities, btc.debts, btc.reserves) == (
        170_000_000_002,
        20_000_000_000,
        150_000_000_001,
    )
    assert (btc.net_liabilities, btc.surplus) == (150_000_000_002, -1)
    assert (eth.liabilities, eth.debts, eth.reserves, eth.surplus) == (
        9_000_000_000,
        0,
        12_000_000_000,
        3_000_000_000,
    )
    assert (usd.liabilities, usd.debts, usd.net_liabilities) == (
        179_000_000_002,
        20_000_000_000,
        159_000_000_002,
    )
    assert (usd.reserves, usd.surplus) == (162_000_000_001, 2_999_999_999)
    data = usd.to_dict()
    assert data["coverage_ppm"] == 162_000_000_001 * 10**6 // 159_000_000_002
    assert data["assets"][0]["surplus_usd"] == "-1"
    assert data["price_decimals"] == 6 and data["assets_without_price"] == []


def test_an_asset_without_a_price_is_left_out_of_the_usd_totals_and_named() -> None:
    report = _report({"BTC": 150_000_000, "ETH": 0}, prices={"ETH": 3_000_000_000})
    assert report.usd is not None
    assert [ln.symbol for ln in report.usd.lines] == ["ETH"]
    assert report.usd.missing == ("BTC",)
    assert report.usd.liabilities == 9_000_000_000
    assert any("without an index price: BTC" in n for n in report.notes)


def test_without_prices_the_usd_view_is_absent_and_said_so() -> None:
    report = _report({"BTC": 0, "ETH": 0})
    data = report.to_dict()
    assert data["usd"] is None
    assert "USD view absent" in " ".join(data["notes"])
    assert render_usd_table(report) is None


def _book(
    btc: tuple[int, int, int, int], eth: tuple[int, int, int, int], under: int, short: int
) -> BorrowerBook:
    return BorrowerBook({"BTC": btc, "ETH": eth}, 1, under, short)


def test_collateral_below_the_debts_warns_and_collateral_equal_to_them_passes() -> None:
    # 0.2 BTC owed (20,000.0000002 USD rounded up); 3 ETH held, 0.75 weight -> 6,750 USD
    book = _book((20_000_000, 0, 20_000_000_001, 0), (0, 3 * 10**18, 0, 6_750_000_000), 0, 0)
    view = _report({"BTC": 0, "ETH": 0}, prices=PRICES, book=book).collateral
    assert (view.debt_value, view.collateral_value) == (20_000_000_001, 6_750_000_000)
    assert view.status == "WARN", "6,750 USD of collateral does not cover 20,000 USD of debt"
    assert "debts exceed the collateral" in view.verdict()
    rich = _book((20_000_000, 0, 20_000_000_001, 0), (0, 3 * 10**18, 0, 20_000_000_001), 0, 0)
    covered = _report({"BTC": 0, "ETH": 0}, prices=PRICES, book=rich).collateral
    assert covered.status == "PASS", "collateral value == debt value is covered"
    data = covered.to_dict()
    assert data["coverage_ppm"] == 1_000_000
    assert data["assets"][0] == {
        "asset": "BTC",
        "debt": "20000000",
        "collateral": "0",
        "debt_usd": "20000000001",
        "collateral_after_haircut_usd": "0",
        "coverage_ppm": 0,
        "priced": True,
    }
    assert data["assets"][1]["coverage_ppm"] is None, "no ETH debt: no ratio"
    assert covered.verdict() == (
        "collateral PASS: 1 borrowing accounts owe 20000.000001 USD against 20000.000001 USD"
        " of collateral after haircuts (100.0000%)"
    )


def test_one_under_collateralised_borrower_warns_even_when_the_totals_are_covered() -> None:
    book = _book((20_000_000, 0, 20_000_000_001, 0), (0, 9 * 10**18, 0, 30_000_000_000), 1, 7)
    view = _report({"BTC": 0, "ETH": 0}, prices=PRICES, book=book).collateral
    assert view.status == "WARN"
    assert "1 borrowing accounts under-collateralised by 0.000007 USD in total" in view.verdict()
    assert view.to_dict()["shortfall_usd"] == "7"


def test_a_debt_without_a_price_warns_and_is_named() -> None:
    book = _book((20_000_000, 0, 0, 0), (0, 3 * 10**18, 0, 9_000_000_000), 1, 0)
    view = _report({"BTC": 0, "ETH": 0}, prices={"ETH": 3_000_000_000}, book=book).collateral
    assert view.unpriced_debts == ("BTC",)
    assert view.status == "WARN"
    assert "debts without a price: BTC" in view.verdict()


def test_without_a_risk_model_the_collateral_is_raw_and_not_judged() -> None:
    view = _report({"BTC": 0, "ETH": 0}).collateral
    assert not view.valued and view.status is None
    assert [(ln.debt, ln.collateral) for ln in view.lines] == [(20_000_000, 0), (0, 3 * 10**18)]
    data = view.to_dict()
    assert (data["debt_usd"], data["under_collateralised_accounts"]) == (None, None)
    assert "no risk model" in data["notes"][0]
    assert "cannot be valued" in view.verdict()


def test_the_report_serialises_to_json_and_renders_a_table() -> None:
    report = _report({"BTC": 150_000_000, "ETH": 3 * 10**18})
    json.dumps(report.to_dict())
    console = Console(width=200, record=True)
    console.print(render_table(report))
    text = console.export_text()
    assert "Snapshot 2026-11-24T16:00:00Z: PASS" in text
    assert "1.5" in text and "100.0000%" in text
    priced = _report({"BTC": 150_000_000, "ETH": 4 * 10**18}, prices=PRICES)
    console.print(render_usd_table(priced))
    console.print(render_collateral_table(priced))
    text = console.export_text()
    assert "170000.000002" in text, "BTC liabilities in USD, rounded up"
    assert "Collateral of the 1 borrowing accounts" in text


def test_signed_units_render_exactly() -> None:
    assert format_signed_units(-150_000_000, 8) == "-1.5"
    assert format_signed_units(1, 18) == "0.000000000000000001"
    assert format_signed_units(7, 0) == "7"

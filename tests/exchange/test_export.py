"""exchange.export: consistent cuts of the journal, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from exchange.export import CutNotFinalError, SqlLedgerExport
from exchange.margin import CollateralParams, collateral_value, liability_value
from por.snapshot.source import LedgerCut, LedgerSource
from tests.por.snapshot.snapshot_ledger import (
    AFTER,
    BEFORE,
    BORROWER_BOOK,
    BORROWER_SHORTFALL,
    BORROWERS,
    BORROWERS_AFTER,
    BORROWERS_REJECTED,
    CUT_SEQ,
    HOUR_MS,
    append,
    cmd,
    make_ledger,
)

ALICE_BTC = 150_000_000
BOB_ETH = 2 * 10**18


def test_the_export_matches_the_snapshot_protocols_structurally(db_url: str) -> None:
    ledger = make_ledger(db_url, BEFORE + AFTER)
    source = SqlLedgerExport(ledger.engine)
    assert isinstance(source, LedgerSource)
    with source.cut(HOUR_MS) as cut:
        assert isinstance(cut, LedgerCut)


def test_the_cut_is_the_last_event_before_the_boundary_and_excludes_later_ones(
    db_url: str,
) -> None:
    ledger = make_ledger(db_url, BEFORE + AFTER)
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        assert cut.seq == CUT_SEQ, "the event at exactly 16:00:00 must not be in the cut"
        assert cut.time_ms == HOUR_MS - 1
        assert cut.assets() == [("BTC", 8), ("ETH", 18)], "SOL was created after the boundary"
        claims = dict(cut.claims())
        assert claims == {
            "alice": [ALICE_BTC, 0],
            "bob": [-1_000_000, BOB_ETH],
            "carol": [1_000_000, 0],
        }, "dave (after the boundary) must be absent; vectors in assets() order"
        assert cut.customer_totals() == {
            "BTC": (ALICE_BTC + 1_000_000, 1_000_000),
            "ETH": (BOB_ETH, 0),
        }
        assert cut.custody() == {"BTC": ALICE_BTC, "ETH": BOB_ETH}
        assert cut.in_flight() == {"BTC": 50_000_000}, "w1 completes only after the cut"
        assert cut.system_balances() == {
            ("@custody", "BTC"): -ALICE_BTC,
            ("@custody", "ETH"): -BOB_ETH,
        }
        assert cut.index_prices() == {"BTC": 100_000_000_000, "ETH": 3_000_000_000}, (
            "the last accepted index of each asset at the cut, micro-USDC per whole unit"
        )
        assert cut.price_decimals() == 6, "no USDC asset: margin's default quote scale"


def test_a_cut_before_the_ledger_reached_the_boundary_is_refused(db_url: str) -> None:
    ledger = make_ledger(db_url, BEFORE)
    with (
        pytest.raises(CutNotFinalError, match="has not reached 2026-11-24T16:00:00Z yet"),
        SqlLedgerExport(ledger.engine).cut(HOUR_MS),
    ):
        pass


def test_events_before_the_first_clock_belong_to_every_cut(db_url: str) -> None:
    ledger = make_ledger(
        db_url,
        [
            cmd("asset", symbol="BTC", decimals=8),
            cmd("deposit", account="early", asset="BTC", amount="5", tx="t0"),
            cmd("clock", time="2026-11-24T17:00:00Z"),
        ],
    )
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        assert (cut.seq, cut.time_ms) == (2, None)
        assert list(cut.claims()) == [("early", [5])]


def test_a_cut_stays_the_same_while_trading_continues(db_url: str) -> None:
    """Events written (and committed) by another connection while the cut is open are not
    seen, on PostgreSQL inside one REPEATABLE READ READ ONLY transaction."""
    ledger = make_ledger(db_url, BEFORE + AFTER[:1])
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        first = sorted(cut.claims())
        totals = cut.customer_totals()
        writer = threading.Thread(target=append, args=(ledger, AFTER[1:]))
        writer.start()
        writer.join()
        assert ledger.journal.head()[0] > CUT_SEQ + len(AFTER), "the writer committed"
        assert sorted(cut.claims()) == first
        assert cut.customer_totals() == totals
        assert cut.custody() == {"BTC": ALICE_BTC, "ETH": BOB_ETH}
        assert cut.in_flight() == {"BTC": 50_000_000}
        assert [s for s, _ in cut.assets()] == ["BTC", "ETH"]
        if ledger.engine.dialect.name == "postgresql":
            level = cut.conn.exec_driver_sql("SHOW transaction_isolation").scalar()
            read_only = cut.conn.exec_driver_sql("SHOW transaction_read_only").scalar()
            assert (level, read_only) == ("repeatable read", "on")


def test_amounts_beyond_64_bits_are_summed_exactly(db_url: str) -> None:
    big = 3 * 10**37
    ledger = make_ledger(
        db_url,
        [
            cmd("asset", symbol="WEI", decimals=18),
            cmd("clock", time="2026-11-24T15:00:00Z"),
            cmd("deposit", account="whale", asset="WEI", amount=str(big), tx="a"),
            cmd("deposit", account="whale", asset="WEI", amount=str(big + 1), tx="b"),
            cmd("clock", time="2026-11-24T16:00:00Z"),
        ],
    )
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        assert list(cut.claims()) == [("whale", [2 * big + 1])]
        assert cut.customer_totals() == {"WEI": (2 * big + 1, 0)}
        assert cut.custody() == {"WEI": 2 * big + 1}


def test_index_prices_are_the_last_accepted_index_at_or_before_the_cut(db_url: str) -> None:
    ledger = make_ledger(db_url, BORROWERS + BORROWERS_AFTER, rejected=BORROWERS_REJECTED)
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        assert cut.price_decimals() == 6, "prices are micro-USDC: USDC has 6 decimals"
        assert cut.index_prices() == {
            "BTC": 100_000_000_001,  # the index the sourced update recorded
            "ETH": 2_000_000_000,  # the drop before the cut; not the rejected jump, not 16:00
            "USDC": 1_000_000,  # 1.0 by definition: USDC has no index of its own
        }


def test_usdc_keeps_its_own_index_when_it_has_one(db_url: str) -> None:
    ledger = make_ledger(
        db_url,
        [
            cmd("asset", symbol="USDC", decimals=6),
            cmd("clock", time="2026-11-24T15:00:00Z"),
            cmd("index_price", asset="USDC", price="999800"),
            cmd("clock", time="2026-11-24T16:00:00Z"),
        ],
    )
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        assert cut.index_prices() == {"USDC": 999_800}


def test_a_ledger_without_prices_or_usdc_reports_none(db_url: str) -> None:
    ledger = make_ledger(
        db_url,
        [
            cmd("asset", symbol="BTC", decimals=8),
            cmd("clock", time="2026-11-24T15:00:00Z"),
            cmd("deposit", account="a", asset="BTC", amount="5", tx="t"),
            cmd("clock", time="2026-11-24T16:00:00Z"),
        ],
    )
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        assert cut.index_prices() is None
        assert cut.borrower_collateral() == {"BTC": (0, 0, 0, 0)}
        assert cut.borrower_shortfall() == (0, 0, 0)


def test_the_borrowers_book_is_valued_with_the_margin_haircuts_worked_example(
    db_url: str,
) -> None:
    """Exact integers (micro-USDC; weights at 10^9), every rounding against the exchange:

    bob owes 5,000 USDC: value 5_000_000_000. His 0.1 BTC is worth
    floor(10_000_000 x 100_000_000_001 / 10^8) = 10_000_000_000; sqrt(10,000 USD) = 100, so
    the BTC weight is min(0.95, floor(1.1 / (1 + 0.002 x 100))) = 0.916666666 and his
    collateral 9_166_666_660.
    eve owes 0.02 BTC: ceil(2_000_000 x 100_000_000_001 / 10^8) = 2_000_000_001. Her ETH
    collateral is 1.0 (1.5 less the 0.5 pending withdrawal) at 2,000 x 0.8 = 1_600_000_000:
    under-collateralised by 400_000_001.
    """
    ledger = make_ledger(db_url, BORROWERS + BORROWERS_AFTER, rejected=BORROWERS_REJECTED)
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        claims = dict(cut.claims())
        assert claims["bob"] == [10_000_000, 0, -5_000_000_000]
        assert claims["eve"] == [-2_000_000, 15 * 10**17, 0]
        book = cut.borrower_collateral()
        assert book == BORROWER_BOOK
        assert cut.borrower_shortfall() == BORROWER_SHORTFALL
        totals = cut.customer_totals()
        assert {a: row[0] for a, row in book.items() if row[0]} == {
            a: debt for a, (_, debt) in totals.items() if debt
        }, "the borrowers' debts are all the customers' debts"
    # the same numbers straight from the margin module's functions
    btc = CollateralParams(weight=950_000_000, penalty=2_000_000)
    assert collateral_value(10_000_000, 100_000_000_001, 8, btc, 6) == 9_166_666_660
    eth = CollateralParams(weight=800_000_000)
    assert collateral_value(10**18, 2_000_000_000, 18, eth, 6) == 1_600_000_000
    assert liability_value(2_000_000, 100_000_000_001, 8) == 2_000_000_001


def test_a_debt_value_rounds_up_and_usdc_is_collateral_at_weight_one(db_url: str) -> None:
    ledger = make_ledger(
        db_url,
        [
            cmd("asset", symbol="USDC", decimals=6),
            cmd("asset", symbol="DOGE", decimals=8),
            cmd("lending_pool", asset="DOGE"),
            cmd("clock", time="2026-11-24T15:59:58Z"),
            cmd("index_price", asset="DOGE", price="100000"),
            cmd("deposit", account="lender", asset="DOGE", amount="1000000000", tx="d"),
            cmd("deposit", account="x", asset="USDC", amount="1000000", tx="u"),
            cmd("borrow", account="x", asset="DOGE", amount="100000000"),
            cmd("transfer", **{"from": "x", "to": "lender", "asset": "DOGE", "amount": "12345"}),
            cmd("clock", time="2026-11-24T16:00:00Z"),
        ],
    )
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        # x kept all but 12_345 units of the 1 DOGE borrowed: owes 12_345 units at 0.1 USD,
        # ceil(12_345 x 100_000 / 10^8) = ceil(12.345) = 13 micro-USD; holds 1 USDC at 1.0
        assert cut.borrower_collateral() == {
            "USDC": (0, 1_000_000, 0, 1_000_000),
            "DOGE": (12_345, 0, 13, 0),
        }
        assert cut.borrower_shortfall() == (1, 0, 0)


def test_account_ids_with_backslashes_quotes_and_non_ascii_come_back_intact(db_url: str) -> None:
    odd = 'a\\b"c d \u00e9 \U0001f600'  # (tabs and newlines are invalid lines: test_linecheck)
    ledger = make_ledger(
        db_url,
        [
            cmd("asset", symbol="BTC", decimals=8),
            cmd("clock", time="2026-11-24T15:00:00Z"),
            cmd("deposit", account=odd, asset="BTC", amount="5", tx="t"),
            cmd("clock", time="2026-11-24T16:00:00Z"),
        ],
    )
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        assert list(cut.claims()) == [(odd, [5])], "ids are data, never parsed"


def test_every_open_account_is_in_the_cut_even_with_nothing_held_or_owed(db_url: str) -> None:
    opened = [cmd("account", id="erin"), cmd("account", id="frank")]
    emptied = [
        cmd("deposit", account="gina", asset="ETH", amount="5", tx="eth:gina"),
        cmd("withdraw", account="gina", asset="ETH", amount="5", address="0xg", id="wg"),
        cmd("withdraw_complete", id="wg", tx="0xwg"),
    ]
    ledger = make_ledger(db_url, BEFORE[:-1] + opened + emptied + BEFORE[-1:] + AFTER)
    with SqlLedgerExport(ledger.engine).cut(HOUR_MS) as cut:
        claims = dict(cut.claims())
        assert claims["erin"] == [0, 0] and claims["frank"] == [0, 0], (
            "an account opened without a deposit has its (zero) claims"
        )
        assert claims["gina"] == [0, 0], "an account that withdrew everything is still open"
        assert sorted(claims) == ["alice", "bob", "carol", "erin", "frank", "gina"]
        assert cut.customer_totals()["ETH"] == (BOB_ETH, 0), "zero accounts add nothing"

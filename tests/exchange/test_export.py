"""exchange.export: consistent cuts of the journal, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from exchange.export import CutNotFinalError, SqlLedgerExport
from por.snapshot.source import LedgerCut, LedgerSource
from tests.por.snapshot.snapshot_ledger import (
    AFTER,
    BEFORE,
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
        assert cut.index_prices() is None and cut.haircuts_ppm() is None


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

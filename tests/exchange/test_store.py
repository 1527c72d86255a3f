"""The persisted ledger on SQLite and PostgreSQL: journal, group commit, append-only, checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange.commandlog import run_file, run_lines
from exchange.db import open_database
from exchange.errors import CommandLineError, StoreError
from exchange.ledger import open_ledger
from exchange.replay import state_digest

LOG = [
    '{"cmd":"asset","symbol":"BTC","decimals":8}',
    '{"cmd":"asset","symbol":"ETH","decimals":18}',
    '{"cmd":"clock","time":"2026-11-24T16:00:00Z"}',
    '{"cmd":"deposit","account":"alice","asset":"BTC","amount":"150000000","tx":"btc:1"}',
    '{"cmd":"deposit","account":"bob","asset":"ETH","amount":"340282366920938463463374607431768211455","tx":"eth:1"}',
    '{"cmd":"transfer","from":"bob","to":"alice","asset":"ETH","amount":"5"}',
    '{"cmd":"withdraw","account":"alice","asset":"BTC","amount":"1000","address":"bc1q","id":"w-1"}',
    '{"cmd":"withdraw_complete","id":"w-1","tx":"btc:out"}',
    '{"cmd":"transfer","from":"alice","to":"bob","asset":"BTC","amount":"0"}',
    '{"cmd":"clock","time":"2026-11-24T16:00:10Z"}',
]


def lines(text: list[str]) -> list[bytes]:
    return [t.encode() for t in text]


def test_a_run_persists_and_passes_check_and_replay(db_url: str) -> None:
    ledger = open_ledger(db_url, create=True)
    summary = run_lines(ledger.load(), lines(LOG), "log", batch=3)
    assert (summary.accepted, summary.rejected) == (9, 1)
    report = ledger.check()
    assert report.ok, report.problems
    assert ledger.replay_check().ok
    assert ledger.journal.balances()[("bob", "ETH", "available")] == (1 << 128) - 1 - 5


def test_reopening_continues_where_the_journal_ends(db_url: str) -> None:
    one = open_ledger(db_url, create=True)
    run_lines(one.load(), lines(LOG[:5]), "a")
    run_lines(open_ledger(db_url).load(), lines(LOG[5:]), "b")
    whole = open_ledger(db_url)
    assert [e.seq for e in whole.events()] == list(range(1, len(LOG) + 1))
    assert whole.check().ok
    single = one.load()  # rebuilt from the journal again
    from exchange.engine import Exchange

    reference = Exchange()
    for line in LOG:
        reference.apply_line(line)
    assert state_digest(single.state) == state_digest(reference.state)


@pytest.mark.parametrize("table", ["events", "postings"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET seq = seq + 100", "DELETE FROM {t}"])
def test_the_journal_refuses_updates_and_deletes(db_url: str, table: str, statement: str) -> None:
    ledger = open_ledger(db_url, create=True)
    run_lines(ledger.load(), lines(LOG), "log")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.engine.begin() as conn:
        conn.exec_driver_sql(statement.format(t=table))
    assert ledger.check().ok


def test_a_failing_batch_commits_nothing_of_itself(db_url: str) -> None:
    ledger = open_ledger(db_url, create=True)
    run_lines(ledger.load(), lines(LOG[:4]), "log")
    ex = ledger.load()
    for line in LOG[4:8]:
        ex.apply_line(line)
    # forge a clash: the last pending event reuses an already committed seq
    pending = ex.pending
    last = pending[-1]
    pending[-1] = last._replace(seq=1)
    with pytest.raises(StoreError, match="nothing of it committed"):
        ex.flush()
    assert [e.seq for e in ledger.events()] == [1, 2, 3, 4], "part of a failed batch was committed"
    assert ledger.check().ok


def test_check_spots_a_balances_table_that_disagrees_with_the_postings(db_url: str) -> None:
    ledger = open_ledger(db_url, create=True)
    run_lines(ledger.load(), lines(LOG), "log")
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE balances SET amount = 150000001 WHERE account = 'alice' AND asset = 'BTC' "
            "AND bucket = 'available'"
        )
    report = ledger.check()
    assert not report.ok
    assert any("balances table alice/BTC/available" in p for p in report.problems), report.problems
    assert not ledger.replay_check().ok


def test_an_invalid_line_commits_the_lines_before_and_nothing_of_itself(
    db_url: str, tmp_path: Path
) -> None:
    bad = list(LOG[:6])
    bad.append(
        '{"cmd":"withdraw","account":"alice","asset":"BTC","amount":1000,"address":"b","id":"w"}'
    )
    bad += LOG[7:]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad) + "\n")
    ledger = open_ledger(db_url, create=True)
    with pytest.raises(
        CommandLineError, match=r"bad.jsonl:7: field 'amount' must be a decimal string"
    ) as info:
        run_file(ledger.load(), path, batch=1000)
    assert info.value.line == 7
    events = ledger.events()
    assert [json.loads(e.command) for e in events] == [json.loads(x) for x in LOG[:6]]
    assert ledger.check().ok


def test_reading_a_database_that_holds_no_ledger_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no ledger database"):
        open_database(f"sqlite:///{tmp_path / 'missing.db'}", create=False)


def test_migrating_twice_is_a_no_op(db_url: str) -> None:
    open_database(db_url, create=True)
    engine = open_database(db_url, create=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT seq FROM head").scalar_one() == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no TRUNCATE
def test_postgresql_also_refuses_truncating_the_journal(db_url: str) -> None:
    ledger = open_ledger(db_url, create=True)
    run_lines(ledger.load(), lines(LOG), "log")
    for table in ("events", "postings"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
    assert len(ledger.events()) == len(LOG)

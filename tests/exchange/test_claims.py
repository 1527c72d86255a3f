"""exchange.claims: the claims the journal writer maintains give the same cuts as the journal.

Random command logs (deposits, withdrawals pending/completed/cancelled, borrows, transfers,
accounts opened without a deposit, an asset created midway, amounts beyond 64 bits; group
commits of random sizes) are cut at several boundaries, each with postings after it, from
the maintained claims and by the full recomputation over every posting: every answer of
the cut must be equal, to the unit, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner

from cli.main import cli
from exchange.claims import check_claims, rebuild_claims
from exchange.commandlog import run_lines
from exchange.db import _alembic_config, open_database
from exchange.errors import StoreError
from exchange.export import SqlLedgerCut, SqlLedgerExport
from exchange.ledger import PersistedLedger, open_ledger
from exchange.model import format_time
from tests.por.snapshot.snapshot_ledger import HOUR_MS

START_MS = HOUR_MS - 3 * 3_600_000
USERS = [f"u{i}" for i in range(12)]
BIG = 10**30  # beyond 64 bits (and 2^96)


def cmd(name: str, **params: Any) -> str:
    return json.dumps({"cmd": name, **params})


def random_log(seed: int, n: int) -> list[str]:
    """A seeded command log over 4 hours (rejected commands included: they must change
    nothing in either path)."""
    rng = random.Random(seed)
    lines = [
        cmd("asset", symbol="BTC", decimals=8),
        cmd("asset", symbol="ETH", decimals=18),
        cmd("lending_pool", asset="BTC"),  # BTC is lent out and borrowed; ETH stays available
        cmd("clock", time=format_time(START_MS)),
        cmd("index_price", asset="BTC", price="100000000000"),
        cmd("index_price", asset="ETH", price="3000000000"),
        cmd("collateral_params", asset="ETH", weight="0.8"),
        cmd("collateral_params", asset="BTC", weight="0.9"),
    ]
    lines += [  # everybody funded first: most later commands find an account and a balance
        cmd("deposit", account=u, asset=a, amount=str(rng.randrange(10**9, 10**10)), tx=f"f{u}{a}")
        for u in USERS
        for a in ("BTC", "ETH")
        if a == "ETH" or u in USERS[:8]  # u8..u11 hold no BTC: what they borrow is a debt
    ]
    assets = ["BTC", "ETH"]
    pending: list[str] = []
    now = START_MS
    for i in range(n):
        r = rng.random()
        user, other, asset = rng.choice(USERS), rng.choice(USERS), rng.choice(assets)
        if r < 0.03 and "SOL" not in assets:
            lines.append(cmd("asset", symbol="SOL", decimals=9))
            assets.append("SOL")
        elif r < 0.25:
            amount = rng.choice([rng.randrange(1, 10**9), rng.randrange(BIG, 2 * BIG)])
            lines.append(cmd("deposit", account=user, asset=asset, amount=str(amount), tx=f"t{i}"))
        elif r < 0.4:
            amount = str(rng.randrange(1, 10**8))
            lines.append(cmd("transfer", **{"from": user, "to": other}, asset=asset, amount=amount))
        elif r < 0.55:
            amount = str(rng.randrange(1, 10**6))  # BTC borrowed, then given away: a debt
            user = rng.choice(USERS[8:])
            lines.append(cmd("borrow", account=user, asset="BTC", amount=amount))
            lines.append(cmd("transfer", **{"from": user, "to": other}, asset="BTC", amount=amount))
        elif r < 0.7:
            pending.append(f"w{i}")
            amount = str(rng.randrange(1, 10**6))
            lines.append(
                cmd("withdraw", account=user, asset="ETH", amount=amount, address="x", id=f"w{i}")
            )
        elif r < 0.78 and pending:
            wid = pending.pop(rng.randrange(len(pending)))
            if rng.random() < 0.4:
                lines.append(cmd("withdraw_complete", id=wid, tx=f"o{wid}"))
            else:
                lines.append(cmd("withdraw_cancel", id=wid))
        elif r < 0.85:
            lines.append(cmd("account", id=f"new{rng.randrange(8)}"))
        else:
            now += rng.randrange(1, 25 * 60_000)
            lines.append(cmd("clock", time=format_time(now)))
    lines.append(cmd("clock", time=format_time(max(now, HOUR_MS + 3_600_000))))
    return lines


def build(url: str, lines: list[str], seed: int) -> PersistedLedger:
    ledger = open_ledger(url, create=True)
    exchange = ledger.load()
    batch = random.Random(seed).choice([1, 3, 17])  # several events per write, or one
    run_lines(exchange, [line.encode() for line in lines], "random", batch=batch)
    return ledger


def answers(cut: SqlLedgerCut) -> dict[str, Any]:
    """Every answer of a cut (claims sorted: the order is free)."""
    return {
        "seq": cut.seq,
        "assets": cut.assets(),
        "claims": sorted((a, list(c)) for a, c in cut.claims()),
        "totals": cut.customer_totals(),
        "system": cut.system_balances(),
        "custody": cut.custody(),
        "in_flight": cut.in_flight(),
        "prices": cut.index_prices(),
        "collateral": cut.borrower_collateral(),
        "shortfall": cut.borrower_shortfall(),
    }


def both(ledger: PersistedLedger, boundary_ms: int) -> tuple[dict[str, Any], dict[str, Any]]:
    with SqlLedgerExport(ledger.engine).cut(boundary_ms) as cut:
        assert cut.maintained, "a ledger written by the journal writer is cut from its claims"
        fast = answers(cut)
    with SqlLedgerExport(ledger.engine, from_journal=True).cut(boundary_ms) as cut:
        assert not cut.maintained
        reference = answers(cut)
    return fast, reference


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_maintained_cuts_equal_the_journal_recomputation_after_random_ledgers(
    db_url: str, seed: int
) -> None:
    ledger = build(db_url, random_log(seed, 160), seed)
    assert ledger.check().ok, ledger.check().problems
    boundaries = [START_MS + h * 3_600_000 for h in (1, 2, 3)]
    debts = withdrawals = 0
    for boundary in boundaries:
        fast, reference = both(ledger, boundary)
        assert fast == reference, f"cut at {format_time(boundary)} differs"
        debts += sum(neg for _, neg in fast["totals"].values())
        withdrawals += sum(fast["in_flight"].values())
    assert debts and withdrawals, "the log must exercise debts and pending withdrawals"


def test_a_cut_before_an_account_and_an_asset_existed_leaves_them_out(db_url: str) -> None:
    ledger = build(
        db_url,
        [
            cmd("asset", symbol="BTC", decimals=8),
            cmd("clock", time=format_time(HOUR_MS - 1)),
            cmd("deposit", account="old", asset="BTC", amount="5", tx="a"),
            cmd("account", id="early"),
            cmd("clock", time=format_time(HOUR_MS)),
            cmd("deposit", account="new", asset="BTC", amount="7", tx="b"),
            cmd("deposit", account="old", asset="BTC", amount="9", tx="c"),
            cmd("account", id="late"),
            cmd("asset", symbol="ETH", decimals=18),
            cmd("deposit", account="old", asset="ETH", amount=str(BIG), tx="d"),
        ],
        seed=1,
    )
    fast, reference = both(ledger, HOUR_MS)
    assert fast == reference
    assert fast["claims"] == [("early", [0]), ("old", [5])], "new, late, ETH came after the cut"


def corrupt(url: str, statement: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def test_check_names_the_account_and_asset_of_a_corrupted_claim_and_exits_1(
    db_url: str,
) -> None:
    ledger = build(db_url, random_log(4, 60), 4)
    code = CliRunner().invoke(cli, ["exchange", "check", "--db", db_url])
    assert code.exit_code == 0, code.stderr
    with ledger.engine.connect() as conn:
        account, asset, amount = conn.execute(
            sa.text(
                "SELECT account, asset, amount FROM claims WHERE account = 'u0' "
                "ORDER BY asset LIMIT 1"
            )
        ).one()
    ledger.engine.dispose()
    corrupt(
        db_url,
        f"UPDATE claims SET amount = '{int(amount) + 1}' "
        f"WHERE account = '{account}' AND asset = '{asset}'",
    )
    result = CliRunner().invoke(cli, ["exchange", "check", "--db", db_url])
    assert result.exit_code == 1
    assert f"violated: claims table {account}/{asset} = {int(amount) + 1}" in result.stderr
    assert f"postings sum to {int(amount)}" in result.stderr


def test_check_reports_a_missing_claim_row_and_a_missing_opened_account(db_url: str) -> None:
    ledger = build(
        db_url,
        [
            cmd("asset", symbol="BTC", decimals=8),
            cmd("deposit", account="alice", asset="BTC", amount="5", tx="a"),
            cmd("account", id="erin"),
        ],
        seed=1,
    )
    corrupt(db_url, "DELETE FROM claims WHERE account = 'alice'")
    corrupt(db_url, "DELETE FROM opened_accounts")
    problems = ledger.check().problems
    assert "claims table has no row for alice/BTC, postings sum to 5" in problems
    assert "opened_accounts erin = seq None, the journal opened it at seq 3" in problems


def test_postings_written_around_the_journal_writer_are_cut_from_the_journal(
    db_url: str,
) -> None:
    """A bulk load that bypasses `SqlJournal` leaves `head.claims_seq` behind: cuts then
    recompute (same answers), check says so, and `rebuild_claims` makes them current."""
    ledger = build(db_url, random_log(5, 80), 5)
    corrupt(db_url, "UPDATE head SET claims_seq = claims_seq - 1")
    with SqlLedgerExport(ledger.engine).cut(START_MS + 2 * 3_600_000) as cut:
        assert not cut.maintained, "stale claims must not be read"
    assert any("claims table is maintained up to seq" in p for p in ledger.check().problems)
    with ledger.engine.begin() as conn:
        rebuild_claims(conn)
    with ledger.engine.connect() as conn:
        assert check_claims(conn) == []
    fast, reference = both(ledger, START_MS + 2 * 3_600_000)
    assert fast == reference


def test_a_ledger_of_revision_0001_is_refused_read_only_and_migrated_by_a_writer(
    db_url: str,
) -> None:
    ledger = build(db_url, random_log(6, 80), 6)
    before = {k: v for k, v in ledger.journal.balances().items()}
    with ledger.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0001")
        assert "claims" not in sa.inspect(conn).get_table_names()
    ledger.engine.dispose()
    with pytest.raises(StoreError, match="ledger schema of .* is at 0001, expected 0002"):
        open_database(db_url, create=False)
    migrated = open_ledger(db_url, create=True)  # what `por exchange run` does
    assert migrated.journal.balances() == before
    assert migrated.check().ok, migrated.check().problems
    fast, reference = both(migrated, START_MS + 3_600_000)
    assert fast == reference

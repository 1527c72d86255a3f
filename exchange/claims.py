"""The maintained claims: per account and asset, what a snapshot cut reads instead of the journal.

`SqlJournal.write` keeps the `claims` and `opened_accounts` tables (exchange/schema.py) up
to date in the transaction that writes the postings, so a cut reads the current claims in
one scan and subtracts the few postings after its sequence (`exchange.export`), never the
whole history. This module is the other side: the same rows recomputed from the journal
alone (the reference), used to build the tables once (migration 0002, bulk loads that
bypass the journal writer) and by `por exchange check` to verify them.

Fields of a `claims` row: `amount` = the sum of every posting of (account, asset) (the
claim: positive is owed to the account), `held` = the sum of its `locked_withdrawal`
postings (funds of a pending withdrawal), `first_seq` = the seq of its first posting (so a
cut at an earlier seq leaves it out). Guarantees: for every (account, asset) with at least
one posting there is exactly one row, equal to the journal's sums up to `head.claims_seq`.
Updates: only by the journal writer, in the same transaction as the postings; rebuilt whole
by `rebuild_claims`. Deletion: never (an emptied account keeps its zero row, and its leaf).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from exchange.model import SYSTEM_PREFIX

__all__ = [
    "HELD_BUCKET",
    "ClaimRow",
    "check_claims",
    "journal_claims",
    "journal_openings",
    "opened_account",
    "rebuild_claims",
]

HELD_BUCKET = "locked_withdrawal"

ClaimRow = tuple[int, int, int]
"""(amount, held, first_seq) of one (account, asset)."""

_STREAM = {"stream_results": True, "yield_per": 50_000}


def journal_claims(conn: Connection) -> dict[tuple[str, str], ClaimRow]:
    """(account, asset) -> (amount, held, first_seq), summed exactly in Python over every
    posting: the reference (memory grows with the accounts; the check and tests use it)."""
    out: dict[tuple[str, str], list[int]] = {}
    result: Any = conn.execute(
        text("SELECT seq, account, asset, bucket, amount FROM postings"),
        execution_options=_STREAM,
    )
    for seq, account, asset, bucket, amount in result:
        value = int(amount)
        row = out.get((account, asset))
        if row is None:
            row = out[(account, asset)] = [0, 0, int(seq)]
        row[0] += value
        if bucket == HELD_BUCKET:
            row[1] += value
        if seq < row[2]:
            row[2] = int(seq)
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def journal_openings(conn: Connection) -> dict[str, int]:
    """Customer account -> the seq of its first accepted `account` command."""
    out: dict[str, int] = {}
    result: Any = conn.execute(
        text(
            "SELECT seq, command FROM events WHERE cmd = 'account' AND status = 'accepted' "
            "ORDER BY seq"
        ),
        execution_options=_STREAM,
    )
    for seq, command in result:
        account = opened_account(command)
        if account is not None and account not in out:
            out[account] = int(seq)
    return out


def opened_account(command: str) -> str | None:
    """The customer account an accepted `account` command opened (None: a system id)."""
    account = json.loads(command).get("id")
    if isinstance(account, str) and not account.startswith(SYSTEM_PREFIX):
        return account
    return None


def rebuild_claims(conn: Connection) -> None:
    """Replace the maintained tables by the journal's sums and mark them current (head's
    `claims_seq` = its `seq`). Inside the caller's transaction: a writer must not run
    meanwhile (the migration runs before any; a bulk loader calls it after loading)."""
    conn.execute(text("DELETE FROM claims"))
    conn.execute(text("DELETE FROM opened_accounts"))
    if conn.dialect.name == "postgresql":  # NUMERIC sums are exact: done in the server
        conn.execute(
            text(
                "INSERT INTO claims (account, asset, amount, held, first_seq) "
                "SELECT account, asset, sum(amount), "
                "coalesce(sum(amount) FILTER (WHERE bucket = :held), 0), min(seq) "
                "FROM postings GROUP BY account, asset"
            ),
            {"held": HELD_BUCKET},
        )
    else:  # decimal text: summed in Python
        rows = [
            (account, asset, str(amount), str(held), first)
            for (account, asset), (amount, held, first) in journal_claims(conn).items()
        ]
        if rows:
            conn.exec_driver_sql(
                "INSERT INTO claims (account, asset, amount, held, first_seq) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
    openings = [{"a": a, "s": s} for a, s in journal_openings(conn).items()]
    if openings:
        conn.execute(text("INSERT INTO opened_accounts (account, seq) VALUES (:a, :s)"), openings)
    conn.execute(text("UPDATE head SET claims_seq = seq WHERE id = 1"))


def check_claims(conn: Connection) -> list[str]:
    """Each difference between the maintained tables and the journal, one line naming the
    account and asset (empty: they agree). Reads both in the caller's transaction."""
    head = conn.execute(text("SELECT seq, claims_seq FROM head WHERE id = 1")).one()
    if int(head[1]) != int(head[0]):
        return [
            f"claims table is maintained up to seq {head[1]}, the journal is at {head[0]} "
            "(postings were written around the journal writer: rebuild it)"
        ]
    derived = journal_claims(conn)
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    result: Any = conn.execute(
        text("SELECT account, asset, amount, held, first_seq FROM claims ORDER BY account, asset"),
        execution_options=_STREAM,
    )
    for account, asset, amount, held, first in result:
        key = (account, asset)
        seen.add(key)
        stored = (int(amount), int(held), int(first))
        want = derived.get(key)
        if want is None:
            problems.append(f"claims table {account}/{asset} = {stored[0]}, it has no postings")
        elif stored != want:
            problems.append(
                f"claims table {account}/{asset} = {stored[0]} (held {stored[1]}, first seq "
                f"{stored[2]}), postings sum to {want[0]} (held {want[1]}, first seq {want[2]})"
            )
    for account, asset in sorted(derived.keys() - seen):
        problems.append(
            f"claims table has no row for {account}/{asset}, postings sum to "
            f"{derived[(account, asset)][0]}"
        )
    stored_openings = {
        str(a): int(s) for a, s in conn.execute(text("SELECT account, seq FROM opened_accounts"))
    }
    for account, seq in sorted(journal_openings(conn).items()):
        opened = stored_openings.pop(account, None)
        if opened != seq:
            problems.append(
                f"opened_accounts {account} = seq {opened}, the journal opened it at seq {seq}"
            )
    for account in sorted(stored_openings):
        problems.append(f"opened_accounts has {account}, no accepted account command opened it")
    return problems

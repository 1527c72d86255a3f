"""Ledger: events, postings (append-only, enforced by triggers), balances, assets, head.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_JOURNAL = ("events", "postings")


def _amount() -> sa.types.TypeEngine[Any]:
    if op.get_bind().dialect.name == "postgresql":
        return sa.Numeric(40, 0)
    return sa.Text()


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.BigInteger, nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("cmd", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=True),
    )
    op.create_table(
        "postings",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entry", sa.Integer, nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("amount", _amount(), nullable=False),
    )
    # No secondary index on postings: it would more than double the cost of every insert
    # (accounts arrive in random order); `por exchange account` history scans instead.
    op.create_table(
        "balances",
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("asset", sa.String(16), primary_key=True),
        sa.Column("bucket", sa.String(32), primary_key=True),
        sa.Column("amount", _amount(), nullable=False),
    )
    op.create_table(
        "assets",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("decimals", sa.Integer, nullable=False),
    )
    op.create_table(
        "head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=True),
    )
    op.execute("INSERT INTO head (id, seq, ts) VALUES (1, 0, NULL)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'journal is append-only: % on % refused', "
            "TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in _JOURNAL:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION journal_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()"
            )
    else:
        for table in _JOURNAL:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'journal is append-only: {action} on {table} "
                    "refused'); END"
                )


def downgrade() -> None:
    # Dropping the journal is a deliberate operator act; triggers go with their tables.
    for table in ("head", "assets", "balances", "postings", "events"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION journal_append_only()")

"""Maintained claims: `claims` and `opened_accounts`, built once from the journal; partial
indexes on the few events a cut reads by kind (assets, collateral parameters, index prices,
account openings), so no cut scans the whole journal.

A ledger written before this revision is migrated by the first command that opens it for
writing (`por exchange run`, `por demo`): the two tables are filled from the postings and
events already stored (`exchange.claims.rebuild_claims`), then the journal writer keeps
them current. Read-only commands (`por snapshot`, `por publish`) refuse an unmigrated
ledger with a message saying so.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from exchange.claims import rebuild_claims

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


_EVENT_INDEXES = (  # the WHERE terms exactly as the queries write them (SQLite matches terms)
    ("events_config", "cmd IN ('asset', 'collateral_params')"),
    ("events_prices", "cmd = 'index_price'"),
    ("events_accounts", "cmd = 'account'"),
)


def _amount() -> sa.types.TypeEngine[Any]:
    if op.get_bind().dialect.name == "postgresql":
        return sa.Numeric(40, 0)
    return sa.Text()


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("asset", sa.String(16), primary_key=True),
        sa.Column("amount", _amount(), nullable=False),
        sa.Column("held", _amount(), nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "opened_accounts",
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.add_column(
        "head", sa.Column("claims_seq", sa.BigInteger, nullable=False, server_default="0")
    )
    # the cut's reads of configuration, prices and openings: the few events of those kinds
    # (a partial index holds only them, so the other events are written as before)
    for name, where in _EVENT_INDEXES:
        op.execute(f"CREATE INDEX {name} ON events (seq) WHERE {where}")
    rebuild_claims(op.get_bind())


def downgrade() -> None:
    for name, _ in _EVENT_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.drop_column("head", "claims_seq")
    op.drop_table("opened_accounts")
    op.drop_table("claims")

"""Maintained claims: `claims` and `opened_accounts`, built once from the journal.

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
    rebuild_claims(op.get_bind())


def downgrade() -> None:
    op.drop_column("head", "claims_seq")
    op.drop_table("opened_accounts")
    op.drop_table("claims")

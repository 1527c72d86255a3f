"""The ledger's tables (SQLAlchemy Core). The migrations in `migrations/` create exactly these."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "Amount",
    "assets",
    "balances",
    "claims",
    "events",
    "head",
    "metadata",
    "opened_accounts",
    "postings",
]


class Amount(TypeDecorator[int]):
    """An exact integer amount in (-2^128, 2^128): NUMERIC(40,0) on PostgreSQL, decimal
    text elsewhere (SQLite integers are 64-bit and a wei balance is not)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(40, 0))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return int(value)
        return int(value)


metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=True),
    Column("kind", String(8), nullable=False),
    Column("cmd", String(64), nullable=False),
    Column("status", String(8), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("detail", Text, nullable=True),
    Column("command", Text, nullable=False),
    Column("data", Text, nullable=True),
)

postings = Table(
    "postings",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("entry", Integer, nullable=False),
    Column("account", String(128), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("bucket", String(32), nullable=False),
    Column("amount", Amount, nullable=False),
)

balances = Table(
    "balances",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("bucket", String(32), primary_key=True),
    Column("amount", Amount, nullable=False),
)

assets = Table(
    "assets",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("decimals", Integer, nullable=False),
)

head = Table(
    "head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=True),
    # the last seq whose postings `claims` includes: equal to `seq` when every write went
    # through `SqlJournal` (a bulk load that bypasses it leaves it behind, and cuts then
    # recompute from the journal)
    Column("claims_seq", BigInteger, nullable=False, server_default="0"),
)

claims = Table(
    "claims",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("amount", Amount, nullable=False),  # sum of every bucket: the claim
    Column("held", Amount, nullable=False),  # the locked_withdrawal bucket (in flight)
    Column("first_seq", BigInteger, nullable=False),  # the first posting's seq
)
"""Per account and asset, the sums a snapshot cut needs, kept up to date by
`SqlJournal.write` in the transaction that writes the postings (docs/ledger.md)."""

for _name, _where in (  # migration 0002: the events a cut reads by kind, no full scan
    ("events_config", "cmd IN ('asset', 'collateral_params')"),
    ("events_prices", "cmd = 'index_price'"),
    ("events_accounts", "cmd = 'account'"),
):
    Index(_name, events.c.seq, postgresql_where=text(_where), sqlite_where=text(_where))

opened_accounts = Table(
    "opened_accounts",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
"""Customer accounts opened by an accepted `account` command, with the first such seq
(an account opened so has a leaf before its first posting)."""

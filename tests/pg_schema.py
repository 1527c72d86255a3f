"""A fresh PostgreSQL schema (or database) per test, for every fixture that offers a
PostgreSQL case.

The server is POR_TEST_DATABASE_URL (scripts/test sets it when 127.0.0.1:5432 answers);
without it the case is skipped with the caller's reason, never silently dropped. The schema
is selected through the connection's search_path and dropped afterwards, so parallel runs
never see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_ENV = "POR_TEST_DATABASE_URL"


def engine_url(base: str) -> str:
    """`base` with the psycopg 3 driver named (the one the project installs)."""
    for prefix in ("postgresql://", "postgres://"):
        if base.startswith(prefix):
            return "postgresql+psycopg://" + base[len(prefix) :]
    return base


def fresh_schema(prefix: str, skip_reason: str) -> Iterator[str]:
    """Yield the URL of a new empty schema named `prefix` + a random suffix; drop it after.
    Use with `yield from` in a fixture."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(skip_reason)
    schema = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(engine_url(base))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(engine_url(base)).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def fresh_database(prefix: str, skip_reason: str) -> Iterator[str]:
    """Yield the URL of a new empty database named `prefix` + a random suffix; drop it after.
    For tests that use what the server keeps per database, not per schema: a publication
    takes the database's publisher lock (an advisory lock), so two publishing tests in
    schemas of one database, on two xdist workers, would lock each other out."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(skip_reason)
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(engine_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(engine_url(base)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()

"""Shared fixtures: the database a test runs against.

`db_url` is parametrised over SQLite (a file in the test's tmp_path) and PostgreSQL. The
PostgreSQL case runs when POR_TEST_DATABASE_URL is set (scripts/test sets it when
127.0.0.1:5432 answers): each test gets its own freshly created schema, selected through
the connection's search_path and dropped afterwards, so parallel runs never see each other.
Without it the PostgreSQL cases are skipped with that reason, never silently dropped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ENV = "POR_TEST_DATABASE_URL"


def _engine_url(base: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if base.startswith(prefix):
            return "postgresql+psycopg://" + base[len(prefix) :]
    return base


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    schema = f"t_{uuid.uuid4().hex}"
    admin = sa.create_engine(_engine_url(base))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(_engine_url(base)).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

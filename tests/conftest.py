"""Shared fixtures: the database a test runs against.

`db_url` is parametrised over SQLite (a file in the test's tmp_path) and PostgreSQL. The
PostgreSQL case runs when POR_TEST_DATABASE_URL is set (scripts/test sets it when
127.0.0.1:5432 answers): each test gets its own freshly created schema, selected through
the connection's search_path and dropped afterwards, so parallel runs never see each other.
Without it the PostgreSQL cases are skipped with that reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_schema import PG_ENV, fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    yield from fresh_schema("t_", f"{PG_ENV} not set")

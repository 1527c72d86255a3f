"""Fixtures for publication tests: a fresh Anvil and exchange world per test.

The ledger and the log database are SQLite files in tmp_path, or one fresh PostgreSQL
schema when a test asks for `pg_url` and POR_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from por.chain.anvil import Anvil
from tests.por.publish.publish_world import START, World


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    with Anvil(timestamp=int((START - timedelta(hours=3)).timestamp())) as node:
        yield node


@pytest.fixture
def world(tmp_path: Path, anvil: Anvil) -> World:
    return World(
        tmp_path,
        f"sqlite:///{tmp_path / 'ledger.db'}",
        f"sqlite:///{tmp_path / 'log.db'}",
        anvil.url,
    )


def _engine_url(base: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if base.startswith(prefix):
            return "postgresql+psycopg://" + base[len(prefix) :]
    return base


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped with the reason when there is no server)."""
    base = os.environ.get("POR_TEST_DATABASE_URL")
    if not base:
        pytest.skip("POR_TEST_DATABASE_URL is not set: no PostgreSQL to publish into")
    schema = f"por_pub_{uuid.uuid4().hex[:12]}"
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

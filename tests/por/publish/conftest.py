"""Fixtures for publication tests: a fresh Anvil and exchange world per test.

The ledger and the log database are SQLite files in tmp_path, or one fresh PostgreSQL
schema when a test asks for `pg_url` and POR_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from por.chain.anvil import Anvil
from tests.pg_schema import fresh_database
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (skipped with the reason when there is no server): the
    publisher's lock is per database."""
    yield from fresh_database(
        "por_pub_", "POR_TEST_DATABASE_URL is not set: no PostgreSQL to publish into"
    )

"""Fixtures for the transparency-log tests: the shared vectors and both database backends.

PostgreSQL runs when POR_TEST_DATABASE_URL is set; each test gets its own schema (via
the connection's search_path), dropped afterwards, so tests are xdist-safe.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pg_schema import fresh_schema

REPO = Path(__file__).resolve().parents[3]


def shared_vectors_dir() -> Path:
    """POR_SHARED_VECTORS, else the shared vectors beside the repository."""
    return Path(os.environ.get("POR_SHARED_VECTORS") or REPO.parent / "shared" / "vectors")


def load_vectors() -> list[tuple[str, dict[str, Any]]]:
    """Every vector file; fails loudly (never skips) when there are none."""
    folder = shared_vectors_dir()
    files = sorted(folder.glob("*.json"))
    if not files:
        raise RuntimeError(f"no test vectors found in {folder} (set POR_SHARED_VECTORS)")
    return [(f.name, json.loads(f.read_text(encoding="utf-8"))) for f in files]


VECTORS = load_vectors()


@pytest.fixture(params=[name for name, _ in VECTORS])
def vector(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(VECTORS)[request.param]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL for the log: SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
        return
    yield from fresh_schema(
        "por_log_test_", "POR_TEST_DATABASE_URL is not set: no PostgreSQL to test against"
    )

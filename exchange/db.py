"""Opening the ledger database: URL resolution, engine set-up, Alembic upgrade in code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from exchange.errors import StoreError

__all__ = ["DEFAULT_URL", "open_database", "resolve_url", "upgrade"]

DEFAULT_URL = "sqlite:///por.db"


def resolve_url(url: str | None) -> str:
    """`--db URL`, else POR_DATABASE_URL, else sqlite:///por.db; postgresql:// uses psycopg 3."""
    url = url or os.environ.get("POR_DATABASE_URL") or DEFAULT_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _alembic_config(connection: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "exchange:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _create_private(path: Path) -> None:
    """Make a new SQLite file 0600 before SQLite does (it would follow the umask, 0644): it
    holds every account and balance. SQLite gives its -wal and -shm files the same mode.
    An existing file keeps the mode its owner gave it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create the ledger database {path}: {exc.strerror}") from None
    os.close(fd)


def open_database(url: str | None, *, create: bool) -> Engine:
    """An engine on the ledger. `create`: make the SQLite file and migrate to head;
    otherwise the database must exist and be at head (StoreError if not)."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types for bad URLs
        raise StoreError(f"not a database URL: {resolved!r} ({exc})") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            path = Path(db)
            if not create and not path.exists():
                raise StoreError(f"no ledger database at {resolved} (run `por exchange run` first)")
            path.parent.mkdir(parents=True, exist_ok=True)
            if create:
                _create_private(path)
    try:
        engine = create_engine(resolved)
    except Exception as exc:  # noqa: BLE001 - e.g. a driver that is not installed
        raise StoreError(f"cannot use database {resolved!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        if create:
            upgrade(engine)
        else:
            _require_head(engine, resolved)
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - connection refused, auth, ...
        raise StoreError(f"cannot open database {resolved}: {exc}".splitlines()[0]) from None
    return engine


def upgrade(engine: Engine) -> None:
    """Migrate the database to the newest schema (no-op when already there)."""
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")


def _require_head(engine: Engine, url: str) -> None:
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(conn)).get_current_head()
    if current is None:
        raise StoreError(f"no ledger in database {url} (run `por exchange run` first)")
    if current != head:
        raise StoreError(
            f"ledger schema of {url} is at {current}, expected {head}: run a command that migrates"
        )

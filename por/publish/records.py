"""Publication records and the one-publisher lock, in the transparency log's database.

Record `por_publications` (one row per published hour):
  Fields: snapshot_id (primary key), log_index (the hour's entry in the log), log_size and
    log_root (the log after appending it), manifest (the exact bytes of manifest.json),
    manifest_sha256, head (the signed `por-log-head/1` JSON at log_size), published_at
    (UTC, from the publisher's clock), anchor_tx and anchor_block (set once the anchor
    transaction is mined).
  Guarantees: inserted in the same transaction as the log entry, so an hour is in the log
    if and only if it has a record; at most one row per snapshot id (primary key) and per
    log index (unique).
  Updates: only anchor_tx / anchor_block, once, from NULL to the mined transaction.
  Deletion: never.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from por.publish.errors import LockedError

__all__ = [
    "ADVISORY_LOCK_KEY",
    "Publication",
    "all_publications",
    "get_publication",
    "insert_publication",
    "install",
    "publications_table",
    "publisher_lock",
    "set_anchor",
]

metadata = sa.MetaData()
_Index = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

publications_table = sa.Table(
    "por_publications",
    metadata,
    sa.Column("snapshot_id", sa.Text, primary_key=True),
    sa.Column("log_index", _Index, nullable=False, unique=True),
    sa.Column("log_size", _Index, nullable=False),
    sa.Column("log_root", sa.Text, nullable=False),
    sa.Column("manifest", sa.LargeBinary, nullable=False),
    sa.Column("manifest_sha256", sa.Text, nullable=False),
    sa.Column("head", sa.Text, nullable=False),
    sa.Column("published_at", sa.Text, nullable=False),
    sa.Column("anchor_tx", sa.Text, nullable=True),
    sa.Column("anchor_block", _Index, nullable=True),
)

# pg_advisory_lock key: the ASCII of "por-publ" as a signed 64-bit integer
ADVISORY_LOCK_KEY = int.from_bytes(b"por-publ", "big", signed=True)


@dataclass(frozen=True, slots=True)
class Publication:
    snapshot_id: str
    log_index: int
    log_size: int
    log_root: str
    manifest: bytes
    manifest_sha256: str
    head: str
    published_at: str
    anchor_tx: str | None
    anchor_block: int | None


def install(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def _row(row: sa.Row[tuple[object, ...]]) -> Publication:
    m = row._mapping
    return Publication(
        snapshot_id=str(m["snapshot_id"]),
        log_index=int(m["log_index"]),
        log_size=int(m["log_size"]),
        log_root=str(m["log_root"]),
        manifest=bytes(m["manifest"]),
        manifest_sha256=str(m["manifest_sha256"]),
        head=str(m["head"]),
        published_at=str(m["published_at"]),
        anchor_tx=None if m["anchor_tx"] is None else str(m["anchor_tx"]),
        anchor_block=None if m["anchor_block"] is None else int(m["anchor_block"]),
    )


def get_publication(conn: Connection, snapshot_id: str) -> Publication | None:
    t = publications_table
    row = conn.execute(sa.select(t).where(t.c.snapshot_id == snapshot_id)).first()
    return None if row is None else _row(row)


def all_publications(conn: Connection) -> list[Publication]:
    """Every record in log order."""
    t = publications_table
    return [_row(r) for r in conn.execute(sa.select(t).order_by(t.c.log_index))]


def insert_publication(conn: Connection, pub: Publication) -> None:
    conn.execute(
        publications_table.insert().values(
            snapshot_id=pub.snapshot_id,
            log_index=pub.log_index,
            log_size=pub.log_size,
            log_root=pub.log_root,
            manifest=pub.manifest,
            manifest_sha256=pub.manifest_sha256,
            head=pub.head,
            published_at=pub.published_at,
            anchor_tx=pub.anchor_tx,
            anchor_block=pub.anchor_block,
        )
    )


def set_anchor(conn: Connection, snapshot_id: str, tx: str, block: int) -> None:
    t = publications_table
    conn.execute(
        t.update()
        .where(t.c.snapshot_id == snapshot_id, t.c.anchor_tx.is_(None))
        .values(anchor_tx=tx, anchor_block=block)
    )


@contextlib.contextmanager
def publisher_lock(engine: Engine, lock_file: Path) -> Iterator[None]:
    """Hold the single-publisher lock or raise LockedError at once.

    PostgreSQL: a session advisory lock on its own connection (publishers on other hosts
    sharing the database exclude each other). SQLite: an exclusive flock on `lock_file`.
    Both are released by the operating system or the server when the process dies, so a
    SIGKILLed publisher never leaves a stale lock.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
            ).scalar_one()
            conn.commit()
            if not got:
                raise LockedError("another publisher holds the lock (PostgreSQL advisory lock)")
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                conn.commit()
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another publisher holds the lock {lock_file}") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

"""The persistent, append-only transparency log on SQLite or PostgreSQL.

pymerkle 7's `BaseMerkleTree` (default security: leaf `H(0x00||d)`, node `H(0x01||l||r)`)
drives appends and roots; this module gives it a SQLAlchemy Core backend, so SQLite and
PostgreSQL share one code path (pymerkle's own `SqliteTree` is SQLite only). Consistency
proofs are RFC 9162 section 2.1.4 (`_rfc9162`), not pymerkle's encoding.

Records (tables):

- `por_log_entries(leaf_index, snapshot_id, entry)`: entry `leaf_index` (0-based) is the
  canonical JSON `entry`. Guarantees: indices are contiguous from 0 (each append writes
  exactly the current size; the primary key refuses a second writer); one entry per
  snapshot id. Updates, deletion: none; triggers refuse UPDATE and DELETE (and TRUNCATE on
  PostgreSQL), so not even a direct SQL session can rewrite an hour without dropping them.
- `por_log_nodes(level, node_index, hash)`: the hash of every *complete* perfect subtree,
  leaves `node_index*2^level .. (node_index+1)*2^level - 1`; level 0 holds leaf hashes.
  Written in the append that completes the subtree, never changed (same triggers).
  With them a root or a proof for any size is O(log n) hashes read in one query:
  appending and proving stay flat as the log grows to 100,000 hours and beyond.

Every function taking a `Connection` runs inside the caller's transaction, so the
publisher can append and record its publication atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pymerkle import BaseMerkleTree  # type: ignore[import-untyped]
from sqlalchemy.engine import Connection, Engine

from por.log._rfc9162 import (
    EMPTY_ROOT,
    MAX_LOG_SIZE,
    LogProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_from_subtrees,
)
from por.log.entry import parse_entry
from por.log.errors import LogStoreError
from por.log.log_proof import ConsistencyProof, InclusionProof

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ENV_DATABASE_URL",
    "LogState",
    "LogStoreError",
    "TransparencyLog",
    "append",
    "database_url",
    "entries_table",
    "extend",
    "get_entry",
    "install",
    "iter_entries",
    "metadata",
    "nodes_table",
    "prove_consistency",
    "prove_inclusion",
    "snapshot_index",
    "state",
]

DEFAULT_DATABASE_URL = "sqlite:///por-log.db"
ENV_DATABASE_URL = "POR_LOG_DATABASE_URL"

metadata = sa.MetaData()
_Index = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid

entries_table = sa.Table(
    "por_log_entries",
    metadata,
    sa.Column("leaf_index", _Index, primary_key=True, autoincrement=False),
    sa.Column("snapshot_id", sa.Text, nullable=False, unique=True),
    sa.Column("entry", sa.LargeBinary, nullable=False),
    sa.CheckConstraint("leaf_index >= 0", name="por_log_entries_index_nonnegative"),
)

nodes_table = sa.Table(
    "por_log_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("node_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

_APPEND_ONLY = ("por_log_entries", "por_log_nodes")


@dataclass(frozen=True, slots=True)
class LogState:
    """The log's size and RFC 9162 root: what a log head signs."""

    size: int
    root: bytes


def install(conn: Connection) -> None:
    """Create the tables and the append-only triggers if absent (idempotent)."""
    metadata.create_all(conn, checkfirst=True)
    if conn.dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} "
                    f"BEFORE {action} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"
                )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION por_log_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = "
            "TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused'; END $$"
        )
        for table in _APPEND_ONLY:
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION por_log_refuse_change()"
            )
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION por_log_refuse_change()"
            )
    else:
        raise LogStoreError(
            f"unsupported database {conn.dialect.name!r}: the log runs on SQLite or PostgreSQL"
        )


def _fetch_subtrees(
    conn: Connection, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    if not keys:
        return {}
    t = nodes_table
    cond = sa.or_(*(sa.and_(t.c.level == lv, t.c.node_index == ix) for lv, ix in keys))
    rows = conn.execute(sa.select(t.c.level, t.c.node_index, t.c.hash).where(cond))
    found = {(int(lv), int(ix)): bytes(h) for lv, ix, h in rows}
    missing = [k for k in keys if k not in found]
    if missing:
        raise LogStoreError(f"log store is damaged: subtree hashes missing for {missing[:4]}")
    return found


class _SqlMerkleTree(BaseMerkleTree):  # type: ignore[misc]  # pymerkle ships no type hints
    """pymerkle's tree over the two tables, bound to one connection (one transaction).

    pymerkle's in-memory subroot cache is off: it would outlive a rolled-back transaction.
    The stored subtree hashes play its part, and they are transactional.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.last_state: LogState | None = None  # after an append: the new size and root
        super().__init__("sha256", disable_cache=True)

    # --- pymerkle's storage hooks ---

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        """Insert the entry, its leaf hash and every subtree it completes.

        The log's right edge (its perfect subtrees, at most 62) is read in one query;
        the new leaf merges with the trailing ones of equal size, as in a binary counter,
        and the new root is folded from the edge, so `append` needs no further reads.
        """
        n = self._get_size()
        if n >= MAX_LOG_SIZE:
            raise LogStoreError(f"log is full: {n} entries")
        edge_keys = perfect_subtrees(0, n) if n else []
        known = self._fetch(edge_keys)
        edge = [known[k] for k in edge_keys]
        entry = parse_entry(data)
        rows = [{"level": 0, "node_index": n, "hash": digest}]
        h, i, level = digest, n, 0
        while i & 1:
            h = self.hash_pair(edge.pop(), h)
            i >>= 1
            level += 1
            rows.append({"level": level, "node_index": i, "hash": h})
        edge.append(h)
        self._conn.execute(
            entries_table.insert().values(leaf_index=n, snapshot_id=entry.snapshot_id, entry=data)
        )
        self._conn.execute(nodes_table.insert(), rows)
        self.last_state = LogState(n + 1, root_from_subtrees(edge))
        return n + 1

    def _get_leaf(self, index: int) -> bytes:
        return self._fetch([(0, index - 1)])[(0, index - 1)]

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        t = nodes_table
        rows = self._conn.execute(
            sa.select(t.c.hash)
            .where(t.c.level == 0, t.c.node_index >= offset, t.c.node_index < offset + width)
            .order_by(t.c.node_index)
        )
        return [bytes(h) for (h,) in rows]

    def _get_size(self) -> int:
        size = self._conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(entries_table.c.leaf_index) + 1, 0))
        ).scalar_one()
        return int(size)

    # --- the fast paths pymerkle calls, reading stored subtrees ---

    def _fetch(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return _fetch_subtrees(self._conn, keys)

    def _get_subroot_uncached(self, offset: int, width: int) -> bytes:
        if width & (width - 1) == 0 and offset % width == 0:
            level = width.bit_length() - 1
            return self._fetch([(level, offset >> level)])[(level, offset >> level)]
        result: bytes = super()._get_subroot_uncached(offset, width)
        return result

    def _get_root(self, start: int, end: int) -> bytes:
        if end == start:
            return EMPTY_ROOT
        try:
            keys = perfect_subtrees(start, end)
        except LogProofError:  # not a node of the tree: let pymerkle hash it from the leaves
            result: bytes = super()._get_root(start, end)
            return result
        known = self._fetch(keys)
        return root_from_subtrees([known[k] for k in keys])


def _checked_size(conn: Connection, size: int | None) -> int:
    current = _SqlMerkleTree(conn).get_size()
    if size is None:
        return int(current)
    if not 0 <= size <= current:
        raise LogStoreError(f"log size {size} out of range: the log has {current} entries")
    return size


def append(conn: Connection, entry: bytes) -> LogState:
    """Append one entry (canonical JSON, see entry.py) in the caller's transaction.

    Refuses an entry that is not canonical or whose snapshot id is already logged.
    """
    parsed = parse_entry(entry)
    existing = snapshot_index(conn, parsed.snapshot_id)
    if existing is not None:
        raise LogStoreError(
            f"snapshot {parsed.snapshot_id} is already in the log as entry {existing}"
        )
    tree = _SqlMerkleTree(conn)
    try:
        tree.append_entry(entry)
    except sa.exc.IntegrityError as exc:
        raise LogStoreError(f"concurrent append refused by the database: {exc.orig}") from None
    assert tree.last_state is not None
    return tree.last_state


_BATCH = 1000  # rows per INSERT and ids per duplicate check in a bulk append


def extend(conn: Connection, entries: Sequence[bytes]) -> LogState:
    """Append many entries at once (an import, a mirror, a benchmark's 100,000 hours).

    Same result as `append` one by one, in the caller's transaction; the subtree hashes
    are computed in memory from the log's right edge instead of read back per entry.
    """
    parsed = [parse_entry(e) for e in entries]
    seen: dict[str, int] = {}
    for i, p in enumerate(parsed):
        if p.snapshot_id in seen:
            raise LogStoreError(
                f"snapshot {p.snapshot_id} appears twice in the batch "
                f"(items {seen[p.snapshot_id]} and {i})"
            )
        seen[p.snapshot_id] = i
    ids = list(seen)
    t = entries_table
    for k in range(0, len(ids), _BATCH):
        clash = conn.execute(
            sa.select(t.c.snapshot_id, t.c.leaf_index)
            .where(t.c.snapshot_id.in_(ids[k : k + _BATCH]))
            .limit(1)
        ).first()
        if clash is not None:
            raise LogStoreError(f"snapshot {clash[0]} is already in the log as entry {clash[1]}")
    n = _checked_size(conn, None)
    if n + len(parsed) > MAX_LOG_SIZE:
        raise LogStoreError(f"log is full: {n} entries")
    keys = perfect_subtrees(0, n) if n else []
    known = _fetch_subtrees(conn, keys)
    stack = [known[k] for k in keys]  # the right edge: perfect subtrees, left to right
    entry_rows: list[dict[str, Any]] = []
    node_rows: list[dict[str, Any]] = []
    for offset, p in enumerate(parsed):
        i = n + offset
        h = leaf_hash(p.data)
        entry_rows.append({"leaf_index": i, "snapshot_id": p.snapshot_id, "entry": p.data})
        node_rows.append({"level": 0, "node_index": i, "hash": h})
        j, level = i, 0
        while j & 1:
            h = node_hash(stack.pop(), h)
            j >>= 1
            level += 1
            node_rows.append({"level": level, "node_index": j, "hash": h})
        stack.append(h)
    try:
        for k in range(0, len(entry_rows), _BATCH):
            conn.execute(entries_table.insert(), entry_rows[k : k + _BATCH])
        for k in range(0, len(node_rows), _BATCH):
            conn.execute(nodes_table.insert(), node_rows[k : k + _BATCH])
    except sa.exc.IntegrityError as exc:
        raise LogStoreError(f"concurrent append refused by the database: {exc.orig}") from None
    return LogState(n + len(parsed), root_from_subtrees(stack))


def state(conn: Connection, size: int | None = None) -> LogState:
    """The log's size and root now, or its root at an earlier `size`."""
    n = _checked_size(conn, size)
    return LogState(n, bytes(_SqlMerkleTree(conn).get_root(n)))


def snapshot_index(conn: Connection, snapshot_id: str) -> int | None:
    """Where a snapshot's entry is in the log, or None."""
    t = entries_table
    found = conn.execute(sa.select(t.c.leaf_index).where(t.c.snapshot_id == snapshot_id)).first()
    return None if found is None else int(found[0])


def get_entry(conn: Connection, index: int) -> bytes:
    t = entries_table
    found = conn.execute(sa.select(t.c.entry).where(t.c.leaf_index == index)).first()
    if found is None:
        size = _checked_size(conn, None)
        raise LogStoreError(f"no entry {index}: the log has {size} entries (0 to {size - 1})")
    return bytes(found[0])


def iter_entries(conn: Connection, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """Entries `start .. stop-1` in log order (the site's entries.jsonl)."""
    t = entries_table
    query = sa.select(t.c.entry).where(t.c.leaf_index >= start).order_by(t.c.leaf_index)
    if stop is not None:
        query = query.where(t.c.leaf_index < stop)
    for (data,) in conn.execute(query):
        yield bytes(data)


def prove_consistency(conn: Connection, first: int, second: int | None = None) -> ConsistencyProof:
    """RFC 9162 section 2.1.4 proof from size `first` to `second` (default: now)."""
    n = _checked_size(conn, second)
    path = consistency_proof(first, n, lambda keys: _fetch_subtrees(conn, keys))
    return ConsistencyProof(first, n, tuple(path))


def prove_inclusion(conn: Connection, index: int, size: int | None = None) -> InclusionProof:
    """RFC 9162 section 2.1.3 proof that entry `index` is in the log of `size` (default: now)."""
    n = _checked_size(conn, size)
    path = inclusion_proof(index, n, lambda keys: _fetch_subtrees(conn, keys))
    leaf = _fetch_subtrees(conn, [(0, index)])[(0, index)]
    return InclusionProof(index, n, leaf, tuple(path))


def database_url(explicit: str | None = None) -> str:
    """--db, else POR_LOG_DATABASE_URL, else a SQLite file in the working directory."""
    return explicit or os.environ.get(ENV_DATABASE_URL) or DEFAULT_DATABASE_URL


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """Write-ahead log: one fsync per commit instead of three, readers never block the writer.

    `synchronous` stays FULL (SQLite's default), so a committed append survives power loss.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class TransparencyLog:
    """The log behind one database URL; each method is one transaction of its own.

    For an append inside a larger transaction use the module functions with a Connection.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, **engine_options: Any) -> TransparencyLog:
        """Connect, creating the tables on first use."""
        try:
            engine = sa.create_engine(url, **engine_options)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise LogStoreError(f"bad database URL: {exc}") from None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            sa.event.listen(engine, "connect", _sqlite_wal)
        log = cls(engine)
        try:
            with engine.begin() as conn:
                if not sa.inspect(conn).has_table(entries_table.name):
                    install(conn)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            shown = engine.url.render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0]
            raise LogStoreError(f"cannot open log database {shown}: {reason}") from None
        return log

    def close(self) -> None:
        self.engine.dispose()

    def append(self, entry: bytes) -> LogState:
        with self.engine.begin() as conn:
            return append(conn, entry)

    def extend(self, entries: Sequence[bytes]) -> LogState:
        with self.engine.begin() as conn:
            return extend(conn, entries)

    def state(self, size: int | None = None) -> LogState:
        with self.engine.connect() as conn:
            return state(conn, size)

    def entry(self, index: int) -> bytes:
        with self.engine.connect() as conn:
            return get_entry(conn, index)

    def entries(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        with self.engine.connect() as conn:
            return list(iter_entries(conn, start, stop))

    def prove_consistency(self, first: int, second: int | None = None) -> ConsistencyProof:
        with self.engine.connect() as conn:
            return prove_consistency(conn, first, second)

    def prove_inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        with self.engine.connect() as conn:
            return prove_inclusion(conn, index, size)

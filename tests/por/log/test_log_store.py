"""The persistent log: append-only, transactional, equal to RFC 9162 and to pymerkle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymerkle import SqliteTree

from por._canonical import canonical_json
from por.log import LogProofError, LogStoreError, check_extends, leaf_hash
from por.log._rfc9162 import consistency_proof_reference, mth_reference
from por.log.errors import EntryError, HeadError
from por.log.head import LogHead
from por.log.store import (
    TransparencyLog,
    append,
    entries_table,
    nodes_table,
    state,
)

_ASSETS = [{"symbol": "BTC", "decimals": 8}, {"symbol": "USDC", "decimals": 6}]


def hourly_entry(hour: int, salt: str = "") -> bytes:
    sid = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=hour)).strftime(
        "%Y-%m-%dT%H:00:00Z"
    )
    root = {
        "hash": leaf_hash(f"{salt}{hour}".encode()).hex(),
        "equity": [str(hour), "7"],
        "debt": ["0", str(hour % 3)],
    }
    return canonical_json({"snapshot_id": sid, "assets": _ASSETS, "root": root})


@pytest.fixture
def log(db_url: str) -> Iterator[TransparencyLog]:
    store = TransparencyLog.open(db_url)
    yield store
    store.close()


def test_bulk_extend_equals_appending_one_by_one_and_the_rfc(log: TransparencyLog) -> None:
    entries = [hourly_entry(h) for h in range(70)]
    leaves = [leaf_hash(e) for e in entries]
    for e in entries[:5]:
        log.append(e)
    assert log.extend(entries[5:41]).root == mth_reference(leaves[:41])
    for e in entries[41:]:
        log.append(e)
    for n in (1, 2, 5, 41, 64, 70):
        assert log.state(n).root == mth_reference(leaves[:n]), f"root of size {n}"
    for m in (1, 3, 16, 41, 69, 70):
        proof = log.prove_consistency(m)
        assert list(proof.path) == consistency_proof_reference(leaves, m), f"proof {m} -> 70"
        proof.verify(mth_reference(leaves[:m]), mth_reference(leaves))
    for i in (0, 37, 69):
        proof = log.prove_inclusion(i)
        assert proof.leaf_hash == leaves[i]
        proof.verify(mth_reference(leaves))
    assert log.entries(68) == entries[68:]
    assert log.entry(3) == entries[3]


def test_roots_equal_pymerkles_sqlitetree_over_the_same_entries(
    log: TransparencyLog, tmp_path: Path
) -> None:
    entries = [hourly_entry(h) for h in range(2049)]
    ours = log.extend(entries)
    with SqliteTree(str(tmp_path / "pymerkle.db")) as tree:  # default security on
        tree.append_entries(entries)
        assert tree.get_root() == ours.root
        assert tree.get_root(1000) == log.state(1000).root
    assert ours.root == mth_reference([leaf_hash(e) for e in entries])


def test_the_log_survives_reopening(db_url: str) -> None:
    first = TransparencyLog.open(db_url)
    before = first.extend([hourly_entry(h) for h in range(9)])
    first.close()
    again = TransparencyLog.open(db_url)
    try:
        assert again.state() == before
        after = again.append(hourly_entry(9))
        again.prove_consistency(9).verify(before.root, after.root)
    finally:
        again.close()


@pytest.mark.parametrize("table", [entries_table, nodes_table], ids=["entries", "nodes"])
def test_the_database_refuses_update_and_delete(log: TransparencyLog, table: sa.Table) -> None:
    log.extend([hourly_entry(h) for h in range(4)])
    before = log.state()
    value, key = (
        (table.c.entry, table.c.leaf_index)
        if table is entries_table
        else (table.c.hash, table.c.node_index)
    )
    statements = [
        table.update().values({value: b"forged"}),
        table.update().where(key == 3).values({key: 9}),
        table.delete(),
        table.delete().where(key == 3),
    ]
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), log.engine.begin() as conn:
            conn.execute(statement)
    if log.engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), log.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {table.name}")
    assert log.state() == before, "a refused change must leave the log as it was"


def test_an_append_in_the_callers_transaction_rolls_back_with_it(log: TransparencyLog) -> None:
    log.extend([hourly_entry(h) for h in range(3)])
    before = log.state()
    with pytest.raises(RuntimeError, match="publication failed"), log.engine.begin() as conn:
        inside = append(conn, hourly_entry(3))
        assert inside.size == 4 and state(conn) == inside
        raise RuntimeError("publication failed after the append")
    assert log.state() == before
    # the same entry can then be appended for real, with the same result
    with log.engine.begin() as conn:
        assert append(conn, hourly_entry(3)) == inside


def test_a_snapshot_is_logged_once(log: TransparencyLog) -> None:
    log.append(hourly_entry(0))
    already = r"snapshot 2026-01-01T00:00:00Z is already in the log as entry 0"
    with pytest.raises(LogStoreError, match=already):
        log.append(hourly_entry(0, salt="other root"))
    with pytest.raises(LogStoreError, match="appears twice in the batch"):
        log.extend([hourly_entry(1), hourly_entry(1, salt="x")])
    assert log.state().size == 1


def test_entries_that_are_not_canonical_are_refused(log: TransparencyLog) -> None:
    spaced = hourly_entry(0).replace(b",", b", ")
    with pytest.raises(EntryError, match="not in canonical JSON"):
        log.append(spaced)
    with pytest.raises(EntryError, match="expected exactly the keys"):
        log.append(b'{"snapshot_id":"x"}')
    assert log.state().size == 0


def test_out_of_range_requests_say_what_exists(log: TransparencyLog) -> None:
    log.extend([hourly_entry(h) for h in range(3)])
    with pytest.raises(LogStoreError, match=r"no entry 3: the log has 3 entries \(0 to 2\)"):
        log.entry(3)
    with pytest.raises(LogStoreError, match="log size 4 out of range: the log has 3 entries"):
        log.prove_consistency(1, 4)
    with pytest.raises(LogProofError, match="no consistency proof from size 0"):
        log.prove_consistency(0)


def test_two_logs_that_diverge_at_one_entry_fail_the_consistency_check(
    tmp_path: Path,
) -> None:
    honest = TransparencyLog.open(f"sqlite:///{tmp_path / 'a.db'}")
    forked = TransparencyLog.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        common = [hourly_entry(h) for h in range(6)]
        honest.extend([*common, hourly_entry(6), *[hourly_entry(h) for h in range(7, 12)]])
        # the fork shows one auditor a different root for hour 6, then carries on
        later = [hourly_entry(h) for h in range(7, 12)]
        forked.extend([*common, hourly_entry(6, salt="lower"), *later])
        seen_by_alice = LogHead(7, honest.state(7).root)
        seen_by_bob = LogHead(7, forked.state(7).root)
        with pytest.raises(HeadError, match="equivocation: two different roots for log size 7"):
            check_extends(seen_by_alice, seen_by_bob, None)
        # Alice asks the forked log for a proof from her head to its newest one
        newest = LogHead(12, forked.state().root)
        with pytest.raises(HeadError, match="not consistent"):
            check_extends(seen_by_alice, newest, forked.prove_consistency(7))
        # a head from before the fork is still consistent with both
        early = LogHead(6, honest.state(6).root)
        check_extends(early, newest, forked.prove_consistency(6))
        check_extends(early, LogHead(12, honest.state().root), honest.prove_consistency(6))
    finally:
        honest.close()
        forked.close()


def test_a_second_writer_taking_the_same_position_makes_the_append_fail_cleanly(
    log: TransparencyLog,
) -> None:
    log.extend([hourly_entry(h) for h in range(2)])
    raced = []

    def other_writer_first(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO por_log_entries") and not raced:
            raced.append(log.append(hourly_entry(7)))  # another connection, committed

    with log.engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", other_writer_first)
        with pytest.raises(LogStoreError, match="concurrent append refused"), conn.begin():
            append(conn, hourly_entry(2))
    assert raced and raced[0].size == 3
    assert log.state() == raced[0], "the log holds the other writer's entry, and only it"


def test_pymerkles_sqlitetree_root_equals_rfc_9162_for_100000_leaves(tmp_path: Path) -> None:
    entries = [b"hour %d" % i for i in range(100_000)]
    with SqliteTree(str(tmp_path / "pymerkle.db")) as tree:  # default security on
        tree.append_entries(entries)
        pymerkle_root = tree.get_root()
        pymerkle_older = tree.get_root(65_537)
    leaves = [leaf_hash(e) for e in entries]
    assert pymerkle_root == mth_reference(leaves)
    assert pymerkle_older == mth_reference(leaves[:65_537])


def test_the_stored_subtree_fast_paths_equal_pymerkles_naive_recursion(
    log: TransparencyLog,
) -> None:
    from por.log.store import _SqlMerkleTree

    log.extend([hourly_entry(h) for h in range(45)])
    with log.engine.connect() as conn:
        tree = _SqlMerkleTree(conn)
        for start, end in [(0, 45), (0, 32), (32, 45), (40, 44), (3, 11), (5, 6), (17, 45)]:
            assert tree._get_root(start, end) == tree._get_root_naive(start, end), (start, end)
        assert tree.get_leaf(45) == leaf_hash(hourly_entry(44))

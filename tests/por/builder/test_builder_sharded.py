"""The sharded Dask build (`build_tree_from_shards`) on a LocalCluster of 2 worker
processes: the local engine's root, store files and proofs, pieces included; bytes through
the client bounded per partition; bad shards and killed workers refused in one line with
nothing written to the store."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from por.builder import AccountBatch, BuiltTree, ClusterError, TreeInputError, build_tree
from por.builder import _sharded as sharded
from por.builder import build_tree_from_shards as from_shards
from por.builder.proofstore import ProofStore
from por.builder.shards import ShardError, write_shards
from por.builder.vectorgen import random_accounts
from por.errors import InputError
from por.snapshot.pieces import PiecePolicy, split_pieces

distributed = pytest.importorskip("distributed")

ASSETS = ("BTC", "ETH", "SOL", "USDC")
SNAPSHOT = "2026-12-01T10:00:00Z"
SECRET = b"sharded-test-filler-secret-32byt"
PARTS = 8
SHARD_ACCOUNTS = 700


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    dask = pytest.importorskip("dask")
    # one retry: a worker killed once is survived, killed twice the build fails
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def accounts() -> AccountBatch:
    return AccountBatch.from_accounts(random_accounts(random.Random(19), 2500, len(ASSETS)), 4)


@pytest.fixture(scope="module")
def pieces(accounts: AccountBatch) -> AccountBatch:
    # 2-4 pieces per account (the default's 16+ would make every proof compared 16 times)
    split = split_pieces(accounts, PiecePolicy(min_pieces=2, max_pieces=4), SNAPSHOT, SECRET)
    assert split.count > 3 * accounts.count // 2, "the policy should split accounts into pieces"
    return split.batch


def local_tree(batch: AccountBatch, out: Path, pieces: bool) -> BuiltTree:
    return build_tree(
        batch,
        ASSETS,
        SNAPSHOT,
        SECRET,
        engine="local",
        partitions=PARTS,
        workers=2,
        out_dir=out,
        pieces=pieces,
    )


def build_sharded(shards: Path, client: Any, out: Path, **options: Any) -> Any:
    """The sharded build of this module's snapshot, assets and partitions."""
    return from_shards(
        shards, ASSETS, SNAPSHOT, SECRET, partitions=PARTS, client=client, out_dir=out, **options
    )


def store_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_sharded_pieces_build_has_the_local_root_files_and_every_proof(
    client: Any, pieces: AccountBatch, tmp_path: Path
) -> None:
    write_shards(pieces, tmp_path / "shards", SHARD_ACCOUNTS)
    local = local_tree(pieces, tmp_path / "local", pieces=True)
    built = build_sharded(tmp_path / "shards", client, tmp_path / "sharded", pieces=True)
    assert built.tree.root == local.root
    assert store_files(tmp_path / "sharded") == store_files(tmp_path / "local")
    nonces: dict[str, list[bytes]] = {}
    for i in range(pieces.count):
        nonces.setdefault(pieces.account_id(i), []).append(pieces.nonce(i))
    assert any(len(v) > 1 for v in nonces.values())
    with ProofStore.open(tmp_path / "sharded") as got, ProofStore.open(tmp_path / "local") as ref:
        for account_id, account_nonces in nonces.items():
            assert got.account_proofs(account_id, account_nonces) == ref.account_proofs(
                account_id, account_nonces
            ), account_id


def test_client_traffic_is_bounded_per_partition_not_per_account(
    client: Any, accounts: AccountBatch, tmp_path: Path
) -> None:
    """Four times the accounts (same partitions) move the same order of bytes through
    the client, a few hundred bytes per partition and shard, never ~180 per account."""
    big = AccountBatch.from_accounts(random_accounts(random.Random(7), 10000, 4), 4)
    traffic = []
    for name, batch in (("small", accounts), ("big", big)):
        write_shards(batch, tmp_path / name / "shards", 2500)
        built = build_sharded(tmp_path / name / "shards", client, tmp_path / name / "tree")
        local = local_tree(batch, tmp_path / name / "local", pieces=False)
        assert built.tree.root == local.root
        assert store_files(tmp_path / name / "tree") == store_files(tmp_path / name / "local")
        t = built.traffic
        assert t.partitions == PARTS and t.tasks >= PARTS + t.shards
        assert t.total <= 1024 * (t.partitions + t.shards), t
        traffic.append(t)
    small, large = traffic
    assert large.shards == 4 * small.shards
    # 7,500 more accounts (~1.3 MB of ids, nonces and amounts) add only 3 shard tasks
    assert large.total - small.total <= 1024 * 3, (small, large)


@pytest.mark.parametrize("consume", [False, True], ids=["kept", "consumed"])
def test_duplicate_account_id_refused_as_the_local_engine_does(
    client: Any, accounts: AccountBatch, tmp_path: Path, consume: bool
) -> None:
    """Consumed shards: the ids each leaves in the staging directory name the duplicate."""
    ids = bytearray(accounts.ids)
    a, b = 100, 1900  # in different shards; make id b equal to id a (same length)
    lo_a, hi_a = int(accounts.id_offsets[a]), int(accounts.id_offsets[a + 1])
    lo_b, hi_b = int(accounts.id_offsets[b]), int(accounts.id_offsets[b + 1])
    assert hi_a - lo_a == hi_b - lo_b
    ids[lo_b:hi_b] = ids[lo_a:hi_a]
    dup = AccountBatch(bytes(ids), accounts.id_offsets, accounts.nonces, accounts.amounts)
    write_shards(dup, tmp_path / "shards", SHARD_ACCOUNTS)
    with pytest.raises(TreeInputError) as local_err:
        local_tree(dup, tmp_path / "local", pieces=False)
    with pytest.raises(TreeInputError) as err:
        build_sharded(tmp_path / "shards", client, tmp_path / "out", consume_shards=consume)
    assert str(err.value) == str(local_err.value)
    assert "duplicate account id" in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []
    if consume:
        assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["shards.json"]


def test_duplicate_tag_in_pieces_refused_naming_both(
    client: Any, pieces: AccountBatch, tmp_path: Path
) -> None:
    nonces = pieces.nonces.copy()
    nonces[5] = nonces[4]  # two pieces of one account with one nonce: the same tag
    assert pieces.account_id(4) == pieces.account_id(5)
    dup = AccountBatch(pieces.ids, pieces.id_offsets, nonces, pieces.amounts)
    write_shards(dup, tmp_path / "shards", SHARD_ACCOUNTS)
    with pytest.raises(TreeInputError, match=r"duplicate tag .*account 4 .* and account 5 "):
        build_sharded(tmp_path / "shards", client, tmp_path / "out", pieces=True)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_bad_shard_is_one_line_and_nothing_is_written(
    client: Any, accounts: AccountBatch, tmp_path: Path, damage: str
) -> None:
    write_shards(accounts, tmp_path / "shards", SHARD_ACCOUNTS)
    shard = tmp_path / "shards" / "shard-00002.bin"
    if damage == "corrupt":
        data = bytearray(shard.read_bytes())
        data[-7] ^= 0x01  # one bit of an account id: same size, other checksum
        shard.write_bytes(bytes(data))
    else:
        shard.unlink()
    out = tmp_path / "store"
    out.mkdir()
    (out / "keep.txt").write_text("an operator's file\n")
    with pytest.raises(ShardError) as err:
        build_sharded(tmp_path / "shards", client, out)
    message = str(err.value)
    assert isinstance(err.value, InputError) and "\n" not in message
    assert "shard 2 " in message
    assert ("checksum mismatch" if damage == "corrupt" else "is missing") in message
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_spill_groups_are_removed_as_soon_as_their_partitions_returned(
    client: Any, accounts: AccountBatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spills do not sit beside the whole store: each group's files (one per tag task)
    go as soon as the last partition reading it has returned, before the last one does."""
    write_shards(accounts, tmp_path / "shards", SHARD_ACCOUNTS)
    events: list[tuple[str, int]] = []
    remove, result = sharded._remove_group, sharded._task_result

    def removing(staging: str, g: int, spills: int) -> None:
        present = len(list(Path(staging, "shuffle").glob(f"spill-*-{g:03d}.bin")))
        events.append(("removed", g))
        assert present == spills == 4 + 3, (g, present, spills)  # 4 shards, 3 filler tasks
        remove(staging, g, spills)

    def returned(counted: Any, fut: Any, what: str, others: list[Any]) -> Any:
        value = result(counted, fut, what, others)
        if what.startswith("building partition"):
            events.append(("partition", int(what.split()[-1])))
        return value

    monkeypatch.setattr(sharded, "_remove_group", removing)
    monkeypatch.setattr(sharded, "_task_result", returned)
    built = build_sharded(tmp_path / "shards", client, tmp_path / "out")
    local = local_tree(accounts, tmp_path / "local", pieces=False)
    assert built.tree.root == local.root
    assert sorted(g for kind, g in events if kind == "removed") == list(range(PARTS))
    last = max(i for i, (kind, _) in enumerate(events) if kind == "partition")
    assert events.index(next(e for e in events if e[0] == "removed")) < last


def test_consumed_shards_give_the_local_tree_and_are_gone_after_it(
    client: Any, accounts: AccountBatch, tmp_path: Path
) -> None:
    write_shards(accounts, tmp_path / "shards", SHARD_ACCOUNTS)
    local = local_tree(accounts, tmp_path / "local", pieces=False)
    built = build_sharded(tmp_path / "shards", client, tmp_path / "out", consume_shards=True)
    assert built.tree.root == local.root
    assert store_files(tmp_path / "out") == store_files(tmp_path / "local")
    assert list((tmp_path / "shards").iterdir()) == []


class _KillOnPartition:
    """A worker plugin killing its own process when a partition task starts: a worker
    dying mid-build. With `once`, only the first worker to get there dies."""

    task, state = "_build_partition", "executing"

    def __init__(self, marker: str | None) -> None:
        self.marker = marker

    def setup(self, worker: Any) -> None:
        return

    def teardown(self, worker: Any) -> None:
        return

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != self.state or self.task not in str(key):
            return
        if self.marker is not None:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        os.kill(os.getpid(), signal.SIGKILL)


def _remove_plugin(client: Any, name: str) -> None:
    """Unregister a worker plugin once the killed workers are back. The scheduler's
    connection may be mid-restart (CI: CommClosedError in the cleanup after the assertions
    had held), so wait for the workers and retry a few times."""
    from distributed.comm.core import CommClosedError

    for attempt in range(5):
        try:
            client.wait_for_workers(2, timeout=60)
            client.unregister_worker_plugin(name)
            return
        except (CommClosedError, OSError):
            if attempt == 4:
                raise
            time.sleep(1)


class _KillAfterTagging(_KillOnPartition):
    """Kills its worker as a shard's tag task has finished there: with consumed shards,
    after the shard was deleted and before the scheduler has the result."""

    task, state = "_tag_shard", "memory"


def _with_plugin(client: Any, plugin: _KillOnPartition, name: str) -> Any:
    base = distributed.diagnostics.plugin.WorkerPlugin
    cls = type(type(plugin).__name__, (type(plugin), base), {"name": name})
    return client.register_plugin(cls(plugin.marker), name=name)


def test_worker_killed_once_is_survived_with_the_same_tree(
    client: Any, accounts: AccountBatch, tmp_path: Path
) -> None:
    write_shards(accounts, tmp_path / "shards", SHARD_ACCOUNTS)
    local = local_tree(accounts, tmp_path / "local", pieces=False)
    marker = tmp_path / "killed"
    _with_plugin(client, _KillOnPartition(str(marker)), "kill-once")
    try:
        built = build_sharded(tmp_path / "shards", client, tmp_path / "out")
    finally:
        _remove_plugin(client, "kill-once")
    assert marker.exists(), "no worker was killed"
    assert built.tree.root == local.root
    assert store_files(tmp_path / "out") == store_files(tmp_path / "local")


def test_worker_killed_every_time_fails_in_one_line_with_nothing_written(
    accounts: AccountBatch, tmp_path: Path
) -> None:
    """On a cluster of its own, closed after: here its nannies, restarting workers that die
    at every attempt, have been seen not to bring them back (the shared cluster's next
    test then waited minutes for workers)."""
    dask = pytest.importorskip("dask")
    write_shards(accounts, tmp_path / "shards", SHARD_ACCOUNTS)
    out = tmp_path / "out"
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as own,
    ):
        _with_plugin(own, _KillOnPartition(None), "kill-always")
        with pytest.raises(ClusterError) as err:
            build_sharded(tmp_path / "shards", own, out)
    message = str(err.value)
    assert isinstance(err.value, InputError) and "\n" not in message
    assert "while building partition" in message and "KilledWorker" in message
    assert list(out.iterdir()) == []


def test_tag_task_rerun_after_its_shard_was_consumed_returns_its_spill(
    client: Any, accounts: AccountBatch, tmp_path: Path
) -> None:
    """A worker lost after it consumed a shard: Dask reruns the tag task elsewhere, which
    finds the result its first run left on disk instead of the deleted shard."""
    write_shards(accounts, tmp_path / "shards", SHARD_ACCOUNTS)
    local = local_tree(accounts, tmp_path / "local", pieces=False)
    marker = tmp_path / "killed"
    _with_plugin(client, _KillAfterTagging(str(marker)), "kill-after-tag")
    try:
        built = build_sharded(tmp_path / "shards", client, tmp_path / "out", consume_shards=True)
    finally:
        _remove_plugin(client, "kill-after-tag")
    assert marker.exists(), "no worker was killed"
    assert built.tree.root == local.root
    assert store_files(tmp_path / "out") == store_files(tmp_path / "local")

"""`take_snapshot(engine="dask")` (what `por snapshot --engine dask` and `por publish
--engine dask` run): the snapshot job writes its pieces as account shards and the cluster
builds the tree from them (`build_tree_from_shards`), never through the client. The
snapshot is the same to the byte as the local engine's, and the shards are gone after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange.export import SqlLedgerExport
from por.snapshot import SnapshotIndex, take_snapshot
from tests.por.snapshot.snapshot_ledger import AFTER, AT, BEFORE, make_ledger

distributed = pytest.importorskip("distributed")

SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "summary.json"  # timings differ
    }


def test_the_dask_engine_builds_from_shards_and_gives_the_local_engines_snapshot(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import por.builder._build as build

    def no_client_path(*_: Any, **__: Any) -> None:
        raise AssertionError("the client-routed DaskEngine must not be used by a snapshot")

    monkeypatch.setattr(build, "DaskEngine", no_client_path)
    ledger = make_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", BEFORE + AFTER)
    source = SqlLedgerExport(ledger.engine)
    local = take_snapshot(source, AT, tmp_path / "local", secret=SECRET, engine="local")
    dask = take_snapshot(
        source, AT, tmp_path / "dask", secret=SECRET, engine="dask", scheduler=scheduler
    )
    assert dask.root == local.root and dask.leaf_count == local.leaf_count
    assert not (dask.directory / "private" / "shards").exists(), "shards removed once built"
    assert _files(dask.directory) == _files(local.directory), "byte-identical snapshot"
    index = SnapshotIndex(dask.directory)
    assert sorted(index.account_ids()) == ["alice", "bob", "carol"]
    proof = index.proof("bob")
    assert proof["format"] == "por-proof-set/1" and len(proof["proofs"]) >= 1
    summary = json.loads((dask.directory / "private" / "summary.json").read_text())
    assert summary["accounts"] == 3


def test_por_snapshot_engine_dask_on_a_named_scheduler_gives_the_local_root(
    tmp_path: Path, scheduler: str
) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    make_ledger(db, BEFORE + AFTER).engine.dispose()
    (tmp_path / "secret").write_text(SECRET.hex() + "\n")
    (tmp_path / "secret").chmod(0o600)
    roots = {}
    for engine in ("local", "dask"):
        args = ["snapshot", "--at", AT, "--db", db, "--out", str(tmp_path / engine)]
        args += ["--secret-file", str(tmp_path / "secret"), "--engine", engine]
        if engine == "dask":
            args += ["--dask-scheduler", scheduler]
        result = CliRunner().invoke(cli, args + ["--json"], catch_exceptions=False)
        # no --wallets: nothing on chain, so the reconciliation FAILs (exit 1), the same
        # for both engines; the snapshot itself is taken
        assert result.exit_code == 1 and '"status": "FAIL"' in result.output, result.output
        (snap,) = (tmp_path / engine).iterdir()
        roots[engine] = json.loads((snap / "public" / "snapshot.json").read_text())["tree"]
    assert roots["dask"] == roots["local"]

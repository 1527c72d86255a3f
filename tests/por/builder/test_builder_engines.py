"""The same tree through every engine: serial, forked local processes and Dask."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from por.builder import BuiltTree, build_tree
from por.builder.proofstore import ProofStore
from por.builder.vectorgen import random_accounts
from por.model import AccountInput

ASSETS = ("BTC", "ETH", "SOL", "USDC")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"engine-test-filler-secret"


@pytest.fixture(scope="module")
def accounts() -> list[AccountInput]:
    return random_accounts(random.Random(11), 1500, len(ASSETS))


def build(accs: list[AccountInput], out: Path, **kwargs: object) -> BuiltTree:
    return build_tree(accs, ASSETS, SNAPSHOT, SECRET, out_dir=out, **kwargs)  # type: ignore[arg-type]


def files(tree: BuiltTree) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(tree.out_dir.glob("*.bin"))}


@pytest.fixture(scope="module")
def serial_tree(
    accounts: list[AccountInput], tmp_path_factory: pytest.TempPathFactory
) -> BuiltTree:
    return build(accounts, tmp_path_factory.mktemp("serial"), engine="serial", partitions=4)


def test_local_engine_gives_the_serial_root_and_identical_level_files(
    accounts: list[AccountInput], serial_tree: BuiltTree, tmp_path: Path
) -> None:
    local = build(accounts, tmp_path, engine="local", partitions=4, workers=2)
    assert local.root == serial_tree.root, "local engine root differs from serial"
    assert files(local) == files(serial_tree), "level files differ between engines"


def test_partition_count_does_not_change_the_root(
    accounts: list[AccountInput], serial_tree: BuiltTree, tmp_path: Path
) -> None:
    for parts in (1, 2, 64):
        tree = build(accounts, tmp_path / str(parts), engine="local", partitions=parts, workers=2)
        assert tree.root == serial_tree.root, f"root differs with {parts} partitions"
        with ProofStore.open(tree.out_dir) as store:
            acc = accounts[123]
            with ProofStore.open(serial_tree.out_dir) as ref:
                assert store.account_proof(acc.account_id, acc.nonce) == ref.account_proof(
                    acc.account_id, acc.nonce
                ), f"proof differs with {parts} partitions"


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_engine_on_a_given_scheduler_gives_the_serial_tree(
    accounts: list[AccountInput], serial_tree: BuiltTree, dask_scheduler: str, tmp_path: Path
) -> None:
    tree = build(accounts, tmp_path, engine="dask", partitions=4, scheduler=dask_scheduler)
    assert tree.root == serial_tree.root, "dask engine root differs from serial"
    assert files(tree) == files(serial_tree), "level files differ between engines"


def test_dask_engine_default_local_cluster_of_processes_gives_the_serial_root(
    accounts: list[AccountInput], serial_tree: BuiltTree, tmp_path: Path
) -> None:
    tree = build(accounts, tmp_path, engine="dask", partitions=4, workers=2)
    assert tree.root == serial_tree.root, "dask LocalCluster (processes) root differs"

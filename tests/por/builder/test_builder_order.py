"""Sorting by tag in parallel: cuts of sorted runs, ties across and inside partitions."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from por.builder import AccountBatch, TreeInputError, _engines, _tags, build_tree
from por.builder._order import index_bits, merge_slice, packed_run, split_runs
from por.builder.vectorgen import random_accounts
from por.model import AccountInput

ASSETS = ("BTC", "ETH")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"order-test-filler-secret"


def runs_of(tags: NDArray[np.uint8], pieces: int) -> list[NDArray[np.uint64]]:
    bits = index_bits(tags.shape[0])
    bounds = np.linspace(0, tags.shape[0], pieces + 1).astype(int).tolist()
    return [packed_run(tags[a:b], a, bits) for a, b in zip(bounds, bounds[1:], strict=False)]


def test_cut_runs_merged_slice_by_slice_give_the_bytewise_order() -> None:
    rng = np.random.default_rng(8)
    tags = rng.integers(0, 256, (4096, 32), dtype=np.uint8)
    tags[100:110, :8] = tags[100, :8]  # prefix ties (same partition or not: either is fine)
    runs = runs_of(tags, 7)
    bits = index_bits(4096)
    cuts = split_runs(runs, [512 * p for p in range(1, 8)], bits)
    if cuts is None:
        pytest.fail("no cut should fall inside this tie group by construction")
    got: list[int] = []
    for p in range(8):
        pieces = [
            run[([0, *cut])[p] : ([*cut, run.size])[p]] for run, cut in zip(runs, cuts, strict=True)
        ]
        out = np.empty(512, dtype=np.int64)
        merge_slice(pieces, tags, bits, out)
        got += out.tolist()
    assert got == sorted(range(4096), key=lambda i: tags[i].tobytes()), "bytewise order"


def test_a_cut_between_tied_keys_is_refused() -> None:
    tags = np.random.default_rng(2).integers(0, 256, (64, 32), dtype=np.uint8)
    order = sorted(range(64), key=lambda i: tags[i].tobytes())
    tags[order[32], :8] = tags[order[31], :8]  # ranks 31 and 32 tie across the cut at 32
    assert split_runs(runs_of(tags, 3), [32], index_bits(64)) is None, "needs full tags"


def patch_tags(
    monkeypatch: pytest.MonkeyPatch, edit: Callable[[NDArray[np.uint8], int], None]
) -> None:
    """Edit account tags after they are computed, in every engine (forked workers inherit
    the patch). `edit(out, start)` gets a chunk's tags and its first account's index."""
    real = _tags.account_tags_into

    def fake(batch: AccountBatch, snapshot_id: str, out: NDArray[np.uint8]) -> None:
        real(batch, snapshot_id, out)
        if batch.count:
            edit(out, int(batch.account_id(0).removeprefix("id")))

    monkeypatch.setattr(_tags, "account_tags_into", fake)
    monkeypatch.setattr(_engines, "account_tags_into", fake)


def numbered_accounts(count: int) -> list[AccountInput]:
    accs = random_accounts(random.Random(12), count, len(ASSETS))
    return [AccountInput(f"id{i:06d}", a.nonce, a.equity, a.debt) for i, a in enumerate(accs)]


def test_local_parallel_sort_orders_tied_tags_like_the_serial_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    accs = numbered_accounts(3000)

    def edit(out: NDArray[np.uint8], start: int) -> None:
        for i in range(out.shape[0]):  # accounts 0..9 share their first 9 tag bytes
            if start + i < 10:
                out[i, :9] = 7

    patch_tags(monkeypatch, edit)
    serial = build_tree(
        accs, ASSETS, SNAPSHOT, SECRET, engine="serial", partitions=8, out_dir=tmp_path / "s"
    )
    local = build_tree(
        accs,
        ASSETS,
        SNAPSHOT,
        SECRET,
        engine="local",
        partitions=8,
        workers=2,
        out_dir=tmp_path / "l",
    )
    assert local.root == serial.root, "tied tags ordered differently"
    for name in ("part-00000.bin", "part-00007.bin", "fences.bin"):
        assert (tmp_path / "l" / name).read_bytes() == (tmp_path / "s" / name).read_bytes(), name


def test_local_parallel_sort_rejects_equal_tags_before_writing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    accs = numbered_accounts(3000)

    def edit(out: NDArray[np.uint8], start: int) -> None:
        for i in range(out.shape[0]):
            if start + i in (5, 2900):
                out[i] = 9

    patch_tags(monkeypatch, edit)
    with pytest.raises(
        TreeInputError, match=r"duplicate tag (09)+: account 5 \('id000005'\) and account 2900"
    ):
        build_tree(
            accs,
            ASSETS,
            SNAPSHOT,
            SECRET,
            engine="local",
            partitions=8,
            workers=2,
            out_dir=tmp_path,
        )
    assert not any(tmp_path.iterdir()), "files were written for rejected input"

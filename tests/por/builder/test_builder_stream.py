"""Partitions large enough that every section is written in several chunks, from a ring of
reused buffers, and gathered in several groups: the files must hold exactly the levels
of the whole-level reference fold (`por.builder._level`), at the layout's offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from por.builder import AccountBatch, BuiltTree, _direct, _fold, build_tree
from por.builder._layout import (
    ORDER_BYTES,
    SECTION_ALIGN,
    level_offsets,
    order_offset,
    part_name,
    partition_header_bytes,
)
from por.builder._level import build_levels, hash_rows, leaf_preimages
from por.builder._limbs import limbs_to_ints
from por.builder._tags import account_tags, filler_tags

ASSETS = ("BTC", "ETH", "SOL", "USDC")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"stream-test-filler-secret-0123456"
ACCOUNTS = 40_000  # padded to 65536 leaves


@pytest.fixture(scope="module")
def batch() -> AccountBatch:
    rng = np.random.default_rng(5)
    width = 12
    ids = np.frombuffer(b"".join(f"acct{i:08d}".encode() for i in range(ACCOUNTS)), dtype=np.uint8)
    offsets = np.arange(ACCOUNTS + 1, dtype=np.int64) * width
    nonces = rng.integers(0, 256, (ACCOUNTS, 32), dtype=np.uint8)
    amounts = np.zeros((ACCOUNTS, 2, 4, 2), dtype=np.uint64)
    amounts[:, 0, :, 1] = rng.integers(0, 1 << 63, (ACCOUNTS, 4), dtype=np.uint64)
    amounts[::7, 0, 0, 0] = rng.integers(0, 1 << 20, len(range(0, ACCOUNTS, 7)), dtype=np.uint64)
    amounts[::5, 1, 0, 1] = rng.integers(0, 1 << 40, len(range(0, ACCOUNTS, 5)), dtype=np.uint64)
    return AccountBatch.from_arrays(ids.tobytes(), offsets, nonces, amounts, 4)


@pytest.fixture(scope="module")
def expected(
    batch: AccountBatch,
) -> tuple[NDArray[np.int64], NDArray[np.uint8], list[bytes], bytes]:
    """(sort permutation, sorted tags, each level's pair records, root hash) from the
    whole-level fold, independent of the streamed one."""
    leaves = 1 << (ACCOUNTS - 1).bit_length()
    tags = np.concatenate(
        [account_tags(batch, SNAPSHOT), filler_tags(SECRET, SNAPSHOT, 0, leaves - ACCOUNTS)]
    )
    perm = np.array(sorted(range(leaves), key=lambda i: tags[i].tobytes()), dtype=np.int64)
    sums = np.zeros((leaves, 8, 2), dtype=np.uint64)
    real = perm < ACCOUNTS
    sums[real] = batch.amounts[perm[real]].reshape(-1, 8, 2)
    sorted_tags = tags[perm]
    hashes = hash_rows(leaf_preimages(sorted_tags, sums))
    levels: list[bytes] = []
    root, root_sums = build_levels(hashes, sums, lambda k, pairs: levels.append(pairs.tobytes()))
    total = sum(limbs_to_ints(batch.amounts[:, 0, 1].reshape(-1, 2)))
    assert limbs_to_ints(root_sums)[1] == total, "reference fold's ETH equity total"
    return perm, sorted_tags, levels, root.tobytes()


def check_files(
    tree: BuiltTree, expected: tuple[NDArray[np.int64], NDArray[np.uint8], list[bytes], bytes]
) -> None:
    perm, sorted_tags, levels, root = expected
    assert tree.root.hash == root, "root hash differs from the whole-level fold"
    span = tree.leaf_count // tree.partitions
    height = (span - 1).bit_length()
    pair = len(levels[0]) * 2 // tree.leaf_count
    header = partition_header_bytes(span)
    offsets = level_offsets(span, height, pair, header, SECTION_ALIGN)
    for p in range(tree.partitions):
        raw = (tree.out_dir / part_name(p)).read_bytes()
        assert len(raw) == offsets[-1], f"partition {p}: file size"
        lo, hi = p * span, (p + 1) * span
        assert raw[: span * 32] == sorted_tags[lo:hi].tobytes(), f"partition {p}: tags"
        at = order_offset(span)
        order = np.frombuffer(raw[at : at + span * ORDER_BYTES], dtype="<u4")
        assert (order == perm[lo:hi]).all(), f"partition {p}: input order"
        for k in range(height):
            size = (span >> (k + 1)) * pair
            want = levels[k][p * size : (p + 1) * size]
            assert raw[offsets[k] : offsets[k] + size] == want, f"partition {p}: level {k}"
            padding = raw[offsets[k] + size : offsets[k + 1]]
            assert padding == bytes(len(padding)), f"partition {p}: level {k} padding"


def test_sections_of_several_chunks_hold_the_reference_levels(
    batch: AccountBatch,
    expected: tuple[NDArray[np.int64], NDArray[np.uint8], list[bytes], bytes],
    tmp_path: Path,
) -> None:
    ws = _fold.Workspace(1 << 16, len(ASSETS))
    assert ws.levels[0].rows // ws.levels[0].chunk >= 4, "level 0 must span several chunks"
    assert len(ws.levels[0].buffers) == 2, "level 0 streams through two buffers"
    assert ws.levels[1].rows // ws.levels[1].chunk >= 2, "level 1 reuses its one buffer"
    assert ws.tags.rows // ws.tags.chunk >= 2, "tags span several chunks"
    assert ws.leaves // (ws.group * ws.block) >= 4, "leaves are gathered in several groups"
    tree = build_tree(
        batch, ASSETS, SNAPSHOT, SECRET, engine="serial", partitions=1, out_dir=tmp_path
    )
    check_files(tree, expected)


def test_local_engine_streams_the_same_partitions(
    batch: AccountBatch,
    expected: tuple[NDArray[np.int64], NDArray[np.uint8], list[bytes], bytes],
    tmp_path: Path,
) -> None:
    tree = build_tree(
        batch, ASSETS, SNAPSHOT, SECRET, engine="local", workers=2, partitions=2, out_dir=tmp_path
    )
    check_files(tree, expected)


def test_a_failing_disk_write_is_raised_not_hung_on(
    batch: AccountBatch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = {"n": 0}
    real = _direct._pwrite_all

    def failing(fd: int, data: memoryview, offset: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(fd, data, offset)

    monkeypatch.setattr(_direct, "_pwrite_all", failing)
    with pytest.raises(OSError, match="No space left"):
        build_tree(batch, ASSETS, SNAPSHOT, SECRET, engine="serial", partitions=1, out_dir=tmp_path)
    assert not (tmp_path / part_name(0)).exists(), "a partition file was completed"
    assert not (tmp_path / "tree.json").exists(), "the tree was marked complete"


@pytest.mark.parametrize("direct", [True, False])
def test_a_stream_file_holds_exactly_the_bytes_appended(tmp_path: Path, direct: bool) -> None:
    """More than `_IN_FLIGHT` staged buffers (each reused once written), pieces across their
    edges, a last partial buffer: the file is the concatenation, nothing more."""
    rng = np.random.default_rng(11)
    pieces = [rng.bytes(int(rng.integers(1, 3 << 20))) for _ in range(14)]
    pieces += [b"", b"tail"]
    path = tmp_path / "stream.jsonl"
    with _direct.StreamFile(path, direct=direct) as fh:
        for piece in pieces:
            fh.write(piece)
    assert sum(map(len, pieces)) > (_direct._IN_FLIGHT + 1) * _direct._STAGE
    assert path.read_bytes() == b"".join(pieces)


def test_a_stream_file_raises_a_failed_write(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def failing(fd: int, data: memoryview, offset: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_direct, "_pwrite_all", failing)
    # the error may surface in a later write or at close: either way it is raised
    with pytest.raises(OSError, match="No space left"), _direct.StreamFile(tmp_path / "s") as fh:  # noqa: PT012
        for _ in range(3):
            fh.write(bytes(_direct._STAGE))

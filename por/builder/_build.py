"""`build_tree`: validate, tag, sort, build partitions in parallel, fold the top, commit.

Order of work (each step only once the previous one passed):
1. validate the input (vector lengths, amount ranges, leaf count);
2. phase 1 (parallel): account tags and filler tags; meanwhile this process checks that
   account ids are unique and that per-asset totals are < 2^128 (so no sum anywhere in
   the tree can overflow);
3. sort by tag, reject duplicate tags -- still nothing written;
4. phase 2 (parallel): each partition hashes its leaves and levels into its own file;
5. fold the partition tops into the top levels, write `tree.json` last (temp + rename).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT, u16
from por.builder._batch import AccountBatch, LeafBatch
from por.builder._engines import DaskEngine, Engine, Job, LocalEngine, SerialEngine
from por.builder._errors import TreeInputError
from por.builder._ids import check_unique_ids
from por.builder._layout import FENCE_NAME, LAYOUT, META_FORMAT, META_NAME, TOP_NAME
from por.builder._level import build_levels
from por.builder._limbs import limbs_to_ints, totals
from por.builder._order import check_sorted_unique
from por.builder.partition import PartitionTop
from por.builder.reference import FILLER_SECRET_MIN_BYTES
from por.model import MAX_LEAVES, AccountInput, Node, padded_size

if TYPE_CHECKING:
    from por.builder.proofstore import ProofStore

__all__ = ["BuiltTree", "EngineName", "build_tree", "build_tree_from_leaves"]

EngineName = Literal["serial", "local", "dask"]
_LOG = logging.getLogger("por.builder")
PARTITION_ROW_BYTES = 24 << 20  # a partition's leaf-preimage buffer stays below this


@dataclass(frozen=True, slots=True)
class BuiltTree:
    """A finished build: the root, its shape, and the directory holding its levels.

    If the builder created `out_dir` itself (none given), `discard()` removes it.
    """

    root: Node
    height: int
    leaf_count: int
    account_count: int
    partitions: int
    snapshot_id: str
    assets: tuple[str, ...]
    out_dir: Path
    owns_dir: bool = field(default=False, compare=False)

    def open_store(self) -> ProofStore:
        from por.builder.proofstore import ProofStore

        return ProofStore.open(self.out_dir)

    def discard(self) -> None:
        if self.owns_dir:
            shutil.rmtree(self.out_dir, ignore_errors=True)


def build_tree(
    accounts: Sequence[AccountInput] | AccountBatch,
    assets: Sequence[str],
    snapshot_id: str,
    filler_secret: bytes,
    *,
    min_leaves: int = 0,
    engine: EngineName = "local",
    partitions: int | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    pieces: bool = False,
) -> BuiltTree:
    """Build the liabilities tree of one snapshot (spec `proof-format.md` v1).

    With `pieces`, rows are pieces (spec "Pieces: one account in several leaves"): an
    account id may recur, each time with its own nonce; tags must still be unique
    (checked after the sort, as always). Without it a repeated id is rejected.

    `partitions` (a power of two) splits the sorted leaves into contiguous subtrees built
    in parallel; by default enough to give every worker several and keep each partition's
    arrays small (2^17 leaves at 4 assets). Raises `TreeInputError` (a `ValueError`)
    before writing anything when the input is bad.
    """
    assets = tuple(assets)
    batch = (
        accounts
        if isinstance(accounts, AccountBatch)
        else AccountBatch.from_accounts(accounts, len(assets))
    )
    if batch.n_assets != len(assets):
        raise TreeInputError(f"amount vectors have {batch.n_assets} assets, expected {len(assets)}")
    _check_snapshot_id(snapshot_id)
    if len(filler_secret) < FILLER_SECRET_MIN_BYTES:
        raise TreeInputError(
            f"filler_secret: expected at least {FILLER_SECRET_MIN_BYTES} bytes, "
            f"got {len(filler_secret)}"
        )
    try:
        leaf_count = padded_size(batch.count, min_leaves)
    except ValueError as exc:
        raise TreeInputError(str(exc)) from None
    n_workers = workers or os.cpu_count() or 1
    parts = _resolve_partitions(partitions, leaf_count, n_workers, len(assets))
    directory, owned = _prepare_dir(out_dir)
    job = Job(batch, snapshot_id, filler_secret, leaf_count, parts, str(directory))

    def describe(i: int) -> str:
        if i < batch.count:
            return f"account {i} ({batch.account_id(i)!r})"
        return f"filler {i - batch.count}"

    clock = _Clock()
    try:
        with _engine(engine, scheduler, n_workers) as runner:
            tags, runs = runner.tags(job, lambda: _check_accounts(batch, len(assets), pieces))
            clock.lap("tags")
            perm = runner.sort(job, tags, runs, describe)
            clock.lap("sort")
            tops = runner.partitions(job, tags, perm)
            clock.lap("partitions")
            runner.release()
            built = _finish(job, tops, assets, batch.count, owned)
        clock.lap("top")
        return built
    except BaseException:
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
        raise


def build_tree_from_leaves(
    leaves: LeafBatch,
    assets: Sequence[str],
    snapshot_id: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    partitions: int | None = None,
) -> BuiltTree:
    """Build from a finished leaf list (sorted, padded), e.g. a vector's `leaves`.

    Runs the same partition function in-process; the order file marks every leaf as an
    account (the leaf list does not say which are fillers).
    """
    assets = tuple(assets)
    m = leaves.tags.shape[0]
    if m < 2 or m & (m - 1) or m > MAX_LEAVES:
        raise TreeInputError(f"leaf count must be a power of two in [2, 2^32], got {m}")
    if leaves.amounts.shape[1:] != (2, len(assets), 2):
        raise TreeInputError(f"leaf vectors must have {len(assets)} amounts")
    _check_snapshot_id(snapshot_id)
    check_sorted_unique(leaves.tags)
    _check_totals(leaves.amounts.reshape(m, 2 * len(assets), 2), len(assets))
    parts = _resolve_partitions(partitions, m, 1, len(assets))
    directory, owned = _prepare_dir(out_dir)
    batch = AccountBatch(
        ids=b"",
        id_offsets=np.zeros(m + 1, dtype=np.int64),
        nonces=np.zeros((m, 32), dtype=np.uint8),
        amounts=leaves.amounts,
    )
    job = Job(batch, snapshot_id, b"", m, parts, str(directory))
    perm = np.arange(m, dtype=np.int64)
    with SerialEngine() as runner:
        tops = runner.partitions(job, leaves.tags, perm)
    return _finish(job, tops, assets, m, owned)


class _Clock:
    """Phase timings on the `por.builder` logger (debug), for benchmarks and docs."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        _LOG.debug("phase %s %.3f s", phase, now - self._last)
        self._last = now


def _engine(name: str, scheduler: str | None, workers: int) -> Engine:
    if name == "serial":
        return SerialEngine()
    if name == "local":
        return LocalEngine(workers)
    if name == "dask":
        return DaskEngine(scheduler, workers)
    raise TreeInputError(f"unknown engine {name!r}: expected serial, local or dask")


def _check_snapshot_id(snapshot_id: str) -> None:
    try:
        u16(snapshot_id.encode("utf-8"))
    except ValueError as exc:
        raise TreeInputError(f"snapshot_id: {exc}") from None


def _check_accounts(batch: AccountBatch, n_assets: int, pieces: bool) -> None:
    """Checks that need no tags, run while the workers hash: unique ids, u128 totals."""
    if not pieces:
        check_unique_ids(batch)
    _check_totals(batch.amounts.reshape(batch.count, 2 * n_assets, 2), n_assets)


def _check_totals(sums: NDArray[np.uint64], n_assets: int) -> None:
    """Amounts are non-negative, so if each root sum fits in a u128, every sum does.

    Fast path: with every high limb <= h, each total is < n (h + 1) 2^64, which fits
    when n (h + 1) < 2^64 (one max over the limbs); otherwise exact sums name the asset.
    """
    n = sums.shape[0]
    if n == 0:
        return
    flat = np.ascontiguousarray(sums).reshape(-1)  # [hi, lo, hi, lo, ...]
    rows = flat.size // 1024 * 1024  # 1024 columns: even ones are high limbs
    high = int(flat[:rows].reshape(-1, 1024).max(axis=0)[0::2].max()) if rows else 0
    if rows < flat.size:
        high = max(high, int(flat[rows:][0::2].max()))
    if n * (high + 1) < 1 << 64:
        return
    for i, total in enumerate(totals(sums)):
        if total >= AMOUNT_LIMIT:
            side = "equity" if i < n_assets else "debt"
            raise TreeInputError(
                f"total {side} of asset {i % n_assets} is {total}, which does not fit the "
                "u128 sums of the tree (must be < 2^128)"
            )


def _resolve_partitions(requested: int | None, leaf_count: int, workers: int, n_assets: int) -> int:
    """Default: 4 per worker for load balance, more if a partition's arrays would exceed
    ~24 MB (memory per worker stays flat however large the tree; see docs/scaling.md)."""
    if requested is None:
        row = 1 + 32 + 32 * n_assets
        max_leaves = 1 << max(10, (PARTITION_ROW_BYTES // row).bit_length() - 1)
        want = max(4 * workers if workers > 1 else 1, leaf_count // max_leaves)
        parts = 1 << (want - 1).bit_length()
    else:
        if requested < 1 or requested & (requested - 1):
            raise TreeInputError(f"partitions must be a power of two, got {requested}")
        parts = requested
    return max(1, min(parts, leaf_count // 2))


def _prepare_dir(out_dir: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    if out_dir is None:
        return Path(tempfile.mkdtemp(prefix="por-tree-")), True
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path, False


def _finish(
    job: Job,
    tops: list[PartitionTop],
    assets: tuple[str, ...],
    accounts: int,
    owned: bool,
    *,
    fences: bool = True,
) -> BuiltTree:
    """Fold the tops, write `top.bin`, `fences.bin` (unless the caller's workers wrote
    it: the sharded build) and `tree.json` last."""
    out = Path(job.out_dir)
    hashes = np.frombuffer(b"".join(t.hash for t in tops), dtype=np.uint8).reshape(-1, 32)
    sums = np.stack([t.sums for t in tops])
    part_height = (job.partition_leaves - 1).bit_length()
    tmp = out / (TOP_NAME + ".tmp")
    with open(tmp, "wb") as fh:

        def sink(level: int, pairs: NDArray[np.uint8]) -> None:
            fh.write(pairs.data)

        root_hash, root_sums = build_levels(hashes, sums, sink, first_level=part_height)
    os.replace(tmp, out / TOP_NAME)
    if fences:
        fences_tmp = out / (FENCE_NAME + ".tmp")
        fences_tmp.write_bytes(b"".join(t.fences for t in tops))
        os.replace(fences_tmp, out / FENCE_NAME)
    values = limbs_to_ints(root_sums)
    n = len(assets)
    root = Node(root_hash.tobytes(), tuple(values[:n]), tuple(values[n:]))
    height = (job.leaf_count - 1).bit_length()
    meta = {
        "format": META_FORMAT,
        "layout": LAYOUT,
        "snapshot_id": job.snapshot_id,
        "assets": list(assets),
        "height": height,
        "leaf_count": job.leaf_count,
        "account_count": accounts,
        "partitions": job.partitions,
        "partition_height": part_height,
        "root": {
            "hash": root.hash.hex(),
            "equity": [str(v) for v in root.equity],
            "debt": [str(v) for v in root.debt],
        },
    }
    meta_tmp = out / (META_NAME + ".tmp")
    meta_tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(meta_tmp, out / META_NAME)
    return BuiltTree(
        root, height, job.leaf_count, accounts, job.partitions, job.snapshot_id, assets, out, owned
    )

"""The tree on a Dask cluster with no account or leaf passing through the client.

`DaskEngine` (in `_engines.py`) ships every account slice and every partition's leaves
from the client. Here the client only plans; the data goes between workers through the
shared storage the store already needs (`out_dir` must be one filesystem for the client
and every worker):

1. **Tags where the data is.** One task per account shard (`por.builder.shards`,
   written by the snapshot job) reads the shard, checks its SHA-256 against the manifest,
   computes the account tags and groups the rows by *tag-prefix bucket* (the top
   log2(P) bits of the tag: tags are uniform, so the P buckets hold ~L leaves each) into
   spill files, one per group of consecutive buckets (`SPILL_GROUPS` per task); filler
   tasks do the same for filler ranges. Rows keep their input index, so the partition
   files' order sections are the local engine's. Without pieces, each shard's id
   fingerprints are spilled too, bucketed by fingerprint. With `consume_shards` the
   shard is deleted once its spill, its ids and its result are on disk.
2. **One shuffle.** A plan task (on a worker, fed the spill tasks' bucket counts
   worker-to-worker) writes where each bucket lies in each spill file and returns the P
   bucket sizes and the per-asset totals: all the client receives before phase 2.
3. **Partitions where their leaves are.** Partition p is leaves [pL, (p+1)L) of the
   sorted sequence; the client tells it which buckets overlap that range (usually its
   own and a neighbour, a few integers). Its task reads those buckets' rows from every
   spill file, sorts them by full tag (`sort_by_tag`: duplicate tags refused), keeps its
   slice, checks its fingerprint bucket for duplicate ids, and runs `build_partition`,
   writing its file and its fences to a staging directory in `out_dir`. Only its top
   (hash and sums, ~0.2 KB) comes back. Once every partition reading a spill group has
   returned, the client removes that group's files: spills shrink as the store grows.
4. **Commit.** A worker joins the fences; the client folds the tops, moves the
   partition files into `out_dir` (renames), writes `top.bin` and `tree.json` last.

Until step 4 nothing in `out_dir` changes: a shard missing or corrupted, a duplicate, or
a worker dying (after Dask's own retries) removes the staging directory and raises one
line (`ShardError`, `TreeInputError` or `ClusterError`, all `InputError`s).

Every byte the client sends (task arguments) or receives (results) is counted in
`ClientTraffic`: O(P + shards) small integers, never O(accounts).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pickle
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT, HASH_BYTES
from por.builder._batch import AccountBatch
from por.builder._build import (
    BuiltTree,
    _check_snapshot_id,
    _finish,
    _prepare_dir,
    _resolve_partitions,
)
from por.builder._engines import Job, chunks
from por.builder._errors import TreeInputError
from por.builder._ids import _fingerprints
from por.builder._layout import FENCE_NAME, META_NAME, part_name
from por.builder._limbs import totals
from por.builder._order import sort_by_tag
from por.builder._tags import account_tags, filler_tags
from por.builder.partition import PartitionInput, PartitionTop, build_partition, thread_workspace
from por.builder.reference import FILLER_SECRET_MIN_BYTES
from por.builder.shards import MANIFEST_NAME, ShardInfo, ShardSet, read_shard
from por.errors import InputError
from por.model import padded_size

__all__ = ["ClientTraffic", "ClusterError", "ShardedBuild", "build_tree_from_shards"]

_ORDER = np.dtype("<u4")  # input index of a leaf (< 2^32 leaves)
_FP = np.dtype("<u8")
SPILL_GROUPS = 64  # spill files per tag task, each removed once its readers are done
_PLAN_TAGS = "plan-tags.npy"
_PLAN_FP = "plan-fp.npy"
_PLAN_SPILLS = "plan-spills.npy"


class ClusterError(InputError):
    """The cluster could not finish the build (a worker died, storage failed)."""


@dataclass(frozen=True, slots=True)
class ClientTraffic:
    """Bytes through the client: pickled task arguments sent, pickled results received."""

    sent: int
    received: int
    tasks: int
    partitions: int
    shards: int

    @property
    def total(self) -> int:
        return self.sent + self.received

    @property
    def per_partition(self) -> float:  # float-ok: a report figure, not money
        return self.total / max(1, self.partitions)


@dataclass(frozen=True, slots=True)
class ShardedBuild:
    tree: BuiltTree
    traffic: ClientTraffic


# --- worker side ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spill:
    """What a tag task tells the plan task (worker to worker, never to the client)."""

    index: int
    rows: int
    has_amounts: bool
    has_fp: bool
    tag_counts: NDArray[np.int64]
    fp_counts: NDArray[np.int64] | None
    totals: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    bucket_sizes: NDArray[np.int64]
    totals: tuple[int, ...]


def _spill_path(staging: str, k: int, g: int) -> str:
    return os.path.join(staging, "shuffle", f"spill-{k:05d}-{g:03d}.bin")


def _ids_path(staging: str, shard: int) -> str:
    return os.path.join(staging, f"ids-{shard:05d}.bin")


def _done_path(staging: str, shard: int) -> str:
    return os.path.join(staging, f"done-{shard:05d}.json")


def _cumulative(counts: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _bucket_of(tags: NDArray[np.uint8], bits: int) -> NDArray[np.int64]:
    if bits == 0:
        return np.zeros(tags.shape[0], dtype=np.int64)
    prefix = np.ascontiguousarray(tags[:, :8]).view(">u8")[:, 0]
    return (prefix >> np.uint64(64 - bits)).astype(np.int64)


def _write_spill(
    staging: str,
    k: int,
    tags: NDArray[np.uint8],
    order: NDArray[np.uint32],
    amounts: NDArray[np.uint64] | None,
    fps: NDArray[np.uint64] | None,
    bits: int,
    group_buckets: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64] | None]:
    """Rows grouped by tag bucket (input order kept inside a bucket), then fingerprints
    grouped by fingerprint bucket, one file per group of `group_buckets` consecutive
    buckets (the client removes a group's files once every partition reading it is done,
    so spills do not pile up beside the partition files); returns both count vectors.

    A group file: tags (m x 32) | input index (m x u32) | amounts (m x 2 x A x 2 u64, not
    for fillers) | fingerprints (f x u64) | their input index (f x u32), m and f the
    group's rows, all little-endian."""
    buckets = 1 << bits
    bucket = _bucket_of(tags, bits)
    counts = np.bincount(bucket, minlength=buckets).astype(np.int64)
    by = np.argsort(bucket, kind="stable")
    sections: list[NDArray[Any]] = [tags[by], order[by].astype(_ORDER)]
    if amounts is not None:
        sections.append(np.ascontiguousarray(amounts[by], dtype="<u8"))
    cum = _cumulative(counts)
    fp_counts = None
    fp_sections: list[NDArray[Any]] = []
    fp_cum = cum
    if fps is not None:
        fb = (
            (fps >> np.uint64(64 - bits)).astype(np.int64)
            if bits
            else np.zeros_like(fps, dtype=np.int64)
        )
        fby = np.argsort(fb, kind="stable")
        fp_counts = np.bincount(fb, minlength=buckets).astype(np.int64)
        fp_sections = [fps[fby].astype(_FP), order[fby].astype(_ORDER)]
        fp_cum = _cumulative(fp_counts)
    for g in range(buckets // group_buckets):
        lo, hi = int(cum[g * group_buckets]), int(cum[(g + 1) * group_buckets])
        flo, fhi = int(fp_cum[g * group_buckets]), int(fp_cum[(g + 1) * group_buckets])
        path = _spill_path(staging, k, g)
        with open(path + ".tmp", "wb") as fh:
            for section in sections:
                fh.write(section[lo:hi].data)
            for section in fp_sections:
                fh.write(section[flo:fhi].data)
        os.replace(path + ".tmp", path)
    return counts, fp_counts


def _tag_shard(
    shards_dir: str,
    info: ShardInfo,
    snapshot_id: str,
    bits: int,
    group_buckets: int,
    check_ids: bool,
    staging: str,
    consume: bool,
) -> _Spill:
    """Tags and spill of one shard. With `consume` the shard is deleted once its spill,
    its ids (for messages and duplicate checks) and its result are on disk; a retry of
    this task (a worker lost after it finished) returns that result."""
    done = _done_path(staging, info.index)
    if consume and os.path.exists(done):
        return _read_done(done)
    shards = ShardSet.open(shards_dir)
    batch = read_shard(shards, info)
    tags = account_tags(batch, snapshot_id)
    order = np.arange(info.first, info.first + info.count, dtype=np.uint32)
    fps = _fingerprints(batch) if check_ids and batch.count else None
    if check_ids and fps is None:
        fps = np.empty(0, dtype=np.uint64)
    counts, fp_counts = _write_spill(
        staging, info.index, tags, order, batch.amounts, fps, bits, group_buckets
    )
    n_assets = batch.n_assets
    sums = (
        totals(batch.amounts.reshape(batch.count, 2 * n_assets, 2))
        if batch.count
        else [0] * (2 * n_assets)
    )
    spill = _Spill(info.index, batch.count, True, fps is not None, counts, fp_counts, tuple(sums))
    if consume:
        _write_ids(_ids_path(staging, info.index), batch)
        _write_done(done, spill)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(shards.directory / info.file)
    return spill


def _write_ids(path: str, batch: AccountBatch) -> None:
    """A consumed shard's ids: u64 count | id_offsets int64 (count + 1) | ids."""
    with open(path + ".tmp", "wb") as fh:
        fh.write(np.array([batch.count], dtype="<u8").tobytes())
        fh.write(np.ascontiguousarray(batch.id_offsets, dtype="<i8").data)
        fh.write(batch.ids)
    os.replace(path + ".tmp", path)


def _read_ids(path: str) -> tuple[NDArray[np.int64], bytes]:
    data = Path(path).read_bytes()
    count = int(np.frombuffer(data, "<u8", 1)[0])
    offsets = np.frombuffer(data, "<i8", count + 1, 8).astype(np.int64)
    return offsets, data[8 * (count + 2) :]


def _write_done(path: str, spill: _Spill) -> None:
    record = {
        "index": spill.index,
        "rows": spill.rows,
        "has_fp": spill.has_fp,
        "tag_counts": spill.tag_counts.tolist(),
        "fp_counts": None if spill.fp_counts is None else spill.fp_counts.tolist(),
        "totals": list(spill.totals or ()),
    }
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    os.replace(path + ".tmp", path)


def _read_done(path: str) -> _Spill:
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    fp = record["fp_counts"]
    return _Spill(
        int(record["index"]),
        int(record["rows"]),
        True,
        bool(record["has_fp"]),
        np.asarray(record["tag_counts"], dtype=np.int64),
        None if fp is None else np.asarray(fp, dtype=np.int64),
        tuple(int(v) for v in record["totals"]),
    )


def _tag_fillers(
    secret: bytes,
    snapshot_id: str,
    k: int,
    start: int,
    stop: int,
    accounts: int,
    bits: int,
    group_buckets: int,
    staging: str,
) -> _Spill:
    tags = filler_tags(secret, snapshot_id, start, stop)
    order = np.arange(accounts + start, accounts + stop, dtype=np.uint32)
    counts, _ = _write_spill(staging, k, tags, order, None, None, bits, group_buckets)
    return _Spill(k, stop - start, False, False, counts, None, None)


def _save(path: str, array: NDArray[Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.replace(tmp, path)


def _plan(staging: str, bits: int, n_assets: int, *spills: _Spill) -> _Plan:
    """Where each bucket starts in each spill file (bucket-major, so a partition reads
    one row of the plan per bucket); the bucket sizes and totals for the client."""
    buckets = 1 << bits
    spills = tuple(sorted(spills, key=lambda s: s.index))
    tag_counts = np.stack([s.tag_counts for s in spills]) if spills else np.zeros((0, buckets))
    starts = np.zeros((buckets + 1, len(spills)), dtype=np.int64)
    np.cumsum(tag_counts.T, axis=0, out=starts[1:])
    _save(os.path.join(staging, _PLAN_TAGS), starts)
    fp_rows = [s.fp_counts for s in spills if s.fp_counts is not None]
    fp_starts = np.zeros((buckets + 1, len(fp_rows)), dtype=np.int64)
    if fp_rows:
        np.cumsum(np.stack(fp_rows).T, axis=0, out=fp_starts[1:])
    _save(os.path.join(staging, _PLAN_FP), fp_starts)
    meta = np.array([[s.rows, s.has_amounts, s.has_fp] for s in spills], dtype=np.int64)
    _save(os.path.join(staging, _PLAN_SPILLS), meta.reshape(len(spills), 3))
    sums = [0] * (2 * n_assets)
    for s in spills:
        if s.totals is not None:
            sums = [a + b for a, b in zip(sums, s.totals, strict=True)]
    return _Plan(tag_counts.sum(axis=0).astype(np.int64), tuple(sums))


@dataclass(frozen=True, slots=True)
class _PartitionSpec:
    index: int
    leaves: int
    buckets: tuple[tuple[int, int, int], ...]  # (bucket, lo, hi) of the sorted bucket
    check_ids: bool


@dataclass(frozen=True, slots=True)
class _Context:
    """The same for every partition task (sent once per task: a few hundred bytes)."""

    staging: str
    shards_dir: str
    accounts: int
    n_assets: int
    group_buckets: int


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A partition found bad input (nothing written); `rank` orders them like the local
    engine's checks: duplicate ids first (by the later account), then duplicate tags."""

    rank: tuple[int, int]
    message: str


def _pread(fd: int, offset: int, nbytes: int) -> bytes:
    data = os.pread(fd, nbytes, offset)
    while len(data) < nbytes:  # short reads on some filesystems
        more = os.pread(fd, nbytes - len(data), offset + len(data))
        if not more:
            raise OSError(f"spill file ended early at byte {offset + len(data)}")
        data += more
    return data


class _Ids:
    """Account ids by input index, for messages and exact duplicate checks (rare): from
    the ids file a consumed shard left in the staging directory, else from the shard."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.shards: ShardSet | None = None
        self.cache: dict[int, tuple[NDArray[np.int64], bytes]] = {}

    def __call__(self, i: int) -> str:
        if self.shards is None:
            self.shards = ShardSet.open(self.ctx.shards_dir)
        shard, row = self.shards.locate(i)
        found = self.cache.get(shard.index)
        if found is None:
            path = _ids_path(self.ctx.staging, shard.index)
            if os.path.exists(path):
                found = _read_ids(path)
            else:
                batch = read_shard(self.shards, shard)
                found = (batch.id_offsets, batch.ids)
            self.cache[shard.index] = found
        offsets, ids = found
        return ids[int(offsets[row]) : int(offsets[row + 1])].decode("utf-8")

    def describe(self, i: int) -> str:
        if i >= self.ctx.accounts:
            return f"filler {i - self.ctx.accounts}"
        return f"account {i} ({self(i)!r})"


class _Group:
    """Where a bucket's rows lie in the spill files of its group (from the plan)."""

    def __init__(self, ctx: _Context, plan: str, b: int) -> None:
        starts = np.load(os.path.join(ctx.staging, plan), mmap_mode="r")
        g0 = b - b % ctx.group_buckets
        self.index = g0 // ctx.group_buckets
        self.base = np.asarray(starts[g0])
        self.rows = np.asarray(starts[g0 + ctx.group_buckets]) - self.base
        self.lo = np.asarray(starts[b]) - self.base
        self.count = np.asarray(starts[b + 1]) - self.base - self.lo


def _read_bucket(
    ctx: _Context, b: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint32], NDArray[np.uint64]]:
    where = _Group(ctx, _PLAN_TAGS, b)
    spills = np.load(os.path.join(ctx.staging, _PLAN_SPILLS))
    row_bytes = 2 * ctx.n_assets * 2 * 8
    tags, order, amounts = [], [], []
    for k in np.flatnonzero(where.count > 0).tolist():
        has_amounts = bool(spills[k, 1])
        rows, a, m = int(where.rows[k]), int(where.lo[k]), int(where.count[k])
        fd = os.open(_spill_path(ctx.staging, k, where.index), os.O_RDONLY)
        try:
            tags.append(_pread(fd, a * HASH_BYTES, m * HASH_BYTES))
            base = rows * HASH_BYTES
            order.append(_pread(fd, base + a * 4, m * 4))
            if has_amounts:
                base += rows * 4
                amounts.append(_pread(fd, base + a * row_bytes, m * row_bytes))
            else:
                amounts.append(bytes(m * row_bytes))
        finally:
            os.close(fd)
    t = np.frombuffer(b"".join(tags), dtype=np.uint8).reshape(-1, HASH_BYTES)
    o = np.frombuffer(b"".join(order), dtype=_ORDER).astype(np.uint32)
    am = np.frombuffer(b"".join(amounts), dtype="<u8").astype(np.uint64, copy=False)
    return t, o, am.reshape(-1, 2, ctx.n_assets, 2)


def _duplicate_id(ctx: _Context, b: int, ids: _Ids) -> _Refusal | None:
    """Ids whose fingerprints fall in bucket `b`: equal fingerprints are compared
    exactly; the first duplicate in input order is named as `check_unique_ids` does."""
    rows = _Group(ctx, _PLAN_TAGS, b).rows
    where = _Group(ctx, _PLAN_FP, b)
    spills = np.load(os.path.join(ctx.staging, _PLAN_SPILLS))
    row_bytes = HASH_BYTES + 4 + 2 * ctx.n_assets * 2 * 8
    fps, idx = [], []
    for j, k in enumerate(np.flatnonzero(spills[:, 2] == 1).tolist()):
        a, m = int(where.lo[j]), int(where.count[j])
        if m == 0:
            continue
        base = int(rows[k]) * (row_bytes if spills[k, 1] else HASH_BYTES + 4)
        fd = os.open(_spill_path(ctx.staging, k, where.index), os.O_RDONLY)
        try:
            fps.append(_pread(fd, base + a * 8, m * 8))
            idx.append(_pread(fd, base + int(where.rows[j]) * 8 + a * 4, m * 4))
        finally:
            os.close(fd)
    fp = np.frombuffer(b"".join(fps), dtype=_FP)
    ix = np.frombuffer(b"".join(idx), dtype=_ORDER)
    if fp.size < 2:
        return None
    by = np.argsort(fp, kind="stable")
    sfp = fp[by]
    tied = np.flatnonzero(sfp[1:] == sfp[:-1])
    if tied.size == 0:
        return None
    groups: dict[str, list[int]] = {}
    for pos in np.union1d(tied, tied + 1).tolist():
        i = int(ix[by[pos]])
        groups.setdefault(ids(i), []).append(i)
    found: tuple[int, int, str] | None = None
    for aid, members in groups.items():
        if len(members) > 1:
            first, later = sorted(members)[:2]
            if found is None or later < found[1]:
                found = (first, later, aid)
    if found is None:
        return None
    first, later, aid = found
    return _Refusal(
        (0, later),
        f"account {later} ({aid!r}): duplicate account id, already account {first}",
    )


def _build_partition(ctx: _Context, spec: _PartitionSpec) -> PartitionTop | _Refusal:
    """Read the overlapping buckets, sort, check, build; write the file and fences to the
    staging directory and return only the top."""
    ids = _Ids(ctx)
    if spec.check_ids:
        refusal = _duplicate_id(ctx, spec.index, ids)
        if refusal is not None:
            return refusal
    tags, order, amounts = [], [], []
    for b, lo, hi in spec.buckets:
        t, o, am = _read_bucket(ctx, b)

        def local(i: int, o: NDArray[np.uint32] = o) -> str:
            return ids.describe(int(o[i]))

        try:
            perm = sort_by_tag(t, local)
        except TreeInputError as exc:
            return _Refusal((1, 0), str(exc))
        sel = perm[lo:hi]
        tags.append(t[sel])
        order.append(o[sel])
        amounts.append(am[sel])
    part = PartitionInput(
        spec.index, np.concatenate(tags), np.concatenate(order), np.concatenate(amounts)
    )
    if part.tags.shape[0] != spec.leaves:
        raise RuntimeError(
            f"partition {spec.index}: {part.tags.shape[0]} leaves, not {spec.leaves}"
        )
    ws = thread_workspace(spec.leaves, ctx.n_assets)
    top = build_partition(part, ctx.staging, ws, totals_checked=True)
    fence = os.path.join(ctx.staging, f"fences-{spec.index:05d}.bin")
    with open(fence + ".tmp", "wb") as fh:
        fh.write(top.fences)
    os.replace(fence + ".tmp", fence)
    return PartitionTop(top.index, top.hash, top.sums, b"")


def _join_fences(staging: str, partitions: int, *done: object) -> int:
    """fences.bin from every partition's fences, in partition order (on a worker)."""
    tmp = os.path.join(staging, FENCE_NAME + ".tmp")
    size = 0
    with open(tmp, "wb") as out:
        for p in range(partitions):
            data = Path(staging, f"fences-{p:05d}.bin").read_bytes()
            out.write(data)
            size += len(data)
    os.replace(tmp, os.path.join(staging, FENCE_NAME))
    return size


# --- client side ---------------------------------------------------------------------


class _FutureKeys(pickle.Pickler):
    """Pickles a Dask future as its key, as the client sends it (not its result)."""

    def persistent_id(self, obj: Any) -> Any:
        key = getattr(obj, "key", None)
        if key is not None and type(obj).__name__ == "Future":
            return str(key)
        return None


def _wire_size(obj: object) -> int:
    buf = io.BytesIO()
    _FutureKeys(buf, protocol=5).dump(obj)
    return buf.tell()


class _Counted:
    """A Dask client whose submissions and gathered results are measured."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.sent = 0
        self.received = 0
        self.tasks = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.sent += _wire_size((fn, args))
        self.tasks += 1
        return self.client.submit(fn, *args, pure=False)

    def result(self, future: Any) -> Any:
        value = future.result()
        self.received += _wire_size(value)
        return value


@contextlib.contextmanager
def _client(client: Any, scheduler: str | None, workers: int) -> Iterator[Any]:
    if client is not None:
        yield client
        return
    dist: Any = importlib.import_module("distributed")
    if scheduler is not None:
        with dist.Client(scheduler) as own:
            yield own
        return
    with (
        dist.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        dist.Client(cluster) as own,
    ):
        yield own


def build_tree_from_shards(
    shards_dir: str | os.PathLike[str],
    assets: Sequence[str],
    snapshot_id: str,
    filler_secret: bytes,
    *,
    min_leaves: int = 0,
    partitions: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    pieces: bool = False,
    consume_shards: bool = False,
) -> ShardedBuild:
    """`build_tree` over account shards on a Dask cluster: the same root and store files.

    `client`: a connected `distributed.Client` (else `scheduler`'s address, else a fresh
    LocalCluster of `workers` single-threaded processes). `out_dir` and `shards_dir` must
    be visible to every worker at the same path.

    `consume_shards`: the caller owns the shards and can write them again (the snapshot
    job): each shard file is deleted as soon as its spill is on disk, and the manifest
    after a successful build, so shards, spills and the store never all sit on disk at
    once (~50 GB at peak instead of ~68 GB for 100M accounts). A failed build leaves the
    shards not yet read and the manifest; the ones read are gone.
    """
    assets = tuple(assets)
    shards = ShardSet.open(shards_dir)
    if shards.n_assets != len(assets):
        raise TreeInputError(
            f"shards have {shards.n_assets} assets per vector, expected {len(assets)}"
        )
    _check_snapshot_id(snapshot_id)
    if len(filler_secret) < FILLER_SECRET_MIN_BYTES:
        raise TreeInputError(
            f"filler_secret: expected at least {FILLER_SECRET_MIN_BYTES} bytes, "
            f"got {len(filler_secret)}"
        )
    try:
        leaf_count = padded_size(shards.accounts, min_leaves)
    except ValueError as exc:
        raise TreeInputError(str(exc)) from None
    directory, owned = _prepare_dir(out_dir)
    staging = directory / f".por-build-{secrets.token_hex(6)}"
    (staging / "shuffle").mkdir(parents=True)
    try:
        with _client(client, scheduler, workers or os.cpu_count() or 1) as dask_client:
            n_workers = workers or _worker_threads(dask_client)
            parts = _resolve_partitions(partitions, leaf_count, n_workers, len(assets))
            counted = _Counted(dask_client)
            job = Job(
                _empty(len(assets)), snapshot_id, filler_secret, leaf_count, parts, str(directory)
            )
            tops = _run(counted, job, shards, staging, not pieces, consume_shards)
            traffic = ClientTraffic(
                counted.sent, counted.received, counted.tasks, parts, len(shards.shards)
            )
        built = _commit(job, tops, assets, shards.accounts, owned, staging)
        if consume_shards:
            with contextlib.suppress(FileNotFoundError):
                (shards.directory / MANIFEST_NAME).unlink()
        return ShardedBuild(built, traffic)
    except BaseException:
        _remove(staging)
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
        raise


def _worker_threads(client: Any) -> int:
    info = client.scheduler_info()
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))


def _empty(n_assets: int) -> AccountBatch:
    return AccountBatch(
        b"",
        np.zeros(1, dtype=np.int64),
        np.zeros((0, 32), dtype=np.uint8),
        np.zeros((0, 2, n_assets, 2), dtype=np.uint64),
    )


def _run(
    counted: _Counted,
    job: Job,
    shards: ShardSet,
    staging: Path,
    check_ids: bool,
    consume: bool,
) -> list[PartitionTop]:
    bits = (job.partitions - 1).bit_length()
    group_buckets = max(1, (1 << bits) // SPILL_GROUPS)
    n = shards.accounts
    spill_futs = [
        counted.submit(
            _tag_shard,
            str(shards.directory),
            info,
            job.snapshot_id,
            bits,
            group_buckets,
            check_ids,
            str(staging),
            consume,
        )
        for info in shards.shards
    ]
    step = max([s.count for s in shards.shards] + [1])
    k = len(spill_futs)
    fillers = job.leaf_count - n  # `job.batch` is empty: the accounts are in the shards
    for a, b in chunks(fillers, max(1, -(-fillers // step))):
        spill_futs.append(
            counted.submit(
                _tag_fillers,
                job.filler_secret,
                job.snapshot_id,
                k,
                a,
                b,
                n,
                bits,
                group_buckets,
                str(staging),
            )
        )
        k += 1
    plan_fut = counted.submit(_plan, str(staging), bits, job.batch.n_assets, *spill_futs)
    plan: _Plan = _task_result(counted, plan_fut, "planning the shuffle", spill_futs)
    # released: a worker lost later must not make Dask redo phase 1 (spill groups
    # already removed would be written again)
    del plan_fut, spill_futs
    _check_plan_totals(plan.totals, job.batch.n_assets)
    ctx = _Context(str(staging), str(shards.directory), n, job.batch.n_assets, group_buckets)
    specs = _specs(plan.bucket_sizes, job.partition_leaves, job.partitions, check_ids)
    results = _partitions(counted, ctx, specs, k)
    refusals = [r for r in results.values() if isinstance(r, _Refusal)]
    if refusals:
        raise TreeInputError(min(refusals, key=lambda r: r.rank).message)
    fences = counted.submit(_join_fences, str(staging), job.partitions)
    _task_result(counted, fences, "joining the fences", [fences])
    return [t for _, t in sorted(results.items()) if isinstance(t, PartitionTop)]


def _partitions(
    counted: _Counted, ctx: _Context, specs: list[_PartitionSpec], spills: int
) -> dict[int, PartitionTop | _Refusal]:
    """Run the partition tasks; once every partition reading a spill group has returned,
    remove that group's files (from here: a few unlinks, no bytes through the client).
    A partition's future is released once its result is in, so a worker lost later does
    not make Dask rebuild it from spill groups already removed."""
    dist: Any = importlib.import_module("distributed")
    readers: dict[int, set[int]] = {}
    groups_of: dict[int, set[int]] = {}
    for spec in specs:
        touched = {b // ctx.group_buckets for b, _, _ in spec.buckets}
        if spec.check_ids:
            touched.add(spec.index // ctx.group_buckets)
        groups_of[spec.index] = touched
        for g in touched:
            readers.setdefault(g, set()).add(spec.index)
    pending = {}
    part_of = {}
    for spec in specs:
        fut = counted.submit(_build_partition, ctx, spec)
        pending[fut.key] = fut
        part_of[fut.key] = spec.index
    results: dict[int, PartitionTop | _Refusal] = {}
    done = dist.as_completed(list(pending.values()))
    for fut in done:
        key = fut.key
        p = part_of[key]
        results[p] = _task_result(counted, fut, f"building partition {p}", list(pending.values()))
        del pending[key]
        for g in groups_of[p]:
            readers[g].discard(p)
            if not readers[g]:
                _remove_group(ctx.staging, g, spills)
    return results


def _remove_group(staging: str, g: int, spills: int) -> None:
    for k in range(spills):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_spill_path(staging, k, g))


def _task_result(counted: _Counted, fut: Any, what: str, others: list[Any]) -> Any:
    """The future's result; on failure every other task is cancelled and the error is
    one line (bad input keeps its own type)."""
    try:
        return counted.result(fut)
    except BaseException as exc:
        counted.client.cancel(others)
        _wait_idle(counted.client, others)
        if isinstance(exc, InputError):
            raise type(exc)(_one_line(str(exc))) from None
        if isinstance(exc, KeyboardInterrupt):
            raise
        detail = _one_line(f"{type(exc).__name__}: {exc}")
        raise ClusterError(f"tree build failed while {what}: {detail}") from None


def _wait_idle(client: Any, futures: list[Any], timeout: float = 30.0) -> None:  # float-ok
    """Wait until none of `futures` is still running on a worker (a cancelled task that
    already started runs to its end), so the staging directory can be removed."""
    keys = {f.key for f in futures}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            busy = client.processing()
        except Exception:
            return
        if not any(k in keys for tasks in busy.values() for k in tasks):
            return
        time.sleep(0.05)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_plan_totals(sums: tuple[int, ...], n_assets: int) -> None:
    for i, total in enumerate(sums):
        if total >= AMOUNT_LIMIT:
            side = "equity" if i < n_assets else "debt"
            raise TreeInputError(
                f"total {side} of asset {i % n_assets} is {total}, which does not fit the "
                "u128 sums of the tree (must be < 2^128)"
            )


def _specs(
    sizes: NDArray[np.int64], leaves: int, partitions: int, check_ids: bool
) -> list[_PartitionSpec]:
    """Which part of which sorted bucket each partition takes."""
    cum = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=cum[1:])
    if int(cum[-1]) != leaves * partitions:
        raise RuntimeError(f"buckets hold {int(cum[-1])} leaves, not {leaves * partitions}")
    specs = []
    for p in range(partitions):
        lo, hi = p * leaves, (p + 1) * leaves
        first = int(np.searchsorted(cum, lo, side="right")) - 1
        pieces = []
        b = first
        while b < sizes.size and int(cum[b]) < hi:
            a, z = max(lo, int(cum[b])), min(hi, int(cum[b + 1]))
            if z > a:
                pieces.append((b, a - int(cum[b]), z - int(cum[b])))
            b += 1
        specs.append(_PartitionSpec(p, leaves, tuple(pieces), check_ids))
    return specs


def _commit(
    job: Job,
    tops: list[PartitionTop],
    assets: tuple[str, ...],
    accounts: int,
    owned: bool,
    staging: Path,
) -> BuiltTree:
    """Move the partition files and fences in, then top.bin and tree.json (last)."""
    out = Path(job.out_dir)
    with contextlib.suppress(FileNotFoundError):
        (out / META_NAME).unlink()  # a store being replaced is incomplete until the end
    for p in range(job.partitions):
        os.replace(staging / part_name(p), out / part_name(p))
    os.replace(staging / FENCE_NAME, out / FENCE_NAME)
    built = _finish(job, tops, assets, accounts, owned, fences=False)
    _remove(staging)
    return built


def _remove(staging: Path) -> None:
    for _ in range(5):  # a straggler may still create a file while we remove
        shutil.rmtree(staging, ignore_errors=True)
        if not staging.exists():
            return
        time.sleep(0.1)

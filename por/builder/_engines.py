"""Where the two parallel phases run: serial, forked local processes, or Dask.

Phase 1 computes tags for slices of the input; phase 2 runs `build_partition` on each
contiguous slice of the sorted leaves. The orchestrator in `_build.py` sorts in between
and folds the partition tops. Every engine calls the very same functions.
"""

from __future__ import annotations

import ctypes
import importlib
import mmap
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from por._hashing import HASH_BYTES
from por.builder._batch import AccountBatch
from por.builder._order import (
    DuplicateTags,
    Perm,
    duplicate_error,
    index_bits,
    merge_slice,
    packed_run,
    sort_by_tag,
    split_runs,
)
from por.builder._sort import simd_sort_is_fast
from por.builder._tags import account_tags, account_tags_into, filler_tags, filler_tags_into
from por.builder.partition import (
    PartitionInput,
    PartitionTop,
    Workspace,
    build_partition,
    build_sorted_partition,
    gather_partition,
    thread_workspace,
)
from por.operator.workers import die_with_parent

__all__ = ["DaskEngine", "Engine", "Job", "LocalEngine", "Runs", "SerialEngine", "chunks"]

Runs = NDArray[np.uint64]  # packed sort keys as sorted runs (`por.builder._order`)


@dataclass(frozen=True, slots=True)
class Job:
    """Everything both phases need; fixed before phase 1 starts."""

    batch: AccountBatch
    snapshot_id: str
    filler_secret: bytes
    leaf_count: int
    partitions: int
    out_dir: str

    @property
    def fillers(self) -> int:
        return self.leaf_count - self.batch.count

    @property
    def partition_leaves(self) -> int:
        return self.leaf_count // self.partitions


class Engine(Protocol):
    def __enter__(self) -> Engine: ...

    def release(self) -> None:
        """The workers are no longer needed: start stopping them (the caller goes on with
        the top of the tree meanwhile); `__exit__` waits until they are gone."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def tags(
        self, job: Job, meanwhile: Callable[[], None]
    ) -> tuple[NDArray[np.uint8], Runs | None]:
        """All leaf tags, (leaf_count, 32): accounts in input order, then fillers; and
        optionally the packed sort keys as sorted runs (see `sort_by_tag`), a buffer the
        permutation may then overwrite. `meanwhile` runs in
        this process while the workers hash (validation that needs no tags)."""
        ...

    def sort(
        self,
        job: Job,
        tags: NDArray[np.uint8],
        runs: Runs | None,
        describe: Callable[[int], str],
    ) -> Perm:
        """The permutation putting the tags in order (`sort_by_tag`: same result and
        errors), before anything is written."""
        ...

    def partitions(self, job: Job, tags: NDArray[np.uint8], perm: Perm) -> list[PartitionTop]:
        """Build every partition; tops in partition order."""
        ...


def chunks(total: int, pieces: int) -> Iterator[tuple[int, int]]:
    """Split [0, total) into at most `pieces` near-equal non-empty ranges."""
    pieces = max(1, min(pieces, total))
    step, extra = divmod(total, pieces)
    start = 0
    for i in range(pieces):
        stop = start + step + (1 if i < extra else 0)
        if stop > start:
            yield start, stop
        start = stop


class _SortsHere:
    """`sort` and `release` of the engines that sort in this process (`sort_by_tag` over
    every tag) and have no workers to let go early: the serial reference, and Dask (its
    client gathers every tag anyway)."""

    def release(self) -> None:
        return

    def sort(
        self,
        job: Job,
        tags: NDArray[np.uint8],
        runs: Runs | None,
        describe: Callable[[int], str],
    ) -> Perm:
        return sort_by_tag(tags, describe, runs)


class SerialEngine(_SortsHere):
    """Everything in this process: the reference for the parallel engines."""

    def __init__(self) -> None:
        self._workspace: Workspace | None = None

    def __enter__(self) -> SerialEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self._workspace = None

    def tags(
        self, job: Job, meanwhile: Callable[[], None]
    ) -> tuple[NDArray[np.uint8], Runs | None]:
        meanwhile()
        out = np.empty((job.leaf_count, HASH_BYTES), dtype=np.uint8)
        n = job.batch.count
        out[:n] = account_tags(job.batch, job.snapshot_id)
        out[n:] = filler_tags(job.filler_secret, job.snapshot_id, 0, job.fillers)
        return out, None

    def partitions(self, job: Job, tags: NDArray[np.uint8], perm: Perm) -> list[PartitionTop]:
        size, n = job.partition_leaves, job.batch.count
        amounts = job.batch.amounts
        ws = self._workspace = Workspace(size, job.batch.n_assets)
        return [
            build_sorted_partition(p, size, tags, perm, amounts, n, job.out_dir, ws)
            for p in range(job.partitions)
        ]


# --- local processes -----------------------------------------------------------------
# Workers are forked after the shared buffers exist, so they inherit the input batch
# (copy-on-write) and two MAP_SHARED anonymous maps (tags written by workers, the sort
# permutation written by the parent): nothing large is pickled.

_WORKER: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    die_with_parent()
    _WORKER.clear()
    _WORKER.update(state)
    _keep_heap()


def _keep_heap() -> None:
    """In our own workers only: let glibc serve partition-sized arrays (<= 32 MB) from a
    heap it does not trim, so each partition reuses the previous one's pages instead of
    page-faulting fresh ones (~8% of a partition's CPU measured here). No-op elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        return


def _tags_task(start: int, stop: int) -> None:
    job: Job = _WORKER["job"]
    chunk = _WORKER["tags"][start:stop]
    account_tags_into(job.batch.slice(start, stop), job.snapshot_id, chunk)
    _sorted_run(chunk, start, job.leaf_count)


def _fillers_task(start: int, stop: int) -> None:
    job: Job = _WORKER["job"]
    n = job.batch.count
    chunk = _WORKER["tags"][n + start : n + stop]
    filler_tags_into(job.filler_secret, job.snapshot_id, start, stop, chunk)
    _sorted_run(chunk, n + start, job.leaf_count)


def _sorted_run(tags: NDArray[np.uint8], first: int, leaf_count: int) -> None:
    """The chunk's packed sort keys, sorted in place in the shared runs map."""
    packed_run(tags, first, index_bits(leaf_count), _WORKER["runs"][first : first + tags.shape[0]])


def _merge_task(index: int, pieces: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Merge partition `index`'s pieces of the sorted runs into the shared permutation;
    a duplicate tag is returned (the parent names the accounts)."""
    job: Job = _WORKER["job"]
    runs: NDArray[np.uint64] = _WORKER["runs"]
    size = job.partition_leaves
    out = _WORKER["perm"][index * size : (index + 1) * size]
    try:
        merge_slice(
            [runs[a:b] for a, b in pieces], _WORKER["tags"], index_bits(job.leaf_count), out
        )
    except DuplicateTags as dup:
        return dup.a, dup.b
    return None


def _partition_task(index: int) -> PartitionTop:
    job: Job = _WORKER["job"]
    ws = thread_workspace(job.partition_leaves, job.batch.n_assets)
    return build_sorted_partition(
        index,
        job.partition_leaves,
        _WORKER["tags"],
        _WORKER["perm"],
        job.batch.amounts,
        job.batch.count,
        job.out_dir,
        ws,
    )


def _dask_partition_task(part: PartitionInput, out_dir: str) -> PartitionTop:
    """`build_partition` on a Dask worker, reusing that worker thread's buffers (the
    client checked the whole tree's totals before phase 1)."""
    ws = thread_workspace(part.tags.shape[0], part.amounts.shape[2])
    return build_partition(part, out_dir, ws, totals_checked=True)


class LocalEngine:
    """A pool of forked processes (one per core by default) on this machine."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._closer: threading.Thread | None = None
        self._maps: list[mmap.mmap] = []
        self._state: dict[str, Any] = {}
        self._runs: list[tuple[int, int]] = []

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._closer is not None:
            self._closer.join()
            self._closer = None
        elif self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._maps.clear()  # buffers may still be referenced by returned arrays

    def release(self) -> None:
        """Stop the pool from a thread: the worker processes exit and are joined while
        this process folds the top levels and writes the last files."""
        if self._pool is not None and self._closer is None:
            self._closer = threading.Thread(
                target=self._pool.shutdown, kwargs={"wait": True}, name="por-pool-shutdown"
            )
            self._closer.start()

    def _shared(self, shape: tuple[int, ...], dtype: type[np.generic]) -> NDArray[Any]:
        nbytes = max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize)
        buf = mmap.mmap(-1, nbytes)
        self._maps.append(buf)
        return np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape))).reshape(shape)

    def _start(self, job: Job) -> ProcessPoolExecutor:
        if self._pool is None:
            simd_sort_is_fast()  # measured once here, inherited by the forked workers
            tags = self._shared((job.leaf_count, HASH_BYTES), np.uint8)
            runs = self._shared((job.leaf_count,), np.uint64)
            perm = self._shared((job.leaf_count,), np.uint32)  # leaf indices < 2^32
            self._state = {"job": job, "tags": tags, "runs": runs, "perm": perm}
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker,
                initargs=(self._state,),
            )
        return self._pool

    def tags(
        self, job: Job, meanwhile: Callable[[], None]
    ) -> tuple[NDArray[np.uint8], Runs | None]:
        pool = self._start(job)
        n = job.batch.count
        pieces = 4 * self._workers
        accounts = list(chunks(n, pieces))
        fillers = list(chunks(job.fillers, pieces))
        self._runs = accounts + [(n + a, n + b) for a, b in fillers]
        futures = [pool.submit(_tags_task, a, b) for a, b in accounts]
        futures += [pool.submit(_fillers_task, a, b) for a, b in fillers]
        meanwhile()
        for fut in futures:
            fut.result()
        return self._state["tags"], self._state["runs"]

    def sort(
        self,
        job: Job,
        tags: NDArray[np.uint8],
        runs: Runs | None,
        describe: Callable[[int], str],
    ) -> Perm:
        """Parallel merge: cut the workers' sorted runs at every partition boundary (by
        bisection on the key, here), then each worker merges one partition's pieces into
        the shared permutation. Serial `sort_by_tag` if a cut falls between tied keys."""
        pool = self._start(job)
        perm: Perm = self._state["perm"]
        if runs is None or job.partitions < 2:
            return sort_by_tag(tags, describe, runs, out=perm)
        bits = index_bits(job.leaf_count)
        size = job.partition_leaves
        run_arrays = [runs[a:b] for a, b in self._runs]
        cuts = split_runs(run_arrays, [p * size for p in range(1, job.partitions)], bits)
        if cuts is None:
            return sort_by_tag(tags, describe, runs, out=perm)
        bounds = [[0, *cut, b - a] for cut, (a, b) in zip(cuts, self._runs, strict=True)]
        tasks = [
            [
                (a + bound[p], a + bound[p + 1])
                for (a, _), bound in zip(self._runs, bounds, strict=True)
                if bound[p + 1] > bound[p]
            ]
            for p in range(job.partitions)
        ]
        for dup in pool.map(_merge_task, range(job.partitions), tasks):
            if dup is not None:
                duplicate_error(tags, describe, DuplicateTags(*dup))
        return perm

    def partitions(self, job: Job, tags: NDArray[np.uint8], perm: Perm) -> list[PartitionTop]:
        pool = self._start(job)
        shared_perm: Perm = self._state["perm"]
        if perm.ctypes.data != shared_perm.ctypes.data:
            shared_perm[:] = perm
        if tags is not self._state["tags"]:
            raise ValueError("LocalEngine.partitions needs the tags it computed")
        futures = [pool.submit(_partition_task, p) for p in range(job.partitions)]
        # the last phase: a worker with nothing left to do exits (and is joined) while
        # the other one finishes its last partition
        self.release()
        return [fut.result() for fut in futures]


# --- Dask ----------------------------------------------------------------------------


class DaskEngine(_SortsHere):
    """The same tasks on a Dask cluster: `scheduler` address, or a fresh LocalCluster.

    Partition inputs are built on the client and scattered a few at a time (bounded
    client memory); workers write their partition files to `out_dir`, which on a real
    cluster must be a filesystem every worker and the client share.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        self._scheduler = scheduler
        self._workers = workers or os.cpu_count() or 1
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskEngine:
        dist: Any = importlib.import_module("distributed")  # imported only for this engine
        if self._scheduler is None:
            self._cluster = dist.LocalCluster(
                n_workers=self._workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            )
            self._client = dist.Client(self._cluster)
        else:
            self._client = dist.Client(self._scheduler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def _in_flight(self) -> int:
        info = self._client.scheduler_info()
        threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        return max(2, 2 * threads)

    def tags(
        self, job: Job, meanwhile: Callable[[], None]
    ) -> tuple[NDArray[np.uint8], Runs | None]:
        client = self._client
        n = job.batch.count
        pieces = max(4, self._in_flight() * 2)
        slices = client.scatter([job.batch.slice(a, b) for a, b in chunks(n, pieces)])
        account_futs = [
            client.submit(account_tags, data, job.snapshot_id, pure=False) for data in slices
        ]
        filler_futs = [
            client.submit(filler_tags, job.filler_secret, job.snapshot_id, a, b, pure=False)
            for a, b in chunks(job.fillers, pieces)
        ]
        meanwhile()
        parts = client.gather(account_futs + filler_futs)
        tags = np.concatenate(parts) if parts else np.empty((0, HASH_BYTES), dtype=np.uint8)
        return tags, None

    def partitions(self, job: Job, tags: NDArray[np.uint8], perm: Perm) -> list[PartitionTop]:
        dist: Any = importlib.import_module("distributed")
        client = self._client
        size, n = job.partition_leaves, job.batch.count
        limit = self._in_flight()
        tops: list[PartitionTop] = []
        pending = dist.as_completed()
        for p in range(job.partitions):
            part = gather_partition(p, size, tags, perm, job.batch.amounts, n)
            [data] = client.scatter([part])
            pending.add(client.submit(_dask_partition_task, data, job.out_dir, pure=False))
            while pending.count() >= limit:
                tops.append(next(pending).result())
        tops.extend(fut.result() for fut in pending)
        return sorted(tops, key=lambda t: t.index)

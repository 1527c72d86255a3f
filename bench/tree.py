"""Benchmark of the fast tree builder against the bare hashing floor, in one run.

    python bench/tree.py --accounts 1000000 --assets 4 [--engine local|dask|serial]
                         [--partitions P] [--workers W] [--repeat R] [--export]

Prints ONE line on stdout:
    accounts=N build_s=... proof_s=... peak_rss_mb=... hash_floor_s=... ratio=...
    worker_floor_s=... worker_ratio=...
(plus export_s=... with --export: every account's own proof as JSON Lines, one file per
partition, written by the same number of workers); context goes to stderr, including
every build's and every floor's time.

- Best of R: R builds, each followed by its floors, in one process; build_s and each floor
  are the fastest of their R (timeit's convention: noise only ever adds time). R defaults
  to 5 up to 2M accounts and to 1 above (a 10M-account run is ~90 s; its 17 s build
  averages the noise out by itself).

- Inputs (ids "acct0000000042", random 32-byte nonces, random u128 limbs with some ETH
  amounts above 2^64) are generated as arrays before the clock starts.
- With --engine dask and no --scheduler, a LocalCluster (one single-threaded worker
  process per core) is started before the clock: build_s excludes cluster start-up
  (~2-3 s here), as it would on a long-running cluster. peak_rss_mb then covers the bench
  process and the nanny processes, not the workers (spawned by the nannies).
- build_s: `build_tree(batch, ...)` wall time: validation (including the duplicate
  account id check), account tags, filler tags (HMAC), sort by tag, duplicate tag check,
  leaf and node hashing, u128 sums, writing every level to disk, tree.json. Not included:
  turning `AccountInput` objects into columns (`AccountBatch.from_accounts`), which
  callers with columnar data skip.
- proof_s: mean wall time of one account's proof from the store on disk (tag recomputed
  from id + nonce, bisection, path reads, `json.dumps`), over 1000 random accounts.
- peak_rss_mb: ru_maxrss of this process + ru_maxrss of children (the largest child),
  taken right after the build (before the floor's buffers exist). Forked workers share
  pages with the parent, which both figures count.
- hash_floor_s: the issue's floor, "a bare hashlib.sha256 loop over the same leaf and node
  byte strings measured in the same run": one loop, in this process, over every leaf
  preimage (fillers' included) and every node preimage (the pair records on disk), made
  ready as `bytes` objects 2048 at a time (not timed) and hashed by the barest loop,
  `[sha256(s).digest() for s in strings]` (timed; no slicing, no join, results dropped).
  Tag preimages and filler HMACs are not leaf or node strings, so they are left out
  (the build still computes them: leaving them out makes the ratio higher, not lower).
- ratio = build_s / hash_floor_s: the whole build on this machine's cores against hashing
  its leaves and nodes on one core.
- worker_floor_s, worker_ratio: a stricter gauge of the work the builder adds per core.
  Every byte string the build hashes (tag preimages and filler HMACs too), split evenly
  over the same number of forked worker processes as the build, hashed by the same bare
  loop; worker_floor_s is the busiest worker's summed hashing time. Filler HMACs are hashed
  as the builder hashes them: from copies of the pre-keyed inner and outer SHA-256 states.
  A worker_ratio of 1 would mean a build that does nothing but hash, on every core.
- CPU seconds (stderr): this process + its waited-for children, for the build and for the
  worker floor; cpu_ratio = build CPU / worker floor CPU, the work the builder adds beyond
  hashing, is the figure to compare old and new code by on a shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from por.builder import AccountBatch, build_tree  # noqa: E402
from por.builder._layout import (  # noqa: E402
    SECTION_ALIGN,
    TOP_NAME,
    level_offsets,
    part_name,
    partition_header_bytes,
)
from por.builder._level import HASH_CHUNK  # noqa: E402
from por.builder._tags import filler_messages, hmac_pads, tag_preimages  # noqa: E402
from por.builder.proofstore import ProofStore  # noqa: E402

SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"bench-filler-secret-0123456789ab"
ASSETS = ["BTC", "ETH", "SOL", "USDC", "USDT", "XRP", "DOGE", "ADA"]


def generate(n: int, n_assets: int, seed: int) -> AccountBatch:
    return generate_range(np.random.default_rng(seed), 0, n, n_assets)


def generate_range(rng: np.random.Generator, first: int, count: int, n_assets: int) -> AccountBatch:
    """Accounts [first, first + count): ids acct<index> (14 bytes), nonces and amounts
    drawn from `rng`: 62-bit equities, some wei above 2^64, 5% borrowing the first asset."""
    width = 14
    ids = np.empty((count, width), dtype=np.uint8)
    ids[:, :4] = np.frombuffer(b"acct", dtype=np.uint8)
    k = np.arange(first, first + count, dtype=np.int64)
    for j in range(width - 1, 3, -1):
        ids[:, j] = 48 + (k % 10)
        k //= 10
    offsets = np.arange(count + 1, dtype=np.int64) * width
    nonces = rng.integers(0, 256, (count, 32), dtype=np.uint8)
    amounts = np.zeros((count, 2, n_assets, 2), dtype=np.uint64)
    amounts[:, 0, :, 1] = rng.integers(0, 1 << 62, (count, n_assets), dtype=np.uint64)
    if n_assets > 1:  # wei balances above 2^64 for some accounts
        amounts[:, 0, 1, 0] = rng.integers(0, 1 << 8, count, dtype=np.uint64)
    borrow = rng.random(count) < 0.05
    amounts[borrow, 1, 0, 1] = rng.integers(0, 1 << 40, int(borrow.sum()), dtype=np.uint64)
    amounts[borrow, 0, 0, 1] = 0
    return AccountBatch.from_arrays(ids.tobytes(), offsets, nonces, amounts, n_assets)


# --- hash floor ----------------------------------------------------------------------

_FLOOR: list[NDArray[np.uint8]] = []
LEAF_ITEMS = 2  # floor items before this are tag preimages and filler HMAC messages
_HMAC_PADS: list[bytes] = []  # ipad, opad of the filler secret, for the HMAC floor item


def _floor_work(item: int, lo: int, hi: int) -> tuple[int, int, float, float]:
    """Bare hashing of rows [lo, hi): (pid, rows, wall s, CPU s) of the hashing alone.

    Per chunk of `HASH_CHUNK` rows the byte strings are first made ready as `bytes`
    objects (not timed), then hashed by the barest loop, `[sha256(s).digest() for s in
    strings]` (timed): no slicing, no join, results dropped. This is the fastest way found
    to hash them with hashlib (per 161/193-byte row here: ~360/390 ns; over ready
    memoryviews ~3% more; slicing a memoryview per row, the builder's pattern until
    this round, ~25% more), so the floor is a lower bound of hashing, not the builder's
    own loop.

    An item of width 0 stands for the filler HMACs (rows are their messages): hashed the
    way the builder hashes them, from copies of the pre-keyed inner and outer states
    (one block each for the message and for the inner digest), so the floor does exactly
    the builder's SHA-256 compressions, not the two extra key blocks of a fresh HMAC.
    """
    rows = _FLOOR[item]
    sha = hashlib.sha256
    clock, cpu_clock = time.perf_counter, time.process_time
    wall = cpu = 0.0  # float-ok: seconds, not money
    done = 0
    hmac = bool(_HMAC_PADS) and item == 1
    inner0, outer0 = (sha(_HMAC_PADS[0]), sha(_HMAC_PADS[1])) if hmac else (sha(), sha())
    for c in range(lo, hi, HASH_CHUNK):
        strings = [row.tobytes() for row in rows[c : min(hi, c + HASH_CHUNK)]]
        t0, c0 = clock(), cpu_clock()
        if hmac:
            digests = []
            for s in strings:
                inner = inner0.copy()
                inner.update(s)
                outer = outer0.copy()
                outer.update(inner.digest())
                digests.append(outer.digest())
        else:
            digests = [sha(s).digest() for s in strings]
        wall += clock() - t0
        cpu += cpu_clock() - c0
        done += len(digests)
    return os.getpid(), done, wall, cpu


def cpu_seconds() -> float:
    """User + system CPU of this process and of its waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime  # float-ok: CPU seconds, not money
    return total


def cpu_model() -> str:
    """The CPU's model name, spaces as underscores: figures move ~30% between the hosts
    this VM lands on (an AMD EPYC one day, an Intel Xeon the next)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "_".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return "unknown"


def _noop(_: int) -> int:
    return os.getpid()


def floor_inputs(batch: AccountBatch, store: ProofStore) -> list[NDArray[np.uint8]]:
    """Every byte string the build hashed, as (count, width) arrays (fixed widths)."""
    buf, offsets = tag_preimages(batch, SNAPSHOT)
    widths = np.diff(offsets)
    if batch.count and not bool(np.all(widths == widths[0])):
        raise SystemExit("bench ids must have one length")
    # item 0: tag preimages; item 1: filler HMAC messages (see _floor_work); then
    # leaf and node preimages (from LEAF_ITEMS on: the floor)
    items = [buf.reshape(batch.count, -1) if batch.count else np.zeros((0, 1), np.uint8)]
    fillers = store.leaf_count - batch.count
    items.append(filler_messages(SNAPSHOT, 0, fillers))
    _HMAC_PADS[:] = hmac_pads(SECRET)
    leaves = store.leaf_count // store.partitions
    rec = store.record_bytes
    pair = store.pair_bytes
    header = partition_header_bytes(leaves)
    height = store.partition_height
    offsets = level_offsets(leaves, height, pair, header, SECTION_ALIGN)
    for p in range(store.partitions):
        raw = np.fromfile(store.out_dir / part_name(p), dtype=np.uint8)
        tags = raw[: leaves * 32].reshape(leaves, 32)
        sections = [  # every level's pairs: the node preimages
            raw[offsets[k] : offsets[k] + (leaves >> (k + 1)) * pair].reshape(-1, pair)
            for k in range(height)
        ]
        pairs = np.concatenate(sections)
        level0 = sections[0][:, 1:].reshape(leaves, rec)
        leaf_rows = np.empty((leaves, 1 + 32 + rec - 32), dtype=np.uint8)
        leaf_rows[:, 0] = 0
        leaf_rows[:, 1:33] = tags
        leaf_rows[:, 33:] = level0[:, 32:]
        items += [leaf_rows, np.ascontiguousarray(pairs)]
    top = np.fromfile(store.out_dir / TOP_NAME, dtype=np.uint8)
    if top.size:
        items.append(top.reshape(-1, pair))
    return items


def serial_floor(items: list[NDArray[np.uint8]]) -> tuple[float, int]:
    """(wall, strings hashed) of one bare loop, in this process, over the leaf and node
    preimages (`items[LEAF_ITEMS:]`): the issue's `hash_floor_s`."""
    _FLOOR[:] = items
    wall = 0.0  # float-ok: seconds, not money
    done = 0
    for i in range(LEAF_ITEMS, len(items)):
        _, rows, seconds, _ = _floor_work(i, 0, items[i].shape[0])
        wall += seconds
        done += rows
    _FLOOR.clear()
    return wall, done


def worker_floor(items: list[NDArray[np.uint8]], workers: int) -> tuple[float, float]:
    """(wall, CPU) of the bare hashing, split evenly over `workers` forked processes.

    Wall is the busiest worker's summed hashing time (the workers hash concurrently, and
    pool dispatch and preparing the strings are left out); CPU is the sum over workers.
    """
    _FLOOR[:] = items
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pids = set()
        while len(pids) < workers:  # make sure every worker is forked and idle
            pids.update(pool.map(_noop, range(workers * 4)))
        futures = []
        for i, rows in enumerate(items):
            count = rows.shape[0]
            if count == 0:
                continue
            step = -(-count // workers)
            for lo in range(0, count, step):
                futures.append(pool.submit(_floor_work, i, lo, min(count, lo + step)))
        results = [f.result() for f in futures]
    _FLOOR.clear()
    busy: dict[int, float] = {}
    for pid, _, wall, _ in results:
        busy[pid] = busy.get(pid, 0.0) + wall
    total = sum(done for _, done, _, _ in results)
    expected = sum(rows.shape[0] for rows in items)
    assert total == expected, (total, expected)
    return max(busy.values()), sum(cpu for _, _, _, cpu in results)


# --- main ----------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--accounts", type=int, required=True)
    ap.add_argument("--assets", type=int, default=4)
    ap.add_argument("--engine", choices=["local", "dask", "serial"], default="local")
    ap.add_argument("--partitions", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--scheduler",
        default=None,
        help="dask scheduler address; default: a LocalCluster started before the clock",
    )
    ap.add_argument("--out", default=None, help="tree directory (default: a temp dir, removed)")
    ap.add_argument(
        "--export", action="store_true", help="also time exporting every account's proof"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="best of R builds and R floors (default 5 up to 2M accounts, else 1)",
    )
    ap.add_argument("--verbose", action="store_true", help="builder phase timings on stderr")
    args = ap.parse_args()
    if args.repeat is None:
        args.repeat = 5 if args.accounts <= 2_000_000 else 1
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if not 1 <= args.assets <= len(ASSETS):
        ap.error(f"--assets must be 1..{len(ASSETS)}")
    workers = 1 if args.engine == "serial" else args.workers or os.cpu_count() or 1
    if args.verbose:
        logging.basicConfig(stream=sys.stderr, format="# %(message)s")
        logging.getLogger("por.builder").setLevel(logging.DEBUG)
    batch = generate(args.accounts, args.assets, args.seed)
    cluster = None
    scheduler = args.scheduler
    if args.engine == "dask" and scheduler is None:
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        scheduler = cluster.scheduler_address
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="por-bench-"))
    try:
        builds: list[float] = []
        floors: list[float] = []
        worker_floors: list[float] = []
        build_cpu: list[float] = []
        worker_cpu: list[float] = []
        rss_kb = 0
        for attempt in range(args.repeat):
            out = root / f"tree-{attempt}"
            cpu_start = cpu_seconds()
            start = time.perf_counter()
            tree = build_tree(
                batch,
                ASSETS[: args.assets],
                SNAPSHOT,
                SECRET,
                engine=args.engine,
                partitions=args.partitions,
                workers=workers,
                scheduler=scheduler,
                out_dir=out,
            )
            builds.append(time.perf_counter() - start)
            build_cpu.append(cpu_seconds() - cpu_start)
            if attempt == 0:
                rss_kb = (
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                )
            store = tree.open_store()
            if attempt == 0:
                rng = random.Random(args.seed)
                sample = [rng.randrange(batch.count) for _ in range(min(1000, batch.count))]
                start = time.perf_counter()
                for i in sample:
                    json.dumps(store.account_proof(batch.account_id(i), batch.nonce(i)))
                proof_s = (time.perf_counter() - start) / len(sample)
                extra = ""
                if args.export:
                    start = time.perf_counter()
                    lines = store.export_dir(root / "proofs", batch, workers)
                    extra = f" export_s={time.perf_counter() - start:.2f}"
                    assert lines == batch.count
                    shutil.rmtree(root / "proofs")
            items = floor_inputs(batch, store)
            store.close()
            worker_wall, worker_cpu_s = worker_floor(items, workers)
            worker_floors.append(worker_wall)
            worker_cpu.append(worker_cpu_s)
            floor_wall, hashed = serial_floor(items)
            # every leaf (2^h) and every node (2^h - 1) of the tree, nothing else
            assert hashed == 2 * tree.leaf_count - 1, (hashed, tree.leaf_count)
            floors.append(floor_wall)
            del items
            shutil.rmtree(out, ignore_errors=True)
        build_s, floor_s, worker_s = min(builds), min(floors), min(worker_floors)
        print(
            f"accounts={args.accounts} build_s={build_s:.3f} proof_s={proof_s:.6f} "
            f"peak_rss_mb={rss_kb // 1024} hash_floor_s={floor_s:.3f} "
            f"ratio={build_s / floor_s:.3f} worker_floor_s={worker_s:.3f} "
            f"worker_ratio={build_s / worker_s:.3f}{extra}"
        )
        print(
            f"# engine={args.engine} workers={workers} leaves={tree.leaf_count} "
            f"partitions={tree.partitions} assets={args.assets} repeat={args.repeat} "
            f"builds={[round(b, 3) for b in builds]} floors={[round(f, 3) for f in floors]} "
            f"worker_floors={[round(f, 3) for f in worker_floors]} "
            f"build_cpu_s={min(build_cpu):.3f} worker_floor_cpu_s={min(worker_cpu):.3f} "
            f"cpu_ratio={min(build_cpu) / min(worker_cpu):.3f} "
            f"loadavg={os.getloadavg()[0]:.2f} root={tree.root.hash.hex()[:16]} "
            f"cpu={cpu_model()}",
            file=sys.stderr,
        )
    finally:
        if cluster is not None:
            cluster.close()
        if not args.out:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

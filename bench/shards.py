"""Benchmark: the sharded Dask build (`build_tree_from_shards`) against the local engine.

Generates N accounts x 4 assets shard by shard (bench/tree.py's distribution; one shard's
columns in this process at a time, so 100M accounts need no more memory than 1M) and
writes them as account shards (`ShardWriter`; the write is timed apart: the snapshot
job's cost). Then, unless `--no-local`, builds with the local engine (forked workers;
it needs every account in this process) and checks that the roots and every store file
are equal; and builds with the sharded build on a LocalCluster of `--workers`
single-threaded worker processes started before the clock. Prints ONE line:

    accounts=... workers=... partitions=... shards=... consume_shards=yes|no
      gen_s=... shards_write_s=... local_s=...|- sharded_s=... tags_s=... partitions_s=...
      task_s=tags:...,fillers:...,partitions:... client_bytes=...
      client_bytes_per_partition=... client_tasks=... disk_peak_gb=...
      disk_at_peak=shards:...,spills:...,store:...,other:... disk_sampled=thread/2s
      rss_client_mb=... rss_workers_mb=...,... same_root_and_files=yes|-
      gauge_s=... load_avg=1m,5m,15m cpus=...

- tags_s, partitions_s: wall from the first to the last task of phase 1 (shard and filler
  tags) and of phase 2 (partitions), from Dask's task stream; task_s: the seconds those
  tasks ran, summed (what more workers divide).
- client_bytes: pickled task arguments sent plus pickled results received by the client
  (`ClientTraffic`); the accounts alone are ~180 bytes each.
- disk_peak_gb: the largest total size on disk (st_blocks, GB = 10^9 bytes) of the run's
  directory (shards, local store, sharded store and its staging), summed by a thread every
  `--sample-s` seconds (2 by default) over the whole run; disk_at_peak splits that sample.
- rss_*: peak RSS (VmHWM) of this process (the client; it also generated the shards and
  ran the local engine's parent) and of each worker process (asked with `client.run` after
  the build).

    .venv/bin/python bench/shards.py [--accounts 1000000] [--workers 2] [--no-local]
        [--consume-shards] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tree import generate_range  # noqa: E402
from por.builder import AccountBatch, build_tree, build_tree_from_shards  # noqa: E402
from por.builder.shards import DEFAULT_SHARD_ACCOUNTS, ShardWriter  # noqa: E402

ASSETS = ("BTC", "ETH", "SOL", "USDC")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"bench-shards-filler-secret-32byt"
ID_WIDTH = 14  # "acct" + 10 digits, as bench/tree.py


def gauge() -> float:  # float-ok: seconds
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def generate_shard(first: int, count: int, n_assets: int, seed: int) -> AccountBatch:
    """Accounts [first, first + count) with bench/tree.py's distribution, seeded by
    (seed, first), so a shard is the same whatever the shard size before it."""
    return generate_range(np.random.default_rng([seed, first]), first, count, n_assets)


def concat(parts: list[AccountBatch]) -> AccountBatch:
    """One batch of the shards' accounts (for the local engine: ids of one width)."""
    n = sum(p.count for p in parts)
    return AccountBatch(
        b"".join(p.ids for p in parts),
        np.arange(n + 1, dtype=np.int64) * ID_WIDTH,
        np.concatenate([p.nonces for p in parts]),
        np.concatenate([p.amounts for p in parts]),
    )


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def _kind(name: str) -> str:
    if name.startswith("shard"):
        return "shards"
    if name.startswith("spill-"):
        return "spills"
    if name.startswith(("part-", "fences", "top.bin", "tree.json")):
        return "store"
    return "other"


class DiskSampler:
    """Peak bytes on disk under `root`, summed every `interval` s by a thread."""

    def __init__(self, root: Path, interval: float) -> None:  # float-ok: seconds
        self.root, self.interval = root, interval
        self.peak = 0
        self.at_peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> DiskSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        kinds: dict[str, int] = {}
        for path in self._files(self.root):
            try:
                size = path.stat().st_blocks * 512
            except FileNotFoundError:
                continue
            kind = _kind(path.name)
            kinds[kind] = kinds.get(kind, 0) + size
        total = sum(kinds.values())
        if total > self.peak:
            self.peak, self.at_peak = total, kinds

    def _files(self, directory: Path) -> Iterator[Path]:
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from self._files(Path(entry.path))
                else:
                    yield Path(entry.path)
            except FileNotFoundError:
                continue


def peak_rss_kib() -> int:
    """This process's peak RSS: VmHWM (the high-water mark of its own memory map; a
    spawned worker's `ru_maxrss` starts at its parent's RSS when it forked), else
    `ru_maxrss`."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _phases(stream: list[dict[str, Any]]) -> tuple[str, str, str]:
    """tags_s, partitions_s (first start to last stop) and task_s per kind."""
    spans: dict[str, list[tuple[float, float]]] = {}  # float-ok: seconds
    for item in stream:
        key = str(item.get("key", ""))
        kind = next((k for k in ("_tag_shard", "_tag_fillers", "_build_partition") if k in key), "")
        for part in item.get("startstops", ()):
            if kind and part.get("action") == "compute":
                spans.setdefault(kind, []).append((part["start"], part["stop"]))

    def wall(*kinds: str) -> str:
        got = [s for k in kinds for s in spans.get(k, [])]
        return f"{max(b for _, b in got) - min(a for a, _ in got):.2f}" if got else "-"

    def busy(kind: str) -> str:
        return f"{sum(b - a for a, b in spans.get(kind, [])):.1f}"

    task_s = (
        f"tags:{busy('_tag_shard')},fillers:{busy('_tag_fillers')},"
        f"partitions:{busy('_build_partition')}"
    )
    return wall("_tag_shard", "_tag_fillers"), wall("_build_partition"), task_s


def main() -> None:
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-accounts", type=int, default=DEFAULT_SHARD_ACCOUNTS)
    parser.add_argument("--no-local", action="store_true", help="skip the local engine")
    parser.add_argument(
        "--consume-shards", action="store_true", help="the build deletes each shard once read"
    )
    parser.add_argument("--dir", default=None, help="where the run's directory goes")
    parser.add_argument("--sample-s", type=float, default=2.0)  # float-ok: seconds
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="por-bench-shards-", dir=args.dir))
    try:
        with DiskSampler(tmp, args.sample_s) as disk:
            line = run(args, tmp, distributed)
        at_peak = ",".join(
            f"{k}:{disk.at_peak.get(k, 0) / 1e9:.2f}"
            for k in ("shards", "spills", "store", "other")
        )
        one, five, fifteen = os.getloadavg()
        print(
            f"{line} disk_peak_gb={disk.peak / 1e9:.2f} disk_at_peak={at_peak} "
            f"disk_sampled=thread/{args.sample_s:g}s gauge_s={gauge():.3f} "
            f"load_avg={one:.2f},{five:.2f},{fifteen:.2f} cpus={os.cpu_count()}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path, distributed: Any) -> str:
    n, step = args.accounts, args.shard_accounts
    keep = not args.no_local
    writer = ShardWriter(tmp / "shards", len(ASSETS))
    parts: list[AccountBatch] = []
    gen_s = write_s = 0.0  # float-ok: seconds
    for first in range(0, n, step):
        t0 = time.perf_counter()
        part = generate_shard(first, min(step, n - first), len(ASSETS), args.seed)
        t1 = time.perf_counter()
        writer.add(part)
        gen_s += t1 - t0
        write_s += time.perf_counter() - t1
        if keep:
            parts.append(part)
    t0 = time.perf_counter()
    shards = writer.close()
    write_s += time.perf_counter() - t0
    local = None
    local_s = "-"
    if keep:
        batch = concat(parts)
        parts.clear()
        t0 = time.perf_counter()
        local = build_tree(
            batch, ASSETS, SNAPSHOT, SECRET, engine="local", workers=args.workers,
            out_dir=tmp / "local",
        )  # fmt: skip
        local_s = f"{time.perf_counter() - t0:.2f}"
        del batch
    with (
        distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
        distributed.get_task_stream(client) as stream,
    ):  # fmt: skip
        t0 = time.perf_counter()
        built = build_tree_from_shards(
            tmp / "shards", ASSETS, SNAPSHOT, SECRET,
            partitions=local.partitions if local else None, client=client,
            out_dir=tmp / "sharded", consume_shards=args.consume_shards,
        )  # fmt: skip
        sharded_s = time.perf_counter() - t0
        workers_kib = sorted(client.run(peak_rss_kib).values())
    same = "-"
    if local is not None:
        assert built.tree.root == local.root, "roots differ"
        assert same_files(tmp / "local", tmp / "sharded"), "store files differ"
        same = "yes"
    tags_s, parts_s, task_s = _phases(stream.data)
    t = built.traffic
    client_mb = peak_rss_kib() / 1024
    return (
        f"accounts={n} workers={args.workers} partitions={t.partitions} "
        f"shards={len(shards.shards)} consume_shards={'yes' if args.consume_shards else 'no'} "
        f"gen_s={gen_s:.2f} shards_write_s={write_s:.2f} local_s={local_s} "
        f"sharded_s={sharded_s:.2f} tags_s={tags_s} partitions_s={parts_s} task_s={task_s} "
        f"client_bytes={t.total} client_bytes_per_partition={t.per_partition:.0f} "
        f"client_tasks={t.tasks} rss_client_mb={client_mb:.0f} "
        f"rss_workers_mb={','.join(f'{k / 1024:.0f}' for k in workers_kib)} "
        f"same_root_and_files={same}"
    )


if __name__ == "__main__":
    main()

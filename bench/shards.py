"""Benchmark: the sharded Dask build (`build_tree_from_shards`) against the local engine.

Generates N accounts x 4 assets as columns (`bench/tree.py`'s generator), writes them as
account shards (`write_shards`, timed apart: the snapshot job's cost), then builds the
same tree twice: the local engine (forked workers) and the sharded build on a LocalCluster
of `--workers` single-threaded worker processes started before the clock. Checks that the
roots and every store file are equal. Prints ONE line:

    accounts=... partitions=... shards=... local_s=... sharded_s=... shards_write_s=...
      client_bytes=... client_bytes_per_partition=... client_tasks=... gauge_s=...
      load_avg=...

client_bytes: pickled task arguments sent plus pickled results received by the client
(`ClientTraffic`); for comparison, the accounts alone are ~180 bytes each.

    .venv/bin/python bench/shards.py [--accounts 1000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tree import generate  # noqa: E402  (bench/tree.py)

from por.builder import build_tree, build_tree_from_shards  # noqa: E402
from por.builder.shards import write_shards  # noqa: E402

ASSETS = ("BTC", "ETH", "SOL", "USDC")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"bench-shards-filler-secret-32byt"


def gauge() -> float:  # float-ok: seconds
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def main() -> None:
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-accounts", type=int, default=1 << 18)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="por-bench-shards-"))
    try:
        batch = generate(args.accounts, len(ASSETS), 1)
        t0 = time.perf_counter()
        shards = write_shards(batch, tmp / "shards", args.shard_accounts)
        write_s = time.perf_counter() - t0
        host = gauge()
        t0 = time.perf_counter()
        local = build_tree(
            batch, ASSETS, SNAPSHOT, SECRET, engine="local", workers=args.workers,
            out_dir=tmp / "local",
        )  # fmt: skip
        local_s = time.perf_counter() - t0
        del batch
        with (
            distributed.LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True,
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            t0 = time.perf_counter()
            built = build_tree_from_shards(
                tmp / "shards", ASSETS, SNAPSHOT, SECRET, partitions=local.partitions,
                client=client, out_dir=tmp / "sharded",
            )  # fmt: skip
            sharded_s = time.perf_counter() - t0
        assert built.tree.root == local.root, "roots differ"
        assert same_files(tmp / "local", tmp / "sharded"), "store files differ"
        t = built.traffic
        print(
            f"accounts={args.accounts} workers={args.workers} partitions={t.partitions} "
            f"shards={len(shards.shards)} local_s={local_s:.2f} sharded_s={sharded_s:.2f} "
            f"shards_write_s={write_s:.2f} client_bytes={t.total} "
            f"client_bytes_per_partition={t.per_partition:.0f} client_tasks={t.tasks} "
            f"same_root_and_files=yes gauge_s={host:.3f} "
            f"load_avg={os.getloadavg()[0]:.1f} cpus={os.cpu_count()}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

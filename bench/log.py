"""Benchmark: the transparency log with 100,000 hourly entries.

Builds a log of ENTRIES entries (bulk), then times single appends (each its own
transaction, as the publisher does; `append_ms` includes the commit's fsync,
`append_before_commit_ms` is the log's own work inside the caller's transaction),
RFC 9162 consistency proofs from random older sizes to the current one, and their
verification; and checks that pymerkle 7's own `SqliteTree`
(default security) and the RFC's recursive MTH give the same root over the same entries.

Prints one line:
  entries=100000 backend=sqlite append_ms=... append_before_commit_ms=... prove_ms=...
  verify_ms=... append_prove_p95_ms=... build_s=... pymerkle_root_equal=1

Usage: .venv/bin/python bench/log.py [--entries N] [--db URL] [--rounds R]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymerkle import SqliteTree  # type: ignore[import-untyped]  # noqa: E402

from por._canonical import canonical_json  # noqa: E402
from por.log._rfc9162 import leaf_hash, mth_reference  # noqa: E402
from por.log.store import TransparencyLog, append  # noqa: E402

_EPOCH = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
_ASSETS = [
    {"symbol": "BTC", "decimals": 8},
    {"symbol": "ETH", "decimals": 18},
    {"symbol": "SOL", "decimals": 9},
    {"symbol": "USDC", "decimals": 6},
]


def hourly_entry(hour: int) -> bytes:
    """A realistic entry for hour `hour` after the epoch (distinct snapshot ids)."""
    sid = (_EPOCH + dt.timedelta(hours=hour)).strftime("%Y-%m-%dT%H:00:00Z")
    digest = leaf_hash(hour.to_bytes(8, "big")).hex()
    amount = str(10**20 + hour)
    root = {"hash": digest, "equity": [amount] * 4, "debt": ["0"] * 4}
    return canonical_json({"snapshot_id": sid, "assets": _ASSETS, "root": root})


@contextlib.contextmanager
def _database(url: str | None, tmp: str) -> Iterator[str]:
    """A temp SQLite file, or a fresh schema (dropped afterwards) in the PostgreSQL given."""
    if url is None or not url.startswith("postgresql"):
        yield url or f"sqlite:///{tmp}/log.db"
        return
    schema = f"bench_log_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument(
        "--db",
        default=None,
        help="database URL (default: a temp SQLite file; PostgreSQL: a temporary schema in it)",
    )
    args = parser.parse_args()
    n, rounds = args.entries, args.rounds
    entries = [hourly_entry(h) for h in range(n + rounds)]

    with tempfile.TemporaryDirectory() as tmp, _database(args.db, tmp) as url:
        log = TransparencyLog.open(url)
        t0 = time.perf_counter()
        built = log.extend(entries[:n])
        build_s = time.perf_counter() - t0

        # pymerkle's SqliteTree over the same entries, and the RFC's definition
        with SqliteTree(f"{tmp}/pymerkle.db") as tree:
            tree.append_entries(entries[:n])
            pm_root = tree.get_root()
        rfc_root = mth_reference([leaf_hash(e) for e in entries[:n]])
        equal = int(pm_root == rfc_root == built.root)

        rng = random.Random(9162)
        append_ms, work_ms, prove_ms, verify_ms = [], [], [], []
        old_roots = {}
        for r in range(rounds):
            t0 = time.perf_counter()
            with log.engine.connect() as conn:
                trans = conn.begin()
                after = append(conn, entries[n + r])
                work_ms.append((time.perf_counter() - t0) * 1000)
                trans.commit()
            append_ms.append((time.perf_counter() - t0) * 1000)
            first = rng.randrange(1, after.size)
            if first not in old_roots:
                old_roots[first] = log.state(first).root
            t0 = time.perf_counter()
            proof = log.prove_consistency(first, after.size)
            prove_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            proof.verify(old_roots[first], after.root)
            verify_ms.append((time.perf_counter() - t0) * 1000)
        backend = log.engine.dialect.name
        log.close()

    both = sorted(a + p for a, p in zip(append_ms, prove_ms, strict=True))
    print(
        f"entries={n} backend={backend} append_ms={statistics.median(append_ms):.2f} "
        f"append_before_commit_ms={statistics.median(work_ms):.2f} "
        f"prove_ms={statistics.median(prove_ms):.2f} verify_ms={statistics.median(verify_ms):.3f} "
        f"append_prove_p95_ms={both[int(0.95 * (rounds - 1))]:.2f} "
        f"build_s={build_s:.1f} pymerkle_root_equal={equal}"
    )
    if not equal:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Benchmark: the next hour's cut on PostgreSQL, read in full and incrementally.

Loads N accounts x 4 assets with bench/snapshot.py's `load_postgres` (one deposit per
account and asset, and the maintained claims) into a schema of a database of
its own (`bench_cut` on the test server, created if missing), outside the timing;
`--reuse` keeps the schema an earlier run loaded (`cut_<N>_<changed>`, its hour-2
activity included).

Hour 1 (16:00): a full `read_cut`, whose claims are kept (`write_cut_claims`) as the
previous snapshot's. Hour 2: `--changed` accounts (1 % by default) deposit once more,
written as the journal writer writes them (events and postings by COPY, their claims
summed from those postings in the same transaction, the head moved), and a clock at 17:00
closes the hour. Then the 17:00 cut is read in full and from the kept claims
(`read_cut(..., previous=...)`), alternately, `--rounds` times; both must give the same
leaves and answers. ONE line of key=value pairs:

    accounts=... changed=... full_cut_s=... incremental_cut_s=... gauge_s=... load_avg=...

full_cut_s, incremental_cut_s: the cut stage as `take_snapshot` times it (`timings["cut"]`,
best round): the ledger's queries, plus for the incremental cut reading and checking the
kept claims and merging; *_leaves_s: the leaves stage (claims -> columns, nonces);
changes_s: the ledger's `changes_since` alone (the database work of the incremental cut);
gauge_s: the host's speed (bench/snapshot.py's SHA-256 loop), load_avg: the 1-minute load.

    .venv/bin/python bench/cut.py [--accounts 1000000] [--changed 10000] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.snapshot import ASSETS, BOUNDARY_MS, EVENT_COLUMNS, gauge, load_postgres  # noqa: E402
from exchange.db import open_database, resolve_url  # noqa: E402
from exchange.export import SqlLedgerCut, SqlLedgerExport  # noqa: E402
from por.snapshot.run import CutData, read_cut, write_cut_claims  # noqa: E402

HOUR = 3_600_000
SECRET = b"\x07" * 32
_ADD_CLAIMS = (  # the journal writer's statement (exchange/store.py), for a batch's postings
    "INSERT INTO claims (account, asset, amount, held, first_seq) "
    "SELECT account, asset, sum(amount), "
    "coalesce(sum(amount) FILTER (WHERE bucket = 'locked_withdrawal'), 0), min(seq) "
    "FROM postings WHERE seq >= %s AND seq <= %s GROUP BY account, asset "
    "ON CONFLICT (account, asset) DO UPDATE SET "
    "amount = claims.amount + excluded.amount, held = claims.held + excluded.held "
    "WHERE excluded.amount <> 0 OR excluded.held <> 0"
)


def database_url(base: str, name: str) -> str:
    """`base` (a server's URL) naming the database `name`, created if missing."""
    url = sa.make_url(resolve_url(base))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if known.first() is None:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def scoped(url: str, schema: str) -> sa.Engine:
    named = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return open_database(named.render_as_string(hide_password=False), create=False)


def ledger(url: str, n: int, changed: int, reuse: bool, log: Any) -> sa.Engine:
    """The loaded ledger's engine: the existing schema with --reuse when complete (its
    head set), else a fresh load."""
    schema = f"cut_{n}_{changed}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'head'",
            (schema,),
        ).first()
        complete = exists is not None and bool(
            conn.exec_driver_sql(f'SELECT seq > 0 FROM "{schema}".head WHERE id = 1').scalar()
        )
        if not (reuse and complete):
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()
    if reuse and complete:
        log(f"reusing schema {schema}")
        return scoped(url, schema)
    started = time.perf_counter()
    _, engine = load_postgres(url, n, schema=schema, log=log)
    log(f"loaded {n:,} accounts in {time.perf_counter() - started:.0f} s")
    return engine


def trade_hour_two(engine: sa.Engine, n: int, changed: int) -> int:
    """`changed` accounts (spread evenly) deposit once in hour 2, then a clock at 17:00;
    nothing when the ledger is already there. Returns how many accounts changed."""
    with engine.connect() as conn:
        seq, ts = conn.exec_driver_sql("SELECT seq, ts FROM head WHERE id = 1").one()
    if int(ts) >= BOUNDARY_MS + HOUR:
        return changed  # (--reuse: an earlier run traded hour 2 already)
    step = max(1, n // changed)
    who = list(range(0, n, step))[:changed]
    events, postings = [], []
    first = int(seq) + 1
    for j, i in enumerate(who):
        seq_j = first + j
        symbol, decimals = ASSETS[j % len(ASSETS)]
        amount = (j % 997 + 1) * 10**decimals // 1000
        account = f"u{i:08d}"
        ts_j = BOUNDARY_MS + 1_000 + j * (HOUR - 2_000) // max(1, len(who))
        command = (
            f'{{"cmd":"deposit","account":"{account}","asset":"{symbol}",'
            f'"amount":"{amount}","tx":"h2-{seq_j}"}}'
        )
        events.append(f"{seq_j}\t{ts_j}\tcommand\tdeposit\taccepted\t\\N\t\\N\t{command}\t\\N\n")
        postings.append(f"{seq_j}\t0\t0\t{account}\t{symbol}\tavailable\t{amount}\n")
        postings.append(f"{seq_j}\t1\t0\t@custody\t{symbol}\tonchain\t-{amount}\n")
    close = first + len(who)
    events.append(
        f"{close}\t{BOUNDARY_MS + HOUR}\tcommand\tclock\taccepted\t\\N\t\\N\t"
        '{"cmd":"clock","time":"2026-11-24T17:00:00Z"}\t\\N\n'
    )
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as cp:
            cp.write("".join(events))
        with cur.copy(
            "COPY postings (seq, idx, entry, account, asset, bucket, amount) FROM STDIN"
        ) as cp:
            cp.write("".join(postings))
        cur.execute(_ADD_CLAIMS, (first, close))
        cur.execute(
            "UPDATE head SET seq = %s, ts = %s, claims_seq = %s WHERE id = 1",
            (close, BOUNDARY_MS + HOUR, close),
        )
        raw.commit()
    finally:
        raw.close()
    return len(who)


class TimedSource:
    """The export, with the time spent in each cut's `changes_since` recorded."""

    def __init__(self, export: SqlLedgerExport) -> None:
        self.export = export
        self.changes_s = 0.0

    def cut(self, boundary_ms: int) -> Any:
        outer = self

        class _Cut:
            def __init__(self) -> None:
                self._inner = outer.export.cut(boundary_ms)

            def __enter__(self) -> SqlLedgerCut:
                cut = self._inner.__enter__()
                real = cut.changes_since

                def timed(seq: int, watch: Any = ()) -> Any:
                    begin = time.perf_counter()
                    try:
                        return real(seq, watch)
                    finally:
                        outer.changes_s = time.perf_counter() - begin

                cut.changes_since = timed  # type: ignore[method-assign]
                return cut

            def __exit__(self, *exc: Any) -> Any:
                return self._inner.__exit__(*exc)

        return _Cut()


def same(a: CutData, b: CutData) -> None:
    """The two cuts give the same leaves and answers (rows compared by account)."""
    for name in ("seq", "assets", "totals", "system", "custody", "in_flight", "prices", "book"):
        assert getattr(a, name) == getattr(b, name), f"{name} differs"
    la, lb = a.leaves, b.leaves
    assert (la.count, la.equity_totals, la.debt_totals, la.borrowers) == (
        lb.count,
        lb.equity_totals,
        lb.debt_totals,
        lb.borrowers,
    )

    def rows(c: CutData) -> dict[str, bytes]:
        batch = c.leaves.batch
        return {
            batch.account_id(i): batch.nonce(i) + batch.amounts[i].tobytes()
            for i in range(batch.count)
        }

    assert rows(a) == rows(b), "the leaves differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=0, help="accounts that trade (1%%)")
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "POR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="the PostgreSQL server (its database `bench_cut` is used)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's ledger")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n = args.accounts
    changed = args.changed or max(1, n // 100)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    url = database_url(args.db, "bench_cut")
    engine = ledger(url, n, changed, args.reuse, log)
    work = Path(tempfile.mkdtemp(prefix="por-bench-cut-"))
    try:
        export = SqlLedgerExport(engine)
        hour1 = read_cut(export, BOUNDARY_MS, "2026-11-24T16:00:00Z", SECRET)
        write_cut_claims(hour1, work / "16")
        del hour1
        changed = trade_hour_two(engine, n, changed)
        host = gauge()
        sid = "2026-11-24T17:00:00Z"
        best = {"full": float("inf"), "incremental": float("inf")}
        leaves = {"full": 0.0, "incremental": 0.0}
        changes_s = float("inf")
        results: dict[str, CutData] = {}
        for _ in range(args.rounds):
            for path in ("full", "incremental"):
                timings: dict[str, float] = {}
                source = TimedSource(export)
                previous = work / "16" if path == "incremental" else None
                cut = read_cut(source, BOUNDARY_MS + HOUR, sid, SECRET, timings, previous=previous)
                assert cut.basis.path == path, cut.basis
                if timings["cut"] < best[path]:
                    best[path], leaves[path] = timings["cut"], timings["leaves"]
                if path == "incremental":
                    changes_s = min(changes_s, source.changes_s)
                    assert cut.basis.changed == changed, cut.basis
                results[path] = cut
            same(results["full"], results["incremental"])
            results.clear()
        host = min(host, gauge())
        engine.dispose()
        print(
            f"db=postgresql accounts={n} assets={len(ASSETS)} changed={changed} "
            f"full_cut_s={best['full']:.2f} incremental_cut_s={best['incremental']:.2f} "
            f"full_leaves_s={leaves['full']:.2f} incremental_leaves_s={leaves['incremental']:.2f} "
            f"changes_s={changes_s:.2f} rounds={args.rounds} gauge_s={host:.3f} "
            f"cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

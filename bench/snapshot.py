"""Benchmark: a whole snapshot from the SQL journal -- cut, leaves, tree, proof store.

Loads N accounts x 4 assets (one deposit per account and asset: N*4 events, N*8 postings)
into a fresh PostgreSQL schema with COPY (or a SQLite file), outside the timing, then takes
the snapshot with `por.snapshot.take_snapshot` exactly as `por snapshot` does (no
reserves) and prints ONE line of key=value pairs:

    db=... accounts=... cut_s=... leaves_s=... tree_s=... store_s=... total_s=... load_s=...

cut_s: the ledger's queries (cut search, claims streamed, totals, system, in-flight);
leaves_s: claims -> leaf columns with HMAC nonces; tree_s: the fast builder (levels on
disk); store_s: the totals check, the proof store's private index, a self-check of served
proofs; total_s: the whole take_snapshot (with publishing the leaf list -- publish_s --,
the reconciliation, fsync and rename). load_avg: the machine's 1-minute load average
(other processes share the CPUs). CPU time, so a loaded machine can be told apart from slow
code: cpu_s is this process and its children (user + system), pg_cpu_s the PostgreSQL
server processes' CPU during the snapshot (every postgres process on this machine, from
/proc; includes other clients' queries if any run meanwhile; absent when the server is not
local). gauge_s: a fixed hashlib loop (2^20 SHA-256 of 64 bytes) timed in the same run, the
host's speed beside every figure. Target: 1M accounts on PostgreSQL in <= 60 s.

The loader fills the maintained claims too (COPY, as the journal writer would have left
them), so the cut reads them (`exchange.claims`); `--from-journal` takes the snapshot with
the full recomputation over every posting instead (the path before issue 19).

`--cut-only R` times the cut alone (every query of it, the claims streamed; no leaves,
no tree), R rounds alternating the two paths on the same database, and prints

    db=... accounts=... cut_journal_s=... cut_claims_s=... (the best round of each) ...

    .venv/bin/python bench/snapshot.py [--accounts 1000000] [--db postgresql://...|sqlite]
    .venv/bin/python bench/snapshot.py --cut-only 3
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from exchange.db import open_database, resolve_url  # noqa: E402
from exchange.export import SqlLedgerCut, SqlLedgerExport  # noqa: E402
from por.snapshot import take_snapshot  # noqa: E402

AT = "2026-11-24T16:00:00Z"
BOUNDARY_MS = 1_795_536_000_000
START_MS = BOUNDARY_MS - 3_600_000
ASSETS = (("BTC", 8), ("ETH", 18), ("SOL", 9), ("USDC", 6))
CHUNK = 200_000  # accounts per generated chunk


def _amount(i: int, k: int) -> int:
    base = (i * 2_654_435_761 + k * 40_503) % 1_000_000_007 + 1
    return base * (10 ** (ASSETS[k][1] - 6) if ASSETS[k][1] > 6 else 1)


def _rows(n: int) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """(events, postings) in chunks: asset events, a clock, the deposits, a closing clock."""
    events: list[tuple[object, ...]] = []
    postings: list[tuple[object, ...]] = []
    seq = 0
    for symbol, decimals in ASSETS:
        seq += 1
        command = f'{{"cmd":"asset","symbol":"{symbol}","decimals":{decimals}}}'
        events.append((seq, None, "command", "asset", "accepted", None, None, command, None))
    seq += 1
    events.append(
        (
            seq,
            START_MS,
            "command",
            "clock",
            "accepted",
            None,
            None,
            '{"cmd":"clock","time":"2026-11-24T15:00:00Z"}',
            None,
        )
    )
    for start in range(0, n, CHUNK):
        for i in range(start, min(n, start + CHUNK)):
            account = f"u{i:08d}"
            for k, (symbol, _) in enumerate(ASSETS):
                seq += 1
                amount = _amount(i, k)
                command = (
                    f'{{"cmd":"deposit","account":"{account}","asset":"{symbol}",'
                    f'"amount":"{amount}","tx":"t{seq}"}}'
                )
                ts = START_MS + seq // 2_000
                events.append(
                    (seq, ts, "command", "deposit", "accepted", None, None, command, None)
                )
                postings.append((seq, 0, 0, account, symbol, "available", amount))
                postings.append((seq, 1, 0, "@custody", symbol, "onchain", -amount))
        yield events, postings
        events, postings = [], []
    seq += 1
    events.append(
        (
            seq,
            BOUNDARY_MS,
            "command",
            "clock",
            "accepted",
            None,
            None,
            '{"cmd":"clock","time":"2026-11-24T16:00:00Z"}',
            None,
        )
    )
    yield events, postings


def _claims(postings: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """The `claims` rows of a chunk's customer postings (one per account and asset)."""
    return [(p[3], p[4], p[6], 0, p[0]) for p in postings if p[3] != "@custody"]


def _custody_claims(n: int) -> list[tuple[object, ...]]:
    """@custody's rows: minus every deposit of the asset, first posted with seq 6+k."""
    return [
        ("@custody", symbol, -sum(_amount(i, k) for i in range(n)), 0, len(ASSETS) + 2 + k)
        for k, (symbol, _) in enumerate(ASSETS)
    ]


def _text(rows: Sequence[tuple[object, ...]]) -> str:
    return "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)


def _deposit_texts(start: int, stop: int) -> tuple[str, str, str, str]:
    """COPY text of the deposits of accounts [start, stop): events, postings, claims and
    balances rows -- `_rows`' deposits (and `_claims`), written as text directly (10M
    accounts are 40M events; tuples then `_text` take twice as long)."""
    events: list[str] = []
    postings: list[str] = []
    claims: list[str] = []
    balances: list[str] = []
    first = len(ASSETS) + 2  # after the asset events and the opening clock
    symbols = [symbol for symbol, _ in ASSETS]
    zeros = ["0" * (decimals - 6) if decimals > 6 else "" for _, decimals in ASSETS]
    for i in range(start, stop):  # (`_amount` as text: the digits, then the zeros)
        account = f"u{i:08d}"
        base = first + len(ASSETS) * i
        mixed = i * 2_654_435_761
        for k, symbol in enumerate(symbols):
            seq = base + k
            amount = f"{(mixed + k * 40_503) % 1_000_000_007 + 1}{zeros[k]}"
            events.append(
                f"{seq}\t{START_MS + seq // 2_000}\tcommand\tdeposit\taccepted\t\\N\t\\N\t"
                f'{{"cmd":"deposit","account":"{account}","asset":"{symbol}",'
                f'"amount":"{amount}","tx":"t{seq}"}}\t\\N\n'
            )
            postings.append(
                f"{seq}\t0\t0\t{account}\t{symbol}\tavailable\t{amount}\n"
                f"{seq}\t1\t0\t@custody\t{symbol}\tonchain\t-{amount}\n"
            )
            claims.append(f"{account}\t{symbol}\t{amount}\t0\t{seq}\n")
            balances.append(f"{account}\t{symbol}\tavailable\t{amount}\n")
    return "".join(events), "".join(postings), "".join(claims), "".join(balances)


def _deposit_chunk(bounds: tuple[int, int]) -> tuple[str, str, str, str]:
    return _deposit_texts(*bounds)


def _copy(cur: Any, table: str, columns: str, text: str) -> None:
    if text:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
            cp.write(text)


EVENT_COLUMNS = "seq, ts, kind, cmd, status, reason, detail, command, data"


def load_postgres(
    url: str,
    n: int,
    *,
    schema: str | None = None,
    balances: bool = False,
    log: Callable[[str], None] | None = None,
) -> tuple[str, sa.Engine]:
    """The ledger of `n` accounts in a new schema (`schema`, or a random name) of `url`'s
    database, with COPY in chunks of `CHUNK` accounts, in one transaction: `_rows`'
    journal and the maintained claims; with `balances` the `balances` table too (what the
    journal writer would have left: `por exchange check` passes). The chunks' text is
    made in a forked process while the previous chunk is copied (2 cores: Python and the
    server overlap); memory stays a few chunks, whatever `n`. `log` gets a line per
    million accounts."""
    schema = schema or f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(resolve_url(url))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    scoped = sa.make_url(resolve_url(url)).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = open_database(scoped.render_as_string(hide_password=False), create=True)
    header, _ = next(_rows(0))  # n = 0: the assets, the opening and the closing clock
    bounds = [(start, min(n, start + CHUNK)) for start in range(0, n, CHUNK)]
    raw = engine.raw_connection()
    started = time.perf_counter()
    try:
        cur = raw.cursor()
        _copy(cur, "events", EVENT_COLUMNS, _text(header[:-1]))
        with multiprocessing.get_context("fork").Pool(1) as pool:
            ahead = [pool.apply_async(_deposit_chunk, (b,)) for b in bounds[:2]]
            for done, (start, stop) in enumerate(bounds):
                events, postings, claims, rows = ahead.pop(0).get()
                if done + 2 < len(bounds):  # at most two chunks made ahead of the copy
                    ahead.append(pool.apply_async(_deposit_chunk, (bounds[done + 2],)))
                _copy(cur, "events", EVENT_COLUMNS, events)
                _copy(cur, "postings", "seq, idx, entry, account, asset, bucket, amount", postings)
                _copy(cur, "claims", "account, asset, amount, held, first_seq", claims)
                if balances:
                    _copy(cur, "balances", "account, asset, bucket, amount", rows)
                del events, postings, claims, rows
                if log is not None and stop // 1_000_000 > start // 1_000_000:
                    log(f"{stop:,} accounts copied, {time.perf_counter() - started:.0f} s")
        last_seq, last_ts = len(ASSETS) + 2 + len(ASSETS) * n, BOUNDARY_MS
        _copy(cur, "events", EVENT_COLUMNS, _text([(last_seq, *header[-1][1:])]))
        custody = _custody_claims(n)
        _copy(cur, "claims", "account, asset, amount, held, first_seq", _text(custody))
        if balances:
            held = [("@custody", symbol, "onchain", amount) for _, symbol, amount, _, _ in custody]
            _copy(cur, "balances", "account, asset, bucket, amount", _text(held))
        cur.executemany("INSERT INTO assets (symbol, decimals) VALUES (%s, %s)", list(ASSETS))
        cur.execute(
            "UPDATE head SET seq = %s, ts = %s, claims_seq = %s WHERE id = 1",
            (last_seq, last_ts, last_seq),
        )
        raw.commit()
        for table in ("events", "postings", "claims", *(("balances",) if balances else ())):
            cur.execute(f"ANALYZE {table}")
        raw.commit()
    finally:
        raw.close()
    return schema, engine


def load_sqlite(path: Path, n: int) -> sa.Engine:
    url = f"sqlite:///{path}"
    engine = open_database(url, create=True)
    engine.dispose()
    conn = sqlite3.connect(path)
    last_seq, last_ts = 0, None
    for events, postings in _rows(n):
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", events)
        conn.executemany(
            "INSERT INTO postings VALUES (?,?,?,?,?,?,?)",
            [(*p[:6], str(p[6])) for p in postings],
        )
        conn.executemany(
            "INSERT INTO claims VALUES (?,?,?,?,?)",
            [(a, s, str(v), "0", q) for a, s, v, _, q in _claims(postings)],
        )
        if events:
            last_seq, last_ts = events[-1][0], events[-1][1]
    conn.executemany(
        "INSERT INTO claims VALUES (?,?,?,?,?)",
        [(a, s, str(v), "0", q) for a, s, v, _, q in _custody_claims(n)],
    )
    conn.executemany("INSERT INTO assets VALUES (?, ?)", ASSETS)
    conn.execute(
        "UPDATE head SET seq = ?, ts = ?, claims_seq = ? WHERE id = 1",
        (last_seq, last_ts, last_seq),
    )
    conn.commit()
    conn.close()
    return open_database(url, create=False)


def gauge() -> float:
    """The host's speed: 2^20 SHA-256 of 64 bytes (as bench/pieces.py)."""
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def read_whole_cut(cut: SqlLedgerCut) -> tuple[int, object]:
    """Every answer of the cut (what `por.snapshot.run.read_cut` asks, leaves aside):
    the number of accounts and a digest-free summary to compare the two paths."""
    accounts = sum(1 for _ in cut.claims())
    summary = (
        cut.customer_totals(),
        cut.system_balances(),
        cut.custody(),
        cut.in_flight(),
        cut.index_prices(),
        cut.borrower_collateral(),
        cut.borrower_shortfall(),
    )
    return accounts, summary


def cut_only(engine: sa.Engine, rounds: int) -> tuple[float, float]:
    """(best journal cut, best claims cut) over `rounds` alternating rounds; the answers
    of both paths must agree."""
    best = {True: float("inf"), False: float("inf")}
    seen: dict[bool, tuple[int, object]] = {}
    for _ in range(rounds):
        for from_journal in (True, False):
            start = time.perf_counter()
            with SqlLedgerExport(engine, from_journal=from_journal).cut(BOUNDARY_MS) as cut:
                assert cut.maintained is not from_journal
                seen[from_journal] = read_whole_cut(cut)
            best[from_journal] = min(best[from_journal], time.perf_counter() - start)
    assert seen[True] == seen[False], "the two paths disagree"
    return best[True], best[False]


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _postgres_cpu_s() -> float | None:
    """Summed user+system CPU of the local postgres processes (None if none visible)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, seen = 0, False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name != "postgres":
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        seen = True
    return total / tick if seen else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "POR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL URL (a fresh schema is created and dropped), or 'sqlite'",
    )
    parser.add_argument("--engine", default="local", choices=["serial", "local", "dask"])
    parser.add_argument(
        "--from-journal", action="store_true", help="cut by the full recomputation (before)"
    )
    parser.add_argument("--cut-only", type=int, default=0, metavar="R", help="time the cut only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="por-bench-snapshot-"))
    schema = None
    try:
        t0 = time.perf_counter()
        if args.db == "sqlite":
            engine = load_sqlite(work / "ledger.db", args.accounts)
            db = "sqlite"
        else:
            schema, engine = load_postgres(args.db, args.accounts)
            db = "postgresql"
        load_s = time.perf_counter() - t0
        if args.cut_only:
            host = gauge()
            journal_s, claims_s = cut_only(engine, args.cut_only)
            host = min(host, gauge())
            engine.dispose()
            print(
                f"db={db} accounts={args.accounts} assets={len(ASSETS)} "
                f"cut_journal_s={journal_s:.2f} cut_claims_s={claims_s:.2f} "
                f"rounds={args.cut_only} gauge_s={host:.3f} load_s={load_s:.1f} "
                f"cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}"
            )
            return
        host = gauge()
        t0 = time.perf_counter()
        cpu0, pg0 = _cpu_s(), _postgres_cpu_s()
        result = take_snapshot(
            SqlLedgerExport(engine, from_journal=args.from_journal),
            AT,
            work / "out",
            secret=b"\x07" * 32,
            engine=args.engine,
        )
        total_s = time.perf_counter() - t0
        cpu_s, pg1 = _cpu_s() - cpu0, _postgres_cpu_s()
        pg_cpu = (
            "" if pg0 is None or pg1 is None or db != "postgresql" else f" pg_cpu_s={pg1 - pg0:.2f}"
        )
        engine.dispose()
        assert result.accounts == args.accounts, (result.accounts, args.accounts)
        t = result.timings
        store_s = t.get("check", 0.0) + t.get("store", 0.0)
        print(
            f"db={db} accounts={result.accounts} assets={len(ASSETS)} cut_s={t['cut']:.2f} "
            f"leaves_s={t['leaves']:.2f} tree_s={t['tree']:.2f} store_s={store_s:.2f} "
            f"total_s={total_s:.2f} publish_s={t.get('publish', 0.0):.2f} "
            f"cpu_s={cpu_s:.2f}{pg_cpu} "
            f"load_s={load_s:.1f} cut_from={'journal' if args.from_journal else 'claims'} "
            f"gauge_s={host:.3f} cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if schema is not None:
            admin = sa.create_engine(resolve_url(args.db))
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


if __name__ == "__main__":
    main()

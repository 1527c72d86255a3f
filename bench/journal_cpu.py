#!/usr/bin/env python3
"""What persisting the ledger costs in CPU: bench/ledger.py's workload, applied in memory,
then written to SQLite and to PostgreSQL with group commit. Prints one line:

    mem_cpu_s=... sqlite_cpu_s=... pg_client_cpu_s=... pg_server_cpu_s=... gauge_s=... load_avg=...

CPU seconds, not rates: this machine is shared, and a wall-clock rate mostly measures the
other jobs. `sqlite_cpu_s` is this process (SQLite runs in it); `pg_client_cpu_s` this
process while writing to PostgreSQL, `pg_server_cpu_s` the local postgres processes meanwhile
(every one: other clients' queries count too). `mem_cpu_s` is the same commands with no
journal, the part no storage change touches: compare `sqlite_cpu_s - mem_cpu_s` across
versions. gauge_s: 2^20 SHA-256 of 64 bytes, the host's speed. To compare two versions,
run each from its own checkout, alternately (e.g. `git archive REV exchange bench | tar -x`).

    .venv/bin/python bench/journal_cpu.py [--cmds 100000] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from ledger import CORE, workload  # noqa: E402
from snapshot import _postgres_cpu_s, gauge  # noqa: E402

from exchange.commandlog import run_lines  # noqa: E402
from exchange.engine import Exchange  # noqa: E402
from exchange.ledger import open_ledger  # noqa: E402


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def in_memory(lines: list[bytes], batch: int) -> float:
    exchange = Exchange(CORE)
    start = _cpu()
    run_lines(exchange, lines, "bench", batch)
    return _cpu() - start


def persisted(url: str, lines: list[bytes], batch: int) -> tuple[float, float]:
    """(this process's CPU, the postgres processes' CPU) while writing `lines`."""
    ledger = open_ledger(url, create=True, registry=CORE)
    exchange = ledger.load()
    start, server = _cpu(), _postgres_cpu_s() or 0.0
    run_lines(exchange, lines, "bench", batch)
    used, server = _cpu() - start, (_postgres_cpu_s() or 0.0) - server
    ledger.engine.dispose()
    return used, server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cmds", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "POR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    lines = workload(args.cmds, args.accounts, 1)
    mem = in_memory(lines, args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        lite, _ = persisted(f"sqlite:///{tmp}/bench.db", lines, args.batch)
    base = args.db.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        client, server = persisted(url.render_as_string(hide_password=False), lines, args.batch)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    print(
        f"mem_cpu_s={mem:.2f} sqlite_cpu_s={lite:.2f} pg_client_cpu_s={client:.2f} "
        f"pg_server_cpu_s={server:.2f} cmds={len(lines)} batch={args.batch} "
        f"gauge_s={gauge():.3f} load_avg={os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: one published hour end to end at N accounts, then the next hour after 1% of
the accounts moved, as `por publish` runs them.

Outside the timing: a PostgreSQL ledger of N accounts x 4 assets loaded with COPY
(`bench/snapshot.py`'s journal: asset events, a clock, one deposit per account and asset,
a clock at the 16:00 boundary; plus the `balances` table, so `por exchange check` passes
on it -- `--check` runs it), maintained claims rebuilt through `exchange.claims` when the
ledger has them; custody wallets on Anvil and LiteSVM holding exactly the ledger's custody
(`por.chain.reserve_world`), blocks mined around each boundary. Between the hours, 1% of
the accounts deposit once more through the exchange's own command path (`run_lines`), so
whatever the ledger maintains as it posts is maintained.

Timed: `Publisher.publish_hour` (the library call `por publish` makes) for 16:00, then
17:00. Stages come from the snapshot's own timings (`summary.json`: cut, reserves, pieces,
tree, check, store, leaf list) and the publisher's events (bundle + log + manifest up to
`logged`, the rename, the anchor transaction, the site). One line per hour:

    hour=1 accounts=... leaves=... cut_s=... reserves_s=... pieces_s=... tree_s=...
      check_s=... store_s=... leaflist_s=... snapshot_s=... bundle_log_s=... place_s=...
      anchor_s=... site_s=... total_s=... peak_rss_mb=... peak_child_rss_mb=...
      gauge_s=... load_avg=...

peak_rss_mb is this process's peak so far (ru_maxrss: the second hour's figure includes
the first's), peak_child_rss_mb that of waited-for children (the builder's workers).
gauge_s: a fixed hashlib loop (2^20 SHA-256 of 64 bytes) timed before each hour: the host's
speed at that moment.

    .venv/bin/python bench/hour.py --accounts 100000 [--db postgresql://...] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from snapshot import ASSETS, load_postgres  # noqa: E402  (bench/snapshot.py)

from exchange.commandlog import run_lines  # noqa: E402
from exchange.db import resolve_url  # noqa: E402
from exchange.export import SqlLedgerExport  # noqa: E402
from exchange.ledger import open_ledger  # noqa: E402
from por.chain.anvil import Anvil  # noqa: E402
from por.chain.ethereum_world import _rpc, connect  # noqa: E402
from por.chain.reserve_world import build_reserve_world  # noqa: E402
from por.chain.solana_world import set_clock  # noqa: E402
from por.operator.signing import generate  # noqa: E402
from por.publish import AnchorConfig, Publisher, PublisherConfig, open_publication_db  # noqa: E402
from por.snapshot import ReserveSetup  # noqa: E402

HOUR1 = datetime(2026, 11, 24, 16, tzinfo=UTC)
CHAINS = {"BTC": "ethereum", "ETH": "ethereum", "SOL": "solana", "USDC": "ethereum"}
POR = str(Path(sys.executable).with_name("por"))


def gauge() -> float:  # float-ok: seconds
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def fill_balances(engine: sa.Engine) -> None:
    """The balances table from the postings (bench/snapshot.py's COPY leaves it empty)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO balances (account, asset, bucket, amount) "
            "SELECT account, asset, bucket, SUM(amount) FROM postings "
            "GROUP BY account, asset, bucket"
        )
        conn.exec_driver_sql("ANALYZE balances")


def rebuild_claims(engine: sa.Engine) -> str:
    """Maintained claims (the incremental cut, if this ledger has it) from the journal."""
    try:
        from exchange.claims import rebuild_claims as rebuild  # type: ignore[import-not-found]
    except ImportError:
        return "none"
    if not sa.inspect(engine).has_table("claims"):
        return "none"
    with engine.begin() as conn:
        rebuild(conn)
    return "rebuilt"


def custody(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT asset, SUM(amount) FROM balances WHERE account = '@custody' GROUP BY asset"
        ).all()
    return {str(a): -int(v) for a, v in rows}


MINTED: dict[str, int] = {}  # ERC-20 units minted so far (minting only adds)


def fund(world: Any, anvil_url: str, held: dict[str, int], boundary: datetime) -> None:
    """Custody wallets hold exactly the ledger's custody; blocks around the boundary."""
    from por.chain.ethereum_world import mint_tokens, set_eth_balances
    from por.chain.reserve_world import split
    from por.chain.solana_world import fund_sol, fund_usdc

    w3 = connect(anvil_url)
    eth = [w.address for w in world.registry.on("ethereum")]
    sol = [w.address for w in world.registry.on("solana")]
    set_eth_balances(w3, dict(zip(eth, split(held["ETH"], len(eth)), strict=True)))
    for symbol, token in (("BTC", world.ethereum.wbtc), ("USDC", world.ethereum.usdc)):
        more = held[symbol] - MINTED.get(symbol, 0)
        if more > 0:
            mint_tokens(w3, token, {eth[0]: more}, world.ethereum.deployer)
        MINTED[symbol] = held[symbol]
    fund_sol(world.solana.svm, dict(zip(sol, split(held["SOL"], len(sol)), strict=True)))
    fund_usdc(world.solana, dict(zip(sol, split(0, len(sol)), strict=True)))
    _rpc(w3, "evm_mine", [int(boundary.timestamp()) - 30])
    _rpc(w3, "evm_mine", [int(boundary.timestamp()) + 12])
    _rpc(w3, "anvil_mine", ["0x2"])
    ts = int(boundary.timestamp()) + 5
    set_clock(world.solana.svm, 1_000 + ts // 60, ts)


def trade(url: str, n: int, boundary: datetime) -> float:  # float-ok: seconds
    """1% of the accounts deposit once more before `boundary`, through the command path."""
    start = time.perf_counter()
    ledger = open_ledger(url, create=False)
    try:
        exchange = ledger.load()
        lines = [json.dumps({"cmd": "clock", "time": _iso(boundary - timedelta(minutes=30))})]
        for j, i in enumerate(range(0, n, 100)):
            symbol = ASSETS[j % len(ASSETS)][0]
            lines.append(
                json.dumps(
                    {"cmd": "deposit", "account": f"u{i:08d}", "asset": symbol,
                     "amount": str(1000 + j), "tx": f"h2-{j}"}
                )
            )  # fmt: skip
        lines.append(json.dumps({"cmd": "clock", "time": _iso(boundary)}))
        summary = run_lines(exchange, [line.encode() for line in lines], "bench", batch=1000)
        assert summary.rejected == 0, summary
    finally:
        ledger.engine.dispose()
    return time.perf_counter() - start


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_hour(publisher: Publisher, at: datetime, events: list[tuple[str, float]]) -> dict[str, Any]:
    events.clear()
    start = time.perf_counter()
    outcome = publisher.publish_hour(at)
    total = time.perf_counter() - start
    assert outcome.status == "published" and outcome.anchor_tx, outcome
    when = {name: t - start for name, t in events}
    name = at.strftime("%Y-%m-%dT%H-%M-%SZ")
    work = publisher.config.work
    summaries = [p for p in work.glob(f"*{name}*/private/summary.json")]
    timings = json.loads(summaries[0].read_text())["timings_s"] if summaries else {}
    snap = when["snapshot_ready"]
    facts = [p for p in work.glob(f"*{name}*/public/snapshot.json")]
    status = json.loads(facts[0].read_text())["status"] if facts else "?"
    stages = {
        "cut_s": timings.get("cut", 0.0),
        "reserves_s": timings.get("reserves", 0.0),
        "pieces_s": timings.get("pieces", 0.0),
        "tree_s": timings.get("tree", 0.0),
        "check_s": timings.get("check", 0.0),
        "store_s": timings.get("store", 0.0),
        "leaflist_s": timings.get("publish", 0.0),
        "write_s": timings.get("write", 0.0),
        "snapshot_s": snap,
        "bundle_log_s": when["logged"] - snap,
        "place_s": when["bundle_placed"] - when["logged"],
        "anchor_s": when["anchored"] - when["bundle_placed"],
        "site_s": when["published"] - when["anchored"],
        "total_s": total,
    }
    return {**stages, "status": status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "POR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--engine", default="local", choices=["serial", "local", "dask"])
    parser.add_argument("--check", action="store_true", help="run `por exchange check` first")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="por-bench-hour-"))
    schema = None
    try:
        t0 = time.perf_counter()
        schema, engine = load_postgres(args.db, args.accounts)
        fill_balances(engine)
        claims = rebuild_claims(engine)
        load_s = time.perf_counter() - t0
        url = engine.url.render_as_string(hide_password=False)
        if args.check:
            done = subprocess.run(
                [POR, "exchange", "check", "--db", url], capture_output=True, text=True
            )
            print(
                f"# por exchange check: exit {done.returncode}: "
                f"{(done.stdout + done.stderr).strip().splitlines()[-1:]}",
                file=sys.stderr,
            )
            if done.returncode != 0:
                raise SystemExit(1)
        events: list[tuple[str, float]] = []
        with Anvil(timestamp=int(HOUR1.timestamp()) - 3 * 3600) as node:
            world = build_reserve_world(
                node.url, tmp / "reserve", exchange="Bench Exchange", holdings={},
                solana_time=int(HOUR1.timestamp()) - 7200,
            )  # fmt: skip
            config = PublisherConfig(
                out=tmp / "pub", key=generate(), secret=bytes(range(32)), site=tmp / "site",
                reserves=ReserveSetup(world.registry, world.readers(), world.keystore),
                anchor=AnchorConfig(node.url, world.ethereum.anchor), engine=args.engine,
            )  # fmt: skip
            publisher = Publisher(
                open_publication_db(f"sqlite:///{tmp / 'log.db'}"),
                SqlLedgerExport(engine),
                config,
                emit=lambda event, **fields: events.append((event, time.perf_counter())),
            )
            lines = []
            for hour, at in ((1, HOUR1), (2, HOUR1 + timedelta(hours=1))):
                trade_s = 0.0
                if hour == 2:
                    trade_s = trade(url, args.accounts, at)
                    rebuild = "" if claims == "none" else " claims=maintained"
                else:
                    rebuild = "" if claims == "none" else " claims=rebuilt_at_load"
                fund(world, node.url, custody(engine), at)
                host = gauge()
                with publisher.lock():
                    publisher.recover()
                    stages = run_hour(publisher, at, events)
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
                child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
                line = (
                    f"hour={hour} accounts={args.accounts} engine={args.engine} "
                    + " ".join(
                        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in stages.items()
                    )
                    + f" peak_rss_mb={rss} peak_child_rss_mb={child} gauge_s={host:.3f}"
                    + f" load_avg={os.getloadavg()[0]:.1f} cpus={os.cpu_count()}"
                    + (f" load_s={load_s:.1f}" if hour == 1 else f" trade_s={trade_s:.1f}")
                    + rebuild
                )
                print(line, flush=True)
                lines.append(line)
        engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if schema is not None:
            admin = sa.create_engine(resolve_url(args.db))
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


if __name__ == "__main__":
    main()

"""Benchmark: one published hour end to end at N accounts, then the next hour after 1% of
the accounts moved, as `por publish` runs them.

Outside the timing: a PostgreSQL ledger of N accounts x 4 assets loaded with COPY in
chunks (`bench/snapshot.py`'s journal: asset events, a clock, one deposit per account and
asset, a clock at the 16:00 boundary; with its maintained claims and its `balances`
table, so `por exchange check` passes on it -- `--check` runs it before the first hour
and after the trade); custody wallets on Anvil and LiteSVM holding exactly the ledger's
custody (`por.chain.reserve_world`), blocks mined around each boundary. Between the hours,
1% of the accounts deposit once more through the exchange's own command path
(`run_lines`, in a process of its own: `trade_s`, `trade_rss_mb`), so whatever the ledger
maintains as it posts (balances, claims, head) is maintained.

The trade does not rebuild the whole exchange (`ledger.load()` replays every event: 40M
at 10M accounts, more memory than the machine has): it starts from the stored head, the
asset events replayed through the registry's hooks (the modules' state they make) and the
stored balances of the accounts it touches and of the system accounts -- everything a
deposit reads, on this journal (assets, clocks and deposits only; its transaction ids are
new). `--trade full` takes `ledger.load()` instead (to compare, at small N).

Timed: `Publisher.publish_hour` (the library call `por publish` makes), each hour in a
process forked for it (so its peak RSS is the hour's own, and the load and the other hour
are not in it). Stages come from the snapshot's own timings (`summary.json`: cut, leaves,
reserves, pieces, tree, check, store, leaf list, write) and the publisher's events
(bundle + log + manifest up to `logged`, the rename, the anchor transaction, the site);
`cut` says how the cut was read (the next hour: from the last hour's kept claims and the
accounts changed since, unless it fell back to the full read: `cut_fallback`). One line
per hour:

    hour=1 accounts=... pieces=... leaves=... cut=full|incremental changed=... cut_s=...
      leaves_s=... reserves_s=... pieces_s=... tree_s=... check_s=... store_s=...
      leaflist_s=... write_s=...
      snapshot_s=... bundle_log_s=... place_s=... anchor_s=... site_s=... total_s=...
      status=... peak_rss_mb=... peak_child_rss_mb=... base_rss_mb=... gauge_s=...
      load_avg=... (hour 1: load_s=...; hour 2: trade_s=... trade_rss_mb=...)

peak_rss_mb: the hour's process (ru_maxrss of the forked child; base_rss_mb is what the
bench process held when it forked); peak_child_rss_mb: the largest of that hour's own
workers (the builder's, the leaf list's). gauge_s: a fixed hashlib loop (2^20 SHA-256 of
64 bytes) timed before each hour: the host's speed at that moment. `--pieces` is `por
publish --pieces` (default: the project's default policy; `none`: one leaf per account).

The hours are the ledger's: hour 1 is its head (16:00 after a load; a reused ledger has
moved on by one hour per earlier run), hour 2 the next. A ledger of 10M accounts takes
about half an hour to load: `--load-only` loads it into a named schema (`--schema`,
default `hour_N`) and stops; `--reuse` skips the load when that schema already holds a
complete ledger of N accounts (the loader marks it so, last). Without either, the ledger
goes into a fresh schema dropped at the end.

    .venv/bin/python bench/hour.py --accounts 100000 [--db postgresql://...] [--check]
    .venv/bin/python bench/hour.py --accounts 10000000 --db .../bench_hour_10m --load-only
    .venv/bin/python bench/hour.py --accounts 10000000 --db .../bench_hour_10m --reuse \\
        --pieces none
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from snapshot import ASSETS, load_postgres  # noqa: E402  (bench/snapshot.py)

from exchange.commandlog import run_lines  # noqa: E402
from exchange.core import core_state  # noqa: E402
from exchange.db import resolve_url  # noqa: E402
from exchange.engine import Exchange  # noqa: E402
from exchange.export import SqlLedgerExport  # noqa: E402
from exchange.ledger import PersistedLedger, open_ledger  # noqa: E402
from exchange.model import CUSTODY, SYSTEM_ACCOUNTS, Event, lending_pool  # noqa: E402
from exchange.state import LedgerState  # noqa: E402
from por.chain.anvil import Anvil  # noqa: E402
from por.chain.ethereum_world import _rpc, connect  # noqa: E402
from por.chain.reserve_world import build_reserve_world  # noqa: E402
from por.chain.solana_world import set_clock  # noqa: E402
from por.operator.signing import generate  # noqa: E402
from por.publish import AnchorConfig, Publisher, PublisherConfig, open_publication_db  # noqa: E402
from por.snapshot import ReserveSetup  # noqa: E402
from por.snapshot.pieces import PiecePolicy  # noqa: E402

HOUR_MS = 3_600_000
CHAINS = {"BTC": "ethereum", "ETH": "ethereum", "SOL": "solana", "USDC": "ethereum"}
POR = str(Path(sys.executable).with_name("por"))
MARK = "bench/hour.py ledger: accounts="  # the schema's comment once a load is complete


def gauge() -> float:  # float-ok: seconds
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def rss_mb() -> int:
    """This process's resident set now (MB)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def log(text: str) -> None:
    print(f"# {datetime.now(UTC):%H:%M:%S} {text}", file=sys.stderr, flush=True)


# -- the ledger: loaded with COPY, or reused ---------------------------------------------
def scoped_url(url: str, schema: str) -> str:
    scoped = sa.make_url(resolve_url(url)).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the URL's database on its server if it is not there (a dedicated one for a
    named ledger: the test suite's database stays untouched)."""
    target = sa.make_url(resolve_url(url))
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)
            ).first()
            if found is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
                log(f"created database {target.database}")
    finally:
        admin.dispose()


def loaded_accounts(url: str, schema: str) -> int | None:
    """N if `schema` holds a complete ledger of N accounts (its mark), None if there is no
    such schema, -1 if the schema is there without the mark (a load that did not finish)."""
    admin = sa.create_engine(resolve_url(url))
    try:
        with admin.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                (schema,),
            ).first()
    finally:
        admin.dispose()
    if row is None:
        return None
    comment = row[0] or ""
    if not comment.startswith(MARK):
        return -1
    return int(comment[len(MARK) :].split()[0])


def drop_schema(url: str, schema: str) -> None:
    admin = sa.create_engine(resolve_url(url))
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        admin.dispose()


def load_ledger(url: str, schema: str, n: int) -> float:  # float-ok: seconds
    """Load N accounts into `schema` (new), then mark it complete. Returns the seconds."""
    start = time.perf_counter()
    _, engine = load_postgres(url, n, schema=schema, balances=True, log=log)
    engine.dispose()
    load_s = time.perf_counter() - start
    admin = sa.create_engine(resolve_url(url))
    try:
        with admin.begin() as conn:
            stamp = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
            conn.exec_driver_sql(
                f"COMMENT ON SCHEMA \"{schema}\" IS '{MARK}{n} loaded {stamp} in {load_s:.0f} s'"
            )
    finally:
        admin.dispose()
    return load_s


def ledger_hour(url: str) -> datetime:
    """The hour the ledger's head is at (a load and every trade end on a boundary clock)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ts = conn.exec_driver_sql("SELECT ts FROM head WHERE id = 1").scalar_one()
    finally:
        engine.dispose()
    if ts is None or ts % HOUR_MS:
        raise SystemExit(f"the ledger's head is at ts {ts}, not on an hour: load it again")
    return datetime.fromtimestamp(ts // 1000, UTC)


def custody(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT asset, SUM(amount) FROM balances WHERE account = %s GROUP BY asset",
                (CUSTODY,),
            ).all()
    finally:
        engine.dispose()
    return {str(a): -int(v) for a, v in rows}


def exchange_check(url: str) -> None:
    """`por exchange check` on the ledger (the whole replay: small N only)."""
    start = time.perf_counter()
    done = subprocess.run([POR, "exchange", "check", "--db", url], capture_output=True, text=True)
    last = (done.stdout + done.stderr).strip().splitlines()[-1:]
    spent = time.perf_counter() - start
    log(f"por exchange check: exit {done.returncode} in {spent:.0f} s: {last}")
    if done.returncode != 0:
        raise SystemExit(1)


# -- between the hours: 1% of the accounts deposit again -----------------------------------
def narrow_exchange(ledger: PersistedLedger, accounts: list[str]) -> Exchange:
    """The exchange as `ledger.load()` would rebuild it, for deposits by `accounts` on this
    bench's journal (assets, clocks, deposits): the head, the asset events replayed through
    the registry's hooks (assets, the pools' accounts and module state), the stored balances
    of `accounts` and of the system accounts, the custody as the deposits' total (no
    withdrawals here). Left out: the other accounts and the deposit index by tx (the new
    deposits' ids are new); the journal writer then maintains balances, claims and head."""
    registry = ledger.registry
    state = LedgerState(registry.states)
    hooks = registry.replay_hooks
    with ledger.engine.connect() as conn:
        configs = conn.exec_driver_sql(
            "SELECT seq, ts, kind, cmd, status, reason, detail, command, data FROM events "
            "WHERE cmd IN ('asset', 'collateral_params') ORDER BY seq"
        ).all()  # (the cut's partial index)
        for row in configs:
            seq, ts, kind, cmd, status, reason, detail, command, data = row
            data = None if data is None else json.loads(data)
            event = Event(seq, ts, kind, cmd, status, reason, detail, command, data, ())
            if event.status == "accepted":
                for hook in hooks.get(event.cmd, ()):
                    hook(state, event)
        system = [*SYSTEM_ACCOUNTS, *(lending_pool(symbol) for symbol in state.assets)]
        rows = conn.exec_driver_sql(
            "SELECT account, asset, bucket, amount FROM balances WHERE account = ANY(%s)",
            ([*system, *accounts],),
        ).all()
    for account in accounts:
        state.accounts.setdefault(account, "user")
    for account, asset, bucket, amount in rows:
        state.balances[(account, asset, bucket)] = int(amount)
    core = core_state(state)
    for symbol in state.assets:
        core.deposited[symbol] = -state.balances.get((CUSTODY, symbol, "onchain"), 0)
    state.seq, state.time = ledger.journal.head()
    return Exchange(registry, state, ledger.journal)


def trade(url: str, n: int, boundary: datetime, path: str) -> dict[str, Any]:
    """1% of the accounts deposit once more in the half hour before `boundary`, through
    the command path (run in a process of its own)."""
    start = time.perf_counter()
    ledger = open_ledger(url, create=False)
    try:
        picked = range(0, n, 100)
        accounts = [f"u{i:08d}" for i in picked]
        exchange = ledger.load() if path == "full" else narrow_exchange(ledger, accounts)
        ready = time.perf_counter()
        tag = f"h{boundary:%Y%m%d%H}"  # new ids on every run over a reused ledger
        lines = [json.dumps({"cmd": "clock", "time": _iso(boundary - timedelta(minutes=30))})]
        for j, account in enumerate(accounts):
            symbol = ASSETS[j % len(ASSETS)][0]
            lines.append(
                json.dumps(
                    {"cmd": "deposit", "account": account, "asset": symbol,
                     "amount": str(1000 + j), "tx": f"{tag}-{j}"}
                )
            )  # fmt: skip
        lines.append(json.dumps({"cmd": "clock", "time": _iso(boundary)}))
        summary = run_lines(exchange, [line.encode() for line in lines], "bench", batch=1000)
        assert summary.rejected == 0, summary
    finally:
        ledger.engine.dispose()
    end = time.perf_counter()
    return {
        "trade_s": end - start,
        "trade_ready_s": ready - start,
        "trade_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "commands": summary.accepted,
    }


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- reserves --------------------------------------------------------------------------------
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


# -- one hour, in a process of its own -------------------------------------------------------
def publish_hour(url: str, config: PublisherConfig, log_db: str, at: datetime) -> dict[str, Any]:
    """`Publisher.publish_hour(at)` with the stage timings (in the hour's process)."""
    events: list[tuple[str, float]] = []
    engine = sa.create_engine(url)
    publisher = Publisher(
        open_publication_db(log_db),
        SqlLedgerExport(engine),
        config,
        emit=lambda event, **fields: events.append((event, time.perf_counter())),
    )
    with publisher.lock():
        publisher.recover()
        start = time.perf_counter()
        outcome = publisher.publish_hour(at)
        total = time.perf_counter() - start
    engine.dispose()
    assert outcome.status == "published" and outcome.anchor_tx, outcome
    when = {name: t - start for name, t in events}
    name = at.strftime("%Y-%m-%dT%H-%M-%SZ")
    summaries = list(config.work.glob(f"*{name}*/private/summary.json"))
    summary = json.loads(summaries[0].read_text()) if summaries else {}
    timings = summary.get("timings_s", {})
    facts = list(config.work.glob(f"*{name}*/public/snapshot.json"))
    status = json.loads(facts[0].read_text())["status"] if facts else "?"
    snap = when["snapshot_ready"]
    counts = {"accounts_read": summary.get("accounts", 0), "leaves": summary.get("pieces", 0)}
    basis = summary.get("cut", {})  # full, or incremental from the last hour's kept claims
    counts["cut"] = basis.get("path", "?")
    counts["changed"] = basis.get("changed_accounts", 0)
    if basis.get("fallback_reason"):
        counts["cut_fallback"] = json.dumps(basis["fallback_reason"])
    stages = {
        "cut_s": timings.get("cut", 0.0),
        "leaves_s": timings.get("leaves", 0.0),
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
    return {**counts, **stages, "status": status}


def in_fork(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`work()` in a forked process: its result with that process's peak RSS and its
    workers' (ru_maxrss counts from the fork: the hour's own, not the bench's past)."""
    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)

    def child() -> None:
        try:
            result: dict[str, Any] = work()
            result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            result["peak_child_rss_mb"] = (
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
            )
            writer.send(("ok", result))
        except BaseException:  # noqa: BLE001 - reported by the parent, one line per frame
            writer.send(("error", traceback.format_exc()))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    writer.close()
    try:
        kind, value = reader.recv()
    except EOFError:
        kind, value = "error", "the hour's process died without a word"
    process.join()
    if kind != "ok":
        raise SystemExit(f"hour failed:\n{value}")
    return dict(value)


def in_spawn(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`function(*args)` in a fresh interpreter (nothing of this process in its memory)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return dict(pool.apply(function, args))


def line(hour: int, accounts: int, args: argparse.Namespace, result: dict[str, Any]) -> str:
    parts = [f"hour={hour}", f"accounts={accounts}", f"pieces={args.pieces}"]
    parts.append(f"engine={args.engine}")
    digits = {"gauge_s": 3, "load_avg": 1, "load_s": 1, "trade_s": 1, "trade_ready_s": 1}
    for key, value in result.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.{digits.get(key, 2)}f}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "POR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL URL: server and database (created if absent)",
    )
    parser.add_argument("--schema", help="the ledger's schema (default: hour_N when named)")
    parser.add_argument("--engine", default="local", choices=["serial", "local", "dask"])
    parser.add_argument("--pieces", default="default", metavar="POLICY", help="por --pieces")
    parser.add_argument("--check", action="store_true", help="run `por exchange check` too")
    parser.add_argument("--load-only", action="store_true", help="load the ledger and stop")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded ledger of N")
    parser.add_argument("--trade", default="narrow", choices=["narrow", "full"])
    args = parser.parse_args()
    policy = PiecePolicy.parse(args.pieces)
    n = args.accounts
    named = args.load_only or args.reuse or args.schema is not None
    schema = args.schema or (f"hour_{n}" if named else f"bench_{uuid.uuid4().hex[:12]}")
    ensure_database(args.db)
    url = scoped_url(args.db, schema)
    tmp = Path(tempfile.mkdtemp(prefix="por-bench-hour-"))
    load_s: float | None = None  # float-ok: seconds
    try:
        found = loaded_accounts(args.db, schema)
        if args.reuse and found == n:
            log(f"reusing the ledger of {n:,} accounts in schema {schema}")
        else:
            if found is not None:
                log(f"schema {schema} holds {found} accounts (-1: incomplete): dropped")
                drop_schema(args.db, schema)
            log(f"loading {n:,} accounts into schema {schema}")
            load_s = load_ledger(args.db, schema, n)
            log(f"loaded {n:,} accounts in {load_s:.1f} s (rss {rss_mb()} MB)")
        if args.load_only:
            done = "reused" if load_s is None else f"{load_s:.1f}"
            print(f"accounts={n} schema={schema} load_s={done}", flush=True)
            return
        if args.check:
            exchange_check(url)
        hour1 = ledger_hour(url)
        with Anvil(timestamp=int(hour1.timestamp()) - 3 * 3600) as node:
            world = build_reserve_world(
                node.url, tmp / "reserve", exchange="Bench Exchange", holdings={},
                solana_time=int(hour1.timestamp()) - 7200,
            )  # fmt: skip
            config = PublisherConfig(
                out=tmp / "pub", key=generate(), secret=bytes(range(32)), site=tmp / "site",
                reserves=ReserveSetup(world.registry, world.readers(), world.keystore),
                anchor=AnchorConfig(node.url, world.ethereum.anchor), engine=args.engine,
                pieces=policy,
            )  # fmt: skip
            log_db = f"sqlite:///{tmp / 'log.db'}"
            for hour, at in ((1, hour1), (2, hour1 + timedelta(hours=1))):
                extra: dict[str, Any] = {}
                if hour == 2:
                    log(f"trade: {len(range(0, n, 100)):,} deposits ({args.trade})")
                    extra = in_spawn(trade, url, n, at, args.trade)
                    if args.check:
                        exchange_check(url)
                elif load_s is not None:
                    extra = {"load_s": load_s}
                fund(world, node.url, custody(url), at)
                host = gauge()
                base = rss_mb()
                log(f"hour {hour}: {at:%Y-%m-%d %H:%M}")
                result = in_fork(functools.partial(publish_hour, url, config, log_db, at))
                result.update(
                    base_rss_mb=base, gauge_s=host, load_avg=os.getloadavg()[0],
                    cpus=os.cpu_count(), **extra,
                )  # fmt: skip
                print(line(hour, n, args, result), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not named:
            drop_schema(args.db, schema)


if __name__ == "__main__":
    main()

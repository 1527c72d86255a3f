"""`por demo`'s run: a day of the sample exchange, published hour by hour and verified.

cli/ may import both `exchange` and `por`, so the wiring of the two lives here: the
ledger (exchange) runs the sample day; every hour the publisher (por.publish) snapshots
it, reads reserves from the embedded chains, signs, logs, anchors and updates the site;
then an auditor (por.audit) and a few users check what was published, with the same
library calls `por verify ...` makes. Nothing here decides a verification outcome: it
collects what the verifiers said.

Processes and threads started here (Anvil, the LiteSVM JSON-RPC endpoint) are context
managers, so they stop on every exit path, Ctrl-C included.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from por.chain.hourly_world import HourlyWorld

__all__ = ["DemoConfig", "DemoResult", "HourResult", "Reporter", "UserResult", "run_demo"]

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
INSOLVENT_HOUR = 12  # `--insolvent` moves reserves out before this hour's snapshot
INSOLVENT_KEEP_PERCENT = 60  # of each cold wallet's holdings left on the exchange's wallets
USERS_MAX = 5  # owners whose proofs land in DIR/users/
AUDITOR_IDENTITY = "age-identity.key"  # the demo auditor's age key (--leaf-list auditors)
# what the demo creates in DIR (and removes at the start of a run); nothing else is touched
OUTPUTS = ("exchange.db", "exchange.db-wal", "exchange.db-shm", "publication", "site",
           "users", "auditor", "keys", "wallets.json", "attestations", "summary.json")  # fmt: skip


class Reporter(Protocol):
    """Progress sink (the CLI draws rich progress bars; tests pass a silent one)."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, name: str, note: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class DemoConfig:
    out: Path
    accounts: int = 2000
    hours: int = 24
    db_url: str | None = None
    insolvent: bool = False
    pieces: str = "default"  # the split policy (por.snapshot.pieces.PiecePolicy.parse)
    leaf_list: str = "public"  # public | auditors (a demo auditor key) | none (por.leaflist)


@dataclass(slots=True)
class HourResult:
    snapshot_id: str
    leaves: int = 0
    status: str = ""  # reconciliation PASS / FAIL
    coverage_ppm: dict[str, int | None] = field(default_factory=dict)
    liquidated: int = 0  # accounts with a liquidation step in the hour
    steps: int = 0
    commands: int = 0
    rejected: int = 0
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    publish_s: float = 0.0  # float-ok: wall-clock seconds for the progress summary


@dataclass(slots=True)
class UserResult:
    role: str
    account: str
    hours: int = 0
    ok: bool = False
    detail: str = ""
    directory: Path | None = None


@dataclass(slots=True)
class DemoResult:
    out: Path
    public_key: str
    hours: list[HourResult] = field(default_factory=list)
    users: list[UserResult] = field(default_factory=list)
    history_passed: bool = False
    history_detail: str = ""
    watch: str = ""  # `por watch --once` on the last hour (the insolvent variant)
    accounts: int = 0
    lines: int = 0
    ledger_url: str = ""
    wall_s: float = 0.0  # float-ok: wall-clock seconds

    @property
    def failing_hours(self) -> list[HourResult]:
        return [h for h in self.hours if h.status != "PASS"]

    @property
    def ok(self) -> bool:
        return (
            not self.failing_hours
            and all(not h.failed for h in self.hours)
            and all(u.ok for u in self.users)
            and self.history_passed
        )


# -- the sample data ------------------------------------------------------------------


def load_generator() -> ModuleType:
    """sample_data/generate.py as a module (it is a script beside the data, not a package)."""
    name = "por_sample_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SAMPLE / "generate.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(SAMPLE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _split_hours(lines: Sequence[str], gen: ModuleType, hours: int) -> list[list[str]]:
    """The day's lines cut at each hour boundary's `clock` line (which ends its chunk)."""
    boundaries = {json.dumps({"cmd": "clock", "time": gen.iso(gen.hour_ms(h))},
                             separators=(",", ":")): h for h in range(1, hours + 1)}  # fmt: skip
    chunks: list[list[str]] = [[]]
    for line in lines:
        chunks[-1].append(line)
        if line in boundaries:
            chunks.append([])
    if chunks[-1]:
        chunks[-2].extend(chunks.pop())
    else:
        chunks.pop()
    return chunks


# -- output directory -------------------------------------------------------------------


def _fresh_out(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _write_private(path: Path, text: str) -> None:
    """Mode 0600 from the start (key files, users' proofs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.replace(path)


def _targets(onchain: Sequence[str]) -> dict[str, dict[tuple[str, str, str], int]]:
    out: dict[str, dict[tuple[str, str, str], int]] = {}
    for line in onchain:
        row = json.loads(line)
        out.setdefault(row["before"], {})[(row["chain"], row["address"], row["asset"])] = int(
            row["balance"]
        )
    return out


# -- the run ------------------------------------------------------------------------------


def run_demo(config: DemoConfig, reporter: Reporter) -> DemoResult:
    """The whole demo; returns what every check said. Raises on unusable input."""
    started = time.monotonic()
    gen = load_generator()
    from por.snapshot import PiecePolicy

    pieces = PiecePolicy.parse(config.pieces)  # a bad policy: fail before anything starts
    out = config.out.resolve()
    _fresh_out(out)
    reporter.stage("generating the sample day")
    day = gen.generate_day(accounts=config.accounts, hours=config.hours)
    keys = gen.demo_keys()
    wallets = gen.demo_wallets(keys)
    lines = list(gen.config_lines()) + list(day.lines)

    from por.operator.signing import signing_key_from_hex

    signing_key = signing_key_from_hex(keys["manifest_signing_key"], "sample_data/demo-keys.json")
    public_key = signing_key.public_key_hex
    secret = bytes.fromhex(keys["snapshot_secret"])
    custody_keys = out / "keys" / "custody-keys.json"
    _write_private(custody_keys, json.dumps(
        {"WARNING": keys["WARNING"], "ethereum": keys["ethereum"], "solana": keys["solana"]},
        indent=2) + "\n")  # fmt: skip
    _write_private(out / "keys" / "manifest-signing.key", keys["manifest_signing_key"] + "\n")
    result = DemoResult(out, public_key, accounts=config.accounts, lines=len(lines))
    leaf_list, identities = _leaf_list(config.leaf_list, out)

    with ExitStack() as stack:
        ledger, exchange, ledger_url = _open_ledger(config, out)  # refuse a used DB first
        result.ledger_url = ledger_url
        stack.callback(ledger.engine.dispose)
        log_db = _publication_db(config, out)
        reporter.stage("starting Anvil and LiteSVM, deploying contracts")
        from por.chain.anvil import Anvil
        from por.chain.hourly_world import HourlyWorld
        from por.chain.litesvm_rpc import LiteSvmRpcServer

        start = datetime.fromtimestamp(gen.START_MS // 1000, UTC)
        anvil = stack.enter_context(Anvil(timestamp=int((start - timedelta(hours=1)).timestamp())))
        chains = HourlyWorld(anvil.url, custody_keys, wallets, gen.EXCHANGE_NAME,
                         int(start.timestamp()))  # fmt: skip
        sol_rpc = stack.enter_context(LiteSvmRpcServer(chains.sol.svm))
        from por.reserves.wallets import write_wallets

        write_wallets(out / "wallets.json", chains.registry)
        reporter.stage("cold wallets: this week's ownership attestation, signed offline")
        attestations = _cold_wallet_ceremony(out, chains, public_key, anvil.url, sol_rpc.url,
                                             start)  # fmt: skip

        hour_stats = _HourStats()
        exchange.after_event.append(hour_stats.on_event)
        publisher = _publisher(log_db, out, ledger, signing_key, secret, chains, anvil.url, pieces,
                               leaf_list, attestations)  # fmt: skip
        stack.enter_context(publisher.lock())
        publisher.recover()

        reporter.stage("running the day: trading, hourly publication, audit", config.hours)
        targets = _targets(day.onchain)
        chunks = _split_hours(lines, gen, config.hours)
        insolvent_hour = min(INSOLVENT_HOUR, config.hours) if config.insolvent else None
        from exchange.commandlog import run_lines

        for h, chunk in enumerate(chunks, start=1):
            boundary = start + timedelta(hours=h)
            sid = boundary.strftime("%Y-%m-%dT%H:%M:%SZ")
            hour = HourResult(sid)
            body, closing = chunk[:-1], chunk[-1:]
            summary = run_lines(exchange, (line.encode() for line in body), "day", batch=5000)
            hour.commands, hour.rejected = summary.commands, summary.rejected
            want = dict(targets.get(sid, {}))
            if insolvent_hour is not None and h >= insolvent_hour:
                want = _moved_out(want, chains.registry)
            chains.set_balances(want)

            def apply_clock(closing: list[str] = closing) -> None:
                run_lines(exchange, (line.encode() for line in closing), "day", batch=5000)

            chains.close_hour(boundary, apply_clock, 1_000 + h * 9_000)
            hour.liquidated, hour.steps = hour_stats.take()
            t0 = time.monotonic()
            publisher.clock = lambda b=boundary: b + timedelta(minutes=5)
            publisher.publish_hour(boundary)
            hour.publish_s = time.monotonic() - t0
            _audit_hour(hour, out, public_key, anvil.url, sol_rpc.url, chains.eth.anchor,
                        identities)  # fmt: skip
            result.hours.append(hour)
            verdict = hour.status if not hour.failed else "CHECK FAILED"
            reporter.advance("running the day: trading, hourly publication, audit",
                             f"{sid} {verdict}")  # fmt: skip

        reporter.stage("auditor: verify history (every bundle and the whole log)")
        _audit_history(result, out, public_key, identities)
        if config.insolvent:
            reporter.stage("auditor: por watch --once on the last hour's wallets")
            result.watch = _watch_once(out, public_key, anvil.url, sol_rpc.url)
        owners = _owners(day.owners)
        reporter.stage("users: own proofs across hours", len(owners))
        for role, account in owners:
            result.users.append(_user_proofs(role, account, out, public_key, result.hours))
            reporter.advance("users: own proofs across hours", account)
    result.wall_s = time.monotonic() - started
    _write_summary(result)
    return result


def _watch_once(out: Path, public_key: str, eth_rpc: str, sol_rpc: str) -> str:
    """`por watch SITE --once`: the last hour verified, its wallets read at the latest block
    and slot; one line saying the verdict (and each asset short, with its deficit)."""
    from por.watch import WatchConfig, WatchEvent, run_watch

    events: list[WatchEvent] = []
    config = WatchConfig(str(out / "site"), bytes.fromhex(public_key), eth_rpc, sol_rpc, once=True)
    code = run_watch(config, events.append)
    short = [e.fields for e in events if e.kind == "shortfall"]
    where = next(
        (e.fields.get("pins", {}) for e in events if e.kind in ("shortfall", "covered")), {}
    )
    pins = ", ".join(f"{c} {n}" for c, n in sorted(where.items()))
    if code == 1:
        detail = "; ".join(f"{s['asset']} short by {s['deficit']}" for s in short)
        return f"exit 1, SHORTFALL at {pins}: {detail}"
    return f"exit {code}, {'covered' if code == 0 else 'a chain could not be read'} at {pins}"


def _owners(owners: dict[str, str]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for role in ("whale", "leveraged BTC long", "borrower", "auto-lend opt-out", "small holder"):
        account = owners.get(role)
        if account and account not in seen:
            seen.add(account)
            out.append((role, account))
    return out[:USERS_MAX]


def _moved_out(
    want: dict[tuple[str, str, str], int], registry: Any
) -> dict[tuple[str, str, str], int]:
    """`--insolvent`: only INSOLVENT_KEEP_PERCENT of every cold wallet's holdings stay."""
    cold = {w.address for w in registry.wallets if w.role == "cold"}
    return {
        key: (amount * INSOLVENT_KEEP_PERCENT // 100 if key[1] in cold else amount)
        for key, amount in want.items()
    }


class _HourStats:
    """Liquidation steps recorded since the last `take` (an `after_event` hook)."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.steps = 0

    def on_event(self, event: Any) -> None:
        if event.cmd == "liquidation" and event.data:
            for step in event.data.get("steps", ()):
                self.steps += 1
                self.accounts.add(str(step.get("account")))

    def take(self) -> tuple[int, int]:
        out = (len(self.accounts), self.steps)
        self.accounts, self.steps = set(), 0
        return out


def _open_ledger(config: DemoConfig, out: Path) -> tuple[Any, Any, str]:
    from exchange.ledger import open_ledger

    url = config.db_url or f"sqlite:///{out / 'exchange.db'}"
    ledger = open_ledger(url, create=True)
    if ledger.journal.head()[0] != 0:
        ledger.engine.dispose()
        raise DemoInputError(f"{url} already holds a ledger; give an empty database")
    return ledger, ledger.load(), url


class DemoInputError(Exception):
    """Unusable input (a non-empty database): one line, exit 2."""


def _publication_db(config: DemoConfig, out: Path) -> Any:
    """The log's database (the ledger's own with --db); refused when it holds publications."""
    from por.publish import open_publication_db
    from por.publish.records import all_publications

    pub_dir = out / "publication"
    pub_dir.mkdir(parents=True, exist_ok=True)
    log_url = config.db_url or f"sqlite:///{pub_dir / 'log.db'}"
    db = open_publication_db(log_url)
    with db.connect() as conn:
        if all_publications(conn):
            db.dispose()
            raise DemoInputError(f"{log_url} already holds publications; give an empty database")
    return db


def _cold_wallet_ceremony(out: Path, chains: HourlyWorld, public_key: str, eth_rpc: str,
                          sol_rpc: str, start: datetime) -> Any:  # fmt: skip
    """The weekly ceremony of the demo's cold wallets (docs/reserves.md): `por reserves
    challenge` for the ISO week of the day, the offline signature (the demo's custody key
    file stands in for the hardware wallet), `por reserves attest` into attestations/
    beside wallets.json. Hot wallets keep signing every snapshot."""
    from por.reserves.attestation import (
        AttestationStore,
        import_signatures,
        make_challenge,
        parse_period,
        sign_challenge,
    )
    from por.reserves.blocks import EthereumBlocks, SolanaBlocks

    week = start.isocalendar()
    period = parse_period(f"{week.year}-W{week.week:02d}")
    sources: dict[str, Any] = {"ethereum": EthereumBlocks(eth_rpc), "solana": SolanaBlocks(sol_rpc)}
    challenge = make_challenge(chains.registry, period, public_key, sources)
    signed = sign_challenge(challenge, chains.keystore)
    store = AttestationStore(out / "attestations")
    store.path.mkdir(parents=True, exist_ok=True)
    for name, doc in (("challenge", challenge), ("signed", signed)):
        text = json.dumps(doc, indent=1) + "\n"
        (store.path / f"{period.id}.{name}.json").write_text(text, encoding="utf-8")
    store.save(import_signatures(signed, registry=chains.registry, exchange_key=public_key,
                                 sources=sources))  # fmt: skip
    return store


def _publisher(db: Any, out: Path, ledger: Any, key: Any, secret: bytes, chains: HourlyWorld,
               anvil_url: str, pieces: Any, leaf_list: Any,
               attestations: Any = None) -> Any:  # fmt: skip
    from exchange.export import SqlLedgerExport
    from por.publish import AnchorConfig, Publisher, PublisherConfig
    from por.snapshot import ReserveSetup

    return Publisher(
        db,
        SqlLedgerExport(ledger.engine),
        PublisherConfig(
            out=out / "publication",
            key=key,
            secret=secret,
            site=out / "site",
            reserves=ReserveSetup(
                chains.registry, chains.readers(), chains.keystore, attestations=attestations
            ),  # fmt: skip
            anchor=AnchorConfig(anvil_url, chains.eth.anchor),
            engine="serial",
            pieces=pieces,
            leaf_list=leaf_list,
        ),
    )


def _leaf_list(mode: str, out: Path) -> tuple[Any, list[Any]]:
    """The publisher's leaf-list policy and the auditor's age identities: in mode auditors
    the demo's auditor makes a key (DIR/auditor/age-identity.key) and hands its recipient
    to the exchange, as a real auditor would."""
    from por.leaflist import LeafListPolicy, read_identities, write_identity_file

    if mode != "auditors":
        return LeafListPolicy(mode), []
    path = out / "auditor" / AUDITOR_IDENTITY
    path.parent.mkdir(parents=True, exist_ok=True)
    return LeafListPolicy.of(mode, [write_identity_file(path)]), read_identities(path)


# -- auditor and users ----------------------------------------------------------------------


def _site_bundle(out: Path, snapshot_id: str) -> Path:
    from por.publish.bundle import bundle_name

    return out / "site" / "snapshots" / bundle_name(snapshot_id)


def _audit_hour(hour: HourResult, out: Path, public_key: str, eth_rpc: str, sol_rpc: str,
                anchor: str, identities: Sequence[Any] = ()) -> None:  # fmt: skip
    """What an auditor runs every hour: verify bundle, verify reserves (its own nodes,
    right away: Solana has no past reads), verify log (the monitor's state file)."""
    from por.audit.bundle import verify_bundle_dir
    from por.audit.errors import AuditError
    from por.audit.monitor import monitor_log
    from por.audit.reserves_bundle import verify_reserves_dir
    from por.audit.source import open_site

    key = bytes.fromhex(public_key)
    bundle = _site_bundle(out, hour.snapshot_id)
    reconciliation = json.loads((bundle / "reconciliation.json").read_text(encoding="utf-8"))
    hour.status = reconciliation["status"]
    hour.coverage_ppm = {a["asset"]: a["coverage_ppm"] for a in reconciliation["assets"]}
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    hour.leaves = int(manifest.get("leaf_count", 0))
    site = open_site(str(out / "site"))

    def count(name: str, status: str, detail: str) -> None:
        if status == "pass":
            hour.passed += 1
        elif status == "skip":
            hour.skipped += 1
        else:
            hour.failed.append(f"{name}: {detail}")

    report = verify_bundle_dir(bundle, key, site=site, eth_rpc=eth_rpc, anchor_contract=anchor,
                               identities=identities)  # fmt: skip
    for check in report.checks:
        count(f"bundle {check.name}", check.status, check.detail)
    if report.manifest is not None and report.document is not None:  # else: counted failed
        reserves = verify_reserves_dir(bundle, [eth_rpc], [sol_rpc], public_key=key)
        for check in reserves.checks:
            count(f"reserves {check.name}", check.status, check.detail)
    (out / "auditor").mkdir(exist_ok=True)
    # the auditor runs minutes after the hour is published: "now" is the simulated time,
    # so the monitor's freshness check (--max-age) judges the day's heads as of their hour
    audited_at = datetime.strptime(hour.snapshot_id, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    try:
        monitor_log(site, [public_key], out / "auditor" / "monitor-state.json",
                    clock=lambda: audited_at + timedelta(minutes=10))  # fmt: skip
        count("log", "pass", "")
    except AuditError as exc:  # equivocation, stale or backdated head, unreadable site
        count("log", "fail", str(exc))


def _audit_history(result: DemoResult, out: Path, public_key: str,
                   identities: Sequence[Any] = ()) -> None:  # fmt: skip
    """`por verify history SITE`: the log and every bundle again, and the chain of hours.
    Without an RPC: the anchors were checked hour by hour (`verify bundle` with the
    contract address), and the first hour's anchor needs the address given."""
    from por.audit.history import verify_history

    report = verify_history(str(out / "site"), bytes.fromhex(public_key), identities=identities)
    failed = [c for c in (*report.site_checks, *report.hour_summaries()) if c.status == "fail"]
    result.history_passed = report.passed
    result.history_detail = (
        f"{len(report.bundles)} bundles and the log: every check passed"
        if report.passed
        else "; ".join(f"{c.name}: {c.detail}" for c in failed[:3])
    )


def _user_proofs(role: str, account: str, out: Path, public_key: str,
                 hours: Sequence[HourResult]) -> UserResult:  # fmt: skip
    """The exchange hands the owner a proof set per hour (as `por proof`: one proof per
    piece); the owner checks every hour against the signed manifest (their claim is the
    sum of the pieces) and that each root is the one logged."""
    from por.audit.batch import AccountHour
    from por.audit.monitor import read_site_log
    from por.audit.proofs import check_account_hours
    from por.audit.source import open_site
    from por.errors import PorError
    from por.manifest import parse_manifest_bytes
    from por.proofset import parse_proof_document
    from por.publish.bundle import bundle_name
    from por.snapshot import SnapshotIndex

    user = UserResult(role, account, directory=out / "users" / account)
    collected: list[AccountHour] = []
    for hour in hours:
        name = bundle_name(hour.snapshot_id)
        try:
            proof = SnapshotIndex(out / "publication" / "work" / name).proof(account)
        except KeyError:
            continue  # not an account in that hour (opened later)
        here = out / "users" / account / name
        _write_private(here / "proof.json", json.dumps(proof, indent=1, ensure_ascii=False) + "\n")
        raw = (_site_bundle(out, hour.snapshot_id) / "manifest.json").read_bytes()
        (here / "manifest.json").write_bytes(raw)
        try:
            document = parse_proof_document(proof)
        except PorError as exc:
            user.detail = f"{hour.snapshot_id}: {exc}"
            return user
        collected.append(AccountHour(document, parse_manifest_bytes(raw), raw))
    user.hours = len(collected)
    try:
        report = check_account_hours(
            collected,
            bytes.fromhex(public_key),
            lambda: read_site_log(open_site(str(out / "site")), [public_key])[2],
        )
        if report.log_error is not None:
            raise report.log_error
        history = report.history
        user.ok = bool(collected)
        counts = sorted({claim.pieces for claim in history.claims})
        pieces = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        user.detail = (
            f"{len(collected)} hours: own pieces ({pieces} per hour) included,"
            " roots signed and logged"
        )
    except PorError as exc:
        user.detail = str(exc)
    return user


def _write_summary(result: DemoResult) -> None:
    doc = {
        "ok": result.ok,
        "public_key": result.public_key,
        "accounts": result.accounts,
        "commands": result.lines,
        "wall_s": round(result.wall_s, 1),
        "hours": [
            {
                "snapshot_id": h.snapshot_id,
                "status": h.status,
                "leaves": h.leaves,
                "coverage_ppm": h.coverage_ppm,
                "liquidated_accounts": h.liquidated,
                "liquidation_steps": h.steps,
                "commands": h.commands,
                "rejected": h.rejected,
                "checks_passed": h.passed,
                "checks_failed": h.failed,
            }
            for h in result.hours
        ],  # fmt: skip
        "users": [
            {"role": u.role, "account": u.account, "hours": u.hours, "ok": u.ok, "detail": u.detail}
            for u in result.users
        ],  # fmt: skip
        "history": {"passed": result.history_passed, "detail": result.history_detail},
    }
    path = result.out / "summary.json"
    tmp = path.with_name(".summary.json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def iter_hours(result: DemoResult) -> Iterator[HourResult]:
    yield from result.hours

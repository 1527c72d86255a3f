"""`por publish` (one hour, or every due hour) and `por schedule` (every hour, forever).

Thin: parse options, wire the ledger source (exchange.export), the reserve readers, the
signing key and the anchor into `por.publish.Publisher`, print one line per hour.
Exit codes: 0 published or already published; 1 a check failed (an existing hour would be
published differently now, an anchor on chain disagrees, a snapshot check failed);
2 unusable input (options, files, database, keys, an hour not final yet, another
publisher running).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, reporter
from cli._leaflist import leaf_list_options, leaf_list_policy
from cli._options import engine_options, reader_rpc_option, rpc_option
from cli._pieces import pieces_option

if TYPE_CHECKING:
    from por.publish import Outcome, Publisher

__all__ = ["publish", "schedule"]

ENV_ANCHOR_KEY = "POR_ANCHOR_PRIVATE_KEY"
F = TypeVar("F", bound=Callable[..., Any])
_DURATION = re.compile(r"(\d+)([smh]?)")


def _rules(prog: str) -> Callable[[], list[Rule]]:
    def rules() -> list[Rule]:
        from exchange.errors import ExchangeError
        from por.errors import PorError
        from por.keys import SigningKeyError
        from por.leaflist import LeafListError
        from por.log.errors import LogError
        from por.publish.errors import LockedError, NotDueError, PublishConfigError
        from por.reserves.errors import KeyStoreError, WalletFileError
        from por.snapshot.errors import SnapshotConfigError

        said = f"por {prog}: {{}}".format
        unusable = (
            PublishConfigError,
            LockedError,
            NotDueError,
            SigningKeyError,
            SnapshotConfigError,
            WalletFileError,
            KeyStoreError,
            ExchangeError,
            LogError,
            LeafListError,
        )
        return [(unusable, EXIT_USAGE, said), ((PorError,), EXIT_FAILED, said)]

    return rules


def _reported(prog: str) -> Callable[[F], F]:
    """Every expected error -> one line on stderr and its exit code; never a traceback."""
    return reporter(f"por {prog}: ", _rules(prog))


def _hour(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    from por.publish import PublishConfigError
    from por.snapshot import parse_snapshot_time
    from por.snapshot.errors import SnapshotConfigError

    try:
        _, at = parse_snapshot_time(text)
    except SnapshotConfigError as exc:
        raise PublishConfigError(f"{what}: {exc}") from None
    if at.minute or at.second:
        raise PublishConfigError(f"{what}: expected a whole hour like 2026-11-24T16:00:00Z")
    return at


def _duration(text: str) -> timedelta:
    """`300`, `300s`, `5m`, `1h` -> timedelta."""
    from por.publish import PublishConfigError

    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise PublishConfigError(f"--delay: expected seconds or e.g. 5m, 90s, 1h; got {text!r}")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * unit)


def _common(func: F) -> F:
    """Options shared by publish and schedule (defined once)."""
    options = [
        click.option(
            "--db",
            "db_url",
            metavar="URL",
            default=None,
            help="Ledger database (default: env POR_DATABASE_URL, else sqlite:///por.db).",
        ),
        click.option(
            "--log-db",
            "log_db",
            metavar="URL",
            envvar="POR_LOG_DATABASE_URL",
            default="sqlite:///por-log.db",
            show_default=True,
            help="Transparency log + publication records (env POR_LOG_DATABASE_URL).",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False),
            default="publication",
            show_default=True,
            help="Publisher directory: work/ (snapshots, private) and bundles/.",
        ),
        click.option(
            "--site",
            "site_dir",
            type=click.Path(file_okay=False),
            default=None,
            help="Static site to update after each hour (default OUT/site).",
        ),
        click.option("--no-site", is_flag=True, help="Do not update a site."),
        click.option(
            "--key",
            "key_file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Ed25519 signing key file (mode 0600); else env POR_SIGNING_KEY.",
        ),
        click.option(
            "--secret-file",
            type=click.Path(dir_okay=False),
            required=True,
            help="Snapshot secret (hex, >= 32 bytes): nonces and fillers; the same "
            "secret lets a re-run reproduce an hour exactly.",
        ),
        click.option(
            "--wallets",
            type=click.Path(dir_okay=False),
            default=None,
            help="Wallet registry (.toml/.json); without it reserves are not read.",
        ),
        click.option(
            "--keys",
            type=click.Path(),
            default=None,
            help="Ownership key store (JSON file or directory holding it).",
        ),
        rpc_option(
            "eth",
            "Ethereum JSON-RPC URL (reserves and, the first one, the anchor); repeat it:"
            " every node must read the same balances, else the hour is not published.",
            multiple=True,
            env=True,
        ),
        reader_rpc_option("sol"),
        click.option(
            "--anchor",
            "anchor_address",
            metavar="ADDRESS",
            default=None,
            help="PorAnchor contract; without it nothing is anchored on chain.",
        ),
        click.option(
            "--anchor-from",
            metavar="ADDRESS",
            default=None,
            help=f"Node-unlocked sender (dev chains); else env {ENV_ANCHOR_KEY} "
            "(0x hex private key) signs locally.",
        ),
        *leaf_list_options("the bundle"),
        pieces_option,
        click.option(
            "--no-liabilities",
            is_flag=True,
            hidden=True,
            help="Deprecated: --leaf-list none.",
        ),
        engine_options,
        click.option(
            "--min-leaves",
            type=click.IntRange(min=0),
            default=0,
            help="Pad every tree to at least this many leaves.",
        ),
        click.option(
            "--late-after",
            type=click.IntRange(min=0),
            default=900,
            show_default=True,
            help="Seconds after the hour beyond which a chain reading is 'late'.",
        ),
        click.option(
            "--delay",
            default="5m",
            show_default=True,
            help="Finality delay after HH:00 before an hour is due (s/m/h).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _publisher(
    opts: dict[str, Any],
    clock: Callable[[], datetime] | None = None,
    emit: Any = None,
    progress: Any = None,
) -> Publisher:
    from cli.snapshot import _reserve_setup
    from exchange.db import open_database
    from exchange.export import SqlLedgerExport
    from por.operator.progress import NO_PROGRESS
    from por.operator.signing import resolve_signing_key
    from por.publish import AnchorConfig, Publisher, PublisherConfig, open_publication_db
    from por.snapshot import PiecePolicy, read_secret

    key = resolve_signing_key(opts["key_file"])
    secret = read_secret(opts["secret_file"])
    setup = None
    if opts["wallets"] is not None:
        setup = _reserve_setup(
            opts["wallets"], opts["keys"], opts["eth_rpc"], opts["sol_rpc"], key.public_key_hex
        )
    anchor = None
    if opts["anchor_address"]:
        if not opts["eth_rpc"]:
            from por.publish import PublishConfigError

            raise PublishConfigError("--anchor needs --eth-rpc URL (the chain to anchor on)")
        anchor = AnchorConfig(
            opts["eth_rpc"][0],
            opts["anchor_address"],
            sender=opts["anchor_from"],
            private_key=os.environ.get(ENV_ANCHOR_KEY) or None,
        )
    out = Path(opts["out"])
    site = None if opts["no_site"] else Path(opts["site_dir"] or out / "site")
    config = PublisherConfig(
        out=out,
        key=key,
        secret=secret,
        site=site,
        reserves=setup,
        anchor=anchor,
        leaf_list=leaf_list_policy(
            opts["leaf_list"],
            opts["auditors"],
            opts["auditors_file"],
            deprecated_none=opts["no_liabilities"],
        ),
        min_leaves=opts["min_leaves"],
        engine=opts["engine"],
        scheduler=opts["dask_scheduler"],
        late_after_s=opts["late_after"],
        pieces=PiecePolicy.parse(opts["pieces"]),
    )
    ledger = open_database(opts["db_url"], create=False)
    return Publisher(
        open_publication_db(opts["log_db"]),
        SqlLedgerExport(ledger),
        config,
        clock=clock,
        emit=emit,
        progress=NO_PROGRESS if progress is None else progress,
    )


def _publish_due(
    publisher: Publisher,
    at_hour: datetime | None,
    since_hour: datetime | None,
    until_hour: datetime | None,
    delay: timedelta,
    no_recheck: bool,
) -> list[Outcome]:
    """Under the lock: the hour `at_hour` (re-checked), or every due hour in order."""
    from por.publish import NotDueError, hour_id

    with publisher.lock():
        publisher.recover()
        if at_hour is not None:
            return [publisher.publish_hour(at_hour, recheck=not no_recheck)]
        now = datetime.now(UTC)
        hours = publisher.due_hours(now, delay, since_hour)
        if until_hour is not None:
            hours = [h for h in hours if h <= until_hour]
        outcomes: list[Outcome] = []
        for hour in hours:
            try:
                outcomes.append(publisher.publish_hour(hour))
            except NotDueError:
                if hour == hours[0]:
                    raise
                click.echo(f"por publish: {hour_id(hour)} is not final yet; stopping", err=True)
                break
        return outcomes


@click.command(
    epilog="""\b
Examples:
  por publish --at 2026-11-24T16:00:00Z --db sqlite:///por.db --secret-file snapshot.secret \\
      --key publisher.key
  por publish --since 2026-11-24T00:00:00Z --db postgresql://postgres@127.0.0.1:5432/test \\
      --log-db postgresql://postgres@127.0.0.1:5432/test --secret-file snapshot.secret \\
      --wallets wallets.json --keys keys.json --eth-rpc http://127.0.0.1:8545 \\
      --sol-rpc http://127.0.0.1:8899 --anchor 0x5FbDB2315678afecb367f032d93F642f64180aa3
  por publish --at 2026-11-24T16:00:00Z ... --leaf-list auditors --auditors-file auditors.txt
"""
)
@click.option(
    "--at",
    "at",
    metavar="HOUR",
    default=None,
    help="Publish this hour (e.g. 2026-11-24T16:00:00Z); an existing hour is "
    "re-checked and left as it is.",
)
@click.option(
    "--since",
    metavar="HOUR",
    default=None,
    help="With no --at and nothing published yet: the first hour to publish.",
)
@click.option(
    "--until",
    metavar="HOUR",
    default=None,
    help="With no --at: publish up to this hour (default: the latest due hour).",
)
@click.option(
    "--no-recheck",
    is_flag=True,
    help="With --at on an existing hour: skip recomputing it (just exit 0).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hour on stdout.")
@_common
@_reported("publish")
def publish(
    at: str | None,
    since: str | None,
    until: str | None,
    no_recheck: bool,
    as_json: bool,
    **opts: Any,
) -> None:
    """Publish hours: snapshot, bundle (signed manifest), transparency log, on-chain
    anchor, site. Without --at, every due hour after the last published one, in order.

    Idempotent: an hour already published is not published again (exit 0); with --at it
    is recomputed and the command exits 1 if the manifest would differ now. Crash-safe:
    rerun after any failure or kill. One publisher at a time (lock).
    """
    from cli._progress import terminal_progress

    at_hour = _hour(at, "--at")
    since_hour = _hour(since, "--since")
    until_hour = _hour(until, "--until")
    delay = _duration(opts["delay"])
    with terminal_progress() as progress:
        outcomes = _publish_due(
            _publisher(opts, progress=progress), at_hour, since_hour, until_hour, delay, no_recheck
        )
    for o in outcomes:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "snapshot_id": o.snapshot_id,
                        "status": o.status,
                        "log_size": o.log_size,
                        "anchor_tx": o.anchor_tx,
                        "late": list(o.late),
                    }
                )
            )
        else:
            anchor = f", anchor {o.anchor_tx}" if o.anchor_tx else ""
            late = f", late: {', '.join(o.late)}" if o.late else ""
            click.echo(f"{o.status} {o.snapshot_id}: log size {o.log_size}{anchor}{late}")
    if not outcomes:
        click.echo("por publish: nothing due", err=True)


@click.command(
    epilog="""\b
Examples:
  por schedule --db sqlite:///por.db --secret-file snapshot.secret --key publisher.key \\
      --delay 5m --health /var/run/por/health.json
  por schedule --since 2026-11-24T00:00:00Z --until 2026-11-25T00:00:00Z ...   # a backfill
  por schedule ... --leaf-list auditors --auditor age1... --auditor age1...
"""
)
@click.option(
    "--since",
    metavar="HOUR",
    default=None,
    help="First hour to publish when nothing is published yet (default: the latest due).",
)
@click.option(
    "--until",
    metavar="HOUR",
    default=None,
    help="Stop once this hour is published (default: run forever).",
)
@click.option(
    "--health",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file rewritten after each wake-up: last published hour, errors.",
)
@click.option(
    "--retry",
    "retry_s",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Seconds to wait after a failure or a cut that is not final yet.",
)
@_common
@_reported("schedule")
def schedule(
    since: str | None, until: str | None, health: str | None, retry_s: int, **opts: Any
) -> None:
    """Publish every hour at HH:00 UTC plus --delay, catching up missed hours in order.

    Logs are JSON lines on stderr; failures are logged and retried (the health file says
    so); a restart after a crash finishes what the crash interrupted.
    """
    from cli._progress import JsonStages, Tee, terminal_progress
    from por.publish.scheduler import JsonLog, ScheduleConfig, SystemClock, run_schedule

    clock = SystemClock()
    log = JsonLog(clock.now)
    config = ScheduleConfig(
        delay=_duration(opts["delay"]),
        since=_hour(since, "--since"),
        until=_hour(until, "--until"),
        health=None if health is None else Path(health),
        retry_s=retry_s,
    )
    with terminal_progress() as bar:  # a bar on a terminal; a JSON line per stage always
        progress = Tee(bar, JsonStages(log))
        publisher = _publisher(opts, clock=clock.now, emit=log, progress=progress)
        run_schedule(publisher, clock, config, log)

"""`por demo`: the main job on embedded defaults (for now: the sample ledger and its balances)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

SAMPLE_LOG = Path(__file__).resolve().parents[1] / "sample_data" / "commands.jsonl"


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _reported(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlalchemy as sa

        from exchange.errors import CommandLineError, ExchangeError

        try:
            return func(*args, **kwargs)
        except CommandLineError as exc:
            _fail(str(exc))
        except ExchangeError as exc:
            _fail(f"por demo: {exc}")
        except sa.exc.SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            _fail(f"por demo: database error: {detail}")
        except OSError as exc:
            _fail(f"por demo: {exc.filename or ''}: {exc.strerror}")

    return wrapper  # type: ignore[return-value]


def _fresh_sqlite(out: Path) -> str:
    """A fresh ledger file in OUT (the previous demo's ledger is removed)."""
    out.mkdir(parents=True, exist_ok=True)
    db = out / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{db.resolve()}"


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="demo-out",
    show_default=True,
    help="Directory for the demo's outputs (its SQLite ledger is recreated here).",
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    default=None,
    help="Use this (empty) ledger database instead of OUT/ledger.db.",
)
@_reported
def demo(out: str, db_url: str | None) -> None:
    """Run the main job on embedded defaults.

    For now: apply sample_data/commands.jsonl to a fresh ledger, check its invariants
    and replay, and print the balances per asset.

    \b
    Examples:
      por demo
      por demo --out /tmp/demo
      por demo --db postgresql://postgres@127.0.0.1:5432/test
    """
    from exchange.commandlog import run_file
    from exchange.ledger import open_ledger
    from exchange.model import CUSTODY, is_system_account, to_human

    url = db_url or _fresh_sqlite(Path(out))
    ledger = open_ledger(url, create=True)
    if ledger.journal.head()[0] != 0:
        _fail(f"por demo: {url} already holds a ledger; give an empty database")
    summary = run_file(ledger.load(), SAMPLE_LOG)
    check = ledger.check()
    replay = ledger.replay_check()
    if not check.ok or not replay.ok:
        for problem in check.problems:
            click.echo(f"violated: {problem}", err=True)
        _fail("por demo: the ledger failed its own checks", 1)
    state = ledger.state_from_tables()
    click.echo(
        f"ledger: {url}\n"
        f"applied {summary.commands} commands ({summary.accepted} accepted, "
        f"{summary.rejected} rejected); invariants hold; replay digest {replay.live[:16]}..."
    )
    users: dict[str, set[str]] = {}
    owed: dict[str, int] = {}
    system: dict[tuple[str, str], int] = {}
    for (account, asset, _bucket), amount in state.balances.items():
        if not amount:
            continue
        if is_system_account(account):
            system[(account, asset)] = system.get((account, asset), 0) + amount
        else:
            users.setdefault(asset, set()).add(account)
            owed[asset] = owed.get(asset, 0) + amount
    click.echo(f"{'asset':<6} {'accounts':>8} {'owed to users':>30} {'held on chain':>30}")
    for symbol in sorted(state.assets):
        d = state.assets[symbol].decimals
        held = -system.get((CUSTODY, symbol), 0)
        click.echo(
            f"{symbol:<6} {len(users.get(symbol, ())):>8} "
            f"{to_human(owed.get(symbol, 0), d):>30} {to_human(held, d):>30}"
        )
    click.echo(f"per-account balances: por exchange state --db {url}")

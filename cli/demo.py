"""`por demo`: a day of the sample exchange, published every hour and verified, in one
command on embedded defaults (Anvil from node_modules, LiteSVM in process, SQLite).

Thin: options and output here; the run itself is `cli._demo_run.run_demo`.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, fail, report
from cli._pieces import pieces_option

__all__ = ["demo"]

EXIT_INTERRUPTED = 130


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    fail(message, code)


class _Bars:
    """Rich progress bars on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.quiet = not enabled
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.enabled,
        )
        self.tasks: dict[str, Any] = {}
        self.current: str | None = None

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish_current()
        self.progress.__exit__(None, None, None)

    def _finish_current(self) -> None:
        if self.current is not None:
            task = self.tasks[self.current]
            total = self.progress.tasks[task].total
            self.progress.update(task, completed=total if total is not None else 1,
                                 total=total if total is not None else 1)  # fmt: skip

    def stage(self, name: str, total: int | None = None) -> None:
        self._finish_current()
        self.current = name
        self.tasks[name] = self.progress.add_task(name, total=total, note="")
        if not self.enabled and not self.quiet:
            click.echo(f"por demo: {name}", err=True)

    def advance(self, name: str, note: str = "") -> None:
        self.progress.update(self.tasks[name], advance=1, note=note)
        if not self.enabled and not self.quiet and note:
            click.echo(f"  {note}", err=True)


def _percent(ppm: int | None) -> str:
    if ppm is None:
        return "-"
    return f"{ppm // 10_000}.{ppm % 10_000 // 100:02d}%"


def _print_summary(result: Any, insolvent: bool, leaf_list: str = "public") -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=120)
    assets = sorted({a for h in result.hours for a in h.coverage_ppm})
    table = Table(title="Hourly proofs of reserves (coverage = on-chain reserves / net "
                  "customer liabilities)", title_justify="left")  # fmt: skip
    table.add_column("hour (UTC)")
    table.add_column("leaves", justify="right")
    for asset in assets:
        table.add_column(asset, justify="right")
    table.add_column("verdict")
    table.add_column("liquidated", justify="right")
    table.add_column("checks", justify="right")
    for h in result.hours:
        verdict = "[green]PASS[/]" if h.status == "PASS" else f"[red]{h.status}[/]"
        checks = f"{h.passed}/{h.passed + len(h.failed)}"
        if h.failed:
            checks = f"[red]{checks}[/]"
        table.add_row(h.snapshot_id[11:16], str(h.leaves),
                      *[_percent(h.coverage_ppm.get(a)) for a in assets], verdict,
                      str(h.liquidated) if h.liquidated else "", checks)  # fmt: skip
    console.print(table)
    for h in result.hours:
        for problem in h.failed:
            console.print(f"[red]check failed[/] {h.snapshot_id}: {problem}")
    steps = sum(h.steps for h in result.hours)
    liquidated = sum(h.liquidated for h in result.hours)
    commands = sum(h.commands for h in result.hours)
    rejected = sum(h.rejected for h in result.hours)
    passed = sum(h.passed for h in result.hours)
    console.print(
        f"ledger: {commands} commands ({rejected} rejected by the exchange's rules), "
        f"{result.accounts} customer accounts; {liquidated} liquidations "
        f"({steps} waterfall steps)"
    )
    console.print(
        f"auditor: {passed} checks passed over {len(result.hours)} "
        f"{'hour' if len(result.hours) == 1 else 'hours'} "
        "(verify bundle, verify reserves on its own nodes, verify log); "
        f"verify history: {'[green]' if result.history_passed else '[red]'}"
        f"{result.history_detail}[/]"
    )
    if result.watch:
        color = "red" if result.watch.startswith("exit 1") else "green"
        console.print(f"por watch --once (reserves at the latest block vs the last hour): "
                      f"[{color}]{result.watch}[/]", soft_wrap=True)  # fmt: skip
    for user in result.users:
        mark = "[green]ok[/]" if user.ok else "[red]FAILED[/]"
        console.print(f"user {user.account} ({user.role}): {mark} {user.detail}")
    out = result.out
    console.print(f"\nsite:      {out / 'site' / 'index.html'} (verifier: site/verifier.html)")
    console.print(f"ledger:    {result.ledger_url}")
    console.print(f"users:     {out / 'users'}/<account>/<hour>/ (proof.json, manifest.json)")
    console.print(f"exchange public key (pin it): {result.public_key}")
    if result.users:
        first = result.users[0]
        console.print(
            f"try:       por verify proof --history {out / 'users' / first.account}/* "
            f"--public-key {result.public_key}"
        )
    last = result.hours[-1].snapshot_id.replace(":", "-") if result.hours else ""
    from cli._demo_run import AUDITOR_IDENTITY

    key_file = out / "auditor" / AUDITOR_IDENTITY
    identity = f" --identity {key_file}" if leaf_list == "auditors" else ""
    console.print(
        f"           por verify bundle {out / 'site' / 'snapshots' / last} "
        f"--public-key {result.public_key}{identity}"
    )
    if leaf_list != "public":
        console.print(
            "leaf list: "
            + (
                f"encrypted for the demo auditor (age); its key: {key_file}"
                if leaf_list == "auditors"
                else "withheld: verify bundle cannot rebuild the tree (it says so)"
            )
        )
    failing = result.failing_hours
    if failing:
        names = ", ".join(h.snapshot_id[11:16] for h in failing)
        plural = "hour" if len(failing) == 1 else "hours"
        console.print(f"[red bold]reserves do not cover liabilities in {len(failing)} {plural}: "
                      f"{names}[/]")  # fmt: skip
        if insolvent:
            console.print("(--insolvent: the exchange moved reserves out of its cold wallets "
                          "before the failing hours; every verifier reports it)")  # fmt: skip
    console.print(f"done in {result.wall_s:.1f} s")


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command(
    epilog="\b\nExamples:\n"
    "  por demo\n"
    "  por demo --out /tmp/demo --accounts 200 --hours 4\n"
    "  por demo --insolvent\n"
    "  por demo --leaf-list auditors --hours 3\n"
    "  por demo --accounts 100000\n"
    "  por demo --db postgresql://postgres@127.0.0.1:5432/test"
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="demo-out",
    show_default=True,
    help="Directory for the outputs: site/, exchange.db, users/, publication/, auditor/.",
)
@click.option(
    "--accounts",
    type=click.IntRange(20, 10_000_000),
    default=2000,
    show_default=True,
    help="Customer accounts (2000 is the committed sample; others are generated).",
)
@click.option(
    "--hours",
    type=click.IntRange(1, 24),
    default=24,
    show_default=True,
    help="Hours of the day to run and publish (01:00 .. HOURS:00).",
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    default=None,
    help="An empty ledger database (also holds the log) instead of OUT/exchange.db.",
)
@click.option(
    "--insolvent",
    is_flag=True,
    help="Move reserves out of the cold wallets before 12:00: those hours fail (exit 1).",
)
@pieces_option
@click.option(
    "--leaf-list",
    type=click.Choice(["public", "auditors", "none"]),
    default="public",
    show_default=True,
    help="How each hour's leaf list is published: in clear, encrypted for the demo's "
    "auditor (an age key in DIR/auditor/), or withheld.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(
    out: str,
    accounts: int,
    hours: int,
    db_url: str | None,
    insolvent: bool,
    pieces: str,
    leaf_list: str,
    quiet: bool,
) -> None:
    """Run a day of the sample exchange, publish every hour's proof, and verify it.

    Starts Anvil (from node_modules) and LiteSVM (in process), deploys the token,
    Multicall3 and anchor contracts, funds the exchange's wallets to match the deposits,
    runs the sample day (trading with cross margin, auto-lend, settlement every 10 s, a BTC
    crash at 15:00 with liquidations) on SQLite, publishes every hour (snapshot, signed
    manifest, transparency log, on-chain anchor, site), then verifies as an auditor
    (bundle, reserves, log, history) and as a few users (their own proofs across hours).
    Exit 0 when every hour is covered and every check passed, 1 otherwise.

    \b
    Examples:
      por demo
      por demo --out /tmp/demo --accounts 200 --hours 4
      por demo --insolvent
    """
    from cli._demo_run import DemoConfig, DemoInputError, run_demo
    from exchange.errors import ExchangeError
    from por.errors import PorError

    previous = signal.signal(signal.SIGTERM, _interrupt)
    from por.snapshot import PiecePolicy, SnapshotConfigError

    try:
        PiecePolicy.parse(pieces)
    except SnapshotConfigError as exc:
        _fail(f"por demo: {exc}", EXIT_USAGE)
    config = DemoConfig(
        Path(out), accounts, hours, db_url, insolvent, pieces=pieces, leaf_list=leaf_list
    )
    try:
        with _Bars(not quiet) as bars:
            result = run_demo(config, bars)
    except KeyboardInterrupt:
        _fail("por demo: interrupted; every process it started was stopped", EXIT_INTERRUPTED)
    except Exception as exc:
        rules: list[Rule] = [
            ((DemoInputError,), EXIT_USAGE, lambda e: f"por demo: {e}"),
            ((ExchangeError, PorError), EXIT_FAILED, lambda e: f"por demo: {e}"),
        ]
        report(exc, rules, "por demo: ")
    finally:
        signal.signal(signal.SIGTERM, previous)
    _print_summary(result, insolvent, leaf_list)
    if not result.ok:
        sys.exit(EXIT_FAILED)

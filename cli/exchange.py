"""`por exchange`: run command logs against the ledger, show balances, check and replay it."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, fail, reporter


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    fail(message, code)


def _rules() -> list[Rule]:
    from exchange.errors import CommandLineError, ExchangeError

    return [
        ((CommandLineError,), EXIT_USAGE, str),  # already names FILE:LINE
        ((ExchangeError,), EXIT_USAGE, lambda exc: f"por exchange: {exc}"),
    ]


_reported = reporter("por exchange: ", _rules)


db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="POR_DATABASE_URL",
    default="sqlite:///por.db",
    show_default=True,
    help="Ledger database (SQLAlchemy URL, SQLite or PostgreSQL; env POR_DATABASE_URL).",
)


@click.group()
def exchange() -> None:
    """The exchange ledger: a double-entry journal of every balance change.

    Commands come from a JSON Lines log (docs/commands.md); balances are derived
    from the append-only journal, which `check` and `replay --check` verify.

    \b
    Examples:
      por exchange run sample_data/commands.jsonl --db sqlite:///por.db
      por exchange state --account alice
      por exchange check
      por exchange replay --check
    """


@exchange.command()
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Commands per transaction (group commit); 1 = one transaction per command.",
)
@_reported
def run(file: str, db_url: str, batch: int) -> None:
    """Apply a command log (JSON Lines) to the ledger.

    Rejected commands are recorded with their reason and the run goes on. An invalid
    line stops the run with FILE:LINE: reason and exit 2; the lines before it stay
    committed and nothing of it is applied.

    \b
    Examples:
      por exchange run sample_data/commands.jsonl
      por exchange run day.jsonl --db postgresql://postgres@127.0.0.1:5432/test --batch 5000
    """
    from exchange.commandlog import run_file
    from exchange.ledger import open_ledger

    ledger = open_ledger(db_url, create=True)
    summary = run_file(ledger.load(), file, batch)
    click.echo(
        f"applied {summary.commands} commands ({summary.accepted} accepted, "
        f"{summary.rejected} rejected); journal at seq {summary.last_seq}"
    )


def _balances_json(balances: dict[tuple[str, str, str], int]) -> dict[str, Any]:
    out: dict[str, dict[str, dict[str, str]]] = {}
    for (account, asset, bucket), amount in sorted(balances.items()):
        if amount:
            out.setdefault(account, {}).setdefault(asset, {})[bucket] = str(amount)
    return out


def _print_table(balances: dict[tuple[str, str, str], int], decimals: dict[str, int]) -> None:
    from exchange.model import to_human

    rows = [
        (acc, asset, bucket, to_human(amount, decimals.get(asset, 0)))
        for (acc, asset, bucket), amount in sorted(balances.items())
        if amount
    ]
    if not rows:
        click.echo("(no balances)")
        return
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for acc, asset, bucket, human in rows:
        click.echo(f"{acc:<{widths[0]}}  {asset:<{widths[1]}}  {bucket:<{widths[2]}}  {human:>24}")


@exchange.command()
@db_option
@click.option("--account", "account", metavar="A", help="Only this account.")
@click.option("--json", "as_json", is_flag=True, help="Machine output, smallest units.")
@_reported
def state(db_url: str, account: str | None, as_json: bool) -> None:
    """Print balances per account, asset and bucket (human units; --json: smallest units).

    \b
    Examples:
      por exchange state
      por exchange state --account alice --json
    """
    from exchange.ledger import open_ledger
    from exchange.model import format_time

    ledger = open_ledger(db_url)
    balances = ledger.journal.balances(account)
    seq, ts = ledger.journal.head()
    assets = ledger.journal.assets()
    if as_json:
        doc = {
            "seq": seq,
            "time": format_time(ts),
            "assets": {s: a.decimals for s, a in sorted(assets.items())},
            "balances": _balances_json(balances),
        }
        click.echo(json.dumps(doc, sort_keys=True))
        return
    click.echo(f"# journal seq {seq}, time {format_time(ts) or '-'}")
    _print_table(balances, {s: a.decimals for s, a in assets.items()})


@exchange.command()
@click.argument("account_id", metavar="ACCOUNT")
@db_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of the account's latest events to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine output, smallest units.")
@_reported
def account(account_id: str, db_url: str, limit: int, as_json: bool) -> None:
    """Show one account: its balances, its margin (collateral, equity, margin fractions,
    positions, lends, borrows and their rates) and the latest events that touched it.

    \b
    Examples:
      por exchange account alice
      por exchange account alice --limit 5 --json
    """
    from exchange.ledger import open_ledger
    from exchange.model import format_time

    ledger = open_ledger(db_url)
    balances = ledger.journal.balances(account_id)
    events = ledger.journal.account_events(account_id, limit)
    if not balances and not events:
        _fail(f"por exchange: unknown account {account_id!r}")
    margin = _margin_view(ledger, account_id)
    liquidation = _liquidation_view(ledger, account_id)
    if as_json:
        doc = {
            "account": account_id,
            "margin": margin,
            "liquidation": liquidation,
            "balances": _balances_json(balances).get(account_id, {}),
            "events": [
                {
                    "seq": e.seq,
                    "time": format_time(e.ts),
                    "cmd": e.cmd,
                    "postings": [
                        {"asset": p[2], "bucket": p[3], "amount": str(p[4])}
                        for p in e.postings
                        if p[1] == account_id
                    ],
                }
                for e in events
            ],
        }
        click.echo(json.dumps(doc, sort_keys=True))
        return
    decimals = {s: a.decimals for s, a in ledger.journal.assets().items()}
    _print_table(balances, decimals)
    from exchange.model import to_human

    if margin is not None:
        _print_margin(margin, decimals)
    if liquidation is not None:
        _print_liquidation(liquidation, decimals)
    for e in events:
        moves = ", ".join(
            f"{p[2]} {p[3]} {to_human(p[4], decimals.get(p[2], 0))}"
            for p in e.postings
            if p[1] == account_id
        )
        click.echo(f"#{e.seq} {format_time(e.ts) or '-'} {e.cmd}: {moves}")


def _margin_view(ledger: Any, account_id: str) -> dict[str, Any] | None:
    """The account's margin view (collateral, equity, fractions, positions, lends, borrows,
    rates) from the state rebuilt from the journal; None when margin is not installed."""
    try:
        from exchange.margin import account_view
    except ImportError:
        return None
    state = ledger.load().state
    if "margin" not in state.ext:
        return None
    view: dict[str, Any] = account_view(state, account_id)
    return view


def _liquidation_view(ledger: Any, account_id: str) -> dict[str, Any] | None:
    """Distance to liquidation (exchange.liquidation); None without exposure or module."""
    try:
        from exchange.liquidation import distance_to_liquidation
    except ImportError:
        return None
    view = distance_to_liquidation(ledger.load().state, account_id)
    if view is None:
        return None
    return {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
            for k, v in view.items()}  # fmt: skip


def _print_liquidation(view: dict[str, Any], decimals: dict[str, int]) -> None:
    from exchange.model import to_human

    ratio = view["maintenance_ratio"]
    click.echo(
        f"liquidation: headroom {to_human(int(view['headroom']), decimals.get('USDC', 6))} USDC"
        f"  maintenance ratio {to_human(int(ratio), 7) + '%' if ratio is not None else '-'}"
        f"  safe move {to_human(int(view['safe_move']), 7)}%"
        + ("  LIQUIDATABLE" if view["liquidatable"] else "")
    )


@exchange.command()
@db_option
@click.option("--account", "account_id", metavar="A", help="Only this account's steps.")
@click.option("--json", "as_json", is_flag=True, help="Machine output, smallest units.")
@_reported
def liquidations(db_url: str, account_id: str | None, as_json: bool) -> None:
    """List every liquidation step in the journal: who, which stage of the waterfall
    (cancel_orders, book, insurance, adl, backstop_lp, backstop_capital), why, and amounts.

    \b
    Examples:
      por exchange liquidations
      por exchange liquidations --account alice --json
    """
    from exchange.ledger import open_ledger
    from exchange.liquidation import liquidation_rows
    from exchange.model import format_time

    rows = liquidation_rows(open_ledger(db_url).events())
    if account_id is not None:
        rows = [r for r in rows if r["account"] == account_id]
    if as_json:
        out = [{**{k: v for k, v in r.items() if k != "ts"}, "time": format_time(r["ts"])}
               for r in rows]  # fmt: skip
        click.echo(json.dumps(out, sort_keys=True))
        return
    for r in rows:
        facts = " ".join(f"{k}={v}" for k, v in sorted(r.items())
                         if k not in ("seq", "ts", "account", "stage", "reason"))  # fmt: skip
        click.echo(f"#{r['seq']} {format_time(r['ts'])} {r['account']} {r['stage']} "
                   f"{r['reason']} {facts}".rstrip())  # fmt: skip
    if not rows:
        click.echo("no liquidations", err=True)


def _print_margin(view: dict[str, Any], decimals: dict[str, int]) -> None:
    from exchange.model import to_human

    usdc = decimals.get("USDC", 6)

    def usd(key: str) -> str:
        return to_human(int(view[key]), usdc)

    click.echo(
        f"margin: collateral {usd('collateral')}  equity {usd('equity')}  "
        f"unrealised {usd('unrealised')}  liabilities {usd('liabilities')} (USDC)"
    )
    click.echo(
        f"        exposure {usd('exposure')}  initial {usd('initial_margin')}  "
        f"maintenance {usd('maintenance_margin')}  MF {view['margin_fraction'] or '-'}  "
        f"IMF {view['account_imf'] or '-'}  MMF {view['account_mmf'] or '-'}"
    )
    for p in view["positions"]:
        click.echo(
            f"position {p['market']}: size {p['size']} mark {to_human(int(p['mark']), usdc)} "
            f"notional {to_human(int(p['notional']), usdc)} "
            f"unrealised {to_human(int(p['unrealised']), usdc)} IMF {p['imf']} MMF {p['mmf']}"
        )
    for kind in ("lends", "borrows"):
        for item in view[kind]:
            amount = to_human(int(item["amount"]), decimals.get(item["asset"], 0))
            click.echo(f"{kind[:-1]} {item['asset']}: {amount} at {item['rate']} a year")
    if view["unpriced"]:
        click.echo(f"unpriced: {', '.join(view['unpriced'])}")


@exchange.command()
@db_option
@_reported
def check(db_url: str) -> None:
    """Check the ledger's invariants on the stored journal (exit 1 if any fails).

    Per asset the postings sum to zero (every entry, and overall); user claims plus
    system balances equal custody, which equals deposits minus withdrawals; no bucket is
    outside its allowed sign; the journal sequence has no gap; the balances table equals
    the sums of the postings; the claims table the snapshot cut reads equals them per
    account and asset (each difference names the account/asset).

    \b
    Examples:
      por exchange check
      por exchange check --db postgresql://postgres@127.0.0.1:5432/test
    """
    from exchange.ledger import open_ledger

    report = open_ledger(db_url).check()
    if not report.ok:
        for problem in report.problems:
            click.echo(f"violated: {problem}", err=True)
        _fail(f"por exchange check: {len(report.problems)} invariant(s) violated", EXIT_FAILED)
    click.echo(f"ok: {report.events} events, all invariants hold")


@exchange.command()
@db_option
@click.option(
    "--check",
    "do_check",
    is_flag=True,
    help="Compare the replayed state digest with the stored state (exit 1 if not equal).",
)
@_reported
def replay(db_url: str, do_check: bool) -> None:
    """Replay the journal into an empty state and print its digest.

    With --check, the stored state (balances table and head) is compared with the state
    rebuilt from the journal's postings and with the state reached by re-executing every
    recorded command; each re-executed event must equal the recorded one.

    \b
    Examples:
      por exchange replay
      por exchange replay --check
    """
    from exchange.ledger import open_ledger

    ledger = open_ledger(db_url)
    if not do_check:
        from exchange.replay import rebuild, state_digest

        click.echo(state_digest(rebuild(ledger.journal.events())))
        return
    report = ledger.replay_check()
    if not report.ok:
        click.echo(f"stored:      {report.live}", err=True)
        click.echo(f"rebuilt:     {report.rebuilt}", err=True)
        click.echo(f"re-executed: {report.reexecuted}", err=True)
        if report.first_mismatch is not None:
            click.echo(f"first differing event: seq {report.first_mismatch}", err=True)
        _fail("por exchange replay: replayed state differs from the stored state", EXIT_FAILED)
    click.echo(f"ok: replayed state digest {report.live} matches")


@exchange.command()
@click.argument("market")
@db_option
@click.option(
    "--depth", type=click.IntRange(min=1), default=10, show_default=True, help="Levels per side."
)
@click.option("--json", "as_json", is_flag=True, help="Machine output, smallest units.")
@_reported
def book(market: str, db_url: str, depth: int, as_json: bool) -> None:
    """Print the top of a market's order book (rebuilt from the journal).

    Asks above, best ask last; then bids, best bid first. Human units by default:
    price in quote per whole base unit, quantity in base.

    \b
    Examples:
      por exchange book BTC/USDC
      por exchange book BTC-PERP --depth 5 --json
    """
    from exchange.ledger import open_ledger
    from exchange.matching import OrderRejected, book_view
    from exchange.model import to_human

    ledger = open_ledger(db_url)
    try:
        view = book_view(ledger.load().state, market, depth)
    except OrderRejected as exc:
        _fail(f"por exchange book: {exc}")
    if as_json:
        click.echo(json.dumps(view, sort_keys=True))
        return
    decimals = {s: a.decimals for s, a in ledger.journal.assets().items()}
    qd, bd = decimals.get(view["quote"], 0), view["base_decimals"]
    click.echo(f"# {view['market']} ({view['kind']}, {view['state']})")
    rows = [("ask", lv) for lv in reversed(view["asks"])] + [("bid", lv) for lv in view["bids"]]
    if not rows:
        click.echo("(empty book)")
    for side, lv in rows:
        price = to_human(int(lv["price"]), qd)
        qty = to_human(int(lv["quantity"]), bd)
        click.echo(f"{side}  {price:>18}  {qty:>18}  {lv['orders']:>5} orders")

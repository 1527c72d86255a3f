"""Restart: books, positions and balances come back from the persisted journal, and a
journal whose recorded fills disagree with a re-execution is refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from matching_venue import MARKETS, MODULES, P, Venue

from exchange.ledger import open_ledger
from exchange.matching import matching_state
from exchange.registry import build_registry, default_registry
from exchange.replay import check_replay, rebuild, state_digest

TRADING = [
    {"cmd": "deposit", "account": "alice", "asset": "USDC", "amount": "100000000000", "tx": "1"},
    {"cmd": "deposit", "account": "bob", "asset": "BTC", "amount": "100000000", "tx": "2"},
    {"cmd": "deposit", "account": "bob", "asset": "USDC", "amount": "100000000000", "tx": "3"},
    {"cmd": "order", "account": "bob", "market": "BTC/USDC", "side": "sell",
     "price": str(P + 100_000), "quantity": "6000000", "cid": "s1"},
    {"cmd": "order", "account": "bob", "market": "BTC/USDC", "side": "sell",
     "price": str(P + 200_000), "quantity": "3000000"},
    {"cmd": "order", "account": "alice", "market": "BTC/USDC", "side": "buy",
     "price": str(P + 100_000), "quantity": "5000000"},
    {"cmd": "order", "account": "alice", "market": "BTC/USDC", "side": "buy",
     "price": str(P - 100_000), "quantity": "1000000"},
    {"cmd": "order", "account": "bob", "market": "BTC-PERP", "side": "sell",
     "price": str(P), "quantity": "2000000"},
    {"cmd": "order", "account": "alice", "market": "BTC-PERP", "side": "buy",
     "type": "market", "quantity": "1000000"},
    {"cmd": "cancel", "account": "bob", "market": "BTC/USDC", "cid": "s1"},
    {"cmd": "order", "account": "alice", "market": "BTC/USDC", "side": "buy",
     "price": str(P), "quantity": "1000", "cid": "late"},
]  # fmt: skip


def test_restart_from_the_database_rebuilds_the_same_books_and_balances(db_url: str) -> None:
    ledger = open_ledger(db_url, create=True)
    ledger.registry = build_registry(MODULES)
    live = ledger.load()
    for raw in [*MARKETS, *TRADING]:
        event = live.apply(raw)
        assert event.accepted, f"{raw}: {event.reason} {event.detail}"
    live.flush()
    ledger.engine.dispose()

    again = open_ledger(db_url)
    again.registry = build_registry(MODULES)
    restarted = again.load()
    assert state_digest(restarted.state, again.registry) == state_digest(live.state, again.registry)
    books, books_again = (matching_state(s).books for s in (live.state, restarted.state))
    for symbol in books:
        assert [vars_of(o) for o in books[symbol].resting_orders()] == [
            vars_of(o) for o in books_again[symbol].resting_orders()
        ], f"{symbol} differs after restart"
    assert matching_state(restarted.state).next_id == matching_state(live.state).next_id
    assert again.check().ok, again.check().problems
    assert again.replay_check().ok
    # trading continues on the restarted state exactly as it would have on the live one
    nxt = {"cmd": "order", "account": "bob", "market": "BTC/USDC", "side": "sell",
           "price": str(P - 100_000), "quantity": "2000000"}  # fmt: skip
    assert restarted.apply(nxt).data == live.apply(nxt).data
    again.engine.dispose()


def vars_of(order: object) -> tuple[object, ...]:
    return tuple(getattr(order, name) for name in type(order).__slots__)  # type: ignore[attr-defined]


def test_journal_with_tampered_fills_is_refused_on_replay(venue: Venue) -> None:
    for raw in TRADING:
        venue.apply(raw)
    events = venue.events()
    assert check_replay(venue.state, events, venue.registry).ok
    i = next(i for i, e in enumerate(events) if e.data and "fills" in e.data)
    forged = dict(events[i].data or {})
    forged["fills"] = [[f[0], f[1] + 1000, f[2]] for f in forged["fills"]]
    events[i] = (
        dataclasses.replace(events[i], data=forged)
        if dataclasses.is_dataclass(events[i])
        else events[i]._replace(data=forged)
    )  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=f"journal event {events[i].seq} \\(order\\)"):
        rebuild(events, venue.registry)


def test_por_exchange_book_prints_the_top_of_the_book(tmp_path: Path) -> None:
    from cli.main import cli

    lines = [*MARKETS[:2]]
    if "auto_lend" in default_registry().commands:  # keep deposits available for trading
        lines += [{"cmd": "auto_lend", "account": a, "asset": s, "enabled": False}
                  for a in ("alice", "bob") for s in ("BTC", "USDC")]  # fmt: skip
    lines += [*MARKETS[2:], *TRADING]
    log = tmp_path / "day.jsonl"
    log.write_text("".join(json.dumps(raw) + "\n" for raw in lines))
    db = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    ran = runner.invoke(cli, ["exchange", "run", str(log), "--db", db])
    assert ran.exit_code == 0, ran.output
    shown = runner.invoke(cli, ["exchange", "book", "BTC/USDC", "--db", db, "--json"])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.output)
    assert view["asks"] == [{"price": str(P + 200_000), "quantity": "3000000", "orders": 1}]
    assert view["bids"] == [
        {"price": str(P), "quantity": "1000", "orders": 1},
        {"price": str(P - 100_000), "quantity": "1000000", "orders": 1},
    ]
    human = runner.invoke(cli, ["exchange", "book", "BTC/USDC", "--db", db])
    assert "ask             60000.2                0.03      1 orders" in human.output, human.output
    missing = runner.invoke(cli, ["exchange", "book", "DOGE/USDC", "--db", db])
    assert missing.exit_code == 2 and "unknown_market" in missing.output

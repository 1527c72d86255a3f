"""The engine's handler API: registry, rollback, jobs, replay hooks, invalid input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange import fields
from exchange.engine import Context, Exchange, MemoryJournal
from exchange.errors import InvalidCommandError, LedgerBugError
from exchange.model import FEES, Event
from exchange.registry import Registry, build_registry
from exchange.replay import check_replay, rebuild, state_digest
from exchange.state import LedgerState

SETUP = [
    '{"cmd":"asset","symbol":"BTC","decimals":8}',
    '{"cmd":"clock","time":"2026-11-24T16:00:00Z"}',
    '{"cmd":"deposit","account":"alice","asset":"BTC","amount":"1000","tx":"t1"}',
]


def _fee_then_maybe_reject(ctx: Context, p: tuple[str, int, bool]) -> None:
    account, amount, fail = p
    ctx.require_available(account, "BTC", amount)
    ctx.post((account, "BTC", "available", -amount), (FEES, "BTC", "available", amount))
    ctx.state.ext["tally"]["n"] += 1
    ctx.on_rollback(
        lambda: ctx.state.ext["tally"].__setitem__("n", ctx.state.ext["tally"]["n"] - 1)
    )
    ctx.emit(charged=amount)
    if fail:
        ctx.reject("fee_must_not_fail", "asked to fail")


def _replay_fee(state: LedgerState, event: Event) -> None:
    state.ext["tally"]["n"] += 1


def _interest(ctx: Context, instant: int) -> None:
    if ctx.balance("alice", "BTC") > 0:
        ctx.post(("alice", "BTC", "available", -1), (FEES, "BTC", "available", 1))
        ctx.emit(instant=instant)


def registry_with_plugin() -> Registry:
    registry = build_registry(("exchange.core",))
    registry.state("tally", lambda: {"n": 0})
    registry.digest("tally", lambda s: str(s.ext["tally"]["n"]).encode())
    registry.command(
        "fee",
        lambda raw: (fields.string(raw, "account"), fields.amount(raw), bool(raw.get("fail"))),
        _fee_then_maybe_reject,
    )
    registry.on_replay("fee", _replay_fee)
    registry.job("interest", 3_600_000, _interest)
    return registry


def make() -> tuple[Exchange, MemoryJournal]:
    journal = MemoryJournal()
    ex = Exchange(registry_with_plugin(), journal=journal)
    for line in SETUP:
        ex.apply_line(line)
    return ex, journal


def test_a_module_command_posts_and_its_replay_hook_rebuilds_module_state() -> None:
    ex, journal = make()
    event = ex.apply_line('{"cmd":"fee","account":"alice","amount":"10"}')
    ex.flush()
    assert event.data == {"charged": 10}
    assert ex.state.balance(FEES, "BTC") == 10
    rebuilt = rebuild(journal.events, ex.registry)
    assert rebuilt.ext["tally"]["n"] == 1
    assert check_replay(ex.state, journal.events, ex.registry).ok


def test_a_reject_after_posting_undoes_postings_and_module_changes() -> None:
    ex, _ = make()
    before = ex.state.balances.copy()
    event = ex.apply_line('{"cmd":"fee","account":"alice","amount":"10","fail":true}')
    assert (event.status, event.reason, event.postings, event.data) == (
        "rejected",
        "fee_must_not_fail",
        (),
        None,
    )
    assert ex.state.balances == before
    assert ex.state.ext["tally"]["n"] == 0


def test_jobs_run_once_per_instant_the_clock_passes_in_time_order() -> None:
    ex, journal = make()
    ex.apply_line('{"cmd":"clock","time":"2026-11-24T19:30:00Z"}')
    ex.flush()
    jobs = [e for e in journal.events if e.kind == "job"]
    assert [json.loads(e.command)["at"] for e in jobs] == [e.ts for e in jobs]
    assert len(jobs) == 3, "17:00, 18:00 and 19:00 were passed"
    assert journal.events[-1].cmd == "clock", "jobs run before the command that moved time"
    assert ex.state.balance(FEES, "BTC") == 3
    assert check_replay(ex.state, journal.events, ex.registry).ok


def test_jobs_do_not_run_on_the_first_clock() -> None:
    ex = Exchange(registry_with_plugin())
    ex.apply_line('{"cmd":"clock","time":"2026-11-24T16:00:00Z"}')
    assert [e.kind for e in ex.pending] == ["command"]


def test_an_unbalanced_entry_is_a_bug_and_rolls_back() -> None:
    registry = build_registry(("exchange.core",))
    registry.command(
        "mint", lambda raw: None, lambda ctx, p: ctx.post(("alice", "BTC", "available", 5))
    )
    ex = Exchange(registry)
    for line in SETUP:
        ex.apply_line(line)
    with pytest.raises(LedgerBugError, match="unbalanced entry"):
        ex.apply_line('{"cmd":"mint"}')
    assert ex.state.balance("alice", "BTC") == 1000


def test_a_bucket_left_outside_its_sign_is_a_bug() -> None:
    registry = build_registry(("exchange.core",))
    registry.command(
        "overdraw",
        lambda raw: None,
        lambda ctx, p: ctx.move("alice", "BTC", "available", "lent", 2000),
    )
    ex = Exchange(registry)
    for line in SETUP:
        ex.apply_line(line)
    with pytest.raises(LedgerBugError, match="'available' of alice/BTC would be -1000"):
        ex.apply_line('{"cmd":"overdraw"}')
    assert ex.state.balance("alice", "BTC", "lent") == 0


def test_a_recorded_debt_lives_in_the_borrowed_bucket() -> None:
    registry = build_registry(("exchange.core",))
    registry.command(
        "borrow",
        lambda raw: None,
        lambda ctx, p: ctx.move("alice", "BTC", "borrowed", "available", 500),
    )
    ex = Exchange(registry)
    for line in SETUP:
        ex.apply_line(line)
    assert ex.apply_line('{"cmd":"borrow"}').status == "accepted"
    assert ex.state.balance("alice", "BTC", "borrowed") == -500


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"asset": "BTC"}', "missing field 'cmd'"),
        ('{"cmd": "teleport"}', "unknown cmd 'teleport'"),
        ('{"cmd": "deposit", "account": "a", "asset": "BTC", "tx": "t"}', "missing field 'amount'"),
        (
            '{"cmd": "deposit", "account": "a", "asset": "BTC", "amount": 5, "tx": "t"}',
            "JSON number",
        ),
        (
            '{"cmd": "deposit", "account": "a", "asset": "BTC", "amount": 1.5, "tx": "t"}',
            "JSON number",
        ),
        (
            '{"cmd": "deposit", "account": "a", "asset": "BTC", "amount": "1.5", "tx": "t"}',
            "integer decimal",
        ),
        (
            '{"cmd": "deposit", "account": "a", "asset": "BTC", "amount": "1e3", "tx": "t"}',
            "integer decimal",
        ),
        (
            '{"cmd": "deposit", "account": "a", "asset": "BTC", "amount": "007", "tx": "t"}',
            "leading zeros",
        ),
        ('{"cmd": "asset", "symbol": "btc", "decimals": 8}', "A-Z 0-9"),
        ('{"cmd": "asset", "symbol": "BTC", "decimals": 39}', "decimals"),
        ('{"cmd": "clock", "time": "yesterday"}', "2026-11-24T16:00:00Z"),
        ('{"cmd": "clock"}', "missing field 'time'"),
        ('{"cmd": "transfer", "from": "a", "to": "", "asset": "BTC", "amount": "1"}', "non-empty"),
    ],
)
def test_an_invalid_command_raises_and_records_nothing(line: str, message: str) -> None:
    ex, _ = make()
    before = (state_digest(ex.state, ex.registry), len(ex.pending))
    with pytest.raises(InvalidCommandError, match=message):
        ex.apply_line(line)
    assert (state_digest(ex.state, ex.registry), len(ex.pending)) == before


def test_reexecution_spots_a_tampered_event() -> None:
    ex, journal = make()
    ex.apply_line('{"cmd":"fee","account":"alice","amount":"10"}')
    ex.flush()
    events: list[Any] = list(journal.events)
    e = events[-1]
    forged = e._replace(data={"charged": 11})
    events[-1] = forged
    report = check_replay(ex.state, events, ex.registry)
    assert not report.ok
    assert report.first_mismatch == e.seq

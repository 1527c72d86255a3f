"""The engine's hot-path pieces: `FastPath` handlers, `Context.post_entries`, and the sign and
size checks `move` and `post_entries` make as they write (instead of after the command)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange.engine import Context, Exchange, FastPath, MemoryJournal
from exchange.errors import LedgerBugError
from exchange.model import AMOUNT_LIMIT, CUSTODY, FEES
from exchange.registry import Registry, build_registry

SETUP = [
    '{"cmd":"asset","symbol":"BTC","decimals":8}',
    '{"cmd":"deposit","account":"alice","asset":"BTC","amount":"1000","tx":"t1"}',
    '{"cmd":"deposit","account":"bob","asset":"BTC","amount":"1000","tx":"t2"}',
]

Legs = tuple[tuple[str, str, str, int], ...]


def _exchange(*commands: tuple[str, Any]) -> Exchange:
    registry = build_registry(("exchange.core",))
    for name, handle in commands:
        registry.command(name, lambda raw: raw, handle)
    ex = Exchange(registry, journal=MemoryJournal())
    for line in SETUP:
        assert ex.apply_line(line).accepted
    return ex


def _entries(raw: dict[str, Any]) -> list[Legs]:
    return [tuple(tuple(leg) for leg in entry) for entry in raw["entries"]]  # type: ignore[misc]


def test_post_entries_posts_what_post_posts_entry_by_entry() -> None:
    entries = [
        [["alice", "BTC", "available", -10], ["bob", "BTC", "available", 10]],
        [["alice", "BTC", "available", 0], ["bob", "BTC", "available", 0]],  # takes a number
        [["bob", "BTC", "available", -3], ["alice", "BTC", "available", 2],
         [FEES, "BTC", "available", 1], ["bob", "BTC", "locked_order", 0]],
    ]  # fmt: skip
    line = json.dumps({"cmd": "pay", "entries": entries})

    def each(ctx: Context, raw: dict[str, Any]) -> None:
        for legs in _entries(raw):
            ctx.post(*legs)

    def batched(ctx: Context, raw: dict[str, Any]) -> None:
        ctx.post_entries(_entries(raw))

    by_post = _exchange(("pay", each)).apply_line(line)
    by_entries = _exchange(("pay", batched)).apply_line(line)
    assert by_entries.accepted
    assert by_entries.postings == by_post.postings
    assert [p[0] for p in by_entries.postings] == [0, 0, 2, 2, 2]


@pytest.mark.parametrize("how", ["move", "post_entries"])
def test_a_value_out_of_its_sign_while_written_counts_only_if_it_stays(how: str) -> None:
    """The checks are on the values after the command: a bucket overdrawn by one posting and
    refilled by a later one is fine; one left overdrawn is a bug, reported as before."""

    def overdraw(ctx: Context, raw: dict[str, Any]) -> None:
        if how == "move":
            ctx.move("alice", "BTC", "available", "locked_order", 1500)
        else:
            ctx.post_entries([(("alice", "BTC", "available", -1500),
                               ("alice", "BTC", "locked_order", 1500))])  # fmt: skip
        if raw.get("refill"):
            ctx.post(("bob", "BTC", "available", -600), ("alice", "BTC", "available", 600))

    ex = _exchange(("overdraw", overdraw))
    event = ex.apply_line('{"cmd":"overdraw","refill":true}')
    assert event.accepted
    assert ex.state.balance("alice", "BTC") == 100
    with pytest.raises(LedgerBugError, match="'available' of alice/BTC would be -1400"):
        ex.apply_line('{"cmd":"overdraw"}')
    assert ex.state.balance("alice", "BTC") == 100, "the failed command was rolled back"
    assert ex.state.balance("alice", "BTC", "locked_order") == 1500


def test_post_entries_above_the_amount_limit_is_rejected_and_rolled_back() -> None:
    def huge(ctx: Context, raw: dict[str, Any]) -> None:
        ctx.post_entries([((CUSTODY, "BTC", "onchain", -(AMOUNT_LIMIT - 1)),
                           ("alice", "BTC", "available", AMOUNT_LIMIT - 1))])  # fmt: skip

    ex = _exchange(("huge", huge))
    event = ex.apply_line('{"cmd":"huge"}')
    assert (event.status, event.reason) == ("rejected", "balance_must_be_below_limit")
    assert ex.state.balance("alice", "BTC") == 1000
    assert ex.state.balance(CUSTODY, "BTC", "onchain") == -2000


def test_post_entries_checks_buckets_of_other_signs_after_the_command() -> None:
    def custody(ctx: Context, raw: dict[str, Any]) -> None:
        amount = int(raw["amount"])
        ctx.post_entries([((CUSTODY, "BTC", "onchain", amount),
                           ("alice", "BTC", "available", -amount))])  # fmt: skip

    ex = _exchange(("custody", custody))
    assert ex.apply_line('{"cmd":"custody","amount":"500"}').accepted  # onchain -2000 -> -1500
    with pytest.raises(LedgerBugError, match="'onchain' of @custody/BTC would be 1000"):
        ex.apply_line('{"cmd":"custody","amount":"2500"}')  # alice would be < 0 too: first one
    assert ex.state.balance(CUSTODY, "BTC", "onchain") == -1500


def _fast_registry(calls: list[str]) -> Registry:
    """`give`: a general handler, and a fast path that takes only {"cmd", "amount"}."""

    def handle(ctx: Context, raw: dict[str, Any]) -> None:
        calls.append("general")
        amount = int(raw["amount"])
        ctx.require_available("alice", "BTC", amount)
        ctx.post(("alice", "BTC", "available", -amount), ("bob", "BTC", "available", amount))
        ctx.emit(given=amount)

    def fast(ctx: Context, raw: dict[str, Any]) -> bool:
        if len(raw) != 2:
            return False
        calls.append("fast")
        amount = int(raw["amount"])
        if ctx.balance("alice", "BTC") < amount:
            ctx.reject("insufficient_available_balance", f"alice has less than {amount}")
        ctx.post_entries([(("alice", "BTC", "available", -amount),
                           ("bob", "BTC", "available", amount))])  # fmt: skip
        ctx.emit(given=amount)
        return True

    registry = build_registry(("exchange.core",))
    registry.command("give", lambda raw: raw, FastPath(handle, fast))
    return registry


def test_the_engine_offers_a_command_to_its_fast_path_first() -> None:
    calls: list[str] = []
    ex = Exchange(_fast_registry(calls), journal=MemoryJournal())
    for line in SETUP:
        ex.apply_line(line)
    event = ex.apply_line('{"cmd":"give","amount":"10"}')
    assert calls == ["fast"] and event.accepted and event.data == {"given": 10}
    assert event.postings == ((0, "alice", "BTC", "available", -10),
                              (0, "bob", "BTC", "available", 10))  # fmt: skip
    calls.clear()
    event = ex.apply_line('{"cmd":"give","amount":"5000"}')
    assert calls == ["fast"]
    assert (event.status, event.reason, event.postings) == (
        "rejected",
        "insufficient_available_balance",
        (),
    )
    assert ex.state.balance("alice", "BTC") == 990


@pytest.mark.parametrize(
    "line",
    [
        '{"cmd":"give","amount":"10","note":1}',  # declined by the fast path itself
        '{"cmd":"give","amount":"10","ts":"2026-11-24T16:00:00Z"}',  # a time field: never
    ],
)
def test_a_declined_or_timed_command_takes_the_general_path(line: str) -> None:
    calls: list[str] = []
    ex = Exchange(_fast_registry(calls), journal=MemoryJournal())
    for setup in SETUP:
        ex.apply_line(setup)
    event = ex.apply_line(line)
    assert calls == ["general"] and event.accepted and event.data == {"given": 10}


def test_a_command_without_text_takes_the_general_path() -> None:
    calls: list[str] = []
    ex = Exchange(_fast_registry(calls), journal=MemoryJournal())
    for setup in SETUP:
        ex.apply_line(setup)
    assert ex.apply({"cmd": "give", "amount": "10"}).accepted
    assert calls == ["general"]

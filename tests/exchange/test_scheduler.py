"""Periodic jobs over a clock jump (issue 17, item 11): bounded memory, a documented maximum
jump, and a cost linear in the job runs that record something; the lazy scheduler gives
exactly the events of the plain one (every instant of every job, in time order)."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.engine import MAX_CLOCK_JUMP_MS, Context, Exchange
from exchange.model import format_time, parse_time
from exchange.registry import Registry, build_registry

REPO = Path(__file__).resolve().parents[2]
T0 = parse_time("2026-11-24T16:00:00Z")
DAY_MS = 86_400_000


class ReferenceExchange(Exchange):
    """The plain scheduler: every instant of every job in (now, to], sorted, run in turn."""

    def _advance(self, to: int) -> None:
        state = self.state
        now = state.time
        if now is not None and self._jobs and to > now:
            due = []
            for order, job in enumerate(self._jobs):
                p = job.period_ms
                instant = (now // p + 1) * p
                while instant <= to:
                    due.append((instant, order, job))
                    instant += p
            due.sort(key=lambda d: (d[0], d[1]))
            for instant, _, job in due:
                state.time = instant
                self._run_job(job, instant)
        state.time = to


def clock(ms: int) -> str:
    return json.dumps({"cmd": "clock", "time": format_time(ms)})


def test_a_clock_jump_over_seven_days_or_to_the_year_9999_is_rejected_and_moves_nothing() -> None:
    ex = Exchange()
    ex.apply_line(clock(T0))
    over = ex.apply_line(clock(T0 + MAX_CLOCK_JUMP_MS + 1))
    assert (over.status, over.reason) == ("rejected", "time_jump_must_not_exceed_limit")
    assert ex.state.time == T0
    far = ex.apply_line('{"cmd":"clock","time":"9999-12-31T23:59:59Z"}')
    assert far.reason == "time_jump_must_not_exceed_limit"
    dep = ex.apply_line(
        '{"cmd":"account","id":"bob","ts":"9999-12-31T23:59:59Z"}'
    )  # any command's ts, too
    assert dep.reason == "time_jump_must_not_exceed_limit"
    assert ex.state.time == T0 and "bob" not in ex.state.accounts
    ok = ex.apply_line(clock(T0 + MAX_CLOCK_JUMP_MS))
    assert ok.status == "accepted" and ex.state.time == T0 + MAX_CLOCK_JUMP_MS


def _counting_registry(reads_clock: bool) -> tuple[Registry, list[int]]:
    registry = build_registry(("exchange.core",))
    calls: list[int] = []

    def idle(ctx: Context, instant: int) -> None:
        calls.append(instant)

    registry.job("idle", 1_000, idle, reads_clock=reads_clock)
    return registry, calls


def test_an_idle_job_runs_once_over_a_seven_day_gap_not_once_per_instant() -> None:
    registry, calls = _counting_registry(reads_clock=False)
    ex = Exchange(registry)
    ex.apply_line(clock(T0))
    ex.apply_line(clock(T0 + MAX_CLOCK_JUMP_MS))
    assert calls == [T0 + 1_000]
    ex.apply_line(json.dumps({"cmd": "account", "id": "a", "ts": format_time(T0 + 2 * DAY_MS * 4)}))
    assert calls == [T0 + 1_000, T0 + MAX_CLOCK_JUMP_MS + 1_000]


def test_a_job_that_reads_the_clock_runs_at_every_instant_of_the_gap() -> None:
    registry, calls = _counting_registry(reads_clock=True)
    ex = Exchange(registry)
    ex.apply_line(clock(T0))
    ex.apply_line(clock(T0 + 3_600_000))
    assert calls == list(range(T0 + 1_000, T0 + 3_600_001, 1_000))


# -- differential: lazy scheduler against the plain one ------------------------------------
class Toy:
    """Module state of the toy jobs: `a` chases `b`; `b` grows by 2 when `a` caught up."""

    def __init__(self) -> None:
        self.a = 0
        self.b = 0


def _toy_registry(periods: tuple[int, int, int], cap: int) -> Registry:
    registry = build_registry(("exchange.core",))
    registry.state("toy", Toy)

    def chase(ctx: Context, instant: int) -> None:
        toy: Toy = ctx.state.ext["toy"]
        if toy.a < toy.b:
            toy.a += 1
            ctx.on_rollback(lambda: setattr(toy, "a", toy.a - 1))
            ctx.emit(a=toy.a)

    def grow(ctx: Context, instant: int) -> None:
        toy: Toy = ctx.state.ext["toy"]
        if toy.a == toy.b and toy.b < cap:
            toy.b += 2
            ctx.emit(b=toy.b)

    def refuse(ctx: Context, instant: int) -> None:
        toy: Toy = ctx.state.ext["toy"]
        if toy.b == cap and toy.a == cap - 1:
            ctx.reject("toy_must_not_stall")

    registry.job("chase", periods[0], chase)
    registry.job("grow", periods[1], grow)
    registry.job("refuse", periods[2], refuse)
    return registry


def _events(ex: Exchange) -> list[tuple[Any, ...]]:
    return [(e.seq, e.ts, e.kind, e.cmd, e.status, e.reason, e.data) for e in ex.pending]


@settings(max_examples=60, deadline=None)
@given(
    periods=st.tuples(*[st.sampled_from([1, 2, 3, 5, 7, 10]) for _ in range(3)]),
    cap=st.integers(0, 12),
    jumps=st.lists(st.integers(0, 80), min_size=1, max_size=6),
)
def test_the_lazy_scheduler_gives_the_plain_schedulers_events(
    periods: tuple[int, int, int], cap: int, jumps: list[int]
) -> None:
    lazy = Exchange(_toy_registry(periods, cap))
    plain = ReferenceExchange(_toy_registry(periods, cap))
    at = T0
    for ex in (lazy, plain):
        ex.apply_line(clock(at))
    for jump in jumps:
        at += jump
        for ex in (lazy, plain):
            ex.apply_line(clock(at))
    assert _events(lazy) == _events(plain)


def test_the_sample_exchange_over_a_two_hour_gap_gives_the_plain_schedulers_events() -> None:
    lazy, plain = Exchange(), ReferenceExchange()
    with open(REPO / "sample_data" / "config.jsonl") as config:
        head = list(config)
    with open(REPO / "sample_data" / "day.jsonl") as day:
        head += list(islice(day, 3_000))  # perps traded: every job has work
    for ex in (lazy, plain):
        for line in head:
            ex.apply_line(line)
    before = len(lazy.pending)
    for ex in (lazy, plain):
        assert ex.state.time is not None
        ex.apply_line(clock(ex.state.time + 2 * 3_600_000))
    assert _events(lazy) == _events(plain)
    gap = {e[3] for e in _events(lazy)[before:] if e[2] == "job"}
    assert {"mark_update", "settlement", "lending_interest", "funding"} <= gap

"""The fast settlement tick and hourly interest posting (column-wise entries, bulk share
updates) against their plain references (`settle_reference`, `post_interest_reference`:
a Python loop per account, posted leg by leg): over a seeded crash through the command log
(liquidations included) and an hour boundary, both journals are the same event for event
(postings in the same order, same data) and the states have the same digest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exchange.engine import BULK_LEGS, Exchange
from exchange.lending._reference import post_interest_reference
from exchange.model import Event, format_time
from exchange.registry import build_registry
from exchange.replay import check_replay, state_digest
from exchange.settlement._reference import settle_reference

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "liquidation"))

from crash_scenario import crash_log  # noqa: E402
from liquidation_world import T0, USDC  # noqa: E402

PATH = [-150, 40, -300, 120, -250, -80, 200, -400, 60, -120, 90, -60] * 2


def _run(lines: list[str], reference: bool, monkeypatch: pytest.MonkeyPatch) -> Exchange:
    with monkeypatch.context() as patch:
        if reference:  # the modules register these names when the registry is built
            patch.setattr("exchange.settlement.settle", settle_reference)
            patch.setattr("exchange.lending.post_interest", post_interest_reference)
        ex = Exchange(build_registry())
    for line in lines:
        ex.apply_line(line)
    return ex


def _scenario() -> list[str]:
    lines = crash_log(7, 70, PATH)
    # some traders opt out of auto-lend before the path starts (profits stay available)
    start = next(i for i, line in enumerate(lines) if '"ts"' in line)
    lines[start:start] = [
        f'{{"cmd":"auto_lend","account":"u{i:03d}","asset":"USDC","enabled":false}}'
        for i in range(0, 70, 5)
    ]
    # lenders of every size, then past a whole hour (interest)
    for i in range(40):
        lines.append(
            f'{{"cmd":"deposit","account":"saver{i:02d}","asset":"USDC",'
            f'"amount":"{(i + 1) * 997 * USDC}","tx":"saver{i}"}}'
        )
    lines.append(f'{{"cmd":"clock","time":"{format_time(T0 + 3_600_000)}"}}')
    return lines


def test_fast_settlement_and_interest_journal_equals_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = _scenario()
    fast = _run(lines, False, monkeypatch)
    slow = _run(lines, True, monkeypatch)
    assert len(fast.pending) == len(slow.pending)
    for mine, theirs in zip(fast.pending, slow.pending, strict=True):
        assert mine == theirs, f"seq {theirs.seq} ({theirs.cmd}) differs from the reference"
    assert state_digest(fast.state) == state_digest(slow.state)

    def big(cmd: str) -> list[Event]:
        return [e for e in fast.pending if e.cmd == cmd and len(e.postings) > BULK_LEGS]

    assert big("settlement"), "some settlement entry must take the column-wise path"
    kept = {p[1] for e in big("settlement") for p in e.postings if p[3] == "available" and p[4] > 0}
    assert kept, "a profit of an account without auto-lend stays available"
    assert [e for e in fast.pending if e.cmd == "lending_interest"], "a whole hour passed"
    assert check_replay(fast.state, fast.pending, fast.registry).ok

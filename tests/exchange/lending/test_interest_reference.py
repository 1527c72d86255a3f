"""The hourly interest posting (column-wise entry) against its plain reference
(`post_interest_reference`: a Python loop per account, posted leg by leg): the same entry,
leg for leg, every hour, including the hours where @fees is a lender (two legs on its
`lent`: its interest, then the new fee) and lenders too small to earn (no leg)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange.engine import Exchange
from exchange.lending._reference import post_interest_reference
from exchange.model import FEES, format_time
from exchange.registry import build_registry
from exchange.replay import check_replay, state_digest

USDC = 1_000_000
BTC = 100_000_000
START = 1_795_536_000_000  # 2026-11-24T16:00:00Z
HOUR = 3_600_000


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


def _log() -> list[str]:
    lines = [
        cmd("asset", symbol="USDC", decimals=6),
        cmd("asset", symbol="BTC", decimals=8),
        cmd("lending_pool", asset="USDC", fee="0.15"),
        cmd("clock", time=format_time(START + 1)),
        cmd("index_price", asset="BTC", price=str(60_000 * USDC)),
        cmd("collateral_params", asset="BTC", weight="0.9"),
    ]
    for i in range(40):  # 820,000 USDC lent, and a few lenders of one micro-USDC
        lines.append(cmd("deposit", account=f"s{i:02d}", asset="USDC",
                         amount=str((i + 1) * 1_000 * USDC), tx=f"s{i}"))  # fmt: skip
    for i in range(3):
        lines.append(cmd("deposit", account=f"tiny{i}", asset="USDC", amount="1", tx=f"t{i}"))
    lines.append(cmd("deposit", account="whale", asset="BTC", amount=str(100 * BTC), tx="w"))
    lines.append(cmd("borrow", account="whale", asset="USDC", amount=str(770_000 * USDC)))
    lines.append(cmd("clock", time=format_time(START + 4 * HOUR)))
    return lines


def _run(reference: bool, monkeypatch: pytest.MonkeyPatch) -> Exchange:
    with monkeypatch.context() as patch:
        if reference:  # lending registers this name when the registry is built
            patch.setattr("exchange.lending.post_interest", post_interest_reference)
        ex = Exchange(build_registry())
    for line in _log():
        assert ex.apply_line(line).accepted, line
    return ex


def test_fast_interest_posts_the_reference_entry_every_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = _run(False, monkeypatch)
    slow = _run(True, monkeypatch)
    assert fast.pending == slow.pending, "every event, postings in order, equal"
    assert state_digest(fast.state) == state_digest(slow.state)
    hours = [e for e in fast.pending if e.cmd == "lending_interest"]
    assert len(hours) == 4
    fee_legs = [p for p in hours[-1].postings if p[1] == FEES and p[3] == "lent"]
    assert len(fee_legs) == 2, "@fees earns as a lender and takes the fee in the same entry"
    earners = {p[1] for p in hours[-1].postings if p[3] == "lent"}
    assert "s00" in earners and "tiny0" not in earners, "a lend too small to earn gets no leg"
    assert check_replay(fast.state, fast.pending, fast.registry).ok

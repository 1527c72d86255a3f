"""Settlement every 10 s (perp PnL realised into USDC at mark) and hourly funding.

Losses are covered by the account's USDC, then its USDC lends, then a USDC borrow, then
(what the pool cannot lend) by selling other collateral on the spot book within the price
bands; profits go to the USDC lending pool when auto-lend is on. See docs/margin.md.
"""

from __future__ import annotations

import hashlib

from exchange.lending import register_replay_shares
from exchange.registry import Registry
from exchange.state import LedgerState

from ._funding import (
    FUNDING_JOB,
    FUNDING_PERIOD_MS,
    PREMIUM_CLAMP,
    funding_rate,
    pay_funding,
    premium,
    replay_funding,
    sample_premiums,
)
from ._settle import SETTLEMENT_JOB, SETTLEMENT_PERIOD_MS, replay_settlement, settle
from ._state import SettlementState, settlement_state

__all__ = [
    "FUNDING_JOB",
    "FUNDING_PERIOD_MS",
    "PREMIUM_CLAMP",
    "SETTLEMENT_JOB",
    "SETTLEMENT_PERIOD_MS",
    "SettlementState",
    "funding_rate",
    "pay_funding",
    "premium",
    "register",
    "sample_premiums",
    "settle",
    "settlement_state",
]


def _digest(state: LedgerState) -> bytes:
    ss = settlement_state(state)
    h = hashlib.sha256()
    for market in sorted(ss.samples):
        h.update(f"s|{market}|{ss.samples[market][0]}|{ss.samples[market][1]}\n".encode())
    for market in sorted(ss.rates):
        h.update(f"r|{market}|{ss.rates[market]}\n".encode())
    return h.digest()


def register(registry: Registry) -> None:
    registry.state("settlement", SettlementState)
    registry.digest("settlement", _digest)
    registry.job(SETTLEMENT_JOB, SETTLEMENT_PERIOD_MS, settle)
    registry.job(FUNDING_JOB, FUNDING_PERIOD_MS, pay_funding)
    registry.on_replay(SETTLEMENT_JOB, replay_settlement)
    registry.on_replay(FUNDING_JOB, replay_funding)
    register_replay_shares(registry)  # settlement lends and borrows USDC

"""Random command sequences (rejected ones included) keep every invariant, and the journal
replays to the same state after every step."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from exchange.engine import Exchange, MemoryJournal
from exchange.invariants import check_events, check_state
from exchange.model import format_time
from exchange.replay import check_replay

ACCOUNTS = st.sampled_from(["alice", "bob", "carol", "dave", "@fees", "nobody"])
ASSETS = st.sampled_from(["BTC", "ETH", "USDC", "DOGE"])  # DOGE is never created
AMOUNTS = st.one_of(
    st.integers(min_value=-5, max_value=10**6),
    st.integers(min_value=10**20, max_value=10**25),
    st.sampled_from([0, 1, (1 << 128) - 1]),
)
START = 1_795_536_000_000  # 2026-11-24T16:00:00Z


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.journal = MemoryJournal()
        self.ex = Exchange(journal=self.journal)
        self.txs: list[str] = []
        self.withdrawals: list[str] = []
        self.now = START
        self.n = 0

    def send(self, **fields: Any) -> None:
        self.ex.apply_line(json.dumps(fields))
        self.ex.flush()

    @initialize()
    def setup(self) -> None:
        self.send(cmd="asset", symbol="BTC", decimals=8)
        self.send(cmd="asset", symbol="ETH", decimals=18)
        self.send(cmd="asset", symbol="USDC", decimals=6)
        self.send(cmd="clock", time=format_time(self.now))

    @rule(account=ACCOUNTS, asset=ASSETS, amount=AMOUNTS, reuse=st.booleans())
    def deposit(self, account: str, asset: str, amount: int, reuse: bool) -> None:
        if reuse and self.txs:
            tx = self.txs[amount % len(self.txs)]
        else:
            self.n += 1
            tx = f"tx{self.n}"
            self.txs.append(tx)
        self.send(cmd="deposit", account=account, asset=asset, amount=str(amount), tx=tx)

    @rule(src=ACCOUNTS, dst=ACCOUNTS, asset=ASSETS, amount=AMOUNTS)
    def transfer(self, src: str, dst: str, asset: str, amount: int) -> None:
        self.send(cmd="transfer", asset=asset, amount=str(amount), **{"from": src, "to": dst})

    @rule(account=ACCOUNTS, asset=ASSETS, amount=AMOUNTS)
    def withdraw(self, account: str, asset: str, amount: int) -> None:
        self.n += 1
        wid = f"w{self.n}"
        self.withdrawals.append(wid)
        self.send(cmd="withdraw", account=account, asset=asset, amount=str(amount),
                  address="addr", id=wid)  # fmt: skip

    @rule(pick=st.integers(min_value=0, max_value=10**6), complete=st.booleans())
    def settle_withdrawal(self, pick: int, complete: bool) -> None:
        wid = self.withdrawals[pick % len(self.withdrawals)] if self.withdrawals else "w-none"
        if complete:
            self.send(cmd="withdraw_complete", id=wid, tx=f"out-{wid}")
        else:
            self.send(cmd="withdraw_cancel", id=wid)

    @rule(step=st.integers(min_value=-5_000, max_value=120_000))
    def clock(self, step: int) -> None:
        self.send(cmd="clock", time=format_time(self.now + step))
        if step > 0:
            self.now += step

    @rule(name=st.sampled_from(["erin", "alice", "@x"]))
    def open_account(self, name: str) -> None:
        self.send(cmd="account", id=name)

    @invariant()
    def invariants_hold(self) -> None:
        problems = check_state(self.ex.state, self.ex.registry)
        problems += check_events(self.journal.events)
        assert not problems, problems

    @invariant()
    def journal_replays_to_the_same_state(self) -> None:
        report = check_replay(self.ex.state, self.journal.events, self.ex.registry)
        assert report.ok, report


LedgerMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_command_sequences_keep_invariants_and_replay = LedgerMachine.TestCase

"""Fixtures for ledger tests: an in-memory exchange whose invariants are checked after
every event it records (accepted or rejected)."""

from __future__ import annotations

import pytest

from exchange.engine import Exchange, MemoryJournal
from exchange.invariants import check_events, check_state
from exchange.model import Event


class CheckedExchange(Exchange):
    """An Exchange with a MemoryJournal that asserts the invariants after each event."""

    def __init__(self) -> None:
        self.memory = MemoryJournal()
        super().__init__(journal=self.memory)
        self.after_event.append(self._check)

    def _check(self, event: Event) -> None:
        problems = check_state(self.state, self.registry)
        problems += check_events([*self.memory.events, *self.pending])
        assert not problems, f"after seq {event.seq} ({event.cmd}): {problems}"

    def run(self, *lines: str) -> list[Event]:
        return [self.apply_line(line) for line in lines]

    def events(self) -> list[Event]:
        self.flush()
        return self.memory.events


@pytest.fixture
def ledger() -> CheckedExchange:
    return CheckedExchange()


SETUP = (
    '{"cmd":"asset","symbol":"BTC","decimals":8}',
    '{"cmd":"asset","symbol":"ETH","decimals":18}',
    '{"cmd":"clock","time":"2026-11-24T16:00:00Z"}',
    '{"cmd":"deposit","account":"alice","asset":"BTC","amount":"150000000","tx":"btc:1"}',
    '{"cmd":"deposit","account":"bob","asset":"ETH","amount":"2000000000000000000","tx":"eth:1"}',
)


@pytest.fixture
def funded(ledger: CheckedExchange) -> CheckedExchange:
    """alice holds 1.5 BTC, bob 2 ETH."""
    ledger.run(*SETUP)
    return ledger

"""A persisted ledger: the SQL journal plus the exchange rebuilt from it.

This is the narrow door the CLI (and `por/`) use: open, apply, read, check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from exchange.claims import check_claims
from exchange.db import open_database
from exchange.engine import Exchange
from exchange.invariants import check_events, check_state
from exchange.model import Event
from exchange.registry import Registry, default_registry
from exchange.replay import ReplayReport, check_replay, rebuild
from exchange.state import LedgerState
from exchange.store import SqlJournal

__all__ = ["CheckReport", "PersistedLedger", "open_ledger"]


@dataclass(frozen=True, slots=True)
class CheckReport:
    events: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class PersistedLedger:
    def __init__(self, engine: Engine, registry: Registry | None = None) -> None:
        self.engine = engine
        self.registry = registry or default_registry()
        self.journal = SqlJournal(engine)

    def events(self) -> list[Event]:
        return list(self.journal.events())

    def load(self) -> Exchange:
        """The exchange at the journal's head (state rebuilt from postings + replay hooks)."""
        state = rebuild(self.journal.events(), self.registry)
        return Exchange(self.registry, state, self.journal)

    def check(self) -> CheckReport:
        events = self.events()
        problems = check_events(events)
        if problems:
            return CheckReport(len(events), problems)
        state = rebuild(events, self.registry)
        problems += check_state(state, self.registry)
        stored = {k: v for k, v in self.journal.balances().items() if v}
        derived = {k: v for k, v in state.balances.items() if v}
        for key in sorted(set(stored) | set(derived)):
            if stored.get(key, 0) != derived.get(key, 0):
                problems.append(
                    f"balances table {'/'.join(key)} = {stored.get(key, 0)}, "
                    f"postings sum to {derived.get(key, 0)}"
                )
        seq, ts = self.journal.head()
        if (seq, ts) != (state.seq, state.time):
            problems.append(f"head is seq {seq} ts {ts}, journal ends at {state.seq} {state.time}")
        with self.engine.connect() as conn:
            problems += check_claims(conn)
        return CheckReport(len(events), problems)

    def replay_check(self) -> ReplayReport:
        """Live = the stored balances and head; compared with rebuild and re-execution."""
        events = self.events()
        live = rebuild(events, self.registry)
        # live balances come from the balances table, not from the journal
        live.balances = dict(self.journal.balances())
        live.seq, live.time = self.journal.head()
        return check_replay(live, events, self.registry)

    def state_from_tables(self) -> LedgerState:
        """Assets, balances and head as stored (fast: no replay). Module state stays empty."""
        state = LedgerState(self.registry.states)
        state.assets = self.journal.assets()
        state.balances = self.journal.balances()
        state.seq, state.time = self.journal.head()
        return state


def open_ledger(
    url: str | None, *, create: bool = False, registry: Registry | None = None
) -> PersistedLedger:
    return PersistedLedger(open_database(url, create=create), registry)

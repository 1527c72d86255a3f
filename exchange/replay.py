"""Rebuilding state from the journal, and the state digest that proves two states equal.

Two independent ways back from a journal:
  * `rebuild`: apply recorded postings, then the modules' replay hooks (what a restart does);
  * `reexecute`: run every recorded command through the handlers again (jobs re-run by time).
Both must reach the digest of the live state; `reexecute` must also reproduce every event.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from exchange.engine import Exchange
from exchange.model import Event, is_system_account
from exchange.registry import Registry, default_registry
from exchange.state import LedgerState

__all__ = ["ReplayReport", "check_replay", "rebuild", "reexecute", "state_digest"]


def state_digest(state: LedgerState, registry: Registry | None = None) -> str:
    """SHA-256 (hex) over assets, accounts, non-zero balances, seq, time and module digests."""
    registry = registry or default_registry()
    h = hashlib.sha256()
    h.update(f"seq|{state.seq}\ntime|{state.time}\n".encode())
    for symbol in sorted(state.assets):
        h.update(f"asset|{symbol}|{state.assets[symbol].decimals}\n".encode())
    for account in sorted(state.accounts):
        h.update(f"account|{account}|{state.accounts[account]}\n".encode())
    for key in sorted(k for k, v in state.balances.items() if v):
        h.update(f"balance|{key[0]}|{key[1]}|{key[2]}|{state.balances[key]}\n".encode())
    for name in sorted(registry.digests):
        h.update(f"module|{name}|".encode() + registry.digests[name](state) + b"\n")
    return h.hexdigest()


def rebuild(events: Iterable[Event], registry: Registry | None = None) -> LedgerState:
    """State from recorded postings plus replay hooks (no handler runs)."""
    registry = registry or default_registry()
    state = LedgerState(registry.states)
    balances = state.balances
    accounts = state.accounts
    hooks = registry.replay_hooks
    for event in events:
        if event.seq != state.seq + 1:
            raise ValueError(f"journal has a gap: expected seq {state.seq + 1}, got {event.seq}")
        state.seq = event.seq
        state.time = event.ts
        if event.status != "accepted":
            continue
        for _, account, asset, bucket, amount in event.postings:
            if account not in accounts:
                accounts[account] = "system" if is_system_account(account) else "user"
            key = (account, asset, bucket)
            balances[key] = balances.get(key, 0) + amount
        for hook in hooks.get(event.cmd, ()):
            hook(state, event)
    return state


def reexecute(
    events: Iterable[Event], registry: Registry | None = None
) -> tuple[Exchange, int | None]:
    """Run the recorded commands again. Returns the exchange and the first seq whose
    re-executed event differs from the recorded one (None if all match)."""
    ex = Exchange(registry or default_registry())
    mismatch: int | None = None
    produced: list[Event] = []
    recorded: list[Event] = []
    for event in events:
        recorded.append(event)
        if event.kind == "command":
            ex.apply(ex.parse(event.command), event.command)
            produced.extend(ex.pending)
            ex.pending = []
    for mine, theirs in zip(produced, recorded, strict=False):
        if mine != theirs:
            mismatch = theirs.seq
            break
    if mismatch is None and len(produced) != len(recorded):
        mismatch = min(len(produced), len(recorded)) + 1
    return ex, mismatch


@dataclass(frozen=True, slots=True)
class ReplayReport:
    live: str
    rebuilt: str
    reexecuted: str
    first_mismatch: int | None

    @property
    def ok(self) -> bool:
        return (
            hmac.compare_digest(self.live, self.rebuilt)
            and hmac.compare_digest(self.live, self.reexecuted)
            and self.first_mismatch is None
        )


def check_replay(
    live: LedgerState, events: list[Event], registry: Registry | None = None
) -> ReplayReport:
    registry = registry or default_registry()
    rebuilt = rebuild(events, registry)
    ex, mismatch = reexecute(events, registry)
    return ReplayReport(
        state_digest(live, registry),
        state_digest(rebuilt, registry),
        state_digest(ex.state, registry),
        mismatch,
    )

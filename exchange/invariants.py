"""The ledger's invariants, checked on a state, on a stream of events, and on a stored ledger.

Each check returns a list of violations (plain sentences); an empty list means it holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from exchange.core import core_state
from exchange.model import AMOUNT_LIMIT, CUSTODY, NEGATIVE, POSITIVE, Event
from exchange.registry import Registry, default_registry
from exchange.state import LedgerState

__all__ = ["check_events", "check_state"]


def check_state(state: LedgerState, registry: Registry | None = None) -> list[str]:
    """Zero sum per asset, custody reconciliation, bucket signs and limits."""
    registry = registry or default_registry()
    buckets = registry.buckets
    problems: list[str] = []
    total: dict[str, int] = {}
    claims: dict[str, int] = {}  # everything but custody, per asset
    custody: dict[str, int] = {}
    for (account, asset, bucket), amount in state.balances.items():
        total[asset] = total.get(asset, 0) + amount
        if account == CUSTODY:
            custody[asset] = custody.get(asset, 0) - amount
        else:
            claims[asset] = claims.get(asset, 0) + amount
        sign = buckets.get(bucket)
        if sign is None:
            problems.append(f"{account}/{asset}: unknown bucket {bucket!r}")
        elif (sign == POSITIVE and amount < 0) or (sign == NEGATIVE and amount > 0):
            problems.append(f"{account}/{asset}/{bucket} is {amount}, outside its sign {sign}")
        if not -AMOUNT_LIMIT < amount < AMOUNT_LIMIT:
            problems.append(f"{account}/{asset}/{bucket} is {amount}, outside the amount limit")
        if asset not in state.assets:
            problems.append(f"{account} holds unknown asset {asset!r}")
    for asset in sorted(total):
        if total[asset]:
            problems.append(f"postings of {asset} sum to {total[asset]}, expected 0")
    core = core_state(state)
    for asset in sorted(set(claims) | set(custody) | set(core.deposited)):
        held = custody.get(asset, 0)
        owed = claims.get(asset, 0)
        if owed != held:
            problems.append(f"{asset}: claims and system balances {owed} != custody {held}")
        flows = core.deposited.get(asset, 0) - core.withdrawn.get(asset, 0)
        if flows != held:
            problems.append(f"{asset}: deposits - withdrawals {flows} != custody {held}")
        if held < 0:
            problems.append(f"{asset}: custody is negative ({held})")
    return problems


def check_events(events: Iterable[Event]) -> list[str]:
    """Gapless seq from 1; every entry balanced per asset; rejected events post nothing."""
    problems: list[str] = []
    expected = 1
    for ev in events:
        if ev.seq != expected:
            problems.append(f"journal sequence gap: expected seq {expected}, found {ev.seq}")
            expected = ev.seq
        expected += 1
        if ev.status == "rejected":
            if ev.postings:
                problems.append(f"seq {ev.seq}: rejected event has postings")
            if not ev.reason:
                problems.append(f"seq {ev.seq}: rejected event has no reason")
            continue
        sums: dict[tuple[int, str], int] = {}
        for entry, _, asset, _, amount in ev.postings:
            sums[(entry, asset)] = sums.get((entry, asset), 0) + amount
        for (entry, asset), s in sorted(sums.items()):
            if s:
                problems.append(f"seq {ev.seq} entry {entry}: {asset} postings sum to {s}")
    return problems

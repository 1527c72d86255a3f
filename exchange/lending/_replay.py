"""Rebuilding the pools from the journal: params, opt-outs, scaled balances, indexes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import TYPE_CHECKING

from exchange.model import lending_pool
from exchange.values import RAY

from ._commands import _parse_auto_lend, _parse_pool
from ._interest import INTEREST_JOB
from ._ops import lending_state, pool_totals
from ._pool import DEFAULT_PARAMS

if TYPE_CHECKING:
    from exchange.model import Event
    from exchange.state import LedgerState

__all__ = ["lending_digest", "replay_auto_lend", "replay_pool", "replay_shares"]

_SCALED = ("lent", "borrowed")
_POOL_BUCKETS = ("liquidity", "supplied", "loans")


def replay_shares(state: LedgerState, event: Event) -> None:
    """Re-derive share changes from an event's postings to `lent` / `borrowed`.

    Live handlers change shares only through `exchange.lending` operations, one entry at a
    time, with the same `Pool.on_lent` / `on_borrowed` arithmetic used here; the interest
    job (whose postings are interest, not principal) has its own hook.
    """
    if event.cmd == INTEREST_JOB:
        return
    moves = [p for p in event.postings if p[3] in _SCALED and not p[1].startswith("@")]
    _observe_pools(state, event)
    if not moves:
        return
    balances = state.balances
    running: dict[tuple[str, str, str], int] = {}
    for _, account, asset, bucket, amount in moves:
        key = (account, asset, bucket)
        running[key] = running.get(key, 0) - amount
    for key in running:
        running[key] += balances.get(key, 0)  # balance before this event
    ls = lending_state(state)
    for _, account, asset, bucket, amount in moves:
        key = (account, asset, bucket)
        after = running[key] + amount
        running[key] = after
        pool = ls.pool(asset)
        if bucket == "lent":
            pool.on_lent(account, amount, after)
        else:
            pool.on_borrowed(account, amount, after)


def _observe_pools(state: LedgerState, event: Event) -> None:
    """`Pool.observe` at the event's time with each changed pool's totals before the event
    (what the live handler observed before its first change to the pool)."""
    changed: dict[str, list[int]] = {}
    for _, account, asset, bucket, amount in event.postings:
        if bucket in _POOL_BUCKETS and account == lending_pool(asset):
            got = changed.setdefault(asset, [0, 0])
            if bucket == "supplied":
                got[0] -= amount
            elif bucket == "loans":
                got[1] += amount
    if not changed or event.ts is None:
        return
    ls = lending_state(state)
    for asset in sorted(changed):
        lent, borrowed, _ = pool_totals(state, asset)
        delta_lent, delta_borrowed = changed[asset]
        ls.pool(asset).observe(event.ts, borrowed - delta_borrowed, lent - delta_lent)


def replay_pool(state: LedgerState, event: Event) -> None:
    asset, given = _parse_pool(json.loads(event.command))
    ls = lending_state(state)
    ls.params[asset] = replace(ls.params.get(asset, DEFAULT_PARAMS), **given)


def replay_auto_lend(state: LedgerState, event: Event) -> None:
    account, asset, enabled = _parse_auto_lend(json.loads(event.command))
    off = lending_state(state).auto_lend_off
    if enabled:
        off.discard((account, asset))
    else:
        off.add((account, asset))


def lending_digest(state: LedgerState) -> bytes:
    ls = lending_state(state)
    h = hashlib.sha256()
    for asset in sorted(ls.pools):
        pool = ls.pools[asset]
        if pool.shares or pool.debts or pool.lend_index != RAY or pool.borrow_index != RAY:
            for line in pool.digest_lines():
                h.update(line.encode() + b"\n")
    for asset in sorted(ls.params):
        h.update(f"params|{asset}|{ls.params[asset]}\n".encode())
    for account, asset in sorted(ls.auto_lend_off):
        h.update(f"off|{account}|{asset}\n".encode())
    return h.digest()

"""Lending pools: auto-lend, borrow/repay, interest through integer indexes, hourly posting.

One pool per asset (`@lending:SYM`). Deposits are lent by default (auto-lend, opt out per
account and asset); lends are collateral and are redeemed automatically when the owner
needs the funds; borrowing is explicit or automatic (spot orders, settlement). Interest is
posted every hour so that borrowers' interest == lenders' interest + the exchange's fee,
exactly, in the journal. See docs/margin.md.
"""

from __future__ import annotations

from exchange.model import NEGATIVE, POSITIVE
from exchange.registry import Registry

from ._bulk import gc_paused
from ._commands import MarginGuard, check_margin, register_commands, sweep_credited
from ._interest import INTEREST_JOB, INTEREST_PERIOD_MS, post_interest, replay_interest
from ._ops import (
    borrow,
    borrowable,
    ensure_available,
    lend,
    lending_state,
    observe_pool,
    pool_totals,
    redeem,
    redeemable,
    repay,
    repay_deficit,
    sweep,
)
from ._pool import (
    DEFAULT_PARAMS,
    LendingState,
    Pool,
    PoolParams,
    borrow_rate,
    borrow_rate_at,
    lend_rate,
    utilisation,
)
from ._replay import lending_digest, replay_auto_lend, replay_pool, replay_shares

__all__ = [
    "DEFAULT_PARAMS",
    "INTEREST_JOB",
    "INTEREST_PERIOD_MS",
    "LendingState",
    "MarginGuard",
    "Pool",
    "PoolParams",
    "borrow",
    "borrow_rate",
    "borrow_rate_at",
    "borrowable",
    "check_margin",
    "ensure_available",
    "gc_paused",
    "lend",
    "lend_rate",
    "lending_state",
    "observe_pool",
    "pool_totals",
    "redeem",
    "redeemable",
    "register",
    "register_replay_shares",
    "repay",
    "repay_deficit",
    "sweep",
    "sweep_credited",
    "utilisation",
]


def register_replay_shares(registry: Registry) -> None:
    """Hook `replay_shares` on every command and job registered so far (idempotent).

    A module that moves lends or debts (through this package's operations) and registers
    after `exchange.lending` must call this again at the end of its own `register`.
    """
    names = [*registry.commands, *(job.name for job in registry.jobs)]
    for name in names:
        hooks = registry.replay_hooks.setdefault(name, [])
        if replay_shares not in hooks:
            hooks.append(replay_shares)


def register(registry: Registry) -> None:
    registry.state("lending", LendingState)
    registry.digest("lending", lending_digest)
    registry.bucket("supplied", NEGATIVE)
    registry.bucket("loans", POSITIVE)
    # a bankrupt user's residual debt to @backstop, and @backstop's claim on it: named
    # apart from @backstop's `capital` (docs/liquidation.md, "Residual debts")
    registry.bucket("deficit", NEGATIVE)
    registry.bucket("receivable", POSITIVE)
    register_commands(registry)
    registry.job(INTEREST_JOB, INTEREST_PERIOD_MS, post_interest)
    registry.on_replay(INTEREST_JOB, replay_interest)
    registry.on_replay("lending_pool", replay_pool)
    registry.on_replay("auto_lend", replay_auto_lend)
    register_replay_shares(registry)

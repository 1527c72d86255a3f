"""Ledger operations of the lending pools: lend, redeem, borrow, repay (one entry each).

Posting patterns (user A, asset X, pool P = @lending:X, amount a > 0):

    lend a     A.available -a   A.lent +a        P.liquidity +a   P.supplied -a
    redeem a   A.available +a   A.lent -a        P.liquidity -a   P.supplied +a
    borrow a   A.available +a   A.borrowed -a    P.liquidity -a   P.loans +a
    repay a    A.available -a   A.borrowed +a    P.liquidity +a   P.loans -a

A bankrupt account's residual debt to @backstop (bucket `deficit`, left by liquidation's
last stage) is repaid before anything else by the next credit of its asset (`sweep`).

Each function posts, updates the pool's scaled balances and registers the undo, so a later
reject of the command leaves nothing behind. Limits (pool liquidity, throttle) are the
callers' business: `redeemable` and `borrowable` say how far they may go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.model import BACKSTOP, lending_pool
from exchange.values import FRACTION, ceil_div

from ._pool import LendingState, Pool

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.state import LedgerState

__all__ = [
    "borrow",
    "borrowable",
    "ensure_available",
    "lend",
    "lending_state",
    "observe_pool",
    "pool_totals",
    "redeem",
    "redeemable",
    "repay",
    "repay_deficit",
    "sweep",
]


def lending_state(state: LedgerState) -> LendingState:
    ls: LendingState = state.ext["lending"]
    return ls


def pool_totals(state: LedgerState, asset: str) -> tuple[int, int, int]:
    """(lent total, borrowed total, liquidity) of the asset's pool, all >= 0."""
    b = state.balances
    p = lending_pool(asset)
    return (
        -b.get((p, asset, "supplied"), 0),
        b.get((p, asset, "loans"), 0),
        b.get((p, asset, "liquidity"), 0),
    )


def redeemable(state: LedgerState, asset: str) -> int:
    """How much may leave the pool by redemption now: its liquidity, and no more than keeps
    utilisation (borrowed / lent) at or below the throttle."""
    lent, borrowed, liquidity = pool_totals(state, asset)
    throttle = lending_state(state).params_of(asset).throttle
    keep = ceil_div(borrowed * FRACTION, throttle)  # lent must stay >= borrowed / throttle
    return max(0, min(liquidity, lent - keep))


def borrowable(state: LedgerState, asset: str) -> int:
    """How much may be newly borrowed now: liquidity, within the throttle utilisation."""
    lent, borrowed, liquidity = pool_totals(state, asset)
    throttle = lending_state(state).params_of(asset).throttle
    return max(0, min(liquidity, lent * throttle // FRACTION - borrowed))


def _undo(ctx: Context, pool: Pool, account: str) -> None:
    """Register the undo of the account's scaled amounts and the pool's time-weighted
    utilisation, then note that the pool's totals are about to change (`Pool.observe`)."""
    share = pool.shares.get(account)
    debt = pool.debts.get(account)
    total = pool.total_shares
    tw = (pool.tw_start, pool.tw_last, pool.tw_acc)

    def undo() -> None:
        pool.restore(account, share, debt, total)
        pool.tw_start, pool.tw_last, pool.tw_acc = tw

    ctx.on_rollback(undo)
    _observe(ctx.state, pool)


def observe_pool(ctx: Context, pool: Pool) -> None:
    """The pool's totals are about to change (a module posting to the pool's buckets
    itself, e.g. settlement): `Pool.observe` now, undone if the command is rejected."""
    tw = (pool.tw_start, pool.tw_last, pool.tw_acc)

    def undo() -> None:
        pool.tw_start, pool.tw_last, pool.tw_acc = tw

    ctx.on_rollback(undo)
    _observe(ctx.state, pool)


def _observe(state: LedgerState, pool: Pool) -> None:
    """`Pool.observe` at the ledger time with the pool's totals now (before a change)."""
    now = state.time
    if now is not None:
        lent, borrowed, _ = pool_totals(state, pool.asset)
        pool.observe(now, borrowed, lent)


def lend(ctx: Context, account: str, asset: str, amount: int) -> None:
    """Move `amount` of available into the pool (caller checked available)."""
    if amount <= 0:
        return
    pool = lending_state(ctx.state).pool(asset)
    _undo(ctx, pool, account)
    p = lending_pool(asset)
    ctx.post(
        (account, asset, "available", -amount),
        (account, asset, "lent", amount),
        (p, asset, "liquidity", amount),
        (p, asset, "supplied", -amount),
    )
    pool.on_lent(account, amount, ctx.balance(account, asset, "lent"))


def redeem(ctx: Context, account: str, asset: str, amount: int) -> None:
    """Take `amount` of the account's lend back into available (caller checked limits)."""
    if amount <= 0:
        return
    pool = lending_state(ctx.state).pool(asset)
    _undo(ctx, pool, account)
    p = lending_pool(asset)
    ctx.post(
        (account, asset, "available", amount),
        (account, asset, "lent", -amount),
        (p, asset, "liquidity", -amount),
        (p, asset, "supplied", amount),
    )
    pool.on_lent(account, -amount, ctx.balance(account, asset, "lent"))


def borrow(ctx: Context, account: str, asset: str, amount: int) -> None:
    """Lend `amount` from the pool to the account (caller checked limits and margin)."""
    if amount <= 0:
        return
    pool = lending_state(ctx.state).pool(asset)
    _undo(ctx, pool, account)
    p = lending_pool(asset)
    ctx.post(
        (account, asset, "available", amount),
        (account, asset, "borrowed", -amount),
        (p, asset, "liquidity", -amount),
        (p, asset, "loans", amount),
    )
    pool.on_borrowed(account, -amount, ctx.balance(account, asset, "borrowed"))


def repay(ctx: Context, account: str, asset: str, amount: int) -> None:
    """Pay back `amount` of the account's debt from its available (caller checked)."""
    if amount <= 0:
        return
    pool = lending_state(ctx.state).pool(asset)
    _undo(ctx, pool, account)
    p = lending_pool(asset)
    ctx.post(
        (account, asset, "available", -amount),
        (account, asset, "borrowed", amount),
        (p, asset, "liquidity", amount),
        (p, asset, "loans", -amount),
    )
    pool.on_borrowed(account, amount, ctx.balance(account, asset, "borrowed"))


def sweep(ctx: Context, account: str, asset: str) -> None:
    """Put the account's idle `available` to work: repay a bankruptcy's residual debt in
    that asset first (`repay_deficit`), then its pool debt (auto-repay), then lend the rest
    if auto-lend is on for (account, asset)."""
    if account.startswith("@"):
        return
    have = ctx.balance(account, asset)
    if have <= 0:
        return
    if (account, asset, "deficit") in ctx.state.balances:
        have -= repay_deficit(ctx, account, asset)
        if have <= 0:
            return
    debt = -ctx.balance(account, asset, "borrowed")
    if debt > 0:
        paid = min(have, debt)
        repay(ctx, account, asset, paid)
        have -= paid
    if have > 0 and lending_state(ctx.state).auto_lends(account, asset):
        lend(ctx, account, asset, have)


def repay_deficit(ctx: Context, account: str, asset: str) -> int:
    """Repay what the account still owes @backstop after a bankruptcy (its `deficit` in
    `asset`) from its `available`, to the unit, as far as it goes; returns the amount.

        A.available -a   A.deficit +a   @backstop.receivable -a   @backstop.capital +a
    """
    owed = -ctx.balance(account, asset, "deficit")
    paid = min(owed, ctx.balance(account, asset))
    if paid > 0:
        ctx.post(
            (account, asset, "available", -paid),
            (account, asset, "deficit", paid),
            (BACKSTOP, asset, "receivable", -paid),
            (BACKSTOP, asset, "capital", paid),
        )
    return max(paid, 0)


def ensure_available(
    ctx: Context, account: str, asset: str, need: int, *, borrow_rest: bool = False
) -> int:
    """Make `need` of `asset` available to the account if it can: redeem its lend first (as
    far as the pool allows), then, with `borrow_rest`, borrow the remainder (as far as the
    pool allows; margin is the caller's check). Returns the available balance after."""
    have = ctx.balance(account, asset)
    short = need - have
    if short <= 0:
        return have
    lent = ctx.balance(account, asset, "lent")
    if lent > 0:
        take = min(short, lent, redeemable(ctx.state, asset))
        redeem(ctx, account, asset, take)
        short -= take
    if short > 0 and borrow_rest:
        take = min(short, borrowable(ctx.state, asset))
        borrow(ctx, account, asset, take)
        short -= take
    return need - short

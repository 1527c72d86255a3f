"""Lending pools: parameters, interest indexes and scaled balances (the module's state).

Each asset has one pool, the system account `@lending:SYM`, with three buckets that mirror
its users (so the pool's own balances always sum to zero):

    liquidity (+)  cash supplied and not lent out      = lent total - borrowed total
    supplied  (-)  minus what the pool owes lenders    = -(sum of users' `lent`)
    loans     (+)  what borrowers owe the pool          = -(sum of users' `borrowed`)

Because `liquidity` may never be negative (the engine refuses such a posting), the pool can
never lend out more than it holds.

Interest uses two integer indexes at RAY scale (10^27 = 1.0), Aave style. An account's
lend is kept as *scaled shares* s (balance = s * lend_index / RAY, rounded down) and its
debt as scaled debt d (debt = d * borrow_index / RAY, rounded up). Indexes move only at the
hourly interest posting, so between postings the journal balance is the whole truth.

Utilisation for the hourly rate is time-weighted (`Pool.observe`, `Pool.hour_utilisation`):
every change of a pool's totals first adds the utilisation that held since the last change,
times the milliseconds it held, to the hour's accumulator; the hourly posting divides by
the hour. A borrow just before the hour thus weighs only for the time it was out.

Rounding of share changes, always in the exchange's favour:
    lend a      s += floor(a * RAY / lend_index)     (fewer shares)
    redeem r    s -= ceil(r * RAY / lend_index)      (more shares burnt; all if emptied)
    borrow b    d += ceil(b * RAY / borrow_index)    (more debt)
    repay r     d -= floor(r * RAY / borrow_index)   (less debt repaid; all if emptied)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from exchange.values import FRACTION, RAY, WAD, ceil_div

__all__ = [
    "DEFAULT_PARAMS",
    "HOUR_MS",
    "LendingState",
    "Pool",
    "PoolParams",
    "borrow_rate",
    "borrow_rate_at",
    "hour_rate",
    "lend_rate",
    "utilisation",
]


@dataclass(frozen=True, slots=True)
class PoolParams:
    """Rate curve and limits of one pool; every field at FRACTION scale (10^9 = 1.0).

    Borrow rate per year (kinked, Aave style):
        U <= U_opt:  base + slope1 * U / U_opt
        U >  U_opt:  base + slope1 + slope2 * (U - U_opt) / (1 - U_opt)
    Lenders receive borrowers' interest minus `fee` (lend rate = borrow rate * U * (1-fee)).
    New borrows and redemptions stop where utilisation would pass `throttle`.
    """

    optimal_utilisation: int = 900_000_000
    base_rate: int = 0
    slope1: int = 40_000_000
    slope2: int = 600_000_000
    fee: int = 100_000_000
    throttle: int = 950_000_000

    def problems(self) -> list[str]:
        out = []
        if not 0 < self.optimal_utilisation < FRACTION:
            out.append("optimal_utilisation must be in (0, 1)")
        if not 0 < self.throttle <= FRACTION:
            out.append("throttle must be in (0, 1]")
        if not 0 <= self.fee <= FRACTION:
            out.append("fee must be in [0, 1]")
        if max(self.base_rate, self.slope1, self.slope2) > 100 * FRACTION:
            out.append("rates must be at most 100 (10,000 % a year)")
        return out


DEFAULT_PARAMS = PoolParams()
HOUR_MS = 3_600_000


def utilisation(borrowed: int, lent: int) -> int:
    """borrowed / lent at WAD scale, rounded up (0 for an empty pool)."""
    if borrowed <= 0 or lent <= 0:
        return 0
    return ceil_div(borrowed * WAD, lent)


def borrow_rate_at(params: PoolParams, u: int) -> int:
    """Annual borrow rate at WAD scale for utilisation `u` (WAD), rounded up: the curve of
    `borrow_rate` for an average utilisation (no integer totals behind it)."""
    base = params.base_rate * (WAD // FRACTION)
    if u <= 0:
        return base
    u_opt = params.optimal_utilisation
    if u * FRACTION <= u_opt * WAD:
        return base + ceil_div(params.slope1 * u, u_opt)
    excess = u * FRACTION - u_opt * WAD  # (U - U_opt), WAD x FRACTION units
    steep = ceil_div(params.slope2 * excess, FRACTION * (FRACTION - u_opt))
    return base + params.slope1 * (WAD // FRACTION) + steep


def borrow_rate(params: PoolParams, borrowed: int, lent: int) -> int:
    """Annual borrow rate at WAD scale for utilisation borrowed/lent, rounded up."""
    if borrowed <= 0 or lent <= 0:
        return params.base_rate * (WAD // FRACTION)
    u_opt = params.optimal_utilisation
    # U at FRACTION scale would lose precision; work on borrowed/lent directly:
    # slope1 * U / U_opt = slope1 * borrowed / (lent * U_opt)   (FRACTION units)
    scale = WAD // FRACTION
    base = params.base_rate * scale
    if borrowed * FRACTION <= u_opt * lent:
        return base + ceil_div(params.slope1 * borrowed * FRACTION * scale, lent * u_opt)
    excess = borrowed * FRACTION - u_opt * lent  # (U - U_opt) * lent, FRACTION units
    steep = ceil_div(params.slope2 * excess * scale, lent * (FRACTION - u_opt))
    return base + params.slope1 * scale + steep


def lend_rate(params: PoolParams, borrowed: int, lent: int) -> int:
    """Annual lend rate at WAD scale: borrow rate * U * (1 - fee), rounded down (for views;
    the hourly posting distributes the actual borrowers' interest, see docs/margin.md)."""
    if borrowed <= 0 or lent <= 0:
        return 0
    return (
        borrow_rate(params, borrowed, lent)
        * borrowed
        * (FRACTION - params.fee)
        // (lent * FRACTION)
    )


def hour_rate(pool: Pool, params: PoolParams, instant: int, borrowed: int, lent: int) -> int:
    """The annual borrow rate (WAD) of the hour ending at `instant`: at the time-weighted
    utilisation of the hour, or exactly at the totals when they held all hour."""
    u = pool.hour_utilisation(instant, borrowed, lent)
    return borrow_rate(params, borrowed, lent) if u is None else borrow_rate_at(params, u)


class Pool:
    """Indexes and scaled balances of one asset's pool.

    Fields: `lend_index`, `borrow_index` (RAY, start at RAY, never decrease), `shares`
    (account -> scaled lend), `debts` (account -> scaled debt), `total_shares`.
    Updates: share changes with every lend/redeem/borrow/repay posting; indexes at the
    hourly interest posting. Rebuilt on replay from postings plus the job's emitted indexes.
    """

    __slots__ = (
        "asset",
        "borrow_index",
        "debts",
        "lend_index",
        "shares",
        "total_shares",
        "tw_acc",
        "tw_last",
        "tw_start",
    )

    def __init__(self, asset: str) -> None:
        self.asset = asset
        self.lend_index = RAY
        self.borrow_index = RAY
        self.shares: dict[str, int] = {}
        self.debts: dict[str, int] = {}
        self.total_shares = 0
        # time-weighted utilisation of the current hour: window start, last change (ms),
        # and the sum of utilisation (WAD) x milliseconds since the window start
        self.tw_start = 0
        self.tw_last = 0
        self.tw_acc = 0

    # -- time-weighted utilisation ---------------------------------------------------------
    def observe(self, now: int, borrowed: int, lent: int) -> None:
        """The totals are about to change at `now`: (borrowed, lent) held since the last
        change. A change in a later hour than the window's starts a new window (the totals
        were constant since the last change, so the new window's past is that value)."""
        u = utilisation(borrowed, lent)
        window = now - now % HOUR_MS
        if window > self.tw_start:
            self.tw_start = window
            self.tw_acc = u * (now - window)
        else:
            self.tw_acc += u * (now - self.tw_last)
        self.tw_last = now

    def hour_utilisation(self, instant: int, borrowed: int, lent: int) -> int | None:
        """Time-weighted utilisation (WAD, rounded up) of the hour ending at `instant`;
        None when the totals did not change in that hour (then the rate is the one of
        `borrow_rate` at the totals, exactly)."""
        if self.tw_start != instant - HOUR_MS:
            return None
        acc = self.tw_acc + utilisation(borrowed, lent) * (instant - self.tw_last)
        return ceil_div(acc, HOUR_MS)

    def restart_window(self, instant: int) -> tuple[int, int, int]:
        """Start the next hour's window at `instant` (after posting its interest); returns
        the old (start, last, acc) for an undo."""
        old = (self.tw_start, self.tw_last, self.tw_acc)
        self.tw_start = self.tw_last = instant
        self.tw_acc = 0
        return old

    # -- share arithmetic: one place for live handlers and replay -------------------------
    def on_lent(self, account: str, delta: int, after: int) -> None:
        """`account`'s lent balance changed by `delta` (not interest) and is now `after`."""
        shares = self.shares
        old = shares.get(account, 0)
        if delta > 0:
            new = old + delta * RAY // self.lend_index
        elif after == 0:
            new = 0
        else:
            new = max(0, old - ceil_div(-delta * RAY, self.lend_index))
        if new:
            shares[account] = new
        else:
            shares.pop(account, None)
        self.total_shares += new - old

    def on_borrowed(self, account: str, delta: int, after: int) -> None:
        """`account`'s borrowed bucket changed by `delta` (< 0: more debt) and is now `after`."""
        debts = self.debts
        old = debts.get(account, 0)
        if delta < 0:
            new = old + ceil_div(-delta * RAY, self.borrow_index)
        elif after == 0:
            new = 0
        else:
            new = max(0, old - delta * RAY // self.borrow_index)
        if new:
            debts[account] = new
        else:
            debts.pop(account, None)

    def on_lent_many(self, changes: Iterable[tuple[str, int, int | None]]) -> None:
        """`on_lent` for many accounts in one call (settlement): (account, delta, after),
        where `after` is read only when delta < 0 (None when the lend grows)."""
        shares = self.shares
        index = self.lend_index
        total = 0
        for account, delta, after in changes:
            old = shares.get(account, 0)
            if delta > 0:
                new = old + delta * RAY // index
            elif after == 0:
                new = 0
            else:
                new = old - ceil_div(-delta * RAY, index)
                if new < 0:
                    new = 0
            if new:
                shares[account] = new
            else:
                shares.pop(account, None)
            total += new - old
        self.total_shares += total

    def on_borrowed_many(self, changes: Iterable[tuple[str, int, int | None]]) -> None:
        """`on_borrowed` for many accounts in one call (settlement): (account, delta,
        after), where `after` is read only when delta > 0 (None when the debt grows)."""
        debts = self.debts
        index = self.borrow_index
        for account, delta, after in changes:
            old = debts.get(account, 0)
            if delta < 0:
                new = old + ceil_div(-delta * RAY, index)
            elif after == 0:
                new = 0
            else:
                new = old - delta * RAY // index
                if new < 0:
                    new = 0
            if new:
                debts[account] = new
            else:
                debts.pop(account, None)

    def restore(self, account: str, share: int | None, debt: int | None, total: int) -> None:
        """Undo helper: put an account's scaled amounts back (None = absent)."""
        if share is None:
            self.shares.pop(account, None)
        else:
            self.shares[account] = share
        if debt is None:
            self.debts.pop(account, None)
        else:
            self.debts[account] = debt
        self.total_shares = total

    def digest_lines(self) -> list[str]:
        lines = [
            f"pool|{self.asset}|{self.lend_index}|{self.borrow_index}|{self.total_shares}",
            f"tw|{self.tw_start}|{self.tw_last}|{self.tw_acc}",
        ]
        lines += [f"s|{a}|{s}" for a, s in sorted(self.shares.items())]
        lines += [f"d|{a}|{d}" for a, d in sorted(self.debts.items())]
        return lines


@dataclass(slots=True)
class LendingState:
    """`state.ext["lending"]`: pools, their parameters, and auto-lend opt-outs.

    `params` holds the pools opened by a `lending_pool` command: only those assets can be
    lent and borrowed (an exchange chooses its lendable assets); deposits of an open pool's
    asset are lent by default unless (account, asset) is in `auto_lend_off`.
    """

    pools: dict[str, Pool] = field(default_factory=dict)
    params: dict[str, PoolParams] = field(default_factory=dict)
    auto_lend_off: set[tuple[str, str]] = field(default_factory=set)

    def pool(self, asset: str) -> Pool:
        pool = self.pools.get(asset)
        if pool is None:
            pool = self.pools[asset] = Pool(asset)
        return pool

    def params_of(self, asset: str) -> PoolParams:
        return self.params.get(asset, DEFAULT_PARAMS)

    def is_open(self, asset: str) -> bool:
        """A pool lends and borrows once a `lending_pool` command configured it."""
        return asset in self.params

    def auto_lends(self, account: str, asset: str) -> bool:
        return (
            asset in self.params
            and not account.startswith("@")
            and (account, asset) not in self.auto_lend_off
        )

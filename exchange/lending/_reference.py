"""Plain reference of the hourly interest posting (`_interest.post_interest`): the same
arithmetic as a Python loop per borrower and lender, posted leg by leg (`Context.post_each`).
The fast path must post exactly the same entry; tests compare them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.model import FEES, lending_pool
from exchange.values import FRACTION, HOURS_PER_YEAR, RAY, WAD, ceil_div

from ._ops import lending_state, pool_totals
from ._pool import hour_rate

if TYPE_CHECKING:
    from exchange.engine import Context

__all__ = ["post_interest_reference"]


def post_interest_reference(ctx: Context, instant: int) -> None:
    """The hourly interest posting as a Python loop per account, posted leg by leg."""
    state = ctx.state
    ls = lending_state(state)
    balances = state.balances
    facts: dict[str, dict[str, str]] = {}
    for asset in sorted(ls.pools):
        pool = ls.pools[asset]
        if not pool.debts:
            continue
        lent, borrowed, _ = pool_totals(state, asset)
        params = ls.params_of(asset)
        ib0 = pool.borrow_index
        ib1 = ib0 + ceil_div(ib0 * hour_rate(pool, params, instant, borrowed, lent),
                             WAD * HOURS_PER_YEAR)  # fmt: skip
        legs: list[tuple[str, str, str, int]] = []
        append = legs.append
        total_i = 0
        for account, debt in pool.debts.items():
            owed = -(-debt * ib1 // RAY)
            i = owed + balances.get((account, asset, "borrowed"), 0)
            if i > 0:
                append((account, asset, "borrowed", -i))
                total_i += i
        if not total_i:
            continue
        pot = total_i - ceil_div(total_i * params.fee, FRACTION)
        il0 = pool.lend_index
        shares = pool.shares
        margin = len(shares)
        il1 = il0
        if pool.total_shares and pot > margin:
            il1 = il0 + (pot - margin) * RAY // pool.total_shares
        total_l = 0
        if il1 != il0:
            get = balances.get
            for account, s in shares.items():
                gain = s * il1 // RAY - get((account, asset, "lent"), 0)
                if gain > 0:
                    append((account, asset, "lent", gain))
                    total_l += gain
        fee = total_i - total_l
        assert fee >= 0, "lenders were paid more than borrowers paid"  # proven in the docstring
        p = lending_pool(asset)
        append((p, asset, "loans", total_i))
        append((FEES, asset, "lent", fee))
        append((p, asset, "supplied", -(total_l + fee)))
        old = (ib0, il0, shares.get(FEES), pool.debts.get(FEES), pool.total_shares)
        tw = pool.restart_window(instant)

        def undo(pool=pool, old=old, tw=tw) -> None:  # type: ignore[no-untyped-def]
            pool.borrow_index, pool.lend_index = old[0], old[1]
            pool.restore(FEES, old[2], old[3], old[4])
            pool.tw_start, pool.tw_last, pool.tw_acc = tw

        ctx.on_rollback(undo)
        ctx.post_each(*legs)
        pool.borrow_index = ib1
        pool.lend_index = il1
        pool.on_lent(FEES, fee, balances.get((FEES, asset, "lent"), 0))
        facts[asset] = {"borrow_index": str(ib1), "lend_index": str(il1), "fee": str(fee)}
    if facts:
        ctx.emit(interest=facts)

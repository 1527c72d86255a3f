"""Invariants of the matching module, checked on a ledger state (tests run them after every
event; `check_matching` returns plain sentences, empty when everything holds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.values import Side

from ._commands import clearing_account
from ._state import matching_state

if TYPE_CHECKING:
    from exchange.state import LedgerState

__all__ = ["check_matching"]


def check_matching(state: LedgerState) -> list[str]:
    """1. no book is crossed at rest; 2. per account and asset, `locked_order` equals the sum
    of what its open spot orders reserve; 3. per perp market, positions sum to zero and the
    clearing account holds minus the realised PnL; 4. indexes point at resting orders."""
    ms = matching_state(state)
    problems: list[str] = []
    needs: dict[tuple[str, str], int] = {}
    for symbol in sorted(ms.books):
        book = ms.books[symbol]
        market = book.market
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            problems.append(f"{symbol}: crossed book at rest, bid {bid} >= ask {ask}")
        for order in book.resting_orders():
            if not order.resting or order.remaining <= 0:
                problems.append(f"{symbol}: order {order.order_id} in the book is not live")
            if market.is_perp:
                continue
            if order.side == Side.BUY:
                key = (order.account, market.quote)
                need = market.buy_lock(order.remaining, order.price)
            else:
                key = (order.account, market.base)
                need = order.remaining
            needs[key] = needs.get(key, 0) + need
        if market.is_perp:
            total = sum(p.size for (_, s), p in ms.positions.items() if s == symbol)
            if total:
                problems.append(f"{symbol}: positions sum to {total}, expected 0")
            realised = sum(p.realised for (_, s), p in ms.positions.items() if s == symbol)
            held = state.balance(clearing_account(symbol), market.quote, "pnl_unsettled")
            if held != -realised:
                problems.append(f"{symbol}: clearing holds {held}, expected {-realised}")
    locked = {
        (account, asset): amount
        for (account, asset, bucket), amount in state.balances.items()
        if bucket == "locked_order" and amount
    }
    for key in sorted(set(locked) | set(needs)):
        if locked.get(key, 0) != needs.get(key, 0):
            problems.append(
                f"{key[0]}/{key[1]}: locked_order {locked.get(key, 0)} != open orders' "
                f"need {needs.get(key, 0)}"
            )
    for (account, cid), order in sorted(ms.client_ids.items()):
        if not order.resting or order.account != account or order.client_id != cid:
            problems.append(f"client id {cid!r} of {account} points at a finished order")
    return problems

"""Settlement's third step: convert other collateral when the pool cannot lend.

A loss settles from `available`, then the account's USDC lends, then a USDC borrow
(`_settle.py`). When the pool cannot lend (throttled, empty, or not open) the rest of the
loss used to stay negative in `pnl_unsettled`. As in the design, the account's other
collateral is then converted: for each held asset X (by symbol; not one it owes), one IOC
limit sell on its X/USDC spot book at the lower impact band edge (inside the bands),
sized so that, filled at the edge, its proceeds after the taker fee cover what is still
owed (rounded up to the step, at least the market's minimum notional), and no larger than
what the account holds once its lend of X is redeemed (as far as that pool allows): a sale
of what is held, never a short or a borrow (the spot form of reduce-only), so the
pre-trade check lets it through. The proceeds pay the loss:

    acct.available(USDC) -p   acct.pnl_unsettled(USDC) +p

What the book did not take stays negative in `pnl_unsettled` (liquidation's business, as
before); proceeds beyond the loss, and what the makers received, are lent (auto-lend).
The orders are recorded in the job's data (`orders`: [command, order id, fill data]) and
re-placed by replay; `converted` lists what was sold for whom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.lending import ensure_available, sweep_credited
from exchange.matching import OrderRejected, place_order
from exchange.values import Side

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.matching import MatchingState

__all__ = ["convert_after_settlement", "convert_collateral", "replay_conversions"]


def convert_collateral(
    ctx: Context,
    ms: MatchingState,
    quote: str,
    accounts: list[str],
    orders: list[list[Any]],
    converted: list[dict[str, Any]],
) -> None:
    """Sell other collateral of each account (in order) whose `pnl_unsettled` in `quote` is
    still negative, and pay the loss from the proceeds (see the module docstring)."""
    state = ctx.state
    for account in accounts:
        for asset in sorted(state.assets):
            owed = -ctx.balance(account, quote, "pnl_unsettled")
            if owed <= 0:
                break
            if asset == quote or ctx.balance(account, asset, "borrowed") < 0:
                continue
            if ctx.balance(account, asset) + ctx.balance(account, asset, "lent") <= 0:
                continue
            market = ms.spot_market(asset, quote)
            edge = None if market is None else ms.band.worst_price(market, Side.SELL)
            if market is None or edge is None:
                continue
            step = market.step_size
            qty = market.quantity_to_raise(owed, edge)
            held = ensure_available(ctx, account, asset, qty)
            qty = min(qty, held // step * step)
            if qty <= 0:
                continue
            raw: dict[str, Any] = {
                "account": account, "market": market.symbol, "side": "sell", "type": "limit",
                "price": str(edge), "tif": "IOC", "quantity": str(qty),
            }  # fmt: skip
            before = ctx.balance(account, quote)
            oid = ms.next_id
            try:
                data = place_order(ctx, ms, raw, oid)
            except OrderRejected:
                continue
            ms.next_id = oid + 1
            orders.append([raw, oid, data])
            raised = ctx.balance(account, quote) - before
            paid = min(owed, ctx.balance(account, quote))
            if paid > 0:
                ctx.post(
                    (account, quote, "available", -paid),
                    (account, quote, "pnl_unsettled", paid),
                )
            converted.append({"account": account, "market": market.symbol, "quantity": qty,
                              "filled": sum(q for _, q, _ in data.get("fills", ())),
                              "price": edge, "proceeds": raised, "paid": max(paid, 0)})  # fmt: skip


def convert_after_settlement(ctx: Context, ms: MatchingState, quote: str, short: list[str]) -> None:
    """`convert_collateral` for the accounts settlement left short in `quote`, then what
    the sales credited (makers' fills, proceeds beyond the loss) is swept (auto-lend), and
    the orders and conversions are added to the job's data."""
    start = len(ctx.postings)  # where this step's postings start
    orders: list[list[Any]] = []
    converted: list[dict[str, Any]] = []
    convert_collateral(ctx, ms, quote, short, orders, converted)
    if not converted:
        return
    sweep_credited(ctx, start)
    data = ctx.data or {}  # another quote's conversions
    ctx.emit(orders=[*data.get("orders", ()), *orders],
             converted=[*data.get("converted", ()), *converted])  # fmt: skip


def replay_conversions(ms: MatchingState, data: dict[str, Any], seq: int) -> None:
    """Re-place the conversion orders of a settlement event (replay: no ledger)."""
    for raw, oid, recorded in data.get("orders", ()):
        got = place_order(None, ms, raw, oid)
        ms.next_id = oid + 1
        if got != recorded:
            raise ValueError(f"journal event {seq}: settlement's conversion replays as {got}")

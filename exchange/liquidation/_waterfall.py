"""The liquidation waterfall: what happens to one account at or below maintenance.

Steps, in order, each a journal entry (or a matching action) listed in the job's event data
with its reason (docs/liquidation.md):

0. `cancel_orders`: every open order of the account is cancelled (frees locked funds and
   removes risk-increasing orders from its exposure). Then borrows are repaid from the
   account's own funds in the same asset (`repay`). Healthy again: stop.
1. (a) `book`: when equity >= auto_close x maintenance and nobody is bankrupt, each perp
   position is reduced by one slice with a reduce-only IOC order priced at the impact band's
   edge (inside the bands); still unhealthy, each debt is repaid by one slice bought with
   the spot books: a USDC debt by selling collateral on X/USDC, a debt in X by buying X on
   X/USDC (IOC at the band edge, sized to what the account holds, so the pre-trade check
   never borrows). Something filled: stop; the next second continues.
2. (c) `insurance`: a negative net value (all balances at index, positions at mark, no
   haircut) is covered from @insurance's USDC.
3. (d) `adl`: still negative: positions are closed against the most profitable, most
   leveraged opposite positions at the bankruptcy price, which absorbs the deficit.
4. (b) `backstop_lp`: the positions (at mark) and all balances, debts included, go to the
   backstop liquidity providers pro rata to their remaining capacity. Providers never
   receive a negative net value: steps 2-3 run first.
5. `backstop_capital`: what no provider took: positions are closed by ADL at mark, debts
   are repaid by @backstop, which takes collateral worth the debt at index (all of it if
   that is not enough). A shortfall stays on @backstop's `capital` bucket: a named debt of
   the exchange, never a silent loss for lenders. The bankrupt account still owes it:
   `deficit` (its bucket, in the debt's asset) against @backstop's `receivable`, repaid
   first by the account's next deposits of that asset (`exchange.lending.sweep`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.lending import ensure_available, lending_state, repay
from exchange.matching import (
    OrderRejected,
    cancel_order,
    clearing_account,
    matching_state,
    place_order,
)
from exchange.model import BACKSTOP, INSURANCE
from exchange.pricing import QUOTE_ASSET, asset_price
from exchange.values import FRACTION, Side

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.market import Market
    from exchange.matching import MatchingState, Position
    from exchange.state import LedgerState

    from ._state import LiquidationState

__all__ = ["TRANSFER_BUCKETS", "Step", "liquidate", "move_position", "net_value", "positions_of"]

TRANSFER_BUCKETS = ("available", "lent", "borrowed", "pnl_unsettled", "margin")
Step = dict[str, Any]


def positions_of(state: LedgerState, account: str) -> list[tuple[str, Position]]:
    ms = matching_state(state)
    out = []
    for symbol in sorted(ms.books):
        pos = ms.positions.get((account, symbol))
        if pos is not None and pos.size:
            out.append((symbol, pos))
    return out


def _mark(state: LedgerState, symbol: str) -> int | None:
    from exchange.margin import mark_price

    ms = matching_state(state)
    return mark_price(state, symbol, ms.books[symbol].market.base)


def net_value(state: LedgerState, account: str) -> int:
    """Everything the account has minus what it owes, in USDC units, without haircuts:
    balances at index (assets rounded down, debts up), positions at mark. An asset without
    a price counts 0 when held; a debt without a price cannot occur (borrowing needs one)."""
    from exchange.margin import net_balance

    total = 0
    for asset, info in state.assets.items():
        net = net_balance(state, account, asset)
        if not net:
            continue
        price = asset_price(state, asset) or 0
        total += net * price // 10**info.decimals
    ms = matching_state(state)
    for symbol, pos in positions_of(state, account):
        mark = _mark(state, symbol) or 0
        total += pos.size * mark // ms.books[symbol].market.scale - pos.basis
    return total


def move_position(
    ctx: Context | None,
    ms: MatchingState,
    symbol: str,
    seller: str,
    buyer: str,
    quantity: int,
    price: int,
) -> None:
    """Transfer `quantity` of a perp from `seller` (who sells) to `buyer` (who buys) at
    `price`, off the book and without fees: both positions change as by a fill, realised
    PnL is posted against the market's clearing account."""
    market = ms.books[symbol].market
    notional = quantity * price // market.scale
    pnl_s = ms.position(seller, symbol).apply_fill(False, quantity, notional)
    pnl_b = ms.position(buyer, symbol).apply_fill(True, quantity, notional)
    if ctx is not None:
        ctx.post(
            (seller, market.quote, "pnl_unsettled", pnl_s),
            (buyer, market.quote, "pnl_unsettled", pnl_b),
            (clearing_account(symbol), market.quote, "pnl_unsettled", -pnl_s - pnl_b),
        )


class Run:
    """One liquidation job run: the actions replay needs and the steps people read."""

    def __init__(self, ctx: Context, ls: LiquidationState) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.ls = ls
        self.ms = matching_state(ctx.state)
        self.actions: list[list[Any]] = []
        self.steps: list[Step] = []
        self.touched: set[str] = set()

    def step(self, account: str, stage: str, reason: str, **facts: Any) -> None:
        self.steps.append({"account": account, "stage": stage, "reason": reason, **facts})

    # -- matching actions (recorded for replay) ---------------------------------------------
    def cancel_orders(self, account: str) -> list[int]:
        ids = []
        for symbol in sorted(self.ms.books):
            book = self.ms.books[symbol]
            for order in [o for o in book.orders.values() if o.account == account]:
                cancel_order(self.ctx, self.ms, book, order)
                self.actions.append(["cancel", symbol, order.order_id])
                ids.append(order.order_id)
        return ids

    def place(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        oid = self.ms.next_id
        try:
            data = place_order(self.ctx, self.ms, raw, oid)
        except OrderRejected:
            return None
        self.ms.next_id = oid + 1
        self.actions.append(["order", raw, oid, data])
        for maker_id, _, _ in data.get("fills", ()):
            owner = self.ls.owners.pop(maker_id, None)
            if owner is not None:
                self.touched.add(owner)
        return data

    def move(self, symbol: str, seller: str, buyer: str, quantity: int, price: int) -> None:
        move_position(self.ctx, self.ms, symbol, seller, buyer, quantity, price)
        self.actions.append(["move", symbol, seller, buyer, quantity, price])
        self.touched.update((seller, buyer))


def _repay_own(run: Run, account: str) -> int:
    """Repay the account's debts from its own funds in the same asset; returns the total."""
    ctx = run.ctx
    paid_total = 0
    for asset in sorted(run.state.assets):
        debt = -ctx.balance(account, asset, "borrowed")
        if debt <= 0:
            continue
        have = ensure_available(ctx, account, asset, debt)
        paid = min(have, debt)
        if paid > 0:
            repay(ctx, account, asset, paid)
            run.step(account, "repay", "repay_borrow_from_own_funds", asset=asset, amount=paid)
            paid_total += paid
    return paid_total


def _healthy(state: LedgerState, account: str) -> bool:
    from exchange.margin import account_risk

    risk = account_risk(state, account)
    return not risk.exposure or risk.unpriced != [] or risk.equity > risk.maintenance


def _book_stage(run: Run, account: str) -> bool:
    """(a) one slice per position, then (still unhealthy) one slice per debt, through the
    books at the impact band edge. True if anything filled."""
    filled = _close_positions(run, account)
    if _has_debt(run.state, account) and not (filled and _healthy(run.state, account)):
        filled = _repay_through_book(run, account) or filled
    return filled


def _close_positions(run: Run, account: str) -> bool:
    """One reduce-only IOC slice per perp position at the impact band edge."""
    filled = False
    slice_share = run.ls.params.slice
    for symbol, pos in positions_of(run.state, account):
        book = run.ms.books[symbol]
        market = book.market
        step = market.step_size
        size = abs(pos.size)
        qty = -(-size * slice_share // FRACTION)
        qty = min(-(-qty // step) * step, size // step * step)
        if qty <= 0:
            continue
        side = "sell" if pos.size > 0 else "buy"
        edge = run.ms.band.worst_price(market, Side.SELL if pos.size > 0 else Side.BUY)
        if edge is None:
            continue
        got = _take(run, account, market, side, qty, edge, reduce_only=True)
        run.step(account, "book", "close_through_book", market=symbol, side=side,
                 quantity=qty, filled=got, price=edge)  # fmt: skip
        filled = filled or got > 0
    return filled


def _repay_through_book(run: Run, account: str) -> bool:
    """One slice (`slice` of the debt, rounded up) of each debt the account's own funds did
    not cover, bought with the spot books, then repaid (`_repay_own`). True if filled."""
    filled = False
    slice_share = run.ls.params.slice
    for asset in sorted(run.state.assets):
        debt = -run.ctx.balance(account, asset, "borrowed")
        if debt <= 0:
            continue
        want = -(-debt * slice_share // FRACTION)
        if asset == QUOTE_ASSET:
            got = _sell_collateral(run, account, want, asset)
        else:
            got = _buy_debt_asset(run, account, asset, want)
        if got:
            filled = True
            _repay_own(run, account)
    return filled


def _sell_collateral(run: Run, account: str, want: int, debt: str) -> bool:
    """Sell held assets on their X/USDC books (by symbol, each IOC at the lower impact
    edge) until `want` USDC was raised or nothing is left to sell. True if filled.

    A sale is sized so that, filled at the edge, its proceeds after the taker fee cover
    what is still wanted (rounded up to the step; at least the market's minimum notional),
    and no larger than what the account holds once its lend is redeemed (as far as the
    pool allows): the pre-trade check then finds it available and never borrows."""
    ctx = run.ctx
    filled = False
    for asset in sorted(run.state.assets):
        if want <= 0:
            break
        if asset == QUOTE_ASSET or ctx.balance(account, asset, "borrowed") < 0:
            continue
        if ctx.balance(account, asset) + ctx.balance(account, asset, "lent") <= 0:
            continue
        market = run.ms.spot_market(asset, QUOTE_ASSET)
        edge = None if market is None else run.ms.band.worst_price(market, Side.SELL)
        if market is None or edge is None:
            continue
        step = market.step_size
        qty = market.quantity_to_raise(want, edge)
        held = ensure_available(ctx, account, asset, qty)
        qty = min(qty, held // step * step)
        if qty <= 0:
            continue
        before = ctx.balance(account, QUOTE_ASSET)
        got = _take(run, account, market, "sell", qty, edge)
        raised = ctx.balance(account, QUOTE_ASSET) - before
        run.step(account, "book", "sell_collateral_through_book", market=market.symbol,
                 side="sell", quantity=qty, filled=got, price=edge, debt=debt,
                 proceeds=raised)  # fmt: skip
        want -= raised
        filled = filled or got > 0
    return filled


def _buy_debt_asset(run: Run, account: str, asset: str, want: int) -> bool:
    """Buy `want` of the owed asset (rounded up to the step) on its X/USDC book, IOC at the
    upper impact edge, with the account's USDC (its lend redeemed first; other collateral
    sold for what is missing). Sized to what the buy may lock, so the pre-trade check never
    borrows. True if anything filled (the sale included)."""
    ctx = run.ctx
    market = run.ms.spot_market(asset, QUOTE_ASSET)
    edge = None if market is None else run.ms.band.worst_price(market, Side.BUY)
    if market is None or edge is None:
        return False
    step = market.step_size
    qty = market.order_quantity(want, edge)
    cost = market.buy_lock(qty, edge)
    have = ensure_available(ctx, account, QUOTE_ASSET, cost)
    sold = False
    if have < cost:
        sold = _sell_collateral(run, account, cost - have, asset)
        have = ctx.balance(account, QUOTE_ASSET)
    per_step = market.buy_lock(step, edge)
    qty = min(qty, have // per_step * step if per_step else qty)
    if qty <= 0:
        return sold
    before = ctx.balance(account, QUOTE_ASSET)
    got = _take(run, account, market, "buy", qty, edge)
    run.step(account, "book", "buy_debt_through_book", market=market.symbol, side="buy",
             quantity=qty, filled=got, price=edge, debt=asset,
             cost=before - ctx.balance(account, QUOTE_ASSET))  # fmt: skip
    return sold or got > 0


def _take(
    run: Run,
    account: str,
    market: Market,
    side: str,
    qty: int,
    edge: int,
    reduce_only: bool = False,
) -> int:
    """One IOC limit order at `edge` through `run.place`; returns the quantity filled."""
    raw: dict[str, Any] = {
        "account": account, "market": market.symbol, "side": side, "type": "limit",
        "price": str(edge), "tif": "IOC", "quantity": str(qty),
    }  # fmt: skip
    if reduce_only:
        raw["reduce_only"] = True
    data = run.place(raw)
    return sum(q for _, q, _ in data.get("fills", ())) if data else 0


def _insurance(run: Run, account: str, deficit: int) -> int:
    """(c) cover up to `deficit` from @insurance's USDC; returns the amount."""
    ctx = run.ctx
    cover = min(deficit, ctx.balance(INSURANCE, QUOTE_ASSET))
    if cover > 0:
        ctx.post((INSURANCE, QUOTE_ASSET, "available", -cover),
                 (account, QUOTE_ASSET, "available", cover))  # fmt: skip
        run.step(account, "insurance", "insurance_covers_negative_equity", amount=cover)
    return max(cover, 0)


def _adl_rank(run: Run, symbol: str, sign: int, exclude: str) -> list[str]:
    """Opposite positions (size sign `sign`), most profitable x most leveraged first."""
    from exchange.margin import account_risk

    ms = run.ms
    mark = _mark(run.state, symbol) or 0
    scale = ms.books[symbol].market.scale
    ranked = []
    for (acct, sym), pos in ms.positions.items():
        if sym != symbol or acct == exclude or not pos.size or (pos.size > 0) != (sign > 0):
            continue
        upnl = pos.size * mark // scale - pos.basis
        notional = abs(pos.size) * mark // scale
        equity = max(account_risk(run.state, acct).equity, 1)
        score = upnl * FRACTION // max(abs(pos.basis), 1) * notional // equity
        ranked.append((-score, acct))
    ranked.sort()
    return [acct for _, acct in ranked]


def _adl(run: Run, account: str, symbol: str, pos: Position, price: int, reason: str) -> None:
    """(d) close the whole position against ranked opposite positions at `price`."""
    sign = -1 if pos.size > 0 else 1
    remaining = abs(pos.size)
    for other in _adl_rank(run, symbol, sign, account):
        if not remaining:
            break
        theirs = abs(run.ms.positions[(other, symbol)].size)
        q = min(theirs, remaining)
        if pos.size > 0:
            run.move(symbol, account, other, q, price)
        else:
            run.move(symbol, other, account, q, price)
        run.step(account, "adl", reason, market=symbol, counterparty=other, quantity=q,
                 price=price)  # fmt: skip
        remaining -= q


def _adl_bankrupt(run: Run, account: str, deficit: int) -> None:
    """(d) ADL each position at its bankruptcy price until the deficit is absorbed."""
    for symbol, pos in positions_of(run.state, account):
        mark = _mark(run.state, symbol)
        if mark is None:
            continue
        scale = run.ms.books[symbol].market.scale
        size = abs(pos.size)
        shift = -(-deficit * scale // size) if deficit > 0 else 0
        price = mark + shift if pos.size > 0 else max(1, mark - shift)
        _adl(run, account, symbol, pos, price, "adl_at_bankruptcy_price")
        deficit = -net_value(run.state, account)


def _provider_share(run: Run, account: str) -> None:
    """(b) positions at mark and all balances to the providers, pro rata to capacity."""
    state = run.state
    providers = [(a, c) for a, c in sorted(run.ls.providers.items()) if c > 0 and a != account]
    if not providers:
        return
    positions = positions_of(state, account)
    need = 0
    marks: dict[str, int] = {}
    for symbol, pos in positions:
        mark = _mark(state, symbol)
        if mark is None:
            return
        marks[symbol] = mark
        need += -(-abs(pos.size) * mark // run.ms.books[symbol].market.scale)
    for asset, info in state.assets.items():
        debt = -state.balances.get((account, asset, "borrowed"), 0)
        if debt > 0:
            need += -(-debt * (asset_price(state, asset) or 0) // 10**info.decimals)
    if need <= 0:
        return
    capacity = sum(c for _, c in providers)
    den = max(capacity, need)
    whole = capacity >= need
    shares: list[tuple[str, int, int, bool]] = []
    for i, (lp, cap) in enumerate(providers):
        last = whole and i == len(providers) - 1
        used = min(cap, -(-need * cap // den))
        run.ls.providers[lp] = cap - used
        run.actions.append(["capacity", lp, cap - used])
        shares.append((lp, cap, used, last))
        for symbol, pos in positions:
            size = abs(pos.size)
            q = size if last else size * cap // den
            if not q:
                continue
            if pos.size > 0:
                run.move(symbol, account, lp, q, marks[symbol])
            else:
                run.move(symbol, lp, account, q, marks[symbol])
    base = {
        (asset, bucket): run.ctx.balance(account, asset, bucket)
        for asset in sorted(state.assets)
        for bucket in TRANSFER_BUCKETS
    }
    for lp, cap, used, last in shares:
        moved = _move_balances(run, account, lp, None if last else (cap, den), base)
        run.step(account, "backstop_lp", "backstop_provider_takes_over", provider=lp,
                 capacity_used=used, balances=moved)  # fmt: skip


def _move_balances(
    run: Run,
    src: str,
    dst: str,
    share: tuple[int, int] | None,
    base: dict[tuple[str, str], int] | None = None,
) -> dict[str, dict[str, int]]:
    """Move `share` of the `base` balances (all that is left when share is None) from src
    to dst, one entry per bucket; lends and debts keep the pool's scaled shares in step."""
    ctx = run.ctx
    ls = lending_state(run.state)
    moved: dict[str, dict[str, int]] = {}
    for asset in sorted(run.state.assets):
        for bucket in TRANSFER_BUCKETS:
            bal = ctx.balance(src, asset, bucket)
            if share is not None and base is not None:
                bal = base[(asset, bucket)]
            if not bal:
                continue
            amount = bal if share is None else bal * share[0] // share[1]
            if bucket == "borrowed" and share is not None:
                amount = -(-bal * share[0] // share[1])  # a debt share rounds toward zero
            if not amount:
                continue
            ctx.post((src, asset, bucket, -amount), (dst, asset, bucket, amount))
            if bucket == "lent":
                pool = ls.pool(asset)
                pool.on_lent(src, -amount, ctx.balance(src, asset, "lent"))
                pool.on_lent(dst, amount, ctx.balance(dst, asset, "lent"))
            elif bucket == "borrowed":
                pool = ls.pool(asset)
                pool.on_borrowed(src, -amount, ctx.balance(src, asset, "borrowed"))
                pool.on_borrowed(dst, amount, ctx.balance(dst, asset, "borrowed"))
            moved.setdefault(asset, {})[bucket] = amount
    run.touched.add(dst)
    return moved


def _backstop_capital(run: Run, account: str) -> None:
    """The last resort: ADL at mark for positions left, @backstop repays debts and takes
    collateral worth them at index (all of it when that is not enough)."""
    state = run.state
    ctx = run.ctx
    for symbol, pos in positions_of(state, account):
        mark = _mark(state, symbol)
        if mark is not None:
            _adl(run, account, symbol, pos, mark, "adl_at_mark_no_backstop_capacity")
    for asset in sorted(state.assets):
        debt = -ctx.balance(account, asset, "borrowed")
        if debt <= 0:
            continue
        price = asset_price(state, asset) or 0
        owed_value = -(-debt * price // 10 ** state.assets[asset].decimals)
        ctx.post((BACKSTOP, asset, "capital", -debt), (account, asset, "available", debt))
        repay(ctx, account, asset, debt)
        taken = _take_collateral(run, account, owed_value)
        facts: dict[str, int] = {}
        if taken < owed_value and price:
            # bankrupt: what the collateral did not cover stays owed by the account to
            # @backstop, in the debt's asset (rounded up), repaid by its next deposits
            scale = 10 ** state.assets[asset].decimals
            residual = min(debt, -(-(owed_value - taken) * scale // price))
            ctx.post((account, asset, "deficit", -residual),
                     (BACKSTOP, asset, "receivable", residual))  # fmt: skip
            facts["deficit"] = residual
        run.step(account, "backstop_capital", "backstop_repays_debt", asset=asset,
                 amount=debt, collateral_value_taken=taken, **facts)  # fmt: skip


def _take_collateral(run: Run, account: str, value: int) -> int:
    """Move collateral worth `value` (at index, rounded up) to @backstop.capital; USDC first,
    then other assets by symbol. Returns the value taken."""
    state = run.state
    ctx = run.ctx
    taken = 0
    assets = sorted(state.assets, key=lambda a: (a != QUOTE_ASSET, a))
    for asset in assets:
        if taken >= value:
            break
        price = asset_price(state, asset)
        if not price:
            continue
        scale = 10 ** state.assets[asset].decimals
        ensure_available(ctx, account, asset, ctx.balance(account, asset, "lent")
                         + ctx.balance(account, asset))  # fmt: skip
        for bucket in ("available", "pnl_unsettled"):
            have = ctx.balance(account, asset, bucket)
            if have <= 0:
                continue
            want = -(-(value - taken) * scale // price)
            amount = min(have, want)
            ctx.post((account, asset, bucket, -amount), (BACKSTOP, asset, "capital", amount))
            taken += amount * price // scale
            if taken >= value:
                break
    return taken


def liquidate(run: Run, account: str) -> None:
    """Run the waterfall for one account found at or below maintenance."""
    state = run.state
    ids = run.cancel_orders(account)
    if ids:
        run.step(account, "cancel_orders", "maintenance_ratio_reached_100", ids=ids)
    _repay_own(run, account)
    if _healthy(state, account):
        run.step(account, "healthy", "margin_restored")
        return
    from exchange.margin import account_risk

    risk = account_risk(state, account)
    value = net_value(state, account)
    above_auto_close = risk.equity * FRACTION >= run.ls.params.auto_close * risk.maintenance
    exposed = bool(positions_of(state, account)) or _has_debt(state, account)
    book_first = value >= 0 and above_auto_close and exposed
    if book_first and _book_stage(run, account):
        _repay_own(run, account)
        return
    if value < 0:
        value += _insurance(run, account, -value)
    if value < 0:
        _adl_bankrupt(run, account, -value)
    _repay_own(run, account)
    if positions_of(state, account) or _has_debt(state, account):
        _provider_share(run, account)
    if positions_of(state, account) or _has_debt(state, account):
        _backstop_capital(run, account)


def _has_debt(state: LedgerState, account: str) -> bool:
    return any(state.balances.get((account, a, "borrowed"), 0) < 0 for a in state.assets)

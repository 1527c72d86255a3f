"""Account risk (collateral, equity, exposure, IMF/MMF) and the pre-trade risk check.

All values are ints in smallest units of USDC (the valuation asset); every rounding goes
against the account: collateral and PnL round down, liabilities, notionals and margin
requirements round up.

    net_X        = sum of the account's buckets in X (available, locked_order, lent,
                   borrowed, pnl_unsettled, margin): the claim of the proof of liabilities
    collateral   = sum over net_X > 0 of value(net_X) * weight_X(value)       (haircut)
    liabilities  = sum over net_X < 0 of value(-net_X)                        (at index)
    unrealised   = sum over perps of floor(size * mark / 10^d) - basis
    equity       = collateral + unrealised - liabilities     (unsettled PnL is in net_USDC)
    exposure     = sum of notionals: perps |size + risk-increasing open orders| * mark,
                   spot borrows value(-net_X)
    IMF_i        = max(imf_base, imf_factor * sqrt(notional_i in USD)), MMF likewise
    initial      = sum of notional_i * IMF_i;  maintenance likewise
    margin fraction = equity / exposure; account IMF = initial / exposure (notional-weighted)

An order passes when it does not increase exposure, or when equity (less its estimated
fee) still covers the initial margin with the order counted as open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exchange.lending import ensure_available
from exchange.matching import Reject, find_matching_state, spot_need
from exchange.values import (
    FRACTION,
    PPM,
    OrderType,
    SelfTradePrevention,
    Side,
    ceil_div,
    ceil_sqrt,
)

from ._params import QUOTE, CollateralParams, index_price, margin_state, mark_price

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.matching import MatchingState, OrderBook
    from exchange.state import LedgerState

__all__ = [
    "USER_BUCKETS",
    "AccountRisk",
    "Exposure",
    "MarginRisk",
    "account_risk",
    "collateral_value",
    "collateral_weight",
    "liability_value",
    "margin_curve",
    "net_balance",
    "usd_sqrt",
]

USER_BUCKETS = ("available", "locked_order", "lent", "borrowed", "pnl_unsettled", "margin")
"""Buckets that make an account's margin balance (a pending withdrawal is no collateral)."""

MARGIN_REJECT = "margin_must_cover_initial"
PRICE_REJECT = "price_must_be_known"
_ELEVEN_TENTHS = 11 * FRACTION // 10


def usd_sqrt(value: int, quote_decimals: int) -> int:
    """ceil(sqrt(value in USD)) at FRACTION scale, for `value` in smallest USDC units."""
    if quote_decimals <= 18:
        return ceil_sqrt(value * 10 ** (18 - quote_decimals))
    return ceil_sqrt(ceil_div(value, 10 ** (quote_decimals - 18)))


def margin_curve(base: int, factor: int, root: int) -> int:
    """max(base, factor * sqrt) at FRACTION scale, rounded up (`root` from `usd_sqrt`)."""
    return max(base, ceil_div(factor * root, FRACTION))


def collateral_weight(weight: int, penalty: int, root: int) -> int:
    """min(weight, 1.1 / (1 + penalty * sqrt(value))) at FRACTION scale, rounded down."""
    if not penalty:
        return weight
    return min(weight, _ELEVEN_TENTHS * FRACTION // (FRACTION + ceil_div(penalty * root, FRACTION)))


def collateral_value(
    net: int, price: int, decimals: int, params: CollateralParams, quote_decimals: int
) -> int:
    """What a positive net balance counts as collateral, after its haircut, in USDC smallest
    units (rounded down twice: the value, then the weighted value). Shared by the margin
    check and the proof-of-reserves export, so both use one risk model."""
    if not params.weight:
        return 0
    value: int = net * price // 10**decimals
    w = collateral_weight(params.weight, params.penalty, usd_sqrt(value, quote_decimals))
    return value * w // FRACTION


def liability_value(owed: int, price: int, decimals: int) -> int:
    """What `owed` smallest units of an asset are worth as a liability: rounded up."""
    return ceil_div(owed * price, 10**decimals)


@dataclass(frozen=True, slots=True)
class Exposure:
    """One risk item: a perp market (with its position) or a spot borrow."""

    name: str
    notional: int
    imf: int
    mmf: int
    size: int = 0  # perp position size (base units); for a borrow, the amount owed
    mark: int = 0
    unrealised: int = 0


@dataclass(slots=True)
class AccountRisk:
    collateral: int = 0
    liabilities: int = 0
    unrealised: int = 0
    exposure: int = 0
    initial: int = 0
    maintenance: int = 0
    items: list[Exposure] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    market_qty: dict[str, int] = field(default_factory=dict)
    qty_without_extra: int = 0  # the `extra` order's market exposure without that order

    @property
    def equity(self) -> int:
        return self.collateral + self.unrealised - self.liabilities

    def fraction_of(self, amount: int, *, up: bool) -> int | None:
        if not self.exposure:
            return None
        return (
            ceil_div(amount * FRACTION, self.exposure)
            if up
            else amount * FRACTION // (self.exposure)
        )

    @property
    def margin_fraction(self) -> int | None:
        """equity / exposure at FRACTION scale (rounded down); None without exposure."""
        return self.fraction_of(self.equity, up=False)

    @property
    def account_imf(self) -> int | None:
        return self.fraction_of(self.initial, up=True)

    @property
    def account_mmf(self) -> int | None:
        return self.fraction_of(self.maintenance, up=True)


def _add(risk: AccountRisk, item: Exposure) -> None:
    risk.items.append(item)
    risk.exposure += item.notional
    risk.initial += ceil_div(item.notional * item.imf, FRACTION)
    risk.maintenance += ceil_div(item.notional * item.mmf, FRACTION)


def net_balance(state: LedgerState, account: str, asset: str) -> int:
    """What the account holds of `asset` less what it owes, over margin's buckets."""
    balances = state.balances
    net = 0
    for bucket in USER_BUCKETS:
        net += balances.get((account, asset, bucket), 0)
    return net


def account_risk(
    state: LedgerState,
    account: str,
    extra: tuple[str, Side, int] | None = None,
    adjust: dict[str, int] | None = None,
) -> AccountRisk:
    """The account's risk now; `extra` = (market, side, quantity) counts one more open perp
    order, `adjust` = asset -> amount adds to net balances (a spot order as if filled)."""
    risk = AccountRisk()
    ms = margin_state(state)
    quote = state.assets.get(QUOTE)
    qd = quote.decimals if quote is not None else 6
    for asset, info in state.assets.items():
        net = net_balance(state, account, asset)
        if adjust is not None:
            net += adjust.get(asset, 0)
        if not net:
            continue
        price = index_price(state, asset)
        params = ms.collateral_of(asset)
        if net > 0:
            if price is not None:
                risk.collateral += collateral_value(net, price, info.decimals, params, qd)
            continue
        if price is None:
            risk.unpriced.append(asset)
            continue
        owed = liability_value(-net, price, info.decimals)
        risk.liabilities += owed
        root = usd_sqrt(owed, qd)
        _add(
            risk,
            Exposure(
                f"borrow:{asset}",
                owed,
                margin_curve(params.imf_base, params.imf_factor, root),
                margin_curve(params.mmf_base, params.mmf_factor, root),
                size=-net,
                mark=price,
            ),
        )
    matching = find_matching_state(state)
    if matching is None:
        return risk
    positions = matching.positions
    for symbol, book in matching.books.items():
        market = book.market
        if not market.is_perp:
            continue
        pos = positions.get((account, symbol))
        size = pos.size if pos is not None else 0
        basis = pos.basis if pos is not None else 0
        buys = sells = 0
        for order in book.orders.values():
            if order.account == account and not order.reduce_only:
                if order.side:
                    sells += order.remaining
                else:
                    buys += order.remaining
        if extra is not None and extra[0] == symbol:
            risk.qty_without_extra = max(abs(size + buys), abs(size - sells))
            if extra[1]:
                sells += extra[2]
            else:
                buys += extra[2]
        if not (size or buys or sells or basis):
            continue
        mark = mark_price(state, symbol, market.base)
        if mark is None:
            risk.unpriced.append(symbol)
            continue
        upnl = size * mark // market.scale - basis
        risk.unrealised += upnl
        qty = max(abs(size + buys), abs(size - sells))
        risk.market_qty[symbol] = qty
        notional = ceil_div(qty * mark, market.scale)
        perp = ms.perp_of(symbol)
        root = usd_sqrt(notional, qd)
        _add(
            risk,
            Exposure(
                symbol,
                notional,
                margin_curve(perp.imf_base, perp.imf_factor, root),
                margin_curve(perp.mmf_base, perp.mmf_factor, root),
                size=size,
                mark=mark,
                unrealised=upnl,
            ),
        )
    return risk


def initial_margin_problem(ctx: Context, account: str) -> str | None:
    """None if `account` meets initial margin, else why not (what lending rejects with)."""
    risk = account_risk(ctx.state, account)
    if risk.unpriced:
        return f"no price for {', '.join(risk.unpriced)}"
    if risk.equity < risk.initial:
        return f"{account} equity {risk.equity} < initial margin {risk.initial}"
    return None


class MarginRisk:
    """The matching engine's pre-trade risk check (`exchange.matching.PreTradeRisk`).

    Spot: the account must have what the order may spend available; what it lacks is
    redeemed from its lends, then borrowed (auto-borrow) as far as the pool allows, and a
    borrow must leave the account above initial margin judged as if the order filled at
    its limit (the borrowed funds spent, the bought asset held at its haircut).
    Perps: a risk-increasing order must leave equity (less the order's taker fee at mark)
    >= initial margin, counting the order and every other risk-increasing open order.
    """

    __slots__ = ()

    def check(
        self,
        ctx: Context,
        matching: MatchingState,
        book: OrderBook,
        account: str,
        side: Side,
        order_type: OrderType,
        limit: int,
        quantity: int,
        stp: SelfTradePrevention,
        reduce_only: bool,
    ) -> str | None:
        market = book.market
        state = ctx.state
        if not market.is_perp:
            asset, need = spot_need(book, account, side, order_type, limit, quantity, stp)
            if state.balances.get((account, asset, "available"), 0) >= need:
                return None
            debt = state.balances.get((account, asset, "borrowed"), 0)
            if ensure_available(ctx, account, asset, need, borrow_rest=True) < need:
                return Reject.INSUFFICIENT_AVAILABLE_BALANCE
            if state.balances.get((account, asset, "borrowed"), 0) != debt:
                # judged as if the order filled at its limit: the borrow is spent
                got = quantity if not side else quantity * limit // market.scale
                adjust = {asset: -need, market.quote if side else market.base: got}
                risk = account_risk(state, account, adjust=adjust)
                if risk.unpriced:
                    return PRICE_REJECT
                if risk.equity < risk.initial:
                    return MARGIN_REJECT
            return None
        if reduce_only:
            return None
        symbol = market.symbol
        risk = account_risk(state, account, (symbol, side, quantity))
        if risk.market_qty.get(symbol, 0) <= risk.qty_without_extra and not risk.unpriced:
            return None
        if risk.unpriced:
            return PRICE_REJECT
        mark = mark_price(state, symbol, market.base) or limit
        fee = ceil_div(quantity * mark * max(market.taker_fee_ppm, 0), market.scale * PPM)
        if risk.equity - fee < risk.initial:
            return MARGIN_REJECT
        return None

"""The `Market` record every engine reads: how engines size their own orders on its grid."""

from __future__ import annotations

from exchange.market import Market, fee
from exchange.values import MarketKind

PRICE = 60_000 * 10**6  # 60,000 USDC per BTC, on the tick


def btc() -> Market:
    # tick 0.1 USDC, step 0.00001 BTC, minimum notional 10 USDC, taker fee 500 ppm
    return Market("BTC/USDC", MarketKind.SPOT, "BTC", "USDC", 8, 100_000, 1_000, 10**7, 0, 500)


def test_an_order_quantity_is_rounded_up_to_the_step_and_raised_to_the_minimum_notional() -> None:
    m = btc()
    assert m.order_quantity(1, PRICE) == 17_000  # 0.6 USDC a step; 16,667 reach 10 USDC
    assert m.order_quantity(20_001, PRICE) == 21_000  # above the minimum: the step only
    assert m.notional(17_000, PRICE) >= m.min_notional > m.notional(16_000, PRICE)


def test_a_sale_sized_to_raise_proceeds_covers_them_after_the_taker_fee() -> None:
    m = btc()
    want = 100 * 10**6
    qty = m.quantity_to_raise(want, PRICE)
    assert qty == 167_000
    notional = m.notional(qty, PRICE)
    assert notional - fee(notional, m.taker_fee_ppm) >= want
    assert m.notional(qty - m.step_size, PRICE) < want
    assert m.quantity_to_raise(1, PRICE) == m.order_quantity(1, PRICE)  # the minimum rules

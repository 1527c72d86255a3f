"""The pure order book: priority, order types, self-trade prevention, market states, rejects."""

from __future__ import annotations

import pytest

from exchange.matching import (
    Market,
    MarketConfigError,
    MarketKind,
    MarketState,
    OrderBook,
    OrderRejected,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
TAKER = SelfTradePrevention.REJECT_TAKER
MAKER = SelfTradePrevention.REJECT_MAKER
BOTH = SelfTradePrevention.REJECT_BOTH
TICK = 100_000  # 0.1 USDC
STEP = 1_000  # 0.00001 BTC
P = 60_000_000_000  # 60 000 USDC per BTC


def btc(state: MarketState = MarketState.OPEN) -> Market:
    return Market(
        "BTC/USDC", MarketKind.SPOT, "BTC", "USDC", 8, TICK, STEP, 1_000_000, -100, 500, state
    )


def fills(book: OrderBook) -> list[tuple[int, int, int]]:
    out = [(maker.order_id, q, price) for maker, q, price in book.fills]
    book.fills.clear()
    return out


@pytest.fixture
def book() -> OrderBook:
    return OrderBook(btc())


def test_orders_at_one_price_fill_in_time_order(book: OrderBook) -> None:
    book.place(1, "a", SELL, P, 10 * STEP)
    book.place(2, "b", SELL, P, 10 * STEP)
    taker = book.place(3, "c", BUY, P, 15 * STEP)
    assert fills(book) == [(1, 10 * STEP, P), (2, 5 * STEP, P)], "first come, first filled"
    assert taker.remaining == 0 and not taker.resting
    assert book.orders[2].remaining == 5 * STEP, "the second maker keeps its unfilled part"


def test_better_price_fills_first_at_the_makers_price(book: OrderBook) -> None:
    book.place(1, "a", SELL, P + TICK, 10 * STEP)
    book.place(2, "b", SELL, P, 10 * STEP)
    book.place(3, "c", BUY, P + 2 * TICK, 20 * STEP)
    assert fills(book) == [(2, 10 * STEP, P), (1, 10 * STEP, P + TICK)], "price, then time"
    assert book.best_ask() is None and book.best_bid() is None


def test_partial_fill_of_a_gtc_taker_rests_the_remainder_at_its_limit(book: OrderBook) -> None:
    book.place(1, "a", SELL, P, 4 * STEP)
    taker = book.place(2, "b", BUY, P + TICK, 10 * STEP)
    assert fills(book) == [(1, 4 * STEP, P)]
    assert taker.resting and taker.remaining == 6 * STEP
    assert book.best_bid() == P + TICK and book.best_ask() is None


def test_ioc_remainder_is_cancelled_not_rested(book: OrderBook) -> None:
    book.place(1, "a", SELL, P, 4 * STEP)
    taker = book.place(2, "b", BUY, P, 10 * STEP, LIMIT, IOC)
    assert fills(book) == [(1, 4 * STEP, P)]
    assert not taker.resting and taker.remaining == 6 * STEP
    assert book.best_bid() is None, "an IOC never rests"


def test_fok_that_cannot_fill_completely_is_rejected_and_changes_nothing(book: OrderBook) -> None:
    book.place(1, "a", SELL, P, 4 * STEP)
    book.place(2, "a", SELL, P + 5 * TICK, 4 * STEP)
    with pytest.raises(OrderRejected, match="fok_not_fillable"):
        book.place(3, "b", BUY, P + TICK, 5 * STEP, LIMIT, FOK)
    assert book.fills == [] and book.orders[1].remaining == 4 * STEP, "nothing changed"
    taker = book.place(4, "b", BUY, P + 5 * TICK, 8 * STEP, LIMIT, FOK)
    assert fills(book) == [(1, 4 * STEP, P), (2, 4 * STEP, P + 5 * TICK)]
    assert taker.remaining == 0


def test_fok_counts_only_what_self_trade_prevention_lets_it_reach(book: OrderBook) -> None:
    book.place(1, "b", SELL, P, 4 * STEP)  # the taker's own order first in line
    book.place(2, "a", SELL, P, 4 * STEP)
    with pytest.raises(OrderRejected, match="fok_not_fillable"):
        book.place(3, "b", BUY, P, 4 * STEP, LIMIT, FOK, stp=TAKER)
    book.place(4, "b", BUY, P, 4 * STEP, LIMIT, FOK, stp=MAKER)
    assert fills(book) == [(2, 4 * STEP, P)]
    assert [o.order_id for o in book.cancelled] == [1], "RejectMaker cancelled the own order"


def test_market_order_walks_the_book_and_never_rests(book: OrderBook) -> None:
    book.place(1, "a", SELL, P, 4 * STEP)
    book.place(2, "a", SELL, P + 100 * TICK, 4 * STEP)
    taker = book.place(3, "b", BUY, 0, 10 * STEP, MARKET, IOC)
    assert fills(book) == [(1, 4 * STEP, P), (2, 4 * STEP, P + 100 * TICK)]
    assert taker.remaining == 2 * STEP and not taker.resting


def test_market_order_stops_at_the_price_band(book: OrderBook) -> None:
    class Band:
        def worst_price(self, market: Market, side: Side) -> int | None:
            return P + 10 * TICK if side == BUY else P - 10 * TICK

    book.band = Band()
    book.place(1, "a", SELL, P, 4 * STEP)
    book.place(2, "a", SELL, P + 100 * TICK, 4 * STEP)
    taker = book.place(3, "b", BUY, 0, 10 * STEP, MARKET, IOC)
    assert fills(book) == [(1, 4 * STEP, P)], "the band stops the walk"
    assert taker.remaining == 6 * STEP


def test_market_order_with_gtc_is_rejected(book: OrderBook) -> None:
    with pytest.raises(OrderRejected, match="market_order_must_not_rest"):
        book.place(1, "b", BUY, 0, STEP * 10, MARKET, GTC)


def test_post_only_that_would_take_is_rejected(book: OrderBook) -> None:
    book.place(1, "a", SELL, P, 4 * STEP)
    with pytest.raises(OrderRejected, match="post_only_would_take"):
        book.place(2, "b", BUY, P, 4 * STEP, post_only=True)
    order = book.place(3, "b", BUY, P - TICK, 4 * STEP, post_only=True)
    assert order.resting and book.fills == []


@pytest.mark.parametrize(
    ("stp", "taker_left", "maker_left", "expected_cancelled"),
    [
        (TAKER, 6 * STEP, [1], []),  # taker stops at its own order; maker 1 stays
        (MAKER, 0, [], [1]),  # own maker cancelled, taker goes on to fill the rest
        (BOTH, 6 * STEP, [], [1]),  # both stop
    ],
)
def test_self_trade_prevention_modes(
    book: OrderBook,
    stp: SelfTradePrevention,
    taker_left: int,
    maker_left: list[int],
    expected_cancelled: list[int],
) -> None:
    book.place(2, "a", SELL, P - TICK, 4 * STEP)
    book.place(1, "me", SELL, P, 4 * STEP)
    book.place(3, "a", SELL, P, 10 * STEP)
    taker = book.place(4, "me", BUY, P, 10 * STEP, LIMIT, GTC, stp=stp)
    got = fills(book)
    assert got[0] == (2, 4 * STEP, P - TICK), "the better price fills before the own order"
    if stp == MAKER:
        assert got[1:] == [(3, 6 * STEP, P)], "RejectMaker continues past the own order"
    else:
        assert got[1:] == [], "the taker stopped at its own order"
    assert [o.order_id for o in book.cancelled] == expected_cancelled
    assert taker.remaining == taker_left
    assert not taker.resting or stp == MAKER, "a taker stopped by STP does not rest"
    assert [i for i in maker_left if i in book.orders] == maker_left


def test_cancel_removes_the_order_and_an_empty_level(book: OrderBook) -> None:
    book.place(1, "a", BUY, P, 4 * STEP)
    book.place(2, "a", BUY, P - TICK, 4 * STEP)
    book.cancel(1)
    assert book.best_bid() == P - TICK
    with pytest.raises(OrderRejected, match="unknown_order"):
        book.cancel(1)


@pytest.mark.parametrize(
    ("price", "quantity", "code"),
    [
        (P + 1, STEP, "price_not_on_tick"),
        (P, STEP + 1, "quantity_not_on_step"),
        (P, 0, "quantity_must_be_positive"),
        (0, STEP, "price_must_be_positive"),
        (TICK, STEP, "notional_below_minimum"),
    ],
)
def test_off_grid_orders_are_rejected_with_the_rule_they_break(
    book: OrderBook, price: int, quantity: int, code: str
) -> None:
    with pytest.raises(OrderRejected, match=code) as info:
        book.place(1, "a", BUY, price, quantity)
    assert info.value.code == code
    assert not book.orders and book.best_bid() is None


@pytest.mark.parametrize(
    ("state", "order_type", "tif", "post_only", "code"),
    [
        (MarketState.CLOSED, LIMIT, GTC, False, "market_closed"),
        (MarketState.CANCEL_ONLY, LIMIT, GTC, True, "market_cancel_only"),
        (MarketState.POST_ONLY, LIMIT, GTC, False, "market_post_only"),
        (MarketState.LIMIT_ONLY, MARKET, IOC, False, "market_limit_only"),
    ],
)
def test_market_state_refuses_the_orders_it_does_not_allow(
    state: MarketState, order_type: OrderType, tif: TimeInForce, post_only: bool, code: str
) -> None:
    book = OrderBook(btc(state))
    with pytest.raises(OrderRejected, match=code):
        book.place(1, "a", BUY, P, 10 * STEP, order_type, tif, post_only)


def test_post_only_and_limit_only_states_allow_their_orders() -> None:
    assert (
        OrderBook(btc(MarketState.POST_ONLY))
        .place(1, "a", BUY, P, STEP * 10, post_only=True)
        .resting
    )
    assert OrderBook(btc(MarketState.LIMIT_ONLY)).place(1, "a", BUY, P, STEP * 10).resting


def test_market_whose_notionals_would_not_be_whole_units_is_refused() -> None:
    with pytest.raises(MarketConfigError, match="multiple of 10\\*\\*base_decimals"):
        Market("BTC/USDC", MarketKind.SPOT, "BTC", "USDC", 8, 10_000, 1_000, 0, 0, 0)


def test_maker_rebate_larger_than_taker_fee_is_refused() -> None:
    with pytest.raises(MarketConfigError, match="rebate may not exceed the taker fee"):
        Market("BTC/USDC", MarketKind.SPOT, "BTC", "USDC", 8, TICK, STEP, 0, -600, 500)


def test_depth_sums_each_level(book: OrderBook) -> None:
    book.place(1, "a", BUY, P, 4 * STEP)
    book.place(2, "b", BUY, P, 6 * STEP)
    book.place(3, "b", BUY, P - TICK, 1 * STEP * 10)
    book.place(4, "b", SELL, P + TICK, 10 * STEP)
    assert book.depth(BUY, 5) == [(P, 10 * STEP, 2), (P - TICK, 10 * STEP, 1)]
    assert book.depth(SELL, 1) == [(P + TICK, 10 * STEP, 1)]

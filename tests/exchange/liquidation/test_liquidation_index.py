"""The headroom index with sided intervals and the single-position re-check, against the
full scan (`scan_liquidatable`) and margin's `account_risk`: over random books of
positions (longs, shorts, open orders, BTC collateral, USDC debts, both margin curves) and
random moves of the mark and the index, `find_liquidatable` finds exactly the accounts the
scan finds, and every re-check from kept numbers gives account_risk's exact headroom."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.engine import Exchange
from exchange.liquidation import (
    current_prices,
    find_liquidatable,
    liquidation_state,
    scan_liquidatable,
)
from exchange.liquidation._headroom import sided_room
from exchange.liquidation._single import headroom_at
from exchange.margin import account_risk
from exchange.matching import Position, matching_state
from exchange.pricing import pricing_state
from exchange.registry import default_registry

USDC = 1_000_000
BTC = 100_000_000
PRICE = 60_000 * USDC
STEP = 100_000


def _world(seed: int, accounts: int, flat_curve: bool) -> Exchange:
    curve = ',"mmf_base":"0.05","mmf_factor":"0","imf_base":"0.1","imf_factor":"0"'
    lines = [
        '{"cmd":"asset","symbol":"BTC","decimals":8}',
        '{"cmd":"asset","symbol":"USDC","decimals":6}',
        '{"cmd":"clock","time":"2026-11-24T16:00:00Z"}',
        '{"cmd":"collateral_params","asset":"BTC","weight":"0.8","penalty":"0.0005"}',
        '{"cmd":"market","symbol":"BTC-PERP","kind":"perp","base":"BTC","quote":"USDC",'
        '"tick_size":"1000000","step_size":"100000","min_notional":"0",'
        '"maker_fee_ppm":0,"taker_fee_ppm":0}',
        '{"cmd":"perp_params","market":"BTC-PERP"' + (curve if flat_curve else "") + "}",
        f'{{"cmd":"index_price","asset":"BTC","price":"{PRICE}"}}',
        f'{{"cmd":"mark_price","market":"BTC-PERP","price":"{PRICE}"}}',
    ]
    ex = Exchange(default_registry())
    for line in lines:
        assert ex.apply_line(line).accepted, line
    state = ex.state
    ms = matching_state(state)
    rng = random.Random(seed)
    net = 0
    for i in range(accounts):
        account = f"t{i:04d}"
        state.accounts[account] = "user"
        collateral = rng.randrange(1_000, 50_000) * USDC
        state.balances[(account, "USDC", "available")] = collateral
        shape = rng.random()
        if shape < 0.15:  # BTC collateral too (a second driver)
            state.balances[(account, "BTC", "lent")] = rng.randrange(1, 50) * BTC // 100
        elif shape < 0.25:  # a BTC debt (a driver that hurts when the price rises)
            state.balances[(account, "BTC", "borrowed")] = -rng.randrange(1, 20) * BTC // 100
        leverage = rng.randrange(20, 500)  # tenths: 2x .. 50x
        entry = PRICE * rng.randrange(9_800, 10_200) // 10_000
        size = collateral * leverage * BTC // (10 * entry) // STEP * STEP or STEP
        if rng.random() < 0.5:
            size = -size
        ms.positions[(account, "BTC-PERP")] = Position(size, size * entry // BTC)
        net += size
    state.accounts["house"] = "user"
    state.balances[("house", "USDC", "available")] = 10**18
    ms.positions[("house", "BTC-PERP")] = Position(-net, -net * PRICE // BTC)
    for i in range(0, accounts, 7):  # resting orders, some reduce-only, far from the mark
        side = "buy" if i % 2 else "sell"
        price = PRICE * (97 if side == "buy" else 103) // 100 // USDC * USDC
        event = ex.apply_line(json.dumps({
            "cmd": "order", "account": f"t{i:04d}", "market": "BTC-PERP", "side": side,
            "price": str(price), "quantity": str(STEP * (1 + i % 5)),
            "reduce_only": i % 3 == 0,
        }))  # fmt: skip
        assert event.status in ("accepted", "rejected")
    return ex


def _settle_found(ex: Exchange, found: list[str]) -> None:
    """What the liquidation job does to the accounts it found, as far as the index cares:
    they were touched, so they are checked fully next time."""
    liquidation_state(ex.state).dirty.update(found)


moves = st.lists(
    st.tuples(st.integers(-400, 400), st.integers(-400, 400), st.booleans()),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.booleans(), moves)
def test_the_index_finds_exactly_the_accounts_the_full_scan_finds(
    seed: int, flat_curve: bool, path: list[tuple[int, int, bool]]
) -> None:
    ex = _world(seed, 150, flat_curve)
    state = ex.state
    ps = pricing_state(state)
    _settle_found(ex, find_liquidatable(state))
    mark, index = PRICE, PRICE
    for mark_bp, index_bp, both in path:
        mark = mark * (10_000 + mark_bp) // 10_000
        index = index * (10_000 + (mark_bp if both else index_bp)) // 10_000
        ps.mark["BTC-PERP"] = mark
        ps.index["BTC"] = index
        found = find_liquidatable(state)
        assert found == scan_liquidatable(state), f"after moving to mark {mark}, index {index}"
        _settle_found(ex, found)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.booleans(), st.integers(-3_000, 3_000))
def test_a_recheck_from_kept_numbers_is_account_risk_exactly(
    seed: int, flat_curve: bool, move_bp: int
) -> None:
    ex = _world(seed, 60, flat_curve)
    state = ex.state
    ls = liquidation_state(state)
    find_liquidatable(state)  # indexes everyone, keeps the single-position numbers
    assert ls.singles, "most accounts hold one position"
    ps = pricing_state(state)
    ps.mark["BTC-PERP"] = PRICE * (10_000 + move_bp) // 10_000
    prices = current_prices(state)
    for account, single in sorted(ls.singles.items()):
        got = headroom_at(state, single, prices)
        risk = account_risk(state, account)
        assert got is not None, "only the mark moved: the kept numbers hold"
        assert got[0] == risk.equity - risk.maintenance, f"{account} at {move_bp} bp"
    ps.index["BTC"] = PRICE + USDC  # a held asset's price moved: BTC holders are re-checked
    prices = current_prices(state)
    for single in ls.singles.values():
        holds_btc = any(a == "BTC" for a, _, _ in single.held)
        assert (headroom_at(state, single, prices) is None) == holds_btc


def test_a_short_is_not_popped_by_a_falling_mark_nor_a_long_by_a_rising_one() -> None:
    # 100 units at 100,000 with 1,000 of headroom (+64 kept back): the hurting side has
    # room for 1 %, the other side gets the 50 % cap
    long = sided_room(100_064, [("perp:X", 100_000, 0, 10**9 * 100, None)])
    short = sided_room(100_064, [("perp:X", 100_000, 0, None, 10**9 * 100)])
    assert long == [("perp:X", 99_000, 150_000)], "a long: 1 % down, the cap up"
    assert short == [("perp:X", 50_000, 101_000)], "a short: the cap down, 1 % up"
    assert sided_room(64, [("perp:X", 100_000, 0, 1, None)]) == [("perp:X", 100_000, 100_000)]

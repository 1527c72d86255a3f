"""Perpetuals: positions with exact entry basis, realised PnL on reduction, reduce-only."""

from __future__ import annotations

import pytest
from matching_venue import P, Venue

from exchange.matching import Position, clearing_account, matching_state

PERP = "BTC-PERP"


def pos(v: Venue, account: str) -> Position:
    return matching_state(v.state).position(account, PERP)


@pytest.fixture
def v(venue: Venue) -> Venue:
    """alice long 0.1 BTC-PERP at 60 000 from bob (short)."""
    for who in ("alice", "bob", "carol"):
        venue.fund(who, "USDC", 1_000_000_000)
    venue.order("bob", "sell", 10_000_000, P, market=PERP)
    opened = venue.order("alice", "buy", 10_000_000, P, market=PERP)
    assert opened.data["fills"] == [[1, 10_000_000, P]]
    return venue


def test_opening_fill_sets_positions_and_charges_the_taker_fee(v: Venue) -> None:
    assert pos(v, "alice") == Position(10_000_000, 6_000_000_000, 0)
    assert pos(v, "bob") == Position(-10_000_000, -6_000_000_000, 0)
    assert v.bal("alice", "USDC", "pnl_unsettled") == -3_000_000, "taker fee only"
    assert v.bal("bob", "USDC", "pnl_unsettled") == 0, "maker fee is 0 on this market"
    assert v.bal("@fees", "USDC") == 3_000_000
    assert v.bal("alice", "USDC") == 1_000_000_000, "perps lock nothing (no margin yet)"


def test_reduction_realises_pnl_against_the_clearing_account(v: Venue) -> None:
    v.order("bob", "buy", 4_000_000, P + 10_000 * 100_000, market=PERP)  # bid at 61 000
    v.order("alice", "sell", 4_000_000, P, market=PERP)  # fills at 61 000
    assert pos(v, "alice") == Position(6_000_000, 3_600_000_000, 40_000_000)
    assert pos(v, "bob") == Position(-6_000_000, -3_600_000_000, -40_000_000)
    assert v.bal("alice", "USDC", "pnl_unsettled") == -3_000_000 + 40_000_000 - 1_220_000
    assert v.bal("bob", "USDC", "pnl_unsettled") == -40_000_000
    assert v.bal(clearing_account(PERP), "USDC", "pnl_unsettled") == 0, "realised PnL nets out"


def test_third_party_close_leaves_the_clearing_account_holding_the_difference(v: Venue) -> None:
    v.order("carol", "buy", 10_000_000, P + 5_000 * 100_000, market=PERP)  # bid at 60 500
    v.order("alice", "sell", 10_000_000, P, market=PERP)  # alice closes to carol
    assert pos(v, "alice") == Position(0, 0, 50_000_000)
    assert pos(v, "carol") == Position(10_000_000, 6_050_000_000, 0)
    assert v.bal(clearing_account(PERP), "USDC", "pnl_unsettled") == -50_000_000


def test_reduce_only_must_reduce(v: Venue) -> None:
    more = v.order("alice", "buy", 1_000_000, P - 100_000, market=PERP, reduce_only=True)
    assert more.reason == "reduce_only_would_increase"
    big = v.order("alice", "sell", 11_000_000, P * 2, market=PERP, reduce_only=True)
    assert big.reason == "reduce_only_exceeds_position"
    flat = v.order("carol", "sell", 1_000_000, P * 2, market=PERP, reduce_only=True)
    assert flat.reason == "reduce_only_would_increase", "no position: nothing to reduce"


def test_resting_reduce_only_is_cancelled_when_the_position_shrinks_below_it(v: Venue) -> None:
    ro = v.order("alice", "sell", 10_000_000, P * 2, market=PERP, reduce_only=True)
    assert ro.accepted and ro.data["rested"] == 10_000_000
    v.order("carol", "buy", 2_000_000, P, market=PERP)
    sold = v.order("alice", "sell", 2_000_000, P, market=PERP)
    assert sold.data["fills"] == [[4, 2_000_000, P]]
    assert sold.data["reduce_only_cancelled"] == [3], "8 left < 10 resting reduce-only"
    assert 3 not in matching_state(v.state).books[PERP].orders


def test_position_flip_opens_the_rest_at_the_fill_price() -> None:
    p = Position()
    assert p.apply_fill(True, 1_000, 500) == 0
    assert p.apply_fill(False, 3_000, 1_800) == 100, "closes 1000 for 600 against 500"
    assert p == Position(-2_000, -1_200, 100)


def test_partial_reductions_round_in_the_exchanges_favour_and_telescope() -> None:
    long = Position()
    long.apply_fill(True, 3_000, 1_000)
    assert long.apply_fill(False, 1_000, 400) == 66, "400 - ceil(333.3) : exact is 66.67"
    assert long.apply_fill(False, 2_000, 800) == 134
    assert long == Position(0, 0, 200), "flat: realised is exactly 1200 received - 1000 paid"
    short = Position()
    short.apply_fill(False, 3_000, 1_000)
    assert short.apply_fill(True, 1_000, 300) == 33, "floor(333.3) - 300 : exact is 33.33"
    assert short.apply_fill(True, 2_000, 600) == 67
    assert short == Position(0, 0, 100)

"""Spot trading on the ledger: locks, fills as single balanced entries, fees in the
exchange's favour, self-trade prevention, market states, and recorded rejects."""

from __future__ import annotations

import pytest
from matching_venue import STEP, TICK, P, Venue

from exchange.matching import matching_state

USDC_100K = 100_000_000_000
BTC_1 = 100_000_000


@pytest.fixture
def v(venue: Venue) -> Venue:
    venue.fund("alice", "USDC", USDC_100K)
    venue.fund("bob", "BTC", BTC_1)
    return venue


def test_resting_buy_locks_notional_plus_fee_per_step_and_cancel_unlocks_it(v: Venue) -> None:
    event = v.order("alice", "buy", 10_000_000, P, cid="a1")
    # per step: 1000 sat * 60000 USDC = 600_000 micro-USDC, fee ceil(600_000 * 500e-6) = 300
    assert event.data == {"id": 1, "rested": 10_000_000}
    assert v.bal("alice", "USDC", "locked_order") == 10_000 * 600_300 == 6_003_000_000
    assert v.bal("alice", "USDC") == USDC_100K - 6_003_000_000
    cancel = v.do("cancel", account="alice", market="BTC/USDC", cid="a1")
    assert cancel.accepted and cancel.data == {"id": 1, "cancelled": 10_000_000}
    assert v.bal("alice", "USDC", "locked_order") == 0
    assert v.bal("alice", "USDC") == USDC_100K, "a cancel gives back exactly what was locked"


def test_taker_buy_pays_fee_and_maker_sell_gets_rebate_in_one_entry(v: Venue) -> None:
    v.order("bob", "sell", 10_000_000, P)
    assert v.bal("bob", "BTC", "locked_order") == 10_000_000
    fill = v.order("alice", "buy", 10_000_000, P + 10 * TICK)
    assert fill.data == {"id": 2, "fills": [[1, 10_000_000, P]]}, "fills at the maker's price"
    assert {p[0] for p in fill.postings} == {0}, "the fill is one journal entry"
    notional = 6_000_000_000
    assert v.bal("alice", "USDC") == USDC_100K - notional - 3_000_000
    assert v.bal("alice", "BTC") == 10_000_000
    assert v.bal("bob", "BTC") == BTC_1 - 10_000_000 and v.bal("bob", "BTC", "locked_order") == 0
    assert v.bal("bob", "USDC") == notional + 600_000, "maker rebate of 100 ppm"
    assert v.bal("@fees", "USDC") == 3_000_000 - 600_000


def test_taker_sell_releases_the_makers_lock_for_the_filled_steps(v: Venue) -> None:
    v.order("alice", "buy", 10_000_000, P)
    v.order("bob", "sell", 4_000_000, P - 100 * TICK)
    notional = 2_400_000_000
    released = 4_000 * 600_300
    assert v.bal("alice", "USDC", "locked_order") == 6_000 * 600_300
    assert v.bal("alice", "USDC") == USDC_100K - 6_003_000_000 + released - notional + 240_000
    assert v.bal("alice", "BTC") == 4_000_000
    assert v.bal("bob", "USDC") == notional - 1_200_000
    assert v.bal("@fees", "USDC") == 1_200_000 - 240_000


def test_fees_round_up_and_rebates_round_down(v: Venue) -> None:
    v.order("bob", "sell", STEP, P + TICK)  # notional 1000 sat * 60000.1 = 600_001
    v.order("alice", "buy", STEP, P + TICK)
    assert v.bal("alice", "USDC") == USDC_100K - 600_001 - 301, "300.0005 rounds up to 301"
    assert v.bal("bob", "USDC") == 600_001 + 60, "a rebate of 60.0001 rounds down to 60"
    assert v.bal("@fees", "USDC") == 241


def test_market_buy_needs_exactly_what_its_fills_cost(v: Venue) -> None:
    v.order("bob", "sell", 1_000_000, P)
    v.order("bob", "sell", 1_000_000, P + 10 * TICK)
    cost = (600_000_000 + 300_000) + (600_010_000 + 300_005)
    v.fund("carol", "USDC", cost - 1)
    short = v.order("carol", "buy", 2_000_000)
    assert short.status == "rejected" and short.reason == "insufficient_available_balance"
    assert short.postings == () and v.bal("carol", "USDC") == cost - 1, "nothing changed"
    v.fund("carol", "USDC", 1)
    done = v.order("carol", "buy", 2_000_000)
    assert done.accepted and done.data["fills"] == [
        [1, 1_000_000, P],
        [2, 1_000_000, P + 10 * TICK],
    ]
    assert v.bal("carol", "USDC") == 0 and v.bal("carol", "BTC") == 2_000_000


def test_ioc_remainder_expires_and_locks_nothing(v: Venue) -> None:
    v.order("bob", "sell", 1_000_000, P)
    event = v.order("alice", "buy", 3_000_000, P, tif="IOC")
    assert event.data == {"id": 2, "fills": [[1, 1_000_000, P]], "expired": 2_000_000}
    assert v.bal("alice", "USDC", "locked_order") == 0


def test_fok_unfillable_is_rejected_and_recorded(v: Venue) -> None:
    v.order("bob", "sell", 1_000_000, P)
    event = v.order("alice", "buy", 3_000_000, P, tif="FOK")
    assert event.status == "rejected" and event.reason == "fok_not_fillable"
    assert matching_state(v.state).books["BTC/USDC"].orders[1].remaining == 1_000_000


def test_stp_reject_maker_cancels_the_own_order_and_unlocks_it(v: Venue) -> None:
    v.fund("bob", "USDC", USDC_100K)
    v.order("bob", "sell", 1_000_000, P)
    event = v.order("bob", "buy", 1_000_000, P, stp="RejectMaker")
    assert event.data == {"id": 2, "stp_cancelled": [1], "rested": 1_000_000}
    assert v.bal("bob", "BTC") == BTC_1 and v.bal("bob", "BTC", "locked_order") == 0
    assert v.bal("bob", "USDC", "locked_order") == 1_000 * 600_300


def test_stp_reject_taker_keeps_the_maker_and_expires_the_taker(v: Venue) -> None:
    v.fund("bob", "USDC", USDC_100K)
    v.order("bob", "sell", 1_000_000, P)
    event = v.order("bob", "buy", 1_000_000, P)  # RejectTaker is the default
    assert event.data == {"id": 2, "expired": 1_000_000}
    assert v.bal("bob", "BTC", "locked_order") == 1_000_000
    assert v.bal("bob", "USDC", "locked_order") == 0


def test_stp_reject_both_cancels_both(v: Venue) -> None:
    v.fund("bob", "USDC", USDC_100K)
    v.order("bob", "sell", 1_000_000, P)
    event = v.order("bob", "buy", 1_000_000, P, stp="RejectBoth")
    assert event.data == {"id": 2, "stp_cancelled": [1], "expired": 1_000_000}
    assert v.bal("bob", "BTC", "locked_order") == 0 and v.bal("bob", "USDC", "locked_order") == 0


def test_closing_a_market_cancels_every_resting_order_and_unlocks(v: Venue) -> None:
    v.order("bob", "sell", 1_000_000, P + TICK)
    v.order("alice", "buy", 1_000_000, P)
    closed = v.do("market", symbol="BTC/USDC", state="Closed")
    assert closed.data == {"state": "Closed", "cancelled": [2, 1]}
    assert v.bal("bob", "BTC") == BTC_1 and v.bal("alice", "USDC") == USDC_100K
    refused = v.order("alice", "buy", 1_000_000, P)
    assert refused.reason == "market_closed"
    assert v.do("market", symbol="BTC/USDC", state="Open").accepted
    assert v.order("alice", "buy", 1_000_000, P).accepted


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"market": "DOGE/USDC"}, "unknown_market"),
        ({"price": str(P + 1)}, "price_not_on_tick"),
        ({"quantity": str(STEP + 1)}, "quantity_not_on_step"),
        ({"quantity": str(STEP), "price": str(TICK)}, "notional_below_minimum"),
        ({"account": "mallory"}, "unknown_account"),
        ({"account": "@fees"}, "account_must_be_user_account"),
        ({"reduce_only": True}, "reduce_only_requires_perp"),
        ({"quantity": str(10 * BTC_1)}, "insufficient_available_balance"),
        ({"type": "market", "tif": "GTC", "price": None}, "market_order_must_not_rest"),
    ],
)
def test_bad_orders_are_rejected_with_their_rule_and_change_nothing(
    v: Venue, fields: dict[str, object], reason: str
) -> None:
    raw: dict[str, object] = {"account": "alice", "market": "BTC/USDC", "side": "buy",
                              "price": str(P), "quantity": str(1_000_000)}  # fmt: skip
    raw.update(fields)
    raw = {k: val for k, val in raw.items() if val is not None}
    before = dict(v.state.balances)
    event = v.do("order", **raw)
    assert event.status == "rejected", f"expected a reject, got {event.data}"
    assert event.reason == reason, event.detail
    assert v.state.balances == before and event.postings == ()
    assert matching_state(v.state).next_id == 1, "a rejected order takes no order id"


def test_duplicate_client_id_is_rejected_while_the_first_is_open(v: Venue) -> None:
    assert v.order("alice", "buy", 1_000_000, P, cid="x").accepted
    dup = v.order("alice", "buy", 1_000_000, P - TICK, cid="x")
    assert dup.reason == "duplicate_client_order_id"
    assert v.order("bob", "sell", 1_000_000, P + TICK, cid="x").accepted, "ids are per account"
    v.do("cancel", account="alice", market="BTC/USDC", cid="x")
    assert v.order("alice", "buy", 1_000_000, P, cid="x").accepted, "free again once closed"


def test_cancel_of_another_accounts_order_is_rejected(v: Venue) -> None:
    v.order("alice", "buy", 1_000_000, P)
    v.fund("bob", "USDC", 1)
    event = v.do("cancel", account="bob", market="BTC/USDC", id=1)
    assert event.status == "rejected" and event.reason == "order_not_owned"
    assert 1 in matching_state(v.state).books["BTC/USDC"].orders
    gone = v.do("cancel", account="alice", market="BTC/USDC", id=99)
    assert gone.reason == "unknown_order"


def test_post_only_that_would_take_is_recorded_as_rejected(v: Venue) -> None:
    v.order("bob", "sell", 1_000_000, P)
    event = v.order("alice", "buy", 1_000_000, P, post_only=True)
    assert (event.status, event.reason) == ("rejected", "post_only_would_take")


def test_cancel_all_cancels_only_the_accounts_orders(v: Venue) -> None:
    v.order("alice", "buy", 1_000_000, P)
    v.order("alice", "buy", 1_000_000, P - TICK)
    v.order("bob", "sell", 1_000_000, P + TICK)
    event = v.do("cancel_all", account="alice")
    assert event.data == {"ids": [1, 2]}
    assert list(matching_state(v.state).books["BTC/USDC"].orders) == [3]
    assert v.bal("alice", "USDC") == USDC_100K


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"market": ["BTC/USDC"]}, "field 'market' must be a non-empty string"),
        ({"market": "btc usdc"}, "must look like BTC/USDC or BTC-PERP"),
        ({"side": "long"}, "field 'side' must be one of buy, sell"),
        ({"price": 60000.5}, "field 'price' must be a decimal string"),
        ({"quantity": "1e6"}, "field 'quantity' must be an integer decimal string"),
        ({"tif": "GTD"}, "field 'tif' must be one of FOK, GTC, IOC"),
        ({"post_only": "yes"}, "field 'post_only' must be true or false"),
        ({"type": "market"}, "a market order has no 'price'"),
    ],
)
def test_malformed_order_lines_are_invalid_not_rejected(
    v: Venue, fields: dict[str, object], message: str
) -> None:
    from exchange.errors import InvalidCommandError

    raw: dict[str, object] = {"cmd": "order", "account": "alice", "market": "BTC/USDC",
                              "side": "buy", "price": str(P), "quantity": "1000000"}  # fmt: skip
    raw.update(fields)
    seq = v.state.seq
    with pytest.raises(InvalidCommandError, match=message):
        v.apply(raw)
    assert v.state.seq == seq, "an invalid line is not recorded"

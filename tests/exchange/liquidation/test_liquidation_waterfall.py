"""Worked single-account examples, one per stage of the waterfall, with exact integers.

World: BTC-PERP without fees, IMF 10 %, MMF 5 % flat; marks pinned with `mark_price` so
every number below is hand-computable. USDC amounts in micro-USDC, sizes in satoshi.
"""

from __future__ import annotations

from liquidation_world import BTC, USDC, World


def _long_alice(world: World, collateral: int = 1_000 * USDC) -> None:
    """alice: 1,000 USDC, long 0.1 BTC at 60,000 bought from mm (short 0.1)."""
    world.index(60_000 * USDC)
    world.mark(60_000 * USDC)
    world.fund("mm", "USDC", 1_000_000 * USDC)
    world.fund("alice", "USDC", collateral)
    world.order("mm", "sell", BTC // 10, 60_000 * USDC)
    world.order("alice", "buy", BTC // 10, 60_000 * USDC)
    assert world.tick() == [], "a healthy account was liquidated"


def test_the_book_stage_sells_one_slice_inside_the_band_and_stops_when_healthy(
    world: World,
) -> None:
    _long_alice(world)
    world.order("mm", "buy", BTC // 10, 52_000 * USDC)
    # at 52,500: equity 1,000 - 750 = 250 <= maintenance 0.1 * 52,500 * 5 % = 262.5
    world.mark(52_500 * USDC)
    steps = world.steps(world.tick())
    assert steps == [
        {"account": "alice", "stage": "book", "reason": "close_through_book",
         "market": "BTC-PERP", "side": "sell", "quantity": 1_000_000, "filled": 1_000_000,
         "price": 51_975 * USDC},
    ], "one 10 % slice (the default), IOC at the impact band edge 0.99 x mark"  # fmt: skip
    assert world.size("alice") == 9_000_000
    # realised 0.01 * (52,000 - 60,000) = -80; equity now 920 - 0.09 * 7,500 = 245
    # > maintenance 0.09 * 52,500 * 5 % = 236.25
    assert world.claim("alice") == 920 * USDC
    assert world.steps(world.tick()) == [], "alice is healthy again: no further slice"
    world.assert_replays()


def test_open_orders_are_cancelled_first_and_that_can_be_enough(world: World) -> None:
    _long_alice(world, collateral=1_400 * USDC)
    # a resting buy of 0.1 at 50,000 doubles alice's exposure (risk-increasing open order)
    world.order("alice", "buy", BTC // 10, 50_000 * USDC)
    world.mark(53_000 * USDC)  # equity 700; maintenance with the order 0.2 * 53,000 * 5 % = 530
    world.mark(51_000 * USDC)  # equity 500 <= 510: liquidatable only because of the order
    steps = world.steps(world.tick())
    assert [s["stage"] for s in steps] == ["cancel_orders", "healthy"]
    assert steps[0]["reason"] == "maintenance_ratio_reached_100"
    assert world.size("alice") == BTC // 10, "the position was left alone"
    world.assert_replays()


def test_insurance_covers_negative_equity_then_adl_closes_at_mark(world: World) -> None:
    _long_alice(world)
    world.fund("treasury", "USDC", 10_000 * USDC)
    world.ok({"cmd": "insurance_fund", "from": "treasury", "asset": "USDC",
              "amount": str(10_000 * USDC)})  # fmt: skip
    world.mark(45_000 * USDC)  # gap: equity 1,000 - 1,500 = -500
    steps = world.steps(world.tick())
    assert [s["stage"] for s in steps] == ["insurance", "adl"]
    assert steps[0]["amount"] == 500 * USDC
    assert steps[1] == {
        "account": "alice", "stage": "adl", "reason": "adl_at_mark_no_backstop_capacity",
        "market": "BTC-PERP", "counterparty": "mm", "quantity": BTC // 10,
        "price": 45_000 * USDC,
    }  # fmt: skip
    assert world.claim("alice") == 0 and world.size("alice") == 0
    assert world.claim("@insurance") == 9_500 * USDC
    assert world.size("mm") == 0
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_with_insurance_empty_adl_closes_at_the_bankruptcy_price(world: World) -> None:
    _long_alice(world)
    world.mark(45_000 * USDC)  # deficit 500 USDC over 0.1 BTC: bankruptcy price 50,000
    steps = world.steps(world.tick())
    assert [s["stage"] for s in steps] == ["adl"]
    assert steps[0]["reason"] == "adl_at_bankruptcy_price"
    assert steps[0]["price"] == 50_000 * USDC
    assert world.claim("alice") == 0, "alice ends at exactly zero"
    # mm's short from 60,000 closes at 50,000: +1,000 instead of +1,500 at mark
    assert world.claim("mm") == 1_000_000 * USDC + 1_000 * USDC
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_below_auto_close_backstop_providers_take_over_pro_rata(world: World) -> None:
    _long_alice(world)
    world.fund("lp1", "USDC", 50_000 * USDC)
    world.fund("lp2", "USDC", 50_000 * USDC)
    world.ok({"cmd": "backstop_provider", "account": "lp1", "capacity": str(30_000 * USDC)})
    world.ok({"cmd": "backstop_provider", "account": "lp2", "capacity": str(10_000 * USDC)})
    world.order("mm", "buy", BTC // 10, 50_000 * USDC)  # the book could absorb, but...
    world.mark(51_000 * USDC)  # equity 100 < 0.5 x maintenance 255: auto-close
    steps = world.steps(world.tick())
    assert [(s["stage"], s["provider"]) for s in steps] == [
        ("backstop_lp", "lp1"), ("backstop_lp", "lp2")]  # fmt: skip
    # notional 5,100 split 3:1 by capacity
    assert world.size("lp1") == 7_500_000 and world.size("lp2") == 2_500_000
    assert world.size("alice") == 0 and world.claim("alice") == 0
    assert steps[0]["capacity_used"] == 3_825 * USDC and steps[1]["capacity_used"] == 1_275 * USDC
    # alice's 100 USDC of remaining equity (1,000 lent - 900 realised) went 75 / 25
    assert world.claim("lp1") == 50_075 * USDC and world.claim("lp2") == 50_025 * USDC
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_a_bankrupt_borrower_leaves_a_named_debt_on_backstop_never_a_lender_loss(
    world: World,
) -> None:
    world.index(60_000 * USDC)
    world.fund("lender", "USDC", 100_000 * USDC)  # auto-lent to the USDC pool
    world.fund("dave", "BTC", BTC)  # auto-lent; counts as collateral at weight 0.9
    world.ok({"cmd": "borrow", "account": "dave", "asset": "USDC", "amount": str(40_000 * USDC)})
    world.ok({"cmd": "transfer", "from": "dave", "to": "lender", "asset": "USDC",
              "amount": str(40_000 * USDC)})  # fmt: skip
    world.tick()
    world.index(39_000 * USDC)  # BTC worth 39,000 < debt 40,000: bankrupt by 1,000
    steps = world.steps(world.tick())
    assert [s["stage"] for s in steps] == ["backstop_capital"]
    assert world.bal("dave", "USDC", "borrowed") == 0, "the pool was repaid in full"
    assert world.bal("@backstop", "USDC", "capital") == -40_000 * USDC, "named on @backstop"
    assert world.claim("@backstop", "BTC") == BTC, "it took all of dave's BTC"
    assert world.claim("dave", "BTC") == 0
    # dave still owes what his BTC (39,000 at index) did not cover, named on both sides
    assert steps[0]["deficit"] == 1_000 * USDC
    assert world.bal("dave", "USDC", "deficit") == -1_000 * USDC
    assert world.bal("@backstop", "USDC", "receivable") == 1_000 * USDC
    world.assert_replays()


def test_a_bankrupt_users_next_deposits_repay_the_residual_debt_first_to_the_unit(
    world: World,
) -> None:
    """The design nets a negative balance left by a liquidation against the same user's
    later deposits: nothing is credited as available or lent before it is repaid."""
    test_a_bankrupt_borrower_leaves_a_named_debt_on_backstop_never_a_lender_loss(world)
    pool_before = world.bal("@lending:USDC", "USDC", "liquidity")
    world.fund("dave", "USDC", 600 * USDC)  # less than the debt: all of it repays
    assert world.bal("dave", "USDC", "deficit") == -400 * USDC
    assert (world.bal("dave", "USDC"), world.bal("dave", "USDC", "lent")) == (0, 0)
    assert world.bal("@backstop", "USDC", "receivable") == 400 * USDC
    assert world.bal("@backstop", "USDC", "capital") == -39_400 * USDC
    world.fund("dave", "BTC", BTC // 100)  # another asset: no conversion, lent as usual
    assert world.bal("dave", "BTC", "lent") == BTC // 100
    assert world.bal("dave", "USDC", "deficit") == -400 * USDC
    world.fund("dave", "USDC", 900 * USDC + 1)  # 400 repay the rest, to the unit
    assert world.bal("dave", "USDC", "deficit") == 0
    assert world.bal("dave", "USDC") == 0
    assert world.bal("dave", "USDC", "lent") == 500 * USDC + 1, "only the rest is lent"
    assert world.bal("@backstop", "USDC", "receivable") == 0
    assert world.bal("@backstop", "USDC", "capital") == -39_000 * USDC
    assert world.bal("@lending:USDC", "USDC", "liquidity") == pool_before + 500 * USDC + 1
    world.fund("dave", "USDC", 7)  # nothing owed any more: lent whole
    assert world.bal("dave", "USDC", "lent") == 500 * USDC + 8
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_a_solvent_borrower_keeps_what_is_left_after_backstop_buys_collateral(
    world: World,
) -> None:
    world.index(60_000 * USDC)
    world.fund("lender", "USDC", 100_000 * USDC)
    world.fund("dave", "BTC", BTC)
    world.ok({"cmd": "borrow", "account": "dave", "asset": "USDC", "amount": str(40_000 * USDC)})
    world.ok({"cmd": "transfer", "from": "dave", "to": "lender", "asset": "USDC",
              "amount": str(40_000 * USDC)})  # fmt: skip
    world.index(42_000 * USDC)  # collateral 37,800 < 40,000: liquidatable, value +2,000
    steps = world.steps(world.tick())
    assert [s["stage"] for s in steps] == ["backstop_capital"]
    taken = -(-40_000 * USDC * BTC // (42_000 * USDC))
    assert world.claim("@backstop", "BTC") == taken
    assert world.claim("dave", "BTC") == BTC - taken
    world.assert_replays()

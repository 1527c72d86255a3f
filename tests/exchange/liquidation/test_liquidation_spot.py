"""Stage (a) for borrowers: debts repaid by trading through the BTC/USDC spot book, with
exact integers.

World: `World(spot=True)`: BTC/USDC with a 0.1 % taker fee and no maker fee, BTC weight
0.9, borrow MMF 5 % and IMF 10 % (collateral_params defaults), impact band 0.99-1.01 x the
BTC index. USDC amounts in micro-USDC, BTC in satoshi.
"""

from __future__ import annotations

from liquidation_world import BTC, USDC, World

from exchange.margin import account_risk


def _dave_borrows(world: World) -> None:
    """dave: 1 BTC (auto-lent), borrows 40,000 USDC at 60,000 and spends it."""
    world.index(60_000 * USDC)
    world.fund("lender", "USDC", 100_000 * USDC)  # auto-lent to the USDC pool
    world.fund("dave", "BTC", BTC)
    world.ok({"cmd": "borrow", "account": "dave", "asset": "USDC", "amount": str(40_000 * USDC)})
    world.ok({"cmd": "transfer", "from": "dave", "to": "lender", "asset": "USDC",
              "amount": str(40_000 * USDC)})  # fmt: skip
    assert world.steps(world.tick()) == [], "a healthy borrower was liquidated"


def _sale(quantity: int, proceeds: int) -> dict[str, object]:
    return {"account": "dave", "stage": "book", "reason": "sell_collateral_through_book",
            "market": "BTC/USDC", "side": "sell", "quantity": quantity, "filled": quantity,
            "price": 45_144 * USDC, "debt": "USDC", "proceeds": proceeds}  # fmt: skip


def _repaid(amount: int) -> dict[str, object]:
    return {"account": "dave", "stage": "repay", "reason": "repay_borrow_from_own_funds",
            "asset": "USDC", "amount": amount}  # fmt: skip


def test_a_borrower_sells_btc_through_the_spot_book_slice_by_slice_until_healthy(
    world_spot: World,
) -> None:
    world = world_spot
    _dave_borrows(world)
    world.ok({"cmd": "liquidation_params", "slice": "0.1"})
    world.fund("mm", "USDC", 1_000_000 * USDC)
    world.order("mm", "buy", BTC, 45_200 * USDC, market="BTC/USDC")
    # at 45,600: collateral 0.9 x 45,600 = 41,040, equity 1,040 <= maintenance 5 % x 40,000
    # = 2,000, and >= auto_close 0.5 x 2,000: the book first. Net value 5,600 >= 0.
    world.index(45_600 * USDC)
    steps = world.steps(world.tick())
    # slice 10 % of 40,000 = 4,000 USDC; grossed up for the fee: ceil(4,000 / 0.999) =
    # 4,004.004005; at the lower edge ceil(0.99 x 45,600) = 45,144: 0.08869405 BTC, up to
    # the step: 0.089. Filled at the bid 45,200: 4,022.8 - fee 4.0228 = 4,018.7772 repaid.
    assert steps == [_sale(8_900_000, 4_018_777_200), _repaid(4_018_777_200)]
    assert world.bal("dave", "USDC", "borrowed") == -35_981_222_800
    assert world.claim("dave", "BTC") == BTC - 8_900_000, "the sold BTC came out of the lend"
    assert world.bal("dave", "BTC", "lent") == BTC - 8_900_000
    assert world.claim("mm", "BTC") == 8_900_000
    assert world.claim("@fees") == 4_022_800, "the market's normal taker fee"
    # equity 0.9 x 0.911 x 45,600 - 35,981.2228 = 1,406.2172 <= 1,799.06114: next second
    risk = account_risk(world.state, "dave")
    assert (risk.equity, risk.maintenance) == (1_406_217_200, 1_799_061_140)
    steps = world.steps(world.tick())
    # 10 % of 35,981.2228 = 3,598.12228; / 0.999 / 45,144 = 0.0797... BTC -> 0.08
    # filled at 45,200: 3,616 - 3.616 = 3,612.384
    assert steps == [_sale(8_000_000, 3_612_384_000), _repaid(3_612_384_000)]
    assert world.bal("dave", "USDC", "borrowed") == -32_368_838_800
    # 0.9 x 0.831 x 45,600 - 32,368.8388 = 1,735.4012 > 1,618.44194: healthy, no more slices
    risk = account_risk(world.state, "dave")
    assert (risk.equity, risk.maintenance) == (1_735_401_200, 1_618_441_940)
    assert world.steps(world.tick()) == []
    assert world.claim("dave", "BTC") == BTC - 16_900_000
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_an_empty_spot_book_sends_the_borrower_to_the_backstop(world_spot: World) -> None:
    world = world_spot
    _dave_borrows(world)
    world.index(45_600 * USDC)  # as above, but nobody bids for BTC
    steps = world.steps(world.tick())
    assert [(s["stage"], s["reason"]) for s in steps] == [
        ("book", "sell_collateral_through_book"),
        ("backstop_capital", "backstop_repays_debt"),
    ]
    # default slice 10 %: ceil(4,000 / 0.999 / 45,144 BTC) -> 0.089 BTC offered, none taken
    assert (steps[0]["quantity"], steps[0]["filled"], steps[0]["proceeds"]) == (8_900_000, 0, 0)
    assert world.bal("dave", "USDC", "borrowed") == 0, "the pool was repaid by @backstop"
    taken = -(-40_000 * USDC * BTC // (45_600 * USDC))  # collateral worth the debt at index
    assert world.claim("@backstop", "BTC") == taken
    assert world.claim("@backstop", "USDC") == -40_000 * USDC, "named on @backstop"
    assert world.claim("dave", "BTC") == BTC - taken
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_a_btc_debt_is_repaid_by_buying_btc_with_the_borrowers_usdc(world_spot: World) -> None:
    world = world_spot
    world.index(60_000 * USDC)
    world.fund("lender", "BTC", BTC)  # auto-lent to the BTC pool
    world.fund("erin", "USDC", 10_000 * USDC)  # auto-lent to the USDC pool
    world.ok({"cmd": "borrow", "account": "erin", "asset": "BTC", "amount": str(15 * BTC // 100)})
    world.ok({"cmd": "transfer", "from": "erin", "to": "lender", "asset": "BTC",
              "amount": str(15 * BTC // 100)})  # fmt: skip
    world.fund("mm", "BTC", BTC)
    assert world.steps(world.tick()) == []
    # at 64,000: debt 0.15 x 64,000 = 9,600, equity 400 <= maintenance 480, >= 240
    world.index(64_000 * USDC)
    world.order("mm", "sell", BTC, 64_100 * USDC, market="BTC/USDC")
    steps = world.steps(world.tick())
    # slice 10 % of 0.15 BTC = 0.015 at the upper edge floor(1.01 x 64,000) = 64,640;
    # filled at the ask 64,100: 961.5 + fee 0.9615
    assert steps == [
        {"account": "erin", "stage": "book", "reason": "buy_debt_through_book",
         "market": "BTC/USDC", "side": "buy", "quantity": 1_500_000, "filled": 1_500_000,
         "price": 64_640 * USDC, "debt": "BTC", "cost": 962_461_500},
        {"account": "erin", "stage": "repay", "reason": "repay_borrow_from_own_funds",
         "asset": "BTC", "amount": 1_500_000},
    ]  # fmt: skip
    assert world.bal("erin", "BTC", "borrowed") == -13_500_000
    assert world.claim("erin") == 10_000 * USDC - 962_461_500
    # the buy could lock 15 x (64.64 + 0.06464) = 970.5696: that much was redeemed, the
    # pre-trade check found it available (no auto-borrow); the unspent rest, 8.1081, was
    # lent again at the end of the run (auto-lend): nothing of erin's sits idle
    assert world.bal("erin", "USDC") == 0
    assert world.bal("erin", "USDC", "lent") == 10_000 * USDC - 962_461_500
    # 9,037.5385 - 0.135 x 64,000 = 397.5385 <= 432: the next second, the next slice
    risk = account_risk(world.state, "erin")
    assert (risk.equity, risk.maintenance) == (397_538_500, 432_000_000)
    steps = world.steps(world.tick())
    # 10 % of 0.135 = 0.0135, up to the step: 0.014 BTC, 897.4 + fee 0.8974
    assert [(s["stage"], s.get("quantity"), s.get("cost"), s.get("amount")) for s in steps] == [
        ("book", 1_400_000, 898_297_400, None), ("repay", None, None, 1_400_000)]  # fmt: skip
    assert world.bal("erin", "BTC", "borrowed") == -12_100_000
    # 8,139.2411 - 0.121 x 64,000 = 395.2411 > 387.2: healthy
    risk = account_risk(world.state, "erin")
    assert (risk.equity, risk.maintenance) == (395_241_100, 387_200_000)
    assert world.steps(world.tick()) == []
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_a_borrower_with_a_perp_position_goes_through_both_books(world_spot: World) -> None:
    """Positions are sliced first; still unhealthy, the debt is sliced in the same second."""
    world = world_spot
    _dave_borrows(world)
    world.mark(60_000 * USDC)
    world.fund("mm", "USDC", 1_000_000 * USDC)
    world.order("mm", "sell", BTC // 10, 60_000 * USDC)
    world.order("dave", "buy", BTC // 10, 60_000 * USDC)
    world.order("mm", "buy", BTC, 47_900 * USDC, market="BTC/USDC")
    world.order("mm", "buy", BTC, 47_900 * USDC)
    assert world.steps(world.tick()) == []
    # at 48,000: equity 0.9 x 48,000 - 40,000 + 0.1 x (48,000 - 60,000) = 2,000 <=
    # maintenance 2,000 + 5 % x 4,800 = 2,240, and >= half of it
    world.index(48_000 * USDC)
    world.mark(48_000 * USDC)
    steps = world.steps(world.tick())
    assert [(s["stage"], s.get("market")) for s in steps] == [
        ("book", "BTC-PERP"), ("book", "BTC/USDC"), ("repay", None)]  # fmt: skip
    assert all(s["filled"] for s in steps if s["stage"] == "book")
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_without_usdc_other_collateral_is_sold_to_buy_the_owed_btc(world_spot: World) -> None:
    world = world_spot
    eth = 10**8  # ETH with 8 decimals here; ETH/USDC tick 0.01 USDC, step 0.01 ETH
    for raw in (
        {"cmd": "asset", "symbol": "ETH", "decimals": 8},
        {"cmd": "lending_pool", "asset": "ETH"},
        {"cmd": "collateral_params", "asset": "ETH", "weight": "0.8"},
        {"cmd": "market", "symbol": "ETH/USDC", "kind": "spot", "base": "ETH", "quote": "USDC",
         "tick_size": "10000", "step_size": "1000000", "min_notional": str(10 * USDC),
         "maker_fee_ppm": 0, "taker_fee_ppm": 1_000},
        {"cmd": "index_price", "asset": "ETH", "price": str(3_000 * USDC)},
    ):  # fmt: skip
        world.ok(raw)
    world.index(60_000 * USDC)
    world.fund("lender", "BTC", BTC)
    world.fund("erin", "ETH", 2 * eth)  # auto-lent; collateral 0.8 x 6,000 = 4,800
    world.ok({"cmd": "borrow", "account": "erin", "asset": "BTC", "amount": str(7 * BTC // 100)})
    world.ok({"cmd": "transfer", "from": "erin", "to": "lender", "asset": "BTC",
              "amount": str(7 * BTC // 100)})  # fmt: skip
    world.fund("mm", "BTC", BTC)
    world.fund("mm", "USDC", 100_000 * USDC)
    assert world.steps(world.tick()) == []
    # at 66,000: debt 4,620, equity 180 <= maintenance 231, >= 115.5
    world.index(66_000 * USDC)
    world.order("mm", "sell", BTC, 66_100 * USDC, market="BTC/USDC")
    world.order("mm", "buy", 10 * eth, 2_990 * USDC, market="ETH/USDC")
    steps = world.steps(world.tick())
    # buying 0.007 BTC (10 % of 0.07) may lock 7 x 66.72666 = 467.08662 at the upper edge
    # 66,660; erin has no USDC: ceil(467.08662 / 0.999 / 2,970) ETH -> 0.16 ETH sold at
    # 2,990: 478.4 - 0.4784; 0.007 BTC bought at 66,100: 462.7 + 0.4627
    assert [(s["reason"], s.get("market"), s.get("quantity"), s.get("filled")) for s in steps] == [
        ("sell_collateral_through_book", "ETH/USDC", 16_000_000, 16_000_000),
        ("buy_debt_through_book", "BTC/USDC", 700_000, 700_000),
        ("repay_borrow_from_own_funds", None, None, None),
    ]  # fmt: skip
    assert (steps[0]["debt"], steps[0]["proceeds"]) == ("BTC", 477_921_600)
    assert steps[1]["cost"] == 463_162_700 and steps[2]["amount"] == 700_000
    assert world.bal("erin", "BTC", "borrowed") == -6_300_000
    # the sale's proceeds not spent on the buy are lent at once (auto-lend)
    assert world.bal("erin", "USDC") == 0
    assert world.bal("erin", "USDC", "lent") == 477_921_600 - 463_162_700
    assert world.claim("erin", "ETH") == 2 * eth - 16_000_000
    assert world.steps(world.tick()) == [], "healthy after one slice"
    world.assert_replays()
    world.assert_no_hidden_hole()

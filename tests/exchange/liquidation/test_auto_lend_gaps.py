"""Auto-lend has no gaps (issue 21): everything a user holds idle is lent at once unless
they opted out with `auto_lend` — fill proceeds, funds redeemed for an order and not spent
(a partial fill, a cancel), and what is left after a liquidation.

World: `World(spot=True)` (BTC and USDC pools open, BTC/USDC with a 0.1 % taker fee and no
maker fee, BTC-PERP without fees). Each scenario checks balances to the unit before and
after, the invariants after every event (World) and the journal's rebuild and
re-execution (`assert_replays`).
"""

from __future__ import annotations

from liquidation_world import BTC, STEP, USDC, World


def _buckets(world: World, account: str, asset: str) -> dict[str, int]:
    return {b: world.bal(account, asset, b) for b in ("available", "lent", "locked_order")
            if world.bal(account, asset, b)}  # fmt: skip


def test_fill_proceeds_of_taker_and_maker_are_lent_at_once(world_spot: World) -> None:
    world = world_spot
    world.index(60_000 * USDC)
    world.fund("maker", "USDC", 20_000 * USDC)
    world.fund("taker", "BTC", BTC)
    world.fund("idle", "BTC", BTC)
    world.ok({"cmd": "auto_lend", "account": "idle", "asset": "USDC", "enabled": False})
    world.order("maker", "buy", BTC // 10, 60_000 * USDC, market="BTC/USDC")
    world.order("maker", "buy", BTC // 10, 59_900 * USDC, market="BTC/USDC")
    # each buy locks its notional and the taker fee it might pay: 6,006 + 5,995.99
    locks = 6_006 * USDC + 5_995_990_000
    assert _buckets(world, "maker", "USDC") == {"lent": 20_000 * USDC - locks,
                                                "locked_order": locks}  # fmt: skip
    assert _buckets(world, "taker", "BTC") == {"lent": BTC}
    world.order("taker", "sell", BTC // 10, 60_000 * USDC, market="BTC/USDC", tif="IOC")
    # taker: 0.1 BTC redeemed and sold at 60,000: 6,000 - 6 fee, lent at once
    assert _buckets(world, "taker", "USDC") == {"lent": 5_994 * USDC}
    assert _buckets(world, "taker", "BTC") == {"lent": 9 * BTC // 10}
    # maker: the 0.1 BTC bought is lent at once, and so is the fee reserve its filled order
    # no longer needs (6 USDC: it paid the maker fee, 0); its other order still locks
    assert _buckets(world, "maker", "BTC") == {"lent": BTC // 10}
    assert _buckets(world, "maker", "USDC") == {"lent": 14_000 * USDC - 5_995_990_000,
                                                "locked_order": 5_995_990_000}  # fmt: skip
    # an account that opted out of USDC auto-lend keeps its proceeds available
    world.order("idle", "sell", BTC // 10, 59_900 * USDC, market="BTC/USDC", tif="IOC")
    assert _buckets(world, "idle", "USDC") == {"available": 5_984_010_000}
    assert _buckets(world, "maker", "BTC") == {"lent": 2 * BTC // 10}
    assert world.claim("@fees") == 6 * USDC + 5_990_000
    world.assert_replays()


def test_what_was_redeemed_for_an_order_and_not_spent_is_lent_again(world_spot: World) -> None:
    world = world_spot
    world.index(60_000 * USDC)
    world.fund("seller", "BTC", BTC)
    world.fund("buyer", "USDC", 10_000 * USDC)
    world.order("seller", "sell", 5 * STEP, 60_000 * USDC, market="BTC/USDC")
    # an IOC buy of 0.02 BTC at 60,100 redeems what it may spend: 0.02 x 60,100 x 1.001 =
    # 1,203.202 USDC; only 0.005 BTC fills at 60,000 (300 + 0.3 fee): 902.902 unspent,
    # lent again at once (it used to stay available)
    world.order("buyer", "buy", 20 * STEP, 60_100 * USDC, market="BTC/USDC", tif="IOC")
    assert _buckets(world, "buyer", "USDC") == {"lent": 10_000 * USDC - 300_300_000}
    assert _buckets(world, "buyer", "BTC") == {"lent": 5 * STEP}
    # a resting buy locks what it may spend; cancelling it lends the lock again
    event = world.order("buyer", "buy", 20 * STEP, 59_000 * USDC, market="BTC/USDC")
    lock = 20 * STEP * 59_000 * USDC // BTC * 1_001 // 1_000
    assert _buckets(world, "buyer", "USDC") == {"lent": 10_000 * USDC - 300_300_000 - lock,
                                                "locked_order": lock}  # fmt: skip
    world.ok({"cmd": "cancel", "account": "buyer", "market": "BTC/USDC",
              "id": event.data["id"]})  # fmt: skip
    assert _buckets(world, "buyer", "USDC") == {"lent": 10_000 * USDC - 300_300_000}
    world.assert_replays()


def test_what_is_left_after_a_liquidation_is_lent(world: World) -> None:
    """@backstop repays a solvent borrower's debt and takes collateral worth it at index:
    the waterfall redeems dave's whole BTC lend to take it, and what dave keeps is lent
    again at the end of the run (it used to stay idle in `available`)."""
    world.index(60_000 * USDC)
    world.fund("lender", "USDC", 100_000 * USDC)
    world.fund("dave", "BTC", BTC)
    world.ok({"cmd": "borrow", "account": "dave", "asset": "USDC", "amount": str(40_000 * USDC)})
    world.ok({"cmd": "transfer", "from": "dave", "to": "lender", "asset": "USDC",
              "amount": str(40_000 * USDC)})  # fmt: skip
    assert _buckets(world, "dave", "BTC") == {"lent": BTC}
    assert world.bal("dave", "USDC", "borrowed") == -40_000 * USDC
    world.index(42_000 * USDC)  # collateral 37,800 < 40,000: liquidatable, value +2,000
    steps = world.steps(world.tick())
    assert [s["stage"] for s in steps] == ["backstop_capital"]
    taken = -(-40_000 * USDC * BTC // (42_000 * USDC))  # 0.95238096 BTC
    assert world.claim("@backstop", "BTC") == taken
    assert _buckets(world, "dave", "BTC") == {"lent": BTC - taken}, "left idle in available"
    assert world.bal("dave", "USDC", "borrowed") == 0
    world.assert_replays()
    world.assert_no_hidden_hole()

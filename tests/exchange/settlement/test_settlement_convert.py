"""Settlement's third step (issue 21): when the USDC pool cannot lend (here: at its
throttle), a perp loss is paid by selling the account's other collateral on the spot
book, within the price bands, never more than it holds.

World (`liquidation_world.World(spot=True)`): BTC/USDC with a 0.1 % taker fee, impact band
0.99-1.01 x the BTC index; BTC-PERP without fees. USDC in micro-USDC, BTC in satoshi.

    alice: 1 BTC (lent), long 0.1 BTC-PERP at 60,000; the mark falls to 59,000: -100 USDC
    the pool: 10,000 USDC lent, 9,500 borrowed by hog = the throttle (0.95): no borrow
    the sale: want 100 USDC, grossed up for the fee ceil(100 / 0.999) = 100.100101;
      at the lower edge ceil(0.99 x 59,000) = 58,410: 0.00171376 BTC -> 0.002 (the step)
      filled at mm's bid 59,000: 118 - fee 0.118 = 117.882 USDC; 100 pays the loss, the
      17.882 left over is lent; mm's 0.002 BTC is lent too.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "liquidation"))

from liquidation_world import BTC, USDC, World  # noqa: E402

from exchange.lending import borrowable  # noqa: E402


def test_a_loss_the_throttled_pool_cannot_lend_is_paid_by_selling_btc_on_the_book() -> None:
    world = World(spot=True)
    world.index(60_000 * USDC)
    world.mark(60_000 * USDC)
    for account in ("mm", "sink"):
        world.ok({"cmd": "account", "id": account})
        world.ok({"cmd": "auto_lend", "account": account, "asset": "USDC", "enabled": False})
    world.fund("mm", "USDC", 1_000_000 * USDC)
    world.fund("lender", "USDC", 10_000 * USDC)
    world.fund("hog", "BTC", 10 * BTC)
    world.ok({"cmd": "borrow", "account": "hog", "asset": "USDC", "amount": str(9_500 * USDC)})
    world.ok({"cmd": "transfer", "from": "hog", "to": "sink", "asset": "USDC",
              "amount": str(9_500 * USDC)})  # fmt: skip
    assert borrowable(world.state, "USDC") == 0, "the USDC pool is at its throttle"
    world.fund("alice", "BTC", BTC)
    world.order("mm", "sell", BTC // 10, 60_000 * USDC)
    world.order("alice", "buy", BTC // 10, 60_000 * USDC)
    world.order("mm", "buy", BTC, 59_000 * USDC, market="BTC/USDC")
    world.tick(10)
    before = {
        "alice BTC lent": world.bal("alice", "BTC", "lent"),
        "alice USDC": world.claim("alice"),
        "mm BTC": world.claim("mm", "BTC"),
        "fees": world.claim("@fees"),
    }
    assert before == {"alice BTC lent": BTC, "alice USDC": 0, "mm BTC": 0, "fees": 0}
    world.index(59_000 * USDC)
    world.mark(59_000 * USDC)
    (event,) = [e for e in world.tick(10) if e.cmd == "settlement"]
    assert event.data is not None
    assert event.data["converted"] == [
        {"account": "alice", "market": "BTC/USDC", "quantity": 200_000, "filled": 200_000,
         "price": 58_410 * USDC, "proceeds": 117_882_000, "paid": 100 * USDC},
    ]  # fmt: skip
    assert world.bal("alice", "USDC", "pnl_unsettled") == 0, "the loss is settled"
    assert world.bal("alice", "USDC", "borrowed") == 0, "nothing was borrowed"
    assert world.bal("alice", "BTC", "lent") == BTC - 200_000
    assert world.bal("alice", "USDC") == 0
    assert world.bal("alice", "USDC", "lent") == 17_882_000, "the rest is lent"
    assert world.bal("mm", "BTC", "lent") == 200_000
    assert world.claim("@fees") == 118_000
    assert world.size("alice") == BTC // 10
    world.assert_replays()
    world.assert_no_hidden_hole()


def test_with_no_bid_the_loss_stays_unsettled_as_before() -> None:
    world = World(spot=True)
    world.index(60_000 * USDC)
    world.mark(60_000 * USDC)
    world.ok({"cmd": "account", "id": "mm"})
    world.ok({"cmd": "auto_lend", "account": "mm", "asset": "USDC", "enabled": False})
    world.fund("mm", "USDC", 1_000_000 * USDC)
    world.fund("alice", "BTC", BTC)  # the USDC pool is empty: it cannot lend at all
    world.order("mm", "sell", BTC // 10, 60_000 * USDC)
    world.order("alice", "buy", BTC // 10, 60_000 * USDC)
    world.index(59_000 * USDC)
    world.mark(59_000 * USDC)
    (event,) = [e for e in world.tick(10) if e.cmd == "settlement"]
    assert event.data is not None
    assert event.data["converted"] == [
        {"account": "alice", "market": "BTC/USDC", "quantity": 200_000, "filled": 0,
         "price": 58_410 * USDC, "proceeds": 0, "paid": 0},
    ]  # fmt: skip
    assert world.bal("alice", "USDC", "pnl_unsettled") == -100 * USDC
    # the BTC redeemed for the sale that did not fill is lent again
    assert world.bal("alice", "BTC", "lent") == BTC
    world.assert_replays()

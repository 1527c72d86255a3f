"""Settlement every 10 s and hourly funding, on exact integers.

Prices: USDC smallest units per whole BTC (50,000 USDC = 50_000_000_000). Markets charge
no fees here so every amount below is the PnL or funding alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange.matching import check_matching, clearing_account
from exchange.model import FEES
from exchange.replay import rebuild, reexecute, state_digest
from exchange.settlement import funding_rate, premium

BTC = 100_000_000
USDC = 1_000_000
PERP = "BTC-PERP"


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


def order(account: str, side: str, price: int, qty: int) -> str:
    return cmd("order", account=account, market=PERP, side=side, price=str(price),
               quantity=str(qty))  # fmt: skip


def mark(price: int) -> str:
    return cmd("mark_price", market=PERP, price=str(price))


def at(time: str) -> str:
    return cmd("clock", time=f"2026-11-24T{time}Z")


WORLD = (
    cmd("asset", symbol="BTC", decimals=8),
    cmd("asset", symbol="USDC", decimals=6),
    cmd("lending_pool", asset="BTC"),
    cmd("lending_pool", asset="USDC"),
    cmd("collateral_params", asset="BTC", weight="0.9"),
    cmd("market", symbol=PERP, kind="perp", base="BTC", quote="USDC", tick_size="1000000",
        step_size="100000", min_notional="1000000", maker_fee_ppm=0, taker_fee_ppm=0),
    at("16:00:00"),
    cmd("index_price", asset="BTC", price=str(50_000 * USDC)),
    mark(50_000 * USDC),
    cmd("deposit", account="alice", asset="BTC", amount=str(BTC), tx="a1"),
    cmd("deposit", account="bob", asset="USDC", amount=str(1_000_000 * USDC), tx="b1"),
    order("bob", "sell", 50_000 * USDC, BTC),
    order("alice", "buy", 50_000 * USDC, BTC),
)  # fmt: skip


@pytest.fixture
def world(ledger: Any) -> Any:
    """alice (only 1 BTC, lent) is long 1 BTC-PERP at 50,000; bob (USDC) is short.
    The matching invariants (clearing holds minus the realised PnL...) are checked after
    every event, on top of the ledger's."""

    def matching_holds(event: Any) -> None:
        problems = check_matching(ledger.state)
        assert not problems, f"after seq {event.seq} ({event.cmd}): {problems}"

    ledger.after_event.append(matching_holds)
    events = ledger.run(*WORLD)
    assert all(e.accepted for e in events), [e for e in events if not e.accepted]
    return ledger


def bal(ex: Any, account: str, asset: str, bucket: str = "available") -> int:
    return int(ex.state.balance(account, asset, bucket))


def test_a_btc_only_trader_who_loses_ends_with_a_usdc_debt_and_untouched_btc(
    world: Any,
) -> None:
    world.run(mark(48_000 * USDC), at("16:00:10"))
    assert bal(world, "alice", "USDC", "borrowed") == -2_000 * USDC, "loss not borrowed"
    assert bal(world, "alice", "USDC", "pnl_unsettled") == 0
    assert bal(world, "alice", "BTC", "lent") == BTC, "settlement touched the BTC"
    assert bal(world, "alice", "BTC") == 0
    assert bal(world, "bob", "USDC", "lent") == 1_002_000 * USDC, "profit not auto-lent"
    pos = world.state.ext["matching"].positions[("alice", PERP)]
    assert (pos.size, pos.basis) == (BTC, 48_000 * USDC), "size changed or entry not reset"
    assert bal(world, clearing_account(PERP), "USDC", "pnl_unsettled") == 0
    # no BTC posting anywhere in the settlement event
    (ev,) = [e for e in world.events() if e.cmd == "settlement"]
    assert {p[2] for p in ev.postings} == {"USDC"}


def test_settlement_runs_every_ten_seconds_and_only_when_pnl_moved(world: Any) -> None:
    world.run(mark(49_000 * USDC), at("16:00:25"))
    world.run(mark(49_500 * USDC), at("16:01:00"))
    settled = [e for e in world.events() if e.cmd == "settlement" and e.postings]
    assert [e.ts % 60_000 for e in settled] == [10_000, 30_000]
    assert bal(world, "alice", "USDC", "borrowed") == -500 * USDC, "the gain repaid the debt"


def test_a_winner_repays_a_usdc_debt_before_lending(world: Any) -> None:
    world.run(mark(48_000 * USDC), at("16:00:10"))
    world.run(mark(51_000 * USDC), at("16:00:20"))
    assert bal(world, "alice", "USDC", "borrowed") == 0
    assert bal(world, "alice", "USDC", "lent") == 1_000 * USDC
    assert bal(world, "alice", "BTC", "lent") == BTC


def test_a_loser_pays_from_available_then_from_lends(world: Any) -> None:
    world.run(cmd("auto_lend", account="alice", asset="USDC", enabled=False))
    world.run(cmd("deposit", account="alice", asset="USDC", amount=str(500 * USDC), tx="a2"))
    world.run(cmd("lend", account="alice", asset="USDC", amount=str(300 * USDC)))
    world.run(mark(49_400 * USDC), at("16:00:10"))  # loss 600: 200 available, 300 lent, 100
    assert bal(world, "alice", "USDC") == 0
    assert bal(world, "alice", "USDC", "lent") == 0
    assert bal(world, "alice", "USDC", "borrowed") == -100 * USDC


def test_with_auto_lend_off_a_profit_stays_available(world: Any) -> None:
    world.run(cmd("auto_lend", account="bob", asset="USDC", enabled=False))
    world.run(mark(49_000 * USDC), at("16:00:10"))
    assert bal(world, "bob", "USDC") == 1_000 * USDC
    assert bal(world, "bob", "USDC", "lent") == 1_000_000 * USDC


def test_a_loss_the_pool_cannot_lend_stays_unsettled(ledger: Any) -> None:
    lines = [line for line in WORLD if '"b1"' not in line]
    lines.insert(-2, cmd("deposit", account="bob", asset="BTC", amount=str(10 * BTC), tx="b1"))
    ledger.run(*lines)
    ledger.run(mark(48_000 * USDC), at("16:00:10"))
    # the USDC pool is empty; bob's profit (auto-lent) is the only USDC there: 2,000,
    # of which the throttle (0.95) lets alice borrow 1,900
    assert bal(ledger, "alice", "USDC", "borrowed") == -1_900 * USDC
    assert bal(ledger, "alice", "USDC", "pnl_unsettled") == -100 * USDC
    assert bal(ledger, "alice", "BTC", "lent") == BTC


def test_premium_and_funding_rate_worked_example() -> None:
    # index 50,000; impact bid 50,100 -> premium +0.002 (2,000,000 at 10^9)
    assert premium(50_000 * USDC, 50_100 * USDC, 50_200 * USDC) == 2_000_000
    assert premium(50_000 * USDC, 49_900 * USDC, 49_950 * USDC) == -1_000_000
    assert premium(50_000 * USDC, None, None) == 0
    # P = 0.002, interest 0.0000125: clamp(-0.0019875, +-0.0005) -> rate 0.0015
    assert funding_rate(2_000_000 * 360, 360, 12_500, 10_000_000) == 1_500_000
    # the market's cap bounds it
    assert funding_rate(2_000_000, 1, 12_500, 1_000_000) == 1_000_000
    # no premium: the rate is the interest
    assert funding_rate(0, 5, 12_500, 10_000_000) == 12_500


def test_funding_is_paid_by_longs_to_shorts_and_sums_to_zero(world: Any) -> None:
    world.run(cmd("deposit", account="dave", asset="BTC", amount=str(10 * BTC), tx="d1"))
    world.run(order("dave", "buy", 50_100 * USDC, BTC), order("dave", "sell", 50_200 * USDC, BTC))
    world.run(at("17:00:00"))
    (ev,) = [e for e in world.events() if e.cmd == "funding"]
    assert ev.data == {"funding": {PERP: "1500000"}}
    legs = {(p[1], p[3]): p[4] for p in ev.postings}
    # 1 BTC at mark 50,000 * 0.0015 = 75 USDC
    assert legs == {("alice", "pnl_unsettled"): -75 * USDC, ("bob", "pnl_unsettled"): 75 * USDC}
    assert sum(p[4] for p in ev.postings) == 0
    world.run(at("17:00:10"))
    assert bal(world, "alice", "USDC", "borrowed") == -75 * USDC
    assert bal(world, "bob", "USDC", "lent") == 1_000_075 * USDC


def test_funding_rounding_goes_to_the_fee_account(world: Any) -> None:
    world.run(cmd("perp_params", market=PERP, funding_interest="0.000000007"))
    world.run(mark(50_001 * USDC), at("17:00:00"))
    (ev,) = [e for e in world.events() if e.cmd == "funding"]
    legs = {(p[1], p[3]): p[4] for p in ev.postings}
    # 50,001 USDC * 7e-9 = 350.007 micro-USDC: alice pays 351, bob gets 350
    assert legs == {
        ("alice", "pnl_unsettled"): -351,
        ("bob", "pnl_unsettled"): 350,
        (FEES, "available"): 1,
    }


def test_an_hour_of_settlement_and_funding_replays_to_the_same_state(world: Any) -> None:
    world.run(mark(48_000 * USDC), at("16:20:00"), mark(50_500 * USDC), at("17:00:30"))
    world.run(order("alice", "sell", 50_000 * USDC, BTC // 2), order("bob", "buy", 50_000 * USDC,
                                                                       BTC // 2))  # fmt: skip
    world.run(at("17:01:00"))
    events = world.events()
    live = state_digest(world.state)
    assert state_digest(rebuild(events)) == live, "rebuild differs"
    ex, mismatch = reexecute(events)
    assert mismatch is None, f"re-executed event {mismatch} differs"
    assert state_digest(ex.state) == live

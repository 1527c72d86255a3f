"""Cross margin: collateral weights, IMF curves, account risk, and the pre-trade check.

Prices are USDC smallest units per whole unit: BTC at 50,000 USDC is 50_000_000_000.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange.margin import account_risk, collateral_weight, margin_curve, usd_sqrt
from exchange.replay import rebuild, reexecute, state_digest
from exchange.values import FRACTION

BTC = 100_000_000  # one BTC in satoshi
USDC = 1_000_000  # one USDC in micro-USDC


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


WORLD = (
    cmd("asset", symbol="BTC", decimals=8),
    cmd("asset", symbol="USDC", decimals=6),
    cmd("lending_pool", asset="BTC"),
    cmd("lending_pool", asset="USDC"),
    cmd("collateral_params", asset="BTC", weight="0.9"),
    cmd("market", symbol="BTC/USDC", kind="spot", base="BTC", quote="USDC",
        tick_size="1000000", step_size="100000", min_notional="1000000",
        maker_fee_ppm=0, taker_fee_ppm=0),
    cmd("market", symbol="BTC-PERP", kind="perp", base="BTC", quote="USDC",
        tick_size="1000000", step_size="100000", min_notional="1000000",
        maker_fee_ppm=0, taker_fee_ppm=0),
    cmd("perp_params", market="BTC-PERP", imf_base="0.02", imf_factor="0.00002494",
        mmf_base="0.01", mmf_factor="0.00001247"),
    cmd("clock", time="2026-11-24T16:00:00Z"),
    cmd("index_price", asset="BTC", price=str(50_000 * USDC)),
    cmd("mark_price", market="BTC-PERP", price=str(50_000 * USDC)),
    cmd("deposit", account="alice", asset="BTC", amount=str(BTC), tx="a1"),
    cmd("deposit", account="bob", asset="USDC", amount=str(1_000_000 * USDC), tx="b1"),
)  # fmt: skip


def order(account: str, market: str, side: str, price: int, qty: int, **extra: Any) -> str:
    return cmd("order", account=account, market=market, side=side, price=str(price),
               quantity=str(qty), **extra)  # fmt: skip


@pytest.fixture
def world(ledger: Any) -> Any:
    """alice: 1 BTC (auto-lent); bob: 1,000,000 USDC (auto-lent)."""
    events = ledger.run(*WORLD)
    assert all(e.accepted for e in events), [e for e in events if not e.accepted]
    return ledger


def test_the_collateral_weight_decays_with_the_inverse_square_root_of_size() -> None:
    # 100,000 USD: sqrt = 316.227766017 (rounded up at 10^9); penalty 0.001:
    # 1.1 / (1 + 0.316227767) = 0.835721618 (rounded down) < base 0.9
    root = usd_sqrt(100_000 * USDC, 6)
    assert root == 316_227_766_017
    assert collateral_weight(900_000_000, 1_000_000, root) == 835_721_618
    assert collateral_weight(900_000_000, 1_000_000, usd_sqrt(100 * USDC, 6)) == 900_000_000, (
        "a small balance keeps the base weight"
    )
    assert collateral_weight(900_000_000, 0, root) == 900_000_000


def test_the_imf_grows_with_the_square_root_of_notional_past_the_base() -> None:
    # BTC-PERP: IMF = max(0.02, 0.00002494 * sqrt(notional in USD))
    assert margin_curve(20_000_000, 24_940, usd_sqrt(1_000_000 * USDC, 6)) == 24_940_000
    assert margin_curve(20_000_000, 24_940, usd_sqrt(100_000 * USDC, 6)) == 20_000_000


def test_a_lent_balance_is_collateral_at_its_haircut(world: Any) -> None:
    risk = account_risk(world.state, "alice")
    assert world.state.balance("alice", "BTC", "lent") == BTC, "BTC was not auto-lent"
    assert risk.collateral == 45_000 * USDC  # 1 BTC * 50,000 * 0.9
    assert (risk.equity, risk.exposure, risk.initial) == (45_000 * USDC, 0, 0)
    assert risk.margin_fraction is None


def test_a_losing_position_shows_in_equity_exposure_and_margin_fraction(world: Any) -> None:
    world.run(order("bob", "BTC-PERP", "sell", 50_000 * USDC, BTC))
    (ev,) = world.run(order("alice", "BTC-PERP", "buy", 50_000 * USDC, BTC))
    assert ev.accepted, ev.reason
    world.run(cmd("mark_price", market="BTC-PERP", price=str(48_000 * USDC)))
    risk = account_risk(world.state, "alice")
    assert risk.unrealised == -2_000 * USDC
    assert risk.equity == 43_000 * USDC
    assert risk.exposure == 48_000 * USDC
    # IMF = max(0.02, 0.00002494 * sqrt(48,000) = 0.00546...) = 0.02; MMF = 0.01
    assert (risk.initial, risk.maintenance) == (960 * USDC, 480 * USDC)
    assert risk.margin_fraction == 43_000 * FRACTION // 48_000
    assert (risk.account_imf, risk.account_mmf) == (20_000_000, 10_000_000)


def test_an_order_past_initial_margin_is_rejected_and_changes_nothing(world: Any) -> None:
    # equity 45,000 at IMF 0.02 carries ~2.25M notional; IMF grows with size though:
    # 40 BTC = 2,000,000 USD -> IMF = 0.00002494 * 1414.2 = 0.03527 -> needs 70,540
    (ev,) = world.run(order("alice", "BTC-PERP", "buy", 50_000 * USDC, 40 * BTC))
    assert (ev.status, ev.reason) == ("rejected", "margin_must_cover_initial")
    assert world.state.ext["matching"].books["BTC-PERP"].orders == {}
    (ev,) = world.run(order("alice", "BTC-PERP", "buy", 50_000 * USDC, 10 * BTC))
    assert ev.accepted, ev.reason


def test_resting_orders_that_increase_risk_count_against_the_next_order(world: Any) -> None:
    (ev,) = world.run(order("alice", "BTC-PERP", "buy", 40_000 * USDC, 20 * BTC))
    assert ev.accepted, ev.reason  # 1,000,000 notional at mark, IMF 0.02494: 24,940
    (ev,) = world.run(order("alice", "BTC-PERP", "buy", 40_000 * USDC, 20 * BTC))
    assert (ev.status, ev.reason) == ("rejected", "margin_must_cover_initial")
    (ev,) = world.run(order("alice", "BTC-PERP", "sell", 60_000 * USDC, 20 * BTC))
    assert ev.accepted, "a sell against resting buys does not increase exposure"


def test_a_spot_sell_redeems_the_lent_btc_it_needs(world: Any) -> None:
    world.run(order("bob", "BTC/USDC", "buy", 50_000 * USDC, BTC // 2))
    (ev,) = world.run(order("alice", "BTC/USDC", "sell", 50_000 * USDC, BTC // 2))
    assert ev.accepted, ev.reason
    assert world.state.balance("alice", "BTC", "lent") == BTC // 2
    # the proceeds are lent at once (auto-lend), and so is the BTC bob bought
    assert world.state.balance("alice", "USDC") == 0
    assert world.state.balance("alice", "USDC", "lent") == 25_000 * USDC
    assert world.state.balance("bob", "BTC", "lent") == BTC // 2


def test_a_spot_buy_without_usdc_borrows_it_within_margin(world: Any) -> None:
    world.run(order("bob", "BTC/USDC", "sell", 50_000 * USDC, BTC))  # bob has no BTC
    world.run(cmd("deposit", account="carol", asset="BTC", amount=str(10 * BTC), tx="c1"))
    world.run(order("carol", "BTC/USDC", "sell", 50_000 * USDC, BTC))
    (ev,) = world.run(order("alice", "BTC/USDC", "buy", 50_000 * USDC, BTC // 2))
    assert ev.accepted, ev.reason
    assert world.state.balance("alice", "USDC", "borrowed") == -25_000 * USDC
    assert world.state.balance("alice", "BTC") == 0, "the bought BTC is lent at once"
    assert world.state.balance("alice", "BTC", "lent") == BTC + BTC // 2
    # 10 BTC more on credit: 11.5 BTC * 45,000 = 517,500 collateral < 525,000 owed
    (ev,) = world.run(order("alice", "BTC/USDC", "buy", 50_000 * USDC, 10 * BTC))
    assert (ev.status, ev.reason) == ("rejected", "margin_must_cover_initial")
    assert world.state.balance("alice", "USDC", "borrowed") == -25_000 * USDC, "kept a borrow"


def test_a_withdrawal_that_breaks_initial_margin_is_rejected(world: Any) -> None:
    world.run(cmd("borrow", account="alice", asset="USDC", amount=str(40_000 * USDC)))
    (ev,) = world.run(cmd("transfer", **{"from": "alice", "to": "bob", "asset": "USDC",
                                         "amount": str(40_000 * USDC)}))  # fmt: skip
    assert ev.accepted, "equity 5,000 still covers the borrow's initial margin 4,000"
    (ev,) = world.run(cmd("withdraw", account="alice", asset="BTC", amount=str(BTC // 2),
                          address="bc1", id="w1"))  # fmt: skip
    assert (ev.status, ev.reason) == ("rejected", "margin_must_cover_initial")
    assert world.state.balance("alice", "BTC", "lent") == BTC


def test_spending_a_borrow_of_an_unpriced_asset_is_rejected(world: Any) -> None:
    world.run(cmd("asset", symbol="SOL", decimals=9), cmd("lending_pool", asset="SOL"))
    world.run(cmd("deposit", account="bob", asset="SOL", amount="1000000000", tx="s1"))
    (ev,) = world.run(cmd("borrow", account="alice", asset="SOL", amount="1000"))
    assert ev.accepted, "a borrow that is still held is not a liability"
    (ev,) = world.run(cmd("transfer", **{"from": "alice", "to": "bob", "asset": "SOL",
                                         "amount": "1000"}))  # fmt: skip
    assert (ev.status, ev.reason) == ("rejected", "margin_must_cover_initial")
    assert "no price for SOL" in (ev.detail or "")


def test_margin_parameters_replay_to_the_same_state(world: Any) -> None:
    world.run(cmd("collateral_params", asset="BTC", weight="0.8", penalty="0.0001"))
    world.run(order("alice", "BTC-PERP", "buy", 40_000 * USDC, BTC))
    events = world.events()
    live = state_digest(world.state)
    assert state_digest(rebuild(events)) == live
    ex, mismatch = reexecute(events)
    assert mismatch is None and state_digest(ex.state) == live

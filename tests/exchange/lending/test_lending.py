"""Lending pools: auto-lend, redemption, borrow/repay limits, and the exact hourly interest.

Worked example used below (USDC, 6 decimals, default curve U_opt 0.9, slope1 0.04,
slope2 0.6, fee 0.1, throttle 0.95): alice lends 1,000 USDC, bob borrows 500 USDC.
    U = 0.5, borrow rate = 0.04 * 0.5 / 0.9 = 0.0222... a year
      (WAD, rounded up: 22_222_222_222_222_223)
    borrow index after one hour = RAY + ceil(RAY * 22_222_222_222_222_223 / (10^18 * 8760))
                                = RAY + 2_536_783_358_701_167_009_133
    bob owes ceil(500_000_000 * index / RAY) = 500_001_269: interest 1,269
    fee share ceil(1269 * 0.1) = 127, lenders' pot 1,142, minus 1 per lender = 1,141
    lend index = RAY + 1141 * RAY // 1_000_000_000; alice earns 1,141
    the exchange keeps 1269 - 1141 = 128 (>= 127), credited to @fees as a lend.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange.lending import lending_state
from exchange.model import FEES
from exchange.replay import rebuild, reexecute, state_digest
from exchange.values import RAY


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


POOL = "@lending:USDC"
SETUP = (
    cmd("asset", symbol="USDC", decimals=6),
    cmd("asset", symbol="BTC", decimals=8),
    cmd("lending_pool", asset="USDC"),
    cmd("clock", time="2026-11-24T16:00:00Z"),
)


def deposit(account: str, asset: str, amount: int, tx: str) -> str:
    return cmd("deposit", account=account, asset=asset, amount=str(amount), tx=tx)


@pytest.fixture
def pool(ledger: Any) -> Any:
    """alice lent 1,000 USDC (auto-lend); bob holds 1 BTC and borrowed 500 USDC."""
    ledger.run(*SETUP, *PRICES)
    ledger.run(
        deposit("alice", "USDC", 1_000_000_000, "u1"),
        deposit("bob", "BTC", 100_000_000, "b1"),
        cmd("borrow", account="bob", asset="USDC", amount="500000000"),
    )
    return ledger


PRICES = (
    cmd("index_price", asset="BTC", price="90000000000"),  # 90,000 USDC per BTC
    cmd("collateral_params", asset="BTC", weight="0.9"),
)


def bal(ex: Any, account: str, asset: str, bucket: str = "available") -> int:
    return int(ex.state.balance(account, asset, bucket))


def test_a_deposit_to_an_open_pool_is_lent_and_the_pool_mirrors_it(ledger: Any) -> None:
    ledger.run(*SETUP, deposit("alice", "USDC", 1_000_000_000, "u1"))
    assert bal(ledger, "alice", "USDC") == 0, "auto-lend left the deposit idle"
    assert bal(ledger, "alice", "USDC", "lent") == 1_000_000_000
    assert bal(ledger, POOL, "USDC", "liquidity") == 1_000_000_000
    assert bal(ledger, POOL, "USDC", "supplied") == -1_000_000_000
    assert lending_state(ledger.state).pools["USDC"].shares == {"alice": 1_000_000_000}


def test_a_deposit_of_an_asset_without_a_pool_stays_available(ledger: Any) -> None:
    ledger.run(*SETUP, deposit("bob", "BTC", 5, "b1"))
    assert bal(ledger, "bob", "BTC") == 5
    assert bal(ledger, "bob", "BTC", "lent") == 0


def test_opting_out_keeps_deposits_idle_and_opting_in_lends_them(ledger: Any) -> None:
    ledger.run(*SETUP, cmd("account", id="alice"))
    ledger.run(cmd("auto_lend", account="alice", asset="USDC", enabled=False))
    ledger.run(deposit("alice", "USDC", 700, "u1"))
    assert bal(ledger, "alice", "USDC") == 700, "opted out but the deposit was lent"
    (ev,) = ledger.run(cmd("auto_lend", account="alice", asset="USDC", enabled=True))
    assert ev.accepted
    assert bal(ledger, "alice", "USDC") == 0
    assert bal(ledger, "alice", "USDC", "lent") == 700


def test_one_hour_of_interest_matches_the_worked_example_exactly(pool: Any) -> None:
    (ev,) = pool.run(cmd("clock", time="2026-11-24T17:00:00Z"))
    job = pool.events()[-2]
    assert (job.kind, job.cmd) == ("job", "lending_interest"), "no interest event at 17:00"
    legs = {(p[1], p[3]): p[4] for p in job.postings}
    assert legs == {
        ("bob", "borrowed"): -1_269,
        ("alice", "lent"): 1_141,
        (POOL, "loans"): 1_269,
        (FEES, "lent"): 128,
        (POOL, "supplied"): -1_269,
    }
    p = lending_state(pool.state).pools["USDC"]
    assert p.borrow_index == RAY + 2_536_783_358_701_167_009_133
    assert p.lend_index == RAY + 1_141 * RAY // 1_000_000_000
    assert bal(pool, "bob", "USDC", "borrowed") == -500_001_269
    assert bal(pool, "alice", "USDC", "lent") == 1_000_001_141
    assert bal(pool, POOL, "USDC", "liquidity") == 500_000_000, "interest moved cash"


def test_no_interest_event_is_recorded_for_a_pool_without_borrowers(ledger: Any) -> None:
    ledger.run(*SETUP, deposit("alice", "USDC", 1_000, "u1"))
    ledger.run(cmd("clock", time="2026-11-24T20:00:00Z"))
    assert not [e for e in ledger.events() if e.cmd == "lending_interest"]


def test_a_borrow_beyond_the_pool_liquidity_is_rejected(pool: Any) -> None:
    (ev,) = pool.run(cmd("borrow", account="bob", asset="USDC", amount="500000001"))
    assert (ev.status, ev.reason) == ("rejected", "pool_liquidity_must_cover")


def test_a_borrow_past_the_throttle_utilisation_is_rejected(pool: Any) -> None:
    # throttle 0.95 of 1,000 lent: at most 950 borrowed in total, 450 more
    (ev,) = pool.run(cmd("borrow", account="bob", asset="USDC", amount="450000001"))
    assert (ev.status, ev.reason) == ("rejected", "pool_borrows_throttled")
    (ev,) = pool.run(cmd("borrow", account="bob", asset="USDC", amount="450000000"))
    assert ev.accepted, ev.detail


def test_a_redemption_past_the_throttle_is_rejected_and_changes_nothing(pool: Any) -> None:
    # 500 borrowed: lent must stay >= 500 / 0.95 = 526.315790 (rounded up)
    (ev,) = pool.run(cmd("redeem", account="alice", asset="USDC", amount="473684211"))
    assert (ev.status, ev.reason) == ("rejected", "pool_redemptions_throttled")
    assert bal(pool, "alice", "USDC", "lent") == 1_000_000_000
    (ev,) = pool.run(cmd("redeem", account="alice", asset="USDC", amount="473684210"))
    assert ev.accepted, ev.detail
    assert bal(pool, "alice", "USDC") == 473_684_210


def test_a_withdrawal_redeems_the_lend_it_needs(pool: Any) -> None:
    line = cmd(
        "withdraw", account="alice", asset="USDC", amount="300000000", address="0xa", id="w1"
    )
    (ev,) = pool.run(line)
    assert ev.accepted, ev.detail
    assert bal(pool, "alice", "USDC", "locked_withdrawal") == 300_000_000
    assert bal(pool, "alice", "USDC", "lent") == 700_000_000


def test_a_withdrawal_the_pool_cannot_free_is_rejected_and_redeems_nothing(pool: Any) -> None:
    line = cmd(
        "withdraw", account="alice", asset="USDC", amount="600000000", address="0xa", id="w1"
    )
    (ev,) = pool.run(line)
    assert (ev.status, ev.reason) == ("rejected", "insufficient_available_balance")
    assert bal(pool, "alice", "USDC", "lent") == 1_000_000_000, "a rejected withdrawal redeemed"


def test_a_deposit_repays_the_debt_first_and_lends_the_rest(pool: Any) -> None:
    pool.run(cmd("account", id="carol"))
    pool.run(
        cmd("transfer", **{"from": "bob", "to": "carol", "asset": "USDC", "amount": "500000000"})
    )
    pool.run(deposit("bob", "USDC", 600_000_000, "u2"))
    assert bal(pool, "bob", "USDC", "borrowed") == 0
    assert bal(pool, "bob", "USDC", "lent") == 100_000_000
    assert "bob" not in lending_state(pool.state).pools["USDC"].debts


def test_repay_uses_available_and_rejects_more_than_the_debt(pool: Any) -> None:
    (ev,) = pool.run(cmd("repay", account="bob", asset="USDC", amount="500000001"))
    assert (ev.status, ev.reason) == ("rejected", "repay_must_not_exceed_debt")
    (ev,) = pool.run(cmd("repay", account="bob", asset="USDC", amount="200000000"))
    assert ev.accepted, ev.detail
    assert bal(pool, "bob", "USDC", "borrowed") == -300_000_000
    assert bal(pool, POOL, "USDC", "liquidity") == 700_000_000


def test_lending_commands_need_an_open_pool(pool: Any) -> None:
    (ev,) = pool.run(cmd("borrow", account="bob", asset="BTC", amount="1"))
    assert (ev.status, ev.reason) == ("rejected", "pool_must_be_open")


def test_bad_pool_parameters_are_rejected(ledger: Any) -> None:
    ledger.run(*SETUP)
    (ev,) = ledger.run(cmd("lending_pool", asset="USDC", optimal_utilisation="1"))
    assert (ev.status, ev.reason) == ("rejected", "pool_params_must_be_valid")
    assert "optimal_utilisation" in (ev.detail or "")


def test_hours_of_interest_replay_to_the_same_state(pool: Any) -> None:
    pool.run(cmd("redeem", account="alice", asset="USDC", amount="100"))
    pool.run(cmd("clock", time="2026-11-24T19:00:00Z"))
    pool.run(cmd("repay", account="bob", asset="USDC", amount="123456789"))
    pool.run(cmd("clock", time="2026-11-24T22:00:00Z"))
    events = pool.events()
    assert sum(e.cmd == "lending_interest" for e in events) == 6
    live = state_digest(pool.state)
    assert state_digest(rebuild(events)) == live, "rebuild from postings differs"
    ex, mismatch = reexecute(events)
    assert mismatch is None
    assert state_digest(ex.state) == live

"""Hourly interest at the time-weighted utilisation of the hour (docs/margin.md): a borrow
just before the hour moves the rate only for the time it was out.

Scenario (USDC 6 decimals, default curve: U_opt 0.9, slope1 0.04, fee 0.1): at 16:00 alice
lends 1,000 USDC and bob borrows 500 (U = 0.5); at 16:59:59 carol borrows 400 (U = 0.9).

    time-weighted U = ceil((0.5 x 3,599,000 ms + 0.9 x 1,000 ms) / 3,600,000 ms)
                    = 500_111_111_111_111_112 (WAD)
    rate = ceil(0.04 x U / 0.9) = 22_227_160_493_827_161 (WAD): the worked example's rate
         (0.0222..) barely moved; bob pays 1,269 as when he borrowed alone, carol 1,015.
    Read at the instant (U = 0.9, rate 0.04) bob would pay 2,284 and carol 1,827.
    I = 2,284; fee share ceil(228.4) = 229; pot 2,055 - 1 lender = 2,054 to alice;
    @fees keeps 2,284 - 2,054 = 230.
"""

from __future__ import annotations

import json
from typing import Any

from exchange.engine import Exchange
from exchange.lending import lending_state
from exchange.model import FEES
from exchange.replay import check_replay, rebuild
from exchange.values import RAY

POOL = "@lending:USDC"
USDC = 1_000_000
BTC = 100_000_000


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


def _log(last_borrow_at: str) -> list[str]:
    return [
        cmd("asset", symbol="USDC", decimals=6),
        cmd("asset", symbol="BTC", decimals=8),
        cmd("lending_pool", asset="USDC"),
        cmd("clock", time="2026-11-24T16:00:00Z"),
        cmd("index_price", asset="BTC", price=str(90_000 * USDC)),
        cmd("collateral_params", asset="BTC", weight="0.9"),
        cmd("deposit", account="alice", asset="USDC", amount=str(1_000 * USDC), tx="a"),
        cmd("deposit", account="bob", asset="BTC", amount=str(BTC), tx="b"),
        cmd("deposit", account="carol", asset="BTC", amount=str(BTC), tx="c"),
        cmd("auto_lend", account="carol", asset="USDC", enabled=False),
        cmd("borrow", account="bob", asset="USDC", amount=str(500 * USDC)),
        cmd("clock", time=last_borrow_at),
        cmd("borrow", account="carol", asset="USDC", amount=str(400 * USDC)),
    ]


def bal(ex: Any, account: str, bucket: str) -> int:
    return int(ex.state.balance(account, "USDC", bucket))


def test_a_borrow_one_second_before_the_hour_barely_moves_the_hourly_rate(ledger: Any) -> None:
    ledger.run(*_log("2026-11-24T16:59:59Z"))
    before = {
        ("bob", "borrowed"): bal(ledger, "bob", "borrowed"),
        ("carol", "borrowed"): bal(ledger, "carol", "borrowed"),
        ("alice", "lent"): bal(ledger, "alice", "lent"),
        (POOL, "liquidity"): bal(ledger, POOL, "liquidity"),
    }
    assert before == {
        ("bob", "borrowed"): -500 * USDC,
        ("carol", "borrowed"): -400 * USDC,
        ("alice", "lent"): 1_000 * USDC,
        (POOL, "liquidity"): 100 * USDC,
    }
    ledger.run(cmd("clock", time="2026-11-24T17:00:00Z"))
    (job,) = [e for e in ledger.events() if e.cmd == "lending_interest"]
    legs = {(p[1], p[3]): p[4] for p in job.postings}
    assert legs == {
        ("bob", "borrowed"): -1_269,  # as if carol had not borrowed (instant U: -2,284)
        ("carol", "borrowed"): -1_015,  # (instant U: -1,827)
        ("alice", "lent"): 2_054,
        (POOL, "loans"): 2_284,
        (FEES, "lent"): 230,
        (POOL, "supplied"): -2_284,
    }
    pool = lending_state(ledger.state).pools["USDC"]
    assert pool.borrow_index == RAY + 2_537_347_088_336_433_904_110
    assert bal(ledger, "bob", "borrowed") == -500_001_269
    assert bal(ledger, "carol", "borrowed") == -400_001_015
    assert bal(ledger, "alice", "lent") == 1_000_002_054
    assert bal(ledger, POOL, "liquidity") == 100 * USDC, "interest moved cash"
    report = check_replay(ledger.state, ledger.events(), ledger.registry)
    assert report.ok, report


def test_a_borrow_held_all_hour_is_charged_the_rate_of_its_utilisation(ledger: Any) -> None:
    """The same borrow at 16:00:00 (U = 0.9 all hour): the instant rate, 0.04."""
    ledger.run(*_log("2026-11-24T16:00:00Z"), cmd("clock", time="2026-11-24T17:00:00Z"))
    (job,) = [e for e in ledger.events() if e.cmd == "lending_interest"]
    legs = {(p[1], p[3]): p[4] for p in job.postings}
    assert (legs[("bob", "borrowed")], legs[("carol", "borrowed")]) == (-2_284, -1_827)


def test_a_ledger_rebuilt_mid_hour_charges_the_same_interest(ledger: Any) -> None:
    """The hour's accumulator is rebuilt from the journal (replay): a restart at 16:59:59.500
    continues to the same interest entry as the ledger that never stopped."""
    ledger.run(*_log("2026-11-24T16:59:59Z"), cmd("clock", time="2026-11-24T16:59:59.500Z"))
    events = list(ledger.events())
    restarted = Exchange(ledger.registry, rebuild(events, ledger.registry))
    last = cmd("clock", time="2026-11-24T17:00:00Z")
    ledger.run(last)
    restarted.apply_line(last)
    assert restarted.pending == ledger.events()[len(events) :]


def test_a_rejected_repay_leaves_the_hour_unchanged(ledger: Any) -> None:
    """A repay that redeemed bob's lend (observing the pool at 16:40) and was then refused
    for want of funds: the observation is rolled back with it, so the live state equals
    the journal's rebuild (which never sees a rejected command)."""
    ledger.run(
        *_log("2026-11-24T16:59:59Z")[:-2],
        cmd("clock", time="2026-11-24T16:30:00Z"),
        cmd("lend", account="bob", asset="USDC", amount=str(300 * USDC)),
        cmd("transfer", **{"from": "bob", "to": "carol"}, asset="USDC", amount=str(100 * USDC)),
        cmd("clock", time="2026-11-24T16:40:00Z"),
    )
    (ev,) = ledger.run(cmd("repay", account="bob", asset="USDC", amount=str(500 * USDC)))
    assert (ev.status, ev.reason) == ("rejected", "insufficient_available_balance")
    pool = lending_state(ledger.state).pools["USDC"]
    assert pool.tw_last == 1_795_537_800_000, "the refused repay's observation (16:40) stayed"
    assert check_replay(ledger.state, ledger.events(), ledger.registry).ok

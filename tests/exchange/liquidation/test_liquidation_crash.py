"""BTC -30 % in 10 minutes through the command log, and random price paths: afterwards the
ledger has no hidden hole (docs/liquidation.md, "What the tests check")."""

from __future__ import annotations

from crash_scenario import crash_log
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liquidation_world import USDC

from exchange.engine import Exchange, MemoryJournal
from exchange.invariants import check_events, check_state
from exchange.liquidation import net_value, scan_liquidatable
from exchange.matching import check_matching, clearing_account, matching_state
from exchange.model import BACKSTOP, FEES, INSURANCE, is_system_account
from exchange.registry import default_registry
from exchange.replay import check_replay


def _run(lines: list[str]) -> tuple[Exchange, list]:
    ex = Exchange(default_registry(), journal=MemoryJournal())
    for line in lines:
        ex.apply_line(line)
    ex.flush()
    assert isinstance(ex.journal, MemoryJournal)
    return ex, ex.journal.events


def _check_no_hidden_hole(ex: Exchange, events: list) -> dict[str, int]:
    state = ex.state
    problems = check_state(state, ex.registry) + check_matching(state) + check_events(events)
    assert not problems, problems
    steps = [s for e in events if e.cmd == "liquidation" and e.data for s in e.data["steps"]]
    named = {s["account"] for s in steps
             if s["stage"] in ("insurance", "adl", "backstop_capital")}  # fmt: skip
    system = sorted({s["account"] for s in steps if is_system_account(s["account"])})
    assert not system, f"system accounts went through the waterfall: {system}"
    for account in state.accounts:
        if is_system_account(account):
            continue
        value = net_value(state, account)
        assert value >= -1 or account in named, f"{account} at {value} without a named cover"
    assert scan_liquidatable(state) == [] or events[-1].cmd != "liquidation", (
        "an account at or below maintenance was left alone"
    )
    # zero-sum perps: every realised gain is a loss elsewhere (clearing = -sum realised)
    ms = matching_state(state)
    for symbol, book in ms.books.items():
        if not book.market.is_perp:
            continue
        pos = [p for (_, s), p in ms.positions.items() if s == symbol]
        assert sum(p.size for p in pos) == 0, "positions of a perp must net to zero"
        clearing = state.balance(clearing_account(symbol), "USDC", "pnl_unsettled")
        assert clearing == -sum(p.realised for p in pos), "PnL left the perp unaccounted"
    # money: users + insurance + fees + backstop + clearing + pools == what custody holds
    for asset in ("USDC", "BTC"):
        total = sum(v for (a, s, _), v in state.balances.items() if s == asset and a != "@custody")
        assert total == -state.balance("@custody", asset, "onchain"), f"{asset} left custody"
    insurance_paid = sum(s["amount"] for s in steps if s["stage"] == "insurance")
    assert state.balance(INSURANCE, "USDC") == 20_000 * USDC - insurance_paid, (
        "the insurance fund changed by something other than its named covers"
    )
    assert state.balance(FEES, "USDC") >= 0
    return {"steps": len(steps), "backstop": state.balance(BACKSTOP, "USDC", "capital")}


def test_a_thirty_percent_crash_in_ten_minutes_leaves_no_hidden_hole() -> None:
    path = [-59] * 60  # 60 index updates 10 s apart: 0.9941^60 = 0.70
    ex, events = _run(crash_log(7, 500, path))
    facts = _check_no_hidden_hole(ex, events)
    steps = [s for e in events if e.cmd == "liquidation" and e.data for s in e.data["steps"]]
    filled = {s["market"] for s in steps if s["stage"] == "book" and s["filled"]}
    assert facts["steps"] > 0 and filled == {"BTC-PERP", "BTC/USDC"}, (
        f"positions and borrows were not both closed through the books: {filled}"
    )
    sellers = {s["account"] for s in steps if s["reason"] == "sell_collateral_through_book"}
    repaid = {s["account"] for s in steps if s["stage"] == "repay" and s["asset"] == "USDC"}
    assert sellers and sellers <= repaid, "a borrower sold collateral without repaying"
    report = check_replay(ex.state, events, ex.registry)
    assert report.ok, f"replay differs: {report}"


def test_a_thirty_percent_rally_buys_btc_debts_back_through_the_spot_book() -> None:
    path = [45] * 60  # 1.0045^60 = 1.31: shorts and BTC borrowers are squeezed
    ex, events = _run(crash_log(7, 200, path))
    _check_no_hidden_hole(ex, events)
    steps = [s for e in events if e.cmd == "liquidation" and e.data for s in e.data["steps"]]
    buyers = {s["account"] for s in steps
              if s["reason"] == "buy_debt_through_book" and s["filled"]}  # fmt: skip
    repaid = {s["account"] for s in steps if s["stage"] == "repay" and s["asset"] == "BTC"}
    assert buyers and buyers <= repaid, f"no BTC debt was bought back and repaid: {steps[:5]}"
    report = check_replay(ex.state, events, ex.registry)
    assert report.ok, f"replay differs: {report}"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=-300, max_value=250), min_size=3, max_size=12),
       st.integers(min_value=0, max_value=10**6))  # fmt: skip
def test_random_price_paths_keep_the_ledger_whole(path: list[int], seed: int) -> None:
    ex, events = _run(crash_log(seed, 12, path))
    _check_no_hidden_hole(ex, events)
    report = check_replay(ex.state, events, ex.registry)
    assert report.ok, f"replay differs: {report}"

"""The invariant checks catch what they claim to catch (on deliberately broken states)."""

from __future__ import annotations

from exchange.engine import Exchange
from exchange.invariants import check_events, check_state
from exchange.model import CUSTODY

LOG = [
    '{"cmd":"asset","symbol":"BTC","decimals":8}',
    '{"cmd":"deposit","account":"alice","asset":"BTC","amount":"100","tx":"t1"}',
    '{"cmd":"account","id":"bob"}',
    '{"cmd":"transfer","from":"alice","to":"bob","asset":"BTC","amount":"1"}',
]


def funded() -> Exchange:
    ex = Exchange()
    for line in LOG:
        ex.apply_line(line)
    return ex


def test_a_healthy_ledger_has_no_violations() -> None:
    ex = funded()
    assert check_state(ex.state) == []
    assert check_events(ex.pending) == []


def test_a_balance_created_from_nothing_breaks_zero_sum_and_custody() -> None:
    ex = funded()
    ex.state.balances[("alice", "BTC", "available")] += 5
    problems = check_state(ex.state)
    assert "postings of BTC sum to 5, expected 0" in problems
    assert any("claims and system balances 105 != custody 100" in p for p in problems)


def test_custody_that_disagrees_with_deposits_and_withdrawals_is_reported() -> None:
    ex = funded()
    ex.state.balances[(CUSTODY, "BTC", "onchain")] -= 7
    ex.state.balances[("alice", "BTC", "available")] += 7
    problems = check_state(ex.state)
    assert any("deposits - withdrawals 100 != custody 107" in p for p in problems), problems


def test_a_silently_negative_claim_is_a_sign_violation() -> None:
    ex = funded()
    ex.state.balances[("alice", "BTC", "available")] = -1
    ex.state.balances[("alice", "BTC", "lent")] = 101
    problems = check_state(ex.state)
    assert any("alice/BTC/available is -1, outside its sign +" in p for p in problems), problems


def test_a_gap_in_the_journal_sequence_is_reported() -> None:
    ex = funded()
    events = list(ex.pending)
    del events[1]
    assert check_events(events) == ["journal sequence gap: expected seq 2, found 3"]


def test_an_unbalanced_entry_in_the_journal_is_reported() -> None:
    ex = funded()
    events = list(ex.pending)
    e = events[1]
    events[1] = e._replace(postings=(e.postings[0],))
    assert check_events(events) == ["seq 2 entry 0: BTC postings sum to 100"]


def test_a_rejected_event_with_postings_is_reported() -> None:
    ex = funded()
    events = list(ex.pending)
    events[3] = events[3]._replace(status="rejected", reason="x")
    assert events[3].postings, "the transfer must have posted"
    assert check_events(events) == ["seq 4: rejected event has postings"]

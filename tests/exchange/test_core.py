"""Core commands: deposits, withdrawals, transfers, assets, accounts, clock — and their rejects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange.core import core_state
from exchange.model import CUSTODY
from exchange.replay import state_digest


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


def deposit(account: str, asset: str, amount: str, tx: str) -> str:
    return cmd("deposit", account=account, asset=asset, amount=amount, tx=tx)


def test_deposit_credits_available_and_mirrors_custody(funded: Any) -> None:
    assert funded.state.balance("alice", "BTC") == 150_000_000
    assert funded.state.balance(CUSTODY, "BTC", "onchain") == -150_000_000
    assert core_state(funded.state).deposited["BTC"] == 150_000_000


def test_the_same_deposit_tx_twice_is_one_deposit_and_the_second_is_recorded_rejected(
    funded: Any,
) -> None:
    (event,) = funded.run(deposit("alice", "BTC", "150000000", "btc:1"))
    assert event.status == "rejected"
    assert event.reason == "deposit_tx_must_be_new"
    assert event.postings == ()
    assert funded.state.balance("alice", "BTC") == 150_000_000, "credited twice"


def test_the_first_deposit_opens_the_account(ledger: Any) -> None:
    ledger.run(cmd("asset", symbol="SOL", decimals=9), deposit("carol", "SOL", "5", "sol:1"))
    assert ledger.state.accounts["carol"] == "user"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (deposit("alice", "BTC", "0", "t0"), "amount_must_be_positive"),
        (deposit("alice", "BTC", "-5", "t0"), "amount_must_be_positive"),
        (deposit("alice", "DOGE", "5", "t0"), "unknown_asset"),
        (deposit("@fees", "BTC", "5", "t0"), "account_must_be_user_account"),
        (deposit("alice", "BTC", str(1 << 128), "t0"), "amount_must_be_below_limit"),
        (
            cmd("transfer", **{"from": "alice", "to": "bob", "asset": "BTC", "amount": "0"}),
            "amount_must_be_positive",
        ),
        (
            cmd("transfer", **{"from": "alice", "to": "nobody", "asset": "BTC", "amount": "1"}),
            "unknown_account",
        ),
        (
            cmd("transfer", **{"from": "nobody", "to": "alice", "asset": "BTC", "amount": "1"}),
            "unknown_account",
        ),
        (
            cmd("transfer", **{"from": "alice", "to": "@fees", "asset": "BTC", "amount": "1"}),
            "account_must_be_user_account",
        ),
        (
            cmd("transfer", **{"from": "alice", "to": "alice", "asset": "BTC", "amount": "1"}),
            "accounts_must_differ",
        ),
        (
            cmd(
                "transfer", **{"from": "alice", "to": "bob", "asset": "BTC", "amount": "150000001"}
            ),
            "insufficient_available_balance",
        ),
        (
            cmd("transfer", **{"from": "alice", "to": "bob", "asset": "XRP", "amount": "1"}),
            "unknown_asset",
        ),
        (
            cmd("withdraw", account="alice", asset="BTC", amount="150000001", address="a", id="w"),
            "insufficient_available_balance",
        ),
        (
            cmd("withdraw", account="bob", asset="BTC", amount="1", address="a", id="w"),
            "insufficient_available_balance",
        ),
        (
            cmd("withdraw", account="zed", asset="BTC", amount="1", address="a", id="w"),
            "unknown_account",
        ),
        (cmd("withdraw_complete", id="nope", tx="t"), "unknown_withdrawal"),
        (cmd("withdraw_cancel", id="nope"), "unknown_withdrawal"),
        (cmd("asset", symbol="BTC", decimals=8), "asset_must_be_new"),
        (cmd("account", id="alice"), "account_must_be_new"),
        (cmd("account", id="@me"), "account_must_be_user_account"),
        (cmd("clock", time="2026-11-24T15:59:59Z"), "time_must_not_decrease"),
        (
            deposit("alice", "BTC", "1", "t9")[:-1] + ',"ts":"2026-11-01T00:00:00Z"}',
            "time_must_not_decrease",
        ),
    ],
)
def test_a_rejected_command_changes_nothing_and_is_recorded_with_its_reason(
    funded: Any, line: str, reason: str
) -> None:
    before = state_digest(funded.state)
    seq = funded.state.seq
    (event,) = funded.run(line)
    assert (event.status, event.reason) == ("rejected", reason), event.detail
    assert event.seq == seq + 1, "a reject takes the next sequence number"
    assert event.postings == ()
    funded.state.seq = seq
    assert state_digest(funded.state) == before, "a rejected command changed the state"
    funded.state.seq = seq + 1


def test_withdraw_locks_then_complete_pays_out_from_custody(funded: Any) -> None:
    funded.run(
        cmd("withdraw", account="alice", asset="BTC", amount="1000", address="bc1q", id="w-1")
    )
    assert funded.state.balance("alice", "BTC") == 150_000_000 - 1000
    assert funded.state.balance("alice", "BTC", "locked_withdrawal") == 1000
    (event,) = funded.run(cmd("withdraw_complete", id="w-1", tx="btc:out"))
    assert event.status == "accepted"
    assert funded.state.balance("alice", "BTC", "locked_withdrawal") == 0
    assert funded.state.balance(CUSTODY, "BTC", "onchain") == -(150_000_000 - 1000)
    again = funded.run(cmd("withdraw_complete", id="w-1", tx="btc:out"))[0]
    assert again.reason == "withdrawal_must_be_pending"


def test_withdraw_cancel_returns_the_locked_funds(funded: Any) -> None:
    funded.run(
        cmd("withdraw", account="alice", asset="BTC", amount="1000", address="bc1q", id="w-1"),
        cmd("withdraw_cancel", id="w-1"),
    )
    assert funded.state.balance("alice", "BTC") == 150_000_000
    assert funded.state.balance("alice", "BTC", "locked_withdrawal") == 0
    (event,) = funded.run(
        cmd("withdraw", account="alice", asset="BTC", amount="1", address="b", id="w-1")
    )
    assert event.reason == "withdrawal_id_must_be_new"


def test_locked_withdrawal_funds_cannot_be_transferred(funded: Any) -> None:
    funded.run(
        cmd("withdraw", account="alice", asset="BTC", amount="150000000", address="b", id="w-1")
    )
    (event,) = funded.run(
        cmd("transfer", **{"from": "alice", "to": "bob", "asset": "BTC", "amount": "1"})
    )
    assert event.reason == "insufficient_available_balance"


def test_transfer_moves_available_between_users(funded: Any) -> None:
    funded.run(cmd("transfer", **{"from": "alice", "to": "bob", "asset": "BTC", "amount": "7"}))
    assert funded.state.balance("bob", "BTC") == 7
    assert funded.state.balance("alice", "BTC") == 150_000_000 - 7


def test_an_explicit_account_can_receive_a_transfer(funded: Any) -> None:
    funded.run(
        cmd("account", id="carol"),
        cmd("transfer", **{"from": "alice", "to": "carol", "asset": "BTC", "amount": "3"}),
    )
    assert funded.state.balance("carol", "BTC") == 3


def test_an_asset_opens_its_lending_pool(ledger: Any) -> None:
    ledger.run(cmd("asset", symbol="USDC", decimals=6))
    assert ledger.state.accounts["@lending:USDC"] == "system"


def test_ts_on_a_command_moves_the_clock(funded: Any) -> None:
    (event,) = funded.run(
        deposit("alice", "BTC", "1", "t2")[:-1] + ',"ts":"2026-11-24T17:00:00.250Z"}'
    )
    assert event.ts == funded.state.time
    assert funded.state.time % 1000 == 250


def test_wei_amounts_beyond_64_bits_are_exact(ledger: Any) -> None:
    big = str(10**30 + 7)
    ledger.run(cmd("asset", symbol="ETH", decimals=18), deposit("whale", "ETH", big, "eth:w"))
    assert ledger.state.balance("whale", "ETH") == 10**30 + 7


def test_submit_raises_a_typed_reject_after_recording_it(funded: Any) -> None:
    from exchange.errors import Rejected

    seq = funded.state.seq
    with pytest.raises(Rejected, match="insufficient_available_balance: bob has 0 BTC") as info:
        funded.submit(
            {"cmd": "transfer", "from": "bob", "to": "alice", "asset": "BTC", "amount": "1"}
        )
    assert info.value.reason == "insufficient_available_balance"
    assert funded.events()[-1].seq == seq + 1, "the reject is recorded"

"""Over random flows, every interest posting is zero-sum across accounts + the fee account,
the exchange's fee is never negative, the invariants hold after every event, and the
journal rebuilds the same pools."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from exchange.model import FEES
from exchange.replay import rebuild, state_digest

ACCOUNTS = ("a0", "a1", "a2", "a3")
ASSETS = ("USDC", "BTC")
HOUR = 3_600_000
START = 1_795_536_000_000  # 2026-11-24T16:00:00Z


def cmd(name: str, **fields: Any) -> str:
    return json.dumps({"cmd": name, **fields})


def iso(ms: int) -> str:
    from exchange.model import format_time

    text = format_time(ms)
    assert text is not None
    return text


PRICES = [
    cmd("index_price", asset="BTC", price="90000000000"),
    cmd("collateral_params", asset="BTC", weight="0.9"),
]
SETUP = [
    cmd("asset", symbol="USDC", decimals=6),
    cmd("asset", symbol="BTC", decimals=8),
    cmd("lending_pool", asset="USDC", fee="0.2"),
    cmd("lending_pool", asset="BTC", slope1="0.09", throttle="0.99"),
    cmd("clock", time=iso(START)),
    *PRICES,
    *[
        cmd("deposit", account=a, asset=asset, amount="1000000000", tx=f"seed-{a}-{asset}")
        for a in ACCOUNTS
        for asset in ASSETS
    ],
    cmd("borrow", account="a0", asset="USDC", amount="2000000000"),
]

amount = st.integers(min_value=1, max_value=3_000_000_000)
action = st.one_of(
    st.tuples(st.just("deposit"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amount),
    st.tuples(st.just("borrow"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amount),
    st.tuples(st.just("repay"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amount),
    st.tuples(st.just("redeem"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amount),
    st.tuples(st.just("lend"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amount),
    st.tuples(st.just("withdraw"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amount),
    st.tuples(
        st.just("auto_lend"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), st.booleans()
    ),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=HOUR // 2)),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=HOUR // 2)),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(action, min_size=1, max_size=30))
def test_interest_postings_are_zero_sum_and_the_fee_never_negative(
    ledger_factory: Any, actions: list[tuple[Any, ...]]
) -> None:
    ex = ledger_factory()
    ex.run(*SETUP)
    now = START
    for n, act in enumerate(actions):
        kind = act[0]
        if kind == "wait":
            now += act[1]
            ex.run(cmd("clock", time=iso(now)))
        elif kind == "deposit":
            ex.run(cmd("deposit", account=act[1], asset=act[2], amount=str(act[3]), tx=f"t{n}"))
        elif kind == "withdraw":
            ex.run(
                cmd(
                    "withdraw",
                    account=act[1],
                    asset=act[2],
                    amount=str(act[3]),
                    address="x",
                    id=f"w{n}",
                )
            )
        elif kind == "auto_lend":
            ex.run(cmd("auto_lend", account=act[1], asset=act[2], enabled=act[3]))
        else:
            ex.run(cmd(kind, account=act[1], asset=act[2], amount=str(act[3])))
    ex.run(cmd("clock", time=iso(now + 2 * HOUR)))
    events = ex.events()
    event(f"interest events: {min(sum(e.cmd == 'lending_interest' for e in events), 3)}+")
    for ev in events:
        if ev.cmd != "lending_interest":
            continue
        for asset in ASSETS:
            legs = [p for p in ev.postings if p[2] == asset and p[3] in ("lent", "borrowed")]
            if not legs:
                continue
            assert sum(p[4] for p in legs) == 0, f"seq {ev.seq}: {asset} interest not zero-sum"
            fee = sum(p[4] for p in legs if p[1] == FEES)
            assert fee >= 0, f"seq {ev.seq}: negative fee {fee}"
            paid = -sum(p[4] for p in legs if p[3] == "borrowed")
            assert paid > 0, f"seq {ev.seq}: interest event without interest"
    assert state_digest(rebuild(events)) == state_digest(ex.state), "rebuild differs"

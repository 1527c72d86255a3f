"""Random order streams: the invariants hold after every event, replay reproduces the state,
and the fast book agrees with the plain reference book."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching_venue import MARKETS, STEP, TICK, P, Venue

from exchange.matching import (
    Market,
    MarketKind,
    OrderBook,
    OrderRejected,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    matching_state,
)
from exchange.matching._reference import ReferenceBook
from exchange.replay import check_replay, rebuild, state_digest

ACCOUNTS = ("a", "b", "c")

order_ops = st.fixed_dictionaries(
    {
        "op": st.just("order"),
        "account": st.sampled_from(ACCOUNTS),
        "market": st.sampled_from(["BTC/USDC", "BTC-PERP"]),
        "side": st.sampled_from(["buy", "sell"]),
        "type": st.sampled_from(["limit", "limit", "limit", "market"]),
        "ticks": st.integers(-6, 6),
        "steps": st.integers(1, 40),
        "tif": st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
        "post_only": st.booleans(),
        "reduce_only": st.sampled_from([False, False, False, True]),
        "stp": st.sampled_from(["RejectTaker", "RejectMaker", "RejectBoth"]),
    }
)
cancel_ops = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["cancel", "cancel_all"]),
        "account": st.sampled_from(ACCOUNTS),
        "market": st.sampled_from(["BTC/USDC", "BTC-PERP"]),
        "id": st.integers(1, 40),
    }
)
streams = st.lists(st.one_of(order_ops, order_ops, cancel_ops), min_size=1, max_size=40)


def _busy_stream(seed: int, length: int) -> list[dict[str, Any]]:
    """A seeded stream dense with trades (hypothesis' own lists start small and simple):
    quotes around one price from three accounts, takers crossing, cancels of recent ids."""
    rng = random.Random(seed)
    ops: list[dict[str, Any]] = []
    for n in range(length):
        if rng.random() < 0.75:
            ops.append({
                "op": "order", "account": rng.choice(ACCOUNTS),
                "market": rng.choice(["BTC/USDC", "BTC-PERP"]),
                "side": rng.choice(["buy", "sell"]),
                "type": "market" if rng.random() < 0.1 else "limit",
                "ticks": rng.randint(-4, 4), "steps": rng.randint(1, 30),
                "tif": rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK"]),
                "post_only": rng.random() < 0.1, "reduce_only": rng.random() < 0.15,
                "stp": rng.choice(["RejectTaker", "RejectMaker", "RejectBoth"]),
            })  # fmt: skip
        else:
            ops.append({"op": rng.choice(["cancel", "cancel", "cancel", "cancel_all"]),
                        "account": rng.choice(ACCOUNTS),
                        "market": rng.choice(["BTC/USDC", "BTC-PERP"]),
                        "id": rng.randint(max(1, n - 10), n + 1)})  # fmt: skip
    return ops


busy = st.builds(_busy_stream, st.integers(0, 2**32), st.integers(10, 80))


def _command(op: dict[str, Any], venue: Venue | None = None) -> dict[str, Any]:
    if op["op"] == "cancel":
        order_id = op["id"]
        if venue is not None and order_id % 4:  # mostly one of the account's open orders
            book = matching_state(venue.state).books[op["market"]]
            mine = sorted(i for i, o in book.orders.items() if o.account == op["account"])
            if mine:
                order_id = mine[order_id % len(mine)]
        return {"cmd": "cancel", "account": op["account"], "market": op["market"], "id": order_id}
    if op["op"] == "cancel_all":
        return {"cmd": "cancel_all", "account": op["account"]}
    raw = {k: op[k] for k in ("account", "market", "side", "type", "tif", "stp")}
    raw.update(cmd="order", quantity=str(op["steps"] * STEP * 100))
    if op["post_only"] and op["type"] == "limit":
        raw["post_only"] = True
    if op["reduce_only"]:
        raw["reduce_only"] = True
    if op["type"] == "limit":
        raw["price"] = str(P + op["ticks"] * TICK)
    elif raw["tif"] == "GTC":
        raw["tif"] = "IOC"
    return raw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(streams, busy))
def test_random_streams_keep_the_invariants_and_replay_to_the_same_state(
    ops: list[dict[str, Any]],
) -> None:
    venue = Venue()  # asserts ledger + matching invariants after every event
    for who in ACCOUNTS:
        venue.fund(who, "USDC", 200_000_000_000)
        venue.fund(who, "BTC", 300_000_000)
    for op in ops:
        venue.apply(_command(op, venue))
    events = venue.events()
    report = check_replay(venue.state, events, venue.registry)
    assert report.ok, f"replay differs: {report}"
    rebuilt = rebuild(events, venue.registry)
    assert state_digest(rebuilt, venue.registry) == state_digest(venue.state, venue.registry)


def _market() -> Market:
    raw = MARKETS[2]
    return Market(
        "BTC/USDC", MarketKind.SPOT, "BTC", "USDC", 8, int(raw["tick_size"]),
        int(raw["step_size"]), 100_000, -100, 500,
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.lists(st.one_of(order_ops, cancel_ops), min_size=1, max_size=60), busy))
def test_fast_book_matches_the_reference_book(ops: list[dict[str, Any]]) -> None:
    fast, ref = OrderBook(_market()), ReferenceBook(_market())
    next_id = 1
    for op in ops:
        if op["op"] != "order":
            outcomes = []
            for book in (fast, ref):
                try:
                    book.cancel(op["id"])
                    outcomes.append("ok")
                except OrderRejected as rej:
                    outcomes.append(rej.code)
            assert outcomes[0] == outcomes[1], f"cancel {op['id']}: {outcomes}"
            continue
        args = (
            next_id,
            op["account"],
            Side.BUY if op["side"] == "buy" else Side.SELL,
            P + op["ticks"] * TICK,
            op["steps"] * STEP * 100,
            OrderType.LIMIT if op["type"] == "limit" else OrderType.MARKET,
            TimeInForce.IOC if op["type"] == "market" and op["tif"] == "GTC"
            else TimeInForce[op["tif"]],
            op["post_only"] and op["type"] == "limit",
            {"RejectTaker": SelfTradePrevention.REJECT_TAKER,
             "RejectMaker": SelfTradePrevention.REJECT_MAKER,
             "RejectBoth": SelfTradePrevention.REJECT_BOTH}[op["stp"]],
        )  # fmt: skip
        next_id += 1
        try:
            taker = fast.place(*args)
            got: Any = (
                [(m.order_id, q, p) for m, q, p in fast.fills],
                [m.order_id for m in fast.cancelled],
                taker.remaining,
                taker.resting,
            )
        except OrderRejected as rej:
            got = rej.code
        fast.fills.clear()
        fast.cancelled.clear()
        try:
            want: Any = ref.place(*args)
        except OrderRejected as rej:
            want = rej.code
        assert got == want, f"order {args}: fast {got}, reference {want}"
        snapshot = [
            (o.order_id, o.account, int(o.side), o.price, o.remaining)
            for o in fast.resting_orders()
        ]
        assert snapshot == ref.snapshot(), "resting orders differ"

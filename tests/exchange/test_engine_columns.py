"""The column-wise posting path (`post` of many legs, `post_columns`, `balances_of`) against
the plain leg-by-leg reference (`post_each`): same postings, same balances, same rejects and
bugs, same rollback, on random entries (duplicates, zero legs, unknown names, signs)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.engine import BULK_LEGS, Context, Exchange
from exchange.errors import LedgerBugError
from exchange.model import AMOUNT_LIMIT
from exchange.registry import build_registry

ACCOUNTS = [f"a{i}" for i in range(8)] + ["@fees", "@backstop"]
BUCKETS = ["available", "lent", "borrowed", "pnl_unsettled", "margin"]
SETUP = (
    '{"cmd":"asset","symbol":"BTC","decimals":8}',
    '{"cmd":"asset","symbol":"ETH","decimals":18}',
    '{"cmd":"clock","time":"2026-11-24T16:00:00Z"}',
)

Leg = tuple[str, str, str, int]


def _exchange(balances: dict[tuple[str, str, str], int]) -> Exchange:
    registry = build_registry(("exchange.core",))
    registry.command("bulk", lambda raw: raw["plan"], _run_plan)
    ex = Exchange(registry)
    for line in SETUP:
        assert ex.apply_line(line).accepted
    for account in ACCOUNTS:
        ex.state.accounts.setdefault(account, "system" if account.startswith("@") else "user")
    ex.state.balances.update(balances)
    return ex


def _run_plan(ctx: Context, plan: list[tuple[str, Any]]) -> None:
    """Each step: ("each", legs) | ("post", legs) | ("columns", (asset, legs, extra)) |
    ("read", (asset, legs, extra)): post_columns after balances_of of the same columns."""
    for how, arg in plan:
        if how == "each":
            ctx.post_each(*arg)
        elif how == "post":
            ctx.post(*arg)
        else:
            asset, legs, extra = arg
            accounts = [leg[0] for leg in legs]
            buckets = [leg[2] for leg in legs]
            if how == "read":
                before = ctx.balances_of(asset, accounts, buckets)
                assert before == [
                    ctx.balance(a, asset, b) for a, b in zip(accounts, buckets, strict=True)
                ]
            ctx.post_columns(asset, accounts, buckets, [leg[3] for leg in legs], *extra)


def _reference(plan: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    out = []
    for how, arg in plan:
        if how in ("columns", "read"):
            asset, legs, extra = arg
            arg = [(a, asset, b, x) for a, _, b, x in legs] + list(extra)
        out.append(("each", list(arg)))
    return out


def _nonzero(balances: dict[tuple[str, str, str], int]) -> dict[tuple[str, str, str], int]:
    """(a rollback drops a key that was 0 before; both paths do)"""
    return {k: v for k, v in balances.items() if v}


def _outcome(balances: dict[tuple[str, str, str], int], plan: list[tuple[str, Any]]) -> Any:
    ex = _exchange(balances)
    before = _nonzero(ex.state.balances)
    try:
        event = ex.apply({"cmd": "bulk", "plan": plan}, "bulk")
    except LedgerBugError as bug:
        assert _nonzero(ex.state.balances) == before, "a bug must roll the command back"
        message = str(bug)  # an unbalanced entry is named, not listed, on the column path
        return ("bug", "unbalanced entry" if message.startswith("unbalanced entry") else message)
    if event.status == "rejected":
        assert _nonzero(ex.state.balances) == before, "a reject must roll the command back"
        return ("rejected", event.reason, event.detail)
    return ("accepted", event.postings, ex.state.balances)


amounts = st.one_of(
    st.integers(-300, 300),
    st.just(0),
    st.sampled_from([AMOUNT_LIMIT - 1, -(AMOUNT_LIMIT - 1)]),
)
legs_st = st.tuples(
    st.sampled_from([*ACCOUNTS] * 6 + ["ghost"]),
    st.sampled_from(["BTC"] * 6 + ["ETH"] * 3 + ["XXX"]),
    st.sampled_from([*BUCKETS] * 4 + ["nowhere"]),
    amounts,
)
KEYS = [(a, s, b) for a in ACCOUNTS for s in ("BTC", "ETH") for b in BUCKETS]


@st.composite
def clean_legs(draw: st.DrawFn, n: int, *, distinct: bool = True) -> list[Leg]:
    """Legs on known names with amounts that keep every bucket's sign (mostly accepted);
    `distinct`: on n different keys (the column path proper, no leg-by-leg fallback)."""
    keys = (
        draw(st.permutations(KEYS))[:n]
        if distinct
        else draw(st.lists(st.sampled_from(KEYS), min_size=n, max_size=n))
    )
    sized = [draw(st.integers(0, 300)) for _ in keys]
    return [
        (a, s, b, -x if b == "borrowed" else x) for (a, s, b), x in zip(keys, sized, strict=True)
    ]


def _balanced(legs: list[Leg], fix: bool) -> list[Leg]:
    """Close each asset's sum on @backstop.capital (any sign), unless `fix` is off."""
    if not fix:
        return legs
    sums: dict[str, int] = {}
    for _, asset, _, x in legs:
        sums[asset] = sums.get(asset, 0) + x
    return legs + [("@backstop", a, "capital", -x) for a, x in sorted(sums.items()) if x]


@st.composite
def plans(draw: st.DrawFn) -> list[tuple[str, Any]]:
    plan: list[tuple[str, Any]] = []
    clean = draw(st.integers(0, 3)) > 0
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["post", "columns", "read", "each"]))
        n = draw(
            st.integers(BULK_LEGS + 1, BULK_LEGS + 40) if how == "post" else st.integers(1, 40)
        )
        legs = draw(clean_legs(n) if clean else st.lists(legs_st, min_size=n, max_size=n))
        fix = clean or draw(st.booleans())
        if how in ("columns", "read"):
            asset = "BTC" if clean else draw(st.sampled_from(["BTC", "BTC", "XXX"]))
            legs = [(a, asset, b, x) for a, _, b, x in legs]
            extra = draw(
                clean_legs(draw(st.integers(0, 3)), distinct=False)
                if clean
                else st.lists(legs_st, max_size=3)
            )
            whole = _balanced(legs + extra, fix)
            plan.append((how, (asset, legs, whole[len(legs) :])))
        else:
            plan.append((how, _balanced(legs, fix)))
    return plan


start_balances = st.dictionaries(
    st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(["BTC", "ETH"]), st.sampled_from(BUCKETS)),
    st.integers(0, 400),
    max_size=30,
).map(lambda d: {k: (-v if k[2] == "borrowed" else v) for k, v in d.items()})


@settings(max_examples=200, deadline=None)
@given(start_balances, plans())
def test_column_postings_equal_leg_by_leg_postings(
    balances: dict[tuple[str, str, str], int], plan: list[tuple[str, Any]]
) -> None:
    fast = _outcome(balances, plan)
    slow = _outcome(balances, _reference(plan))
    assert fast == slow, "the column path must post, reject and roll back as post_each does"


def test_a_read_then_a_posting_in_between_is_not_reused() -> None:
    ex = _exchange({("a1", "BTC", "available"): 100})

    def handler(ctx: Context, _: object) -> None:
        accounts, buckets = ["a1", "a2"], ["available", "available"]
        assert ctx.balances_of("BTC", accounts, buckets) == [100, 0]
        ctx.post_each(("a1", "BTC", "available", -40), ("a2", "BTC", "available", 40))
        ctx.post_columns("BTC", accounts, buckets, [-10, 10])

    ex.registry.command("read_then_post", lambda raw: None, handler)
    ex._commands = ex.registry.commands  # noqa: SLF001 - registered after construction
    assert ex.apply({"cmd": "read_then_post"}).accepted
    assert ex.state.balance("a1", "BTC") == 50, "the second entry must see the first one"
    assert ex.state.balance("a2", "BTC") == 50


def test_columns_of_different_lengths_are_a_bug() -> None:
    ex = _exchange({})
    ex.registry.command(
        "ragged", lambda raw: None, lambda ctx, _: ctx.post_columns("BTC", ["a1"], [], [1])
    )
    ex._commands = ex.registry.commands  # noqa: SLF001 - registered after construction
    with pytest.raises(LedgerBugError, match="columns differ in length"):
        ex.apply({"cmd": "ragged"})

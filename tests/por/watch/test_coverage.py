"""The watch's pure decision: per asset reserves (summed over chains) against the hour's
net liabilities; the baseline, then only the changes."""

from __future__ import annotations

from por.watch.coverage import CoverageTracker, coverage

NET = {"BTC": 100, "ETH": 50, "USDC": 0}


def test_reserves_of_an_asset_add_up_over_chains_and_equal_is_covered() -> None:
    lines = coverage(NET, {"ethereum": {"BTC": 60, "USDC": 1}, "solana": {"BTC": 40}})
    assert [(c.asset, c.reserves, c.short) for c in lines] == [
        ("BTC", 100, False),
        ("ETH", 0, True),
        ("USDC", 1, False),
    ]
    assert lines[1].to_json()["deficit"] == "50"
    assert "deficit" not in lines[0].to_json()


def test_an_asset_owing_nothing_is_covered_by_no_reserves() -> None:
    lines = coverage({"X": 0, "Y": -5}, {})
    assert not any(c.short for c in lines)


def test_the_first_judgement_is_a_baseline_then_only_changes() -> None:
    tracker = CoverageTracker()
    full = {"ethereum": {"BTC": 100, "ETH": 50}}
    first = tracker.judge(coverage(NET, full), {"block": 1})
    assert [e.kind for e in first] == ["covered"] and first[0].fields["block"] == 1
    assert tracker.judge(coverage(NET, full), {"block": 2}) == []
    short = tracker.judge(coverage(NET, {"ethereum": {"BTC": 99, "ETH": 50}}), {"block": 3})
    assert [(e.kind, e.fields["asset"], e.fields["deficit"]) for e in short] == [
        ("shortfall", "BTC", "1")
    ]
    still = tracker.judge(coverage(NET, {"ethereum": {"BTC": 10, "ETH": 50}}), {"block": 4})
    assert still == [], "a shortfall is reported once, not at every block"
    both = tracker.judge(coverage(NET, {"ethereum": {"BTC": 100, "ETH": 49}}), {"block": 5})
    assert [(e.kind, e.fields["asset"]) for e in both] == [
        ("recovered", "BTC"),
        ("shortfall", "ETH"),
    ]
    assert tracker.shortfalls == 2 and tracker.short == {"ETH"}


def test_a_baseline_that_is_short_reports_each_short_asset() -> None:
    tracker = CoverageTracker()
    events = tracker.judge(coverage(NET, {}), {})
    assert [(e.kind, e.fields["asset"]) for e in events] == [
        ("shortfall", "BTC"),
        ("shortfall", "ETH"),
    ]


def test_a_new_hour_with_lower_liabilities_recovers_an_asset() -> None:
    tracker = CoverageTracker()
    held = {"ethereum": {"BTC": 80, "ETH": 50}}
    tracker.judge(coverage(NET, held), {"hour": "h1"})
    events = tracker.judge(coverage({**NET, "BTC": 80}, held), {"hour": "h2"})
    assert [(e.kind, e.fields["asset"], e.fields["hour"]) for e in events] == [
        ("recovered", "BTC", "h2")
    ]


def test_a_watch_with_no_node_for_any_chain_holding_wallets_is_refused() -> None:
    import pytest

    from por.reserves.values import Wallet
    from por.watch import WatchConfig, WatchedHour, WatchInputError, run_watch

    hour = WatchedHour(
        snapshot_id="h",
        log_size=1,
        net_liabilities={"SOL": 1},
        wallets={"solana": (Wallet("solana", "x", ("SOL",), "hot"),)},
        assets={"ethereum": {}, "solana": {}},
        published={"solana": {"SOL": 0}},
        pins={"solana": 1},
        liabilities="pass",
    )
    config = WatchConfig("site", bytes(32), eth_rpc="http://127.0.0.1:9", once=True)
    with pytest.raises(WatchInputError, match="no node given"):
        run_watch(config, lambda e: None, load_hour=lambda _s, _k: hour)

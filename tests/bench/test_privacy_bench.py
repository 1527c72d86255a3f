"""The privacy bench cannot be blind: each linking attack finds the link it is built for on
a crafted unsplit list, the scoring credits and debits accounts as its docstring says, the
sibling leak counts single-account siblings only, the in-memory day cuts like the SQL
ledger, and on a small generated day the attacks link most accounts of the unsplit
publication and far fewer with pieces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench._day import hour_chunks, run_day
from bench._linking import (
    ATTACKS,
    HourLeaves,
    Links,
    parse_leaf_lines,
    score_pair,
    sibling_leaks,
)
from cli._demo_run import load_generator
from exchange.commandlog import run_lines
from exchange.export import SqlLedgerExport
from exchange.ledger import open_ledger

REPO = Path(__file__).resolve().parents[2]
DECIMALS = [8, 6]  # BTC, USDC
PRICES = [60_000_000_000, 1_000_000]
BTC, USD = 10**8, 10**6


def _hour(vectors: list[tuple[list[int], list[int]]], sid: str = "t") -> HourLeaves:
    """A leaf list of (equity, debt) vectors (BTC, USDC), tags made up, in the given order."""
    lines = [
        json.dumps(
            {
                "debt": [str(v) for v in debt],
                "equity": [str(v) for v in equity],
                "tag": f"{sid}{k}".encode().hex().ljust(64, "0"),
            }  # fmt: skip
        )
        for k, (equity, debt) in enumerate(vectors)
    ]
    return parse_leaf_lines(lines, sid, DECIMALS, PRICES, 6)


def _crowd(seed: int, n: int = 40) -> list[tuple[list[int], list[int]]]:
    """Other accounts: USDC balances spread far from the crafted ones, all changing hourly."""
    rng = np.random.default_rng(seed)
    return [([0, int(v)], [0, 0]) for v in rng.integers(10 * USD, 10_000 * USD, n)]


def _linked(links: Links, left: int, right: int) -> bool:
    return any(
        left in links.left[r].tolist() and right in links.right[r].tolist()
        for r in range(len(links))
    )


def test_exact_attack_links_an_unchanged_vector_unique_in_both_hours() -> None:
    a = _hour([([3 * BTC + 17, 5 * USD], [0, 0]), *_crowd(1)])
    b = _hour([*_crowd(2), ([3 * BTC + 17, 5 * USD], [0, 0])])
    assert _linked(ATTACKS["exact"](a, b), 0, 40)


def test_exact_attack_skips_a_vector_that_two_leaves_share() -> None:
    a = _hour([([BTC, 0], [0, 0]), ([BTC, 0], [0, 0])])
    b = _hour([([BTC, 0], [0, 0])])
    assert len(ATTACKS["exact"](a, b)) == 0


def test_rounded_attack_links_a_vector_that_moved_within_two_significant_digits() -> None:
    a = _hour([([123_456_789, 0], [0, 2_000 * USD]), *_crowd(1)])
    b = _hour([*_crowd(2), ([124_000_000, 0], [0, 2_040 * USD])])
    assert len(ATTACKS["exact"](a, b)) == 0
    assert _linked(ATTACKS["rounded2"](a, b), 0, 40)


def test_nearest_attack_links_a_vector_that_moved_across_a_rounding_boundary() -> None:
    a = _hour([([144 * BTC // 100, 0], [0, 0]), ([20 * BTC, 0], [0, 0]), *_crowd(1)])
    b = _hour([*_crowd(2), ([152 * BTC // 100, 0], [0, 0]), ([21 * BTC, 0], [0, 0])])
    assert not _linked(ATTACKS["rounded2"](a, b), 0, 40)
    assert _linked(ATTACKS["nearest"](a, b), 0, 40)
    assert _linked(ATTACKS["nearest"](a, b), 1, 41)


def test_nearest_attack_refuses_a_leaf_with_two_equally_near_candidates() -> None:
    a = _hour([([100 * BTC, 0], [0, 0])])
    b = _hour([([99 * BTC, 0], [0, 0]), ([101 * BTC, 0], [0, 0])])
    assert len(ATTACKS["nearest"](a, b)) == 0


def test_group_sum_attack_links_a_leaf_to_the_two_pieces_it_was_split_into() -> None:
    a = _hour([([7 * BTC + 3, 900 * USD + 1], [0, 0]), *_crowd(1)])
    b = _hour([*_crowd(2), ([2 * BTC + 1, 0], [0, 0]), ([5 * BTC + 2, 900 * USD + 1], [0, 0])])
    links = ATTACKS["groupsum"](a, b)
    assert _linked(links, 0, 40) and _linked(links, 0, 41)


def test_group_sum_attack_links_three_pieces_to_two() -> None:
    pieces_t = [([BTC + 1, 0], [0, 0]), ([2 * BTC + 2, 0], [0, 0]), ([4 * BTC + 4, 0], [0, 0])]
    pieces_next = [([35 * BTC // 10 + 5, 0], [0, 0]), ([35 * BTC // 10 + 2, 0], [0, 0])]
    a = _hour([*pieces_t, *_crowd(1)])
    b = _hour([*_crowd(2), *pieces_next])
    links = ATTACKS["groupsum"](a, b)
    pairs = zip(links.left.tolist(), links.right.tolist(), strict=True)
    groups = [([x for x in lk if x >= 0], [y for y in rk if y >= 0]) for lk, rk in pairs]
    assert ([0, 1, 2], [40, 41]) in groups


def test_group_round_attack_links_a_leaf_to_two_pieces_of_a_slightly_grown_claim() -> None:
    a = _hour([([123_400_000, 555_000_000], [0, 0]), *_crowd(1)])
    b = _hour(
        [*_crowd(2), ([23_410_000, 155_040_000], [0, 0]), ([100_000_000, 400_000_000], [0, 0])]
    )
    assert len(ATTACKS["groupsum"](a, b)) == 0  # the sum grew: not exact
    links = ATTACKS["groupround"](a, b)
    assert _linked(links, 0, 40) and _linked(links, 0, 41)


def test_group_attacks_do_not_pair_up_two_accounts_that_each_barely_changed() -> None:
    a = _hour([([5 * BTC, 0], [0, 0]), ([0, 7_000 * USD], [0, 0])])
    b = _hour([([5 * BTC + 100_000, 0], [0, 0]), ([0, 7_000 * USD + 500_000], [0, 0])])
    assert len(ATTACKS["groupround"](a, b)) == 0  # {0, 1} -> {0, 1} would be wrong
    assert _linked(ATTACKS["rounded2"](a, b), 0, 0)


def test_largest_attack_follows_the_largest_btc_leaf_whose_other_assets_changed() -> None:
    a = _hour([([500 * BTC, 0], [0, 0]), ([50 * BTC, 0], [0, 0]), *_crowd(1)])
    b = _hour([*_crowd(2), ([515 * BTC, 0], [0, 3_000_000 * USD]), ([80 * BTC, 9], [0, 0])])
    assert not _linked(ATTACKS["nearest"](a, b), 0, 40)  # another non-zero pattern
    assert _linked(ATTACKS["largest"](a, b), 0, 40)


def test_an_account_is_linked_by_a_correct_assertion_unless_wrong_ones_outnumber_it() -> None:
    owner_a = np.array([0, 1, 2, -1])
    owner_b = np.array([0, 1, 2, 2])
    # 0->0 right; 1->1 right; 1->2 and 2->1 wrong for accounts 1 and 2; 2->0 wrong for 2 and 0
    links = Links.pairs(np.array([0, 1, 1, 2, 2]), np.array([0, 1, 2, 1, 0]))
    score = score_pair({"x": links}, owner_a, owner_b, np.array([0, 1, 2]), 3)
    # account 0: 1 right, 1 wrong: linked (ties go to the attacker); account 1: 1 right,
    # 2 wrong: not linked; account 2: nothing right
    assert score.linked.tolist() == [0]
    assert score.per_attack["x"] == (5, 2, 1)


def test_an_attack_that_links_an_account_alone_is_credited_whatever_the_others_say() -> None:
    owner_a = np.array([0, 1, 2])
    owner_b = np.array([0, 1, 2])
    noisy = Links.pairs(np.array([0, 0, 1]), np.array([1, 2, 0]))  # only wrong about 0
    clean = Links.pairs(np.array([0]), np.array([0]))
    score = score_pair({"noisy": noisy, "clean": clean}, owner_a, owner_b, np.array([0, 1]), 3)
    assert score.linked.tolist() == [0]  # account 1: nothing right; account 2: not counted
    assert score.per_attack["clean"] == (1, 1, 1)
    assert score.per_attack["noisy"] == (3, 0, 0)


def test_a_filler_in_an_assertion_makes_it_wrong() -> None:
    owner_a = np.array([0, -1])
    owner_b = np.array([0, 0])
    links = Links(np.array([[0, 1, -1]]), np.array([[0, -1, -1]]))
    score = score_pair({"g": links}, owner_a, owner_b, np.array([0]), 1)
    assert score.linked.size == 0


def test_sibling_leak_counts_a_sibling_of_one_other_account_as_its_share() -> None:
    # leaves: A(10) B(30) | B(10) filler | C(5) C(5) | A(0 zero piece) D(40)
    owner = np.array([0, 1, 1, -1, 2, 2, 0, 3])
    usd = np.array([10.0, 30.0, 10.0, 0.0, 5.0, 5.0, 0.0, 40.0])
    leaks = sibling_leaks(owner, usd, usd > 0)
    # A@0: sibling B 30/40 = 0.75; then {B10, filler} one account B: 10/40; max 0.75
    # B@1: sibling A 10/10 = 1.0
    # B@2: sibling filler 0; sibling block {A10, B30} mixes: 0; block {C,C,A0,D}: mixes: 0
    # C@4: sibling is C itself (own); {A0, D}: only D non-zero: 40/40 = 1.0
    # A@6 (zero piece): sibling D: 1.0; D@7: sibling zero leaf: 0, {C, C}: 10/10 = 1.0
    assert leaks.tolist() == [0.75, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]


def test_sibling_leak_refuses_a_leaf_count_that_is_not_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        sibling_leaks(np.zeros(3, np.int64), np.zeros(3), np.zeros(3, bool))


def test_the_in_memory_day_cuts_every_hour_like_the_sql_ledger(tmp_path: Path) -> None:
    gen = load_generator()
    day = gen.generate_day(accounts=40, hours=3)
    lines = list(gen.config_lines()) + list(day.lines)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", create=True)
    exchange = ledger.load()
    chunks = hour_chunks(lines, gen, 3)
    export = SqlLedgerExport(ledger.engine)
    for chunk, (boundary, source) in zip(chunks, run_day(gen, lines, 3), strict=True):
        run_lines(exchange, (line.encode() for line in chunk), "day", batch=5000)
        with source.cut(boundary) as mine, export.cut(boundary) as sql:
            assert mine.seq == sql.seq and mine.time_ms == sql.time_ms
            assert mine.assets() == sql.assets()
            funded = {a: list(v) for a, v in mine.claims() if any(v)}
            assert funded == {a: list(v) for a, v in sql.claims() if any(v)}
            assert len(funded) > 10
            assert mine.customer_totals() == sql.customer_totals()
            assert mine.system_balances() == sql.system_balances()
            assert mine.custody() == sql.custody()
            assert mine.in_flight() == sql.in_flight()
            assert mine.index_prices() == sql.index_prices()
    ledger.engine.dispose()


def test_the_attacks_link_most_of_a_small_unsplit_day_and_far_fewer_split_ones() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "privacy.py"), "--accounts", "60", "--hours", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    got = dict(field.split("=", 1) for field in lines[0].split())
    assert got["accounts"] == "60" and got["hours"] == "3"
    assert float(got["unsplit_linked_share"]) > 0.5
    assert float(got["linked_share"]) < float(got["unsplit_linked_share"]) / 2
    assert float(got["unsplit_sibling_leak"]) > float(got["sibling_leak"])
    assert float(got["pieces_per_account"]) >= 3
    assert "unsplit exact: assertions=" in done.stderr


def test_the_bench_attacks_a_site_that_por_demo_published(tmp_path: Path) -> None:
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "demo",
            "--out",
            str(tmp_path),
            "--accounts",
            "40",
            "--hours",
            "2",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "privacy.py"), "--from-site", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = dict(field.split("=", 1) for field in done.stdout.split())
    assert got["hours"] == "2"
    assert 0 <= float(got["linked_share"]) < 1 and 0 <= float(got["sibling_leak"]) < 1
    assert float(got["pieces_per_account"]) > 1  # the demo publishes pieces
    assert "site nearest: assertions=" in done.stderr

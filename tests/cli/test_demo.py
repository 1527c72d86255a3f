"""`por demo`'s sample data: reproducible files, a day the engine accepts, bad input.

The demo itself runs end to end in tests/test_end_to_end.py.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli._demo_run import _split_hours, load_generator
from cli.main import cli
from exchange.engine import Exchange, MemoryJournal
from exchange.invariants import check_state
from exchange.model import Event, is_system_account
from exchange.registry import default_registry

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data"


def test_every_committed_sample_file_is_what_the_seeded_generator_writes() -> None:
    gen = load_generator()
    for name, text in gen.render().items():
        committed = (SAMPLE / name).read_text(encoding="utf-8")
        assert committed == text, f"sample_data/{name} differs: run python sample_data/generate.py"


def test_the_demo_keys_are_marked_demo_only_and_derive_the_listed_wallets() -> None:
    keys = json.loads((SAMPLE / "demo-keys.json").read_text(encoding="utf-8"))
    assert keys["WARNING"].startswith("DEMO ONLY"), "the committed keys must say they are public"
    wallets = json.loads((SAMPLE / "wallets.json").read_text(encoding="utf-8"))["wallets"]
    for chain in ("ethereum", "solana"):
        listed = [w["address"] for w in wallets if w["chain"] == chain]
        assert listed == list(keys[chain]), f"{chain} wallets and keys must match one to one"


@dataclass
class _Day:
    exchange: Exchange
    journal: MemoryJournal
    commands: list[Event]
    crash_at_ms: int
    slices: list[tuple[int, int]]  # (book slice quantity, 10 % of the position before it)


@pytest.fixture(scope="module")
def generated_day() -> _Day:
    """A generated day of 200 accounts over 4 hours (crash included), run once for the
    tests below; the liquidation job's book slices are compared with 10 % of the position
    they cut as they happen."""
    from exchange.matching import matching_state

    gen = load_generator()
    day = gen.generate_day(accounts=200, hours=4)
    journal = MemoryJournal()
    exchange = Exchange(default_registry(), journal=journal)
    slices: list[tuple[int, int]] = []
    movers = ("book", "adl", "backstop_lp")  # stages that move a perp position

    def check_slices(event: Event) -> None:
        if event.cmd != "liquidation" or not event.data:
            return
        ms = matching_state(exchange.state)
        steps = event.data["steps"]
        moves = collections.Counter(s["account"] for s in steps if s["stage"] in movers)
        for step in steps:
            if step["reason"] != "close_through_book" or not step["filled"]:
                continue
            if moves[step["account"]] != 1:
                continue  # other steps moved the position too: not this check's
            step_size = ms.books[step["market"]].market.step_size
            pos = ms.positions[(step["account"], step["market"])]
            before = abs(pos.size) + step["filled"]
            want = -(-before // 10)
            want = min(-(-want // step_size) * step_size, before // step_size * step_size)
            slices.append((step["quantity"], want))

    exchange.after_event.append(check_slices)
    commands = [exchange.apply_line(line) for line in gen.config_lines() + day.lines]
    exchange.flush()
    return _Day(exchange, journal, commands, day.crash_at_ms, slices)


def test_a_generated_day_is_accepted_with_few_rejects_and_liquidates_in_the_crash(
    generated_day: _Day,
) -> None:
    exchange, journal, commands = (
        generated_day.exchange,
        generated_day.journal,
        generated_day.commands,
    )
    rejected = collections.Counter(e.reason for e in commands if e.status != "accepted")
    assert sum(rejected.values()) <= len(commands) // 100, f"too many rejects: {rejected}"
    assert "price_must_be_known" not in rejected, "prices must come before orders"
    assert not any(r.startswith("margin") or r.startswith("insufficient") for r in rejected), (
        f"the generator must not overspend: {rejected}"
    )
    crash_at = generated_day.crash_at_ms
    crash = [e for e in journal.events if e.cmd == "liquidation" and e.ts >= crash_at]
    assert len(crash) >= 5, "the BTC crash must liquidate leveraged accounts"
    assert check_state(exchange.state, exchange.registry) == [], "ledger invariants must hold"


def test_the_onchain_file_holds_exactly_the_ledgers_custody_at_every_hour() -> None:
    gen = load_generator()
    day = gen.generate_day(accounts=120, hours=3)
    exchange = Exchange(default_registry(), journal=MemoryJournal())
    lines = list(gen.config_lines()) + list(day.lines)
    held: dict[str, dict[str, int]] = collections.defaultdict(lambda: collections.defaultdict(int))
    for row in map(json.loads, day.onchain):
        held[row["before"]][row["asset"]] += int(row["balance"])
    for h, chunk in enumerate(_split_hours(lines, gen, 3), start=1):
        for line in chunk[:-1]:  # everything before the hour's closing clock line
            exchange.apply_line(line)
        custody = collections.Counter()
        for (account, asset, _bucket), amount in exchange.state.balances.items():
            if account == "@custody":
                custody[asset] -= amount
        assert dict(held[gen.iso(gen.hour_ms(h))]) == {a: custody[a] for a, _ in gen.ASSETS}, (
            f"hour {h}: wallets must hold what was deposited minus what was paid out"
        )
        exchange.apply_line(chunk[-1])
    users = {a for a in exchange.state.accounts if not is_system_account(a)}
    assert len([u for u in users if u.startswith("u")]) <= 120


def test_demo_refuses_a_database_that_already_holds_a_ledger(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'used.db'}"
    log = tmp_path / "one.jsonl"
    log.write_text('{"cmd":"asset","symbol":"BTC","decimals":8}\n', encoding="utf-8")
    assert CliRunner().invoke(cli, ["exchange", "run", str(log), "--db", db]).exit_code == 0
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "o"), "--db", db, "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().endswith("already holds a ledger; give an empty database")
    assert len(result.stderr.strip().splitlines()) == 1, "one line, no traceback"


def test_demo_help_ends_with_examples() -> None:
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "--insolvent" in result.output


def test_the_demo_crash_slices_ten_percent_and_leaves_no_idle_balance(
    generated_day: _Day,
) -> None:
    """Issue 21: the crash's book slices are 10 % of the position (rounded up to the step,
    at most the position), and at the end of the day no account that auto-lends holds an
    idle `available` balance of a lendable asset (other than borrowed cash)."""
    from exchange.lending import lending_state

    slices = generated_day.slices
    assert len(slices) >= 5, "the crash must slice positions through the book"
    assert all(q == want for q, want in slices), f"slices are not 10 %: {slices[:5]}"
    state = generated_day.exchange.state
    ls = lending_state(state)
    idle = [
        (account, asset, amount)
        for (account, asset, bucket), amount in state.balances.items()
        if bucket == "available" and amount > 0 and not is_system_account(account)
        and ls.auto_lends(account, asset)
        and amount > -state.balance(account, asset, "borrowed")
    ]  # fmt: skip
    assert idle == [], f"idle balances of accounts that auto-lend: {idle[:5]}"

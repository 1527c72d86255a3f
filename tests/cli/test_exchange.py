"""`por exchange`: run, state, account, check, replay --check — exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "commands.jsonl"


def por(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"traceback: {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


def test_sample_log_runs_checks_and_replays(db_url: str) -> None:
    commands = sum(1 for line in SAMPLE.read_text().splitlines() if line.strip())
    code, out, err = por("exchange", "run", str(SAMPLE), "--db", db_url)
    assert code == 0, err
    assert f"applied {commands} commands" in out
    seq = int(out.rsplit("journal at seq ", 1)[1])  # commands plus the jobs they triggered
    assert seq >= commands
    code, out, err = por("exchange", "check", "--db", db_url)
    assert (code, err) == (0, ""), err
    assert out.startswith(f"ok: {seq} events")
    code, out, err = por("exchange", "replay", "--check", "--db", db_url)
    assert code == 0, err
    assert "matches" in out


def test_a_bad_line_7_stops_with_file_line_reason_and_keeps_lines_1_to_6(
    db_url: str, tmp_path: Path
) -> None:
    lines = SAMPLE.read_text().splitlines()[:10]
    lines[6] = lines[6].replace('"amount":"', '"amount":1.5,"x":"')
    log = tmp_path / "bad.jsonl"
    log.write_text("\n".join(lines) + "\n")
    code, out, err = por("exchange", "run", str(log), "--db", db_url, "--batch", "4")
    assert code == 2
    assert err.strip() == (
        f"{log}:7: field 'amount' must be a decimal string in the smallest unit, got a JSON number"
    )
    code, out, _ = por("exchange", "state", "--json", "--db", db_url)
    assert code == 0
    assert json.loads(out)["seq"] == 6, "lines 1-6 must be committed, line 7 not"


def test_state_prints_human_units_and_json_prints_smallest_units(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    log = tmp_path / "l.jsonl"
    log.write_text(
        '{"cmd":"asset","symbol":"BTC","decimals":8}\n'
        '{"cmd":"deposit","account":"alice","asset":"BTC","amount":"150000000","tx":"t"}\n'
    )
    assert por("exchange", "run", str(log), "--db", db)[0] == 0
    code, out, _ = por("exchange", "state", "--account", "alice", "--db", db)
    assert code == 0
    assert out.splitlines()[1].split() == ["alice", "BTC", "available", "1.5"]
    code, out, _ = por("exchange", "state", "--account", "alice", "--json", "--db", db)
    assert json.loads(out)["balances"] == {"alice": {"BTC": {"available": "150000000"}}}
    code, out, _ = por("exchange", "account", "alice", "--json", "--db", db)
    doc = json.loads(out)
    assert doc["events"][0]["postings"] == [
        {"asset": "BTC", "bucket": "available", "amount": "150000000"}
    ]
    code, _, err = por("exchange", "account", "mallory", "--db", db)
    assert (code, err.strip()) == (2, "por exchange: unknown account 'mallory'")


def test_check_and_replay_fail_with_exit_1_on_a_tampered_balances_table(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    assert por("exchange", "run", str(SAMPLE), "--db", db)[0] == 0
    engine = sa.create_engine(db)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE balances SET amount = '1' WHERE account = 'user0001'")
    engine.dispose()
    code, _, err = por("exchange", "check", "--db", db)
    assert code == 1
    assert "violated: balances table user0001" in err
    code, _, err = por("exchange", "replay", "--check", "--db", db)
    assert code == 1
    assert "replayed state differs" in err


@pytest.mark.parametrize("sub", ["state", "check", "replay"])
def test_reading_a_missing_ledger_is_one_line_and_exit_2(sub: str, tmp_path: Path) -> None:
    code, out, err = por("exchange", sub, "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "no ledger database" in err


def test_an_unreadable_log_is_exit_2(tmp_path: Path) -> None:
    code, _, err = por("exchange", "run", str(tmp_path / "absent.jsonl"), "--db",
                       f"sqlite:///{tmp_path / 'l.db'}")  # fmt: skip
    assert code == 2
    assert "cannot read" in err


@pytest.mark.parametrize("sub", ["run", "state", "account", "check", "replay"])
def test_every_help_ends_with_examples(sub: str) -> None:
    code, out, _ = por("exchange", sub, "--help")
    assert code == 0
    assert "Examples:" in out


def test_the_sample_log_is_rejected_only_where_it_means_to_be() -> None:
    """The sample's rejects are its deliberate bad commands (reused tx, overdraft, zero
    amount, off-tick or tiny orders, a cancel of an order that already filled), not orders
    that the generator forgot to give a price or margin to."""
    from collections import Counter

    from exchange.engine import Exchange, MemoryJournal
    from exchange.registry import default_registry

    ex = Exchange(default_registry(), journal=MemoryJournal())
    events = ex.apply_lines(SAMPLE.read_text().splitlines())
    rejects = Counter(e.reason for e in events if not e.accepted)
    deliberate = {
        "deposit_tx_must_be_new", "insufficient_available_balance", "amount_must_be_positive",
        "price_not_on_tick", "notional_below_minimum", "unknown_order",
    }  # fmt: skip
    assert set(rejects) <= deliberate, rejects
    orders = sum(1 for e in events if e.cmd == "order" and e.accepted)
    assert orders >= 150, f"only {orders} orders accepted"

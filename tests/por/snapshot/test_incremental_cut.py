"""The incremental cut: the previous hour's kept claims and what the ledger says changed
since give, hour after hour, the same leaves and answers as reading the whole cut (issue
19: "same leaves to the unit as the full recomputation, after random ledgers, on SQLite and
PostgreSQL"); whatever makes the kept claims unusable makes a full read, never a failure.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exchange.export import SqlLedgerExport
from exchange.ledger import PersistedLedger
from exchange.model import format_time
from por.snapshot import take_snapshot
from por.snapshot.cut_claims import read_claims
from por.snapshot.run import CutData, read_cut, write_cut_claims
from por.snapshot.source import IncrementalLedgerCut, LedgerChanges
from tests.exchange.test_claims import START_MS, build, cmd, random_log

SECRET = bytes(range(32))
HOUR = 3_600_000
HOURS = [START_MS + h * HOUR for h in (1, 2, 3)]


def sid(boundary_ms: int) -> str:
    return format_time(boundary_ms)[:19] + "Z"


def without_new_assets(lines: list[str]) -> list[str]:
    """The random log without its SOL asset (commands in SOL are then rejected: the asset
    list stays the same every hour, so every hour after the first can be incremental)."""
    return [line for line in lines if '"symbol": "SOL"' not in line]


def rows(cut: CutData) -> list[tuple[str, bytes, bytes]]:
    batch = cut.leaves.batch
    return sorted(
        (batch.account_id(i), batch.nonce(i), batch.amounts[i].tobytes())
        for i in range(batch.count)
    )


def assert_same_cut(incremental: CutData, full: CutData) -> None:
    """Leaves to the unit (ids, nonces, limbs; the row order is free), their totals, and
    every answer of the cut."""
    assert rows(incremental) == rows(full)
    a, b = incremental.leaves, full.leaves
    assert (a.count, a.equity_totals, a.debt_totals, a.borrowers, a.borrower_collateral) == (
        b.count,
        b.equity_totals,
        b.debt_totals,
        b.borrowers,
        b.borrower_collateral,
    )
    for name in (
        "seq",
        "time_ms",
        "assets",
        "totals",
        "system",
        "custody_account",
        "custody",
        "in_flight",
        "prices",
        "price_decimals",
        "book",
    ):
        assert getattr(incremental, name) == getattr(full, name), f"{name} differs"


def hours(
    ledger: PersistedLedger, tmp: Path, boundaries: list[int]
) -> Iterator[tuple[int, CutData, CutData]]:
    """Each hour read in full (from the claims and from every posting, which must agree)
    and incrementally from the previous hour's kept claims (the first hour: from none);
    each hour keeps the claims of its incremental read, so errors would compound."""
    previous: Path | None = None
    for boundary in boundaries:
        full = read_cut(SqlLedgerExport(ledger.engine), boundary, sid(boundary), SECRET)
        reference = read_cut(
            SqlLedgerExport(ledger.engine, from_journal=True), boundary, sid(boundary), SECRET
        )
        assert_same_cut(full, reference)
        cut = read_cut(
            SqlLedgerExport(ledger.engine), boundary, sid(boundary), SECRET, previous=previous
        )
        yield boundary, cut, full
        write_cut_claims(cut, tmp / str(boundary))
        previous = tmp / str(boundary)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_hours_incremental_cut_equals_the_full_cut_after_random_ledgers(
    db_url: str, tmp_path: Path, seed: int
) -> None:
    ledger = build(db_url, without_new_assets(random_log(seed, 160)), seed)
    debts = withdrawals = changed = 0
    for boundary, cut, full in hours(ledger, tmp_path, HOURS):
        assert_same_cut(cut, full)
        if boundary != HOURS[0]:
            assert cut.basis.path == "incremental", cut.basis
            assert cut.basis.since_seq is not None and cut.basis.since_seq < cut.seq
            changed += cut.basis.changed
        debts += sum(debt for _, debt in cut.totals.values())
        withdrawals += sum(cut.in_flight.values())
    assert debts and withdrawals and changed, "debts, pending withdrawals and changes exercised"


def test_an_hour_with_no_change_and_one_with_new_accounts_only(db_url: str, tmp_path: Path) -> None:
    """A cut at the kept seq (nothing changed: the kept claims as they are), then accounts
    opened by command and by a first deposit: new rows, appended."""
    lines = [
        cmd("asset", symbol="BTC", decimals=8),
        cmd("clock", time=format_time(START_MS)),
        cmd("deposit", account="old", asset="BTC", amount="5", tx="a"),
        cmd("clock", time=format_time(HOURS[0])),
        cmd("clock", time=format_time(HOURS[1])),
        cmd("account", id="opened"),
        cmd("deposit", account="funded", asset="BTC", amount=str(10**30), tx="b"),
        cmd("clock", time=format_time(HOURS[2])),
    ]
    ledger = build(db_url, lines, 1)
    seen = []
    for _boundary, cut, full in hours(ledger, tmp_path, HOURS):
        assert_same_cut(cut, full)
        seen.append((cut.basis.path, cut.basis.changed, cut.leaves.count))
    assert seen == [("full", 0, 1), ("incremental", 0, 1), ("incremental", 2, 3)]


def test_a_borrower_who_did_not_trade_is_still_in_the_book(db_url: str, tmp_path: Path) -> None:
    """The book is over every borrower at the cut: one who borrowed in hour 1 and did
    nothing since is read because the kept claims name them (`watch`), valued at the new
    price (the ledger's own risk model, at this cut)."""
    lines = [
        cmd("asset", symbol="BTC", decimals=8),
        cmd("asset", symbol="ETH", decimals=18),
        cmd("lending_pool", asset="BTC"),
        cmd("clock", time=format_time(START_MS)),
        cmd("index_price", asset="BTC", price="100000000000"),
        cmd("index_price", asset="ETH", price="3000000000"),
        cmd("collateral_params", asset="ETH", weight="0.9"),
        cmd("deposit", account="lender", asset="BTC", amount="100000000", tx="1"),
        cmd("deposit", account="bob", asset="ETH", amount=str(2 * 10**18), tx="2"),
        cmd("account", id="carol"),
        cmd("borrow", account="bob", asset="BTC", amount="1000000"),
        cmd("transfer", **{"from": "bob", "to": "carol"}, asset="BTC", amount="1000000"),
        cmd("clock", time=format_time(HOURS[0])),
        cmd("index_price", asset="ETH", price="2000000000"),
        cmd("deposit", account="carol", asset="ETH", amount="7", tx="3"),
        cmd("clock", time=format_time(HOURS[1])),
    ]
    ledger = build(db_url, lines, 1)
    book = []
    for _boundary, cut, full in hours(ledger, tmp_path, HOURS[:2]):
        assert_same_cut(cut, full)
        assert cut.book is not None
        book.append((cut.basis.path, cut.book.accounts, cut.book.assets["ETH"][3]))
    assert book == [("full", 1, 5_400_000_000), ("incremental", 1, 3_600_000_000)]


# -- fallbacks: the kept claims unusable -> a full read, the same cut, and why ---------------
@pytest.fixture
def two_hours(tmp_path: Path) -> tuple[PersistedLedger, Path]:
    """A SQLite ledger and the kept claims of its first hour."""
    ledger = build(f"sqlite:///{tmp_path / 'l.db'}", without_new_assets(random_log(7, 120)), 7)
    first = read_cut(SqlLedgerExport(ledger.engine), HOURS[0], sid(HOURS[0]), SECRET)
    write_cut_claims(first, tmp_path / "prev")
    return ledger, tmp_path / "prev"


def second_hour(ledger: PersistedLedger, previous: Path, source: Any = None) -> CutData:
    source = source or SqlLedgerExport(ledger.engine)
    cut = read_cut(source, HOURS[1], sid(HOURS[1]), SECRET, previous=previous)
    full = read_cut(SqlLedgerExport(ledger.engine), HOURS[1], sid(HOURS[1]), SECRET)
    assert_same_cut(cut, full)
    return cut


def claims_dir(previous: Path) -> Path:
    return previous / "private" / "claims"


def test_the_kept_claims_untouched_make_an_incremental_cut(
    two_hours: tuple[PersistedLedger, Path],
) -> None:
    ledger, previous = two_hours
    assert second_hour(ledger, previous).basis.path == "incremental"


def test_a_tampered_claims_file_is_refused_by_its_digest(
    two_hours: tuple[PersistedLedger, Path],
) -> None:
    ledger, previous = two_hours
    path = claims_dir(previous) / "amounts.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    basis = second_hour(ledger, previous).basis
    assert (basis.path, basis.previous) == ("full", "prev")
    assert basis.reason is not None and "amounts.npy does not match the digest" in basis.reason


@pytest.mark.parametrize("name", ["claims.json", "ids.bin", "id_offsets.npy"])
def test_a_missing_claims_file_makes_a_full_cut(
    two_hours: tuple[PersistedLedger, Path], name: str
) -> None:
    ledger, previous = two_hours
    (claims_dir(previous) / name).unlink()
    basis = second_hour(ledger, previous).basis
    assert (
        basis.path == "full" and basis.reason is not None and f"{name} is missing" in basis.reason
    )


def test_a_previous_snapshot_without_kept_claims_makes_a_full_cut(
    two_hours: tuple[PersistedLedger, Path],
) -> None:
    ledger, previous = two_hours
    shutil.rmtree(claims_dir(previous))
    assert second_hour(ledger, previous).basis.path == "full"


def test_kept_claims_that_disagree_with_the_ledger_make_a_full_cut(
    two_hours: tuple[PersistedLedger, Path],
) -> None:
    """A kept row altered with a digest to match (a bug, or claims kept from another
    ledger): the ledger's own claims of a changed account at the kept cut differ."""
    ledger, previous = two_hours
    kept = read_claims(previous)
    changed = second_hour(ledger, previous).basis.changed
    assert changed
    with SqlLedgerExport(ledger.engine).cut(HOURS[1]) as cut:
        changes = cut.changes_since(kept.seq, ())
        assert changes is not None
        account = next(a for a, before, _ in changes.claims() if before is not None)
    ids = [
        kept.ids[int(kept.id_offsets[i]) : int(kept.id_offsets[i + 1])].decode()
        for i in range(kept.count)
    ]
    row = ids.index(account)
    amounts = kept.amounts.copy()
    amounts[row, 0, 0, 1] += np.uint64(1)
    _rewrite(previous, amounts)
    basis = second_hour(ledger, previous).basis
    assert basis.path == "full"
    assert basis.reason is not None and f"the kept claims of {account!r} differ" in basis.reason


def _rewrite(previous: Path, amounts: Any) -> None:
    """amounts.npy replaced, its digest in the record updated to match."""
    import hashlib

    directory = claims_dir(previous)
    np.save(directory / "amounts.npy", amounts, allow_pickle=False)
    record = json.loads((directory / "claims.json").read_text())
    record["files"]["amounts.npy"] = hashlib.sha256(
        (directory / "amounts.npy").read_bytes()
    ).hexdigest()
    (directory / "claims.json").write_text(json.dumps(record))


def test_kept_claims_of_another_ledger_make_a_full_cut(
    two_hours: tuple[PersistedLedger, Path],
) -> None:
    """The kept cut's time is not the time of this ledger's event at the kept seq."""
    ledger, previous = two_hours
    path = claims_dir(previous) / "claims.json"
    record = json.loads(path.read_text())
    record["time_ms"] += 1
    path.write_text(json.dumps(record))
    basis = second_hour(ledger, previous).basis
    assert basis.path == "full" and "not a cut of this ledger" in str(basis.reason)


def test_an_asset_added_between_the_hours_makes_a_full_cut(db_url: str, tmp_path: Path) -> None:
    lines = [
        cmd("asset", symbol="BTC", decimals=8),
        cmd("clock", time=format_time(START_MS)),
        cmd("deposit", account="a", asset="BTC", amount="5", tx="1"),
        cmd("clock", time=format_time(HOURS[0])),
        cmd("asset", symbol="ETH", decimals=18),
        cmd("deposit", account="a", asset="ETH", amount="6", tx="2"),
        cmd("clock", time=format_time(HOURS[1])),
    ]
    ledger = build(db_url, lines, 1)
    seen = [(cut.basis.path, cut.basis.reason) for _, cut, _ in hours(ledger, tmp_path, HOURS[:2])]
    assert seen[0] == ("full", None)
    assert seen[1][0] == "full" and "the assets changed" in str(seen[1][1])


def test_kept_claims_of_a_later_cut_make_a_full_cut(
    two_hours: tuple[PersistedLedger, Path], tmp_path: Path
) -> None:
    ledger, _ = two_hours
    later = read_cut(SqlLedgerExport(ledger.engine), HOURS[2], sid(HOURS[2]), SECRET)
    write_cut_claims(later, tmp_path / "later")
    basis = second_hour(ledger, tmp_path / "later").basis
    assert basis.path == "full" and "is after this one" in str(basis.reason)


class _WithoutChanges:
    """A source whose cuts offer only the `LedgerCut` protocol (another exchange's)."""

    def __init__(self, export: SqlLedgerExport) -> None:
        self.export = export

    @contextmanager
    def cut(self, boundary_ms: int) -> Iterator[Any]:
        with self.export.cut(boundary_ms) as cut:
            yield _Only(cut)


class _Only:
    def __init__(self, cut: Any) -> None:
        self._cut = cut

    def __getattr__(self, name: str) -> Any:
        if name == "changes_since":
            raise AttributeError(name)
        return getattr(self._cut, name)


def test_a_ledger_that_cannot_say_what_changed_is_read_in_full(
    two_hours: tuple[PersistedLedger, Path],
) -> None:
    ledger, previous = two_hours
    basis = second_hour(ledger, previous, _WithoutChanges(SqlLedgerExport(ledger.engine))).basis
    assert basis.path == "full" and "cannot say what changed" in str(basis.reason)
    reference = SqlLedgerExport(ledger.engine, from_journal=True)  # no claims table to read
    assert second_hour(ledger, previous, reference).basis.path == "full"


def test_the_export_offers_changes_on_its_maintained_cuts_only(db_url: str) -> None:
    ledger = build(db_url, without_new_assets(random_log(3, 60)), 3)
    with SqlLedgerExport(ledger.engine).cut(HOURS[1]) as cut:
        assert isinstance(cut, IncrementalLedgerCut)
        changes = cut.changes_since(0, ())
        assert isinstance(changes, LedgerChanges)
        assert cut.changes_since(cut.seq + 1, ()) is None, "a later cut is no base"
    with SqlLedgerExport(ledger.engine, from_journal=True).cut(HOURS[1]) as cut:
        assert cut.changes_since(0, ()) is None


# -- the whole snapshot ----------------------------------------------------------------------
def test_an_incremental_snapshot_is_the_full_snapshot(db_url: str, tmp_path: Path) -> None:
    """Same secret, same hour: the incremental and the full snapshot publish the same bytes
    and keep the same proof store and index (pieces follow the nonces, not the row order)."""
    ledger = build(db_url, without_new_assets(random_log(5, 120)), 5)
    source = SqlLedgerExport(ledger.engine)
    first = take_snapshot(source, sid(HOURS[0]), tmp_path / "a", secret=SECRET)
    full = take_snapshot(source, sid(HOURS[1]), tmp_path / "full", secret=SECRET)
    incremental = take_snapshot(
        source, sid(HOURS[1]), tmp_path / "inc", secret=SECRET, previous=first.directory
    )
    assert (first.basis.path, full.basis.path, incremental.basis.path) == (
        "full",
        "full",
        "incremental",
    )
    assert incremental.root == full.root and incremental.leaf_count == full.leaf_count

    def files(root: Path, under: str) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / under).rglob("*"))}

    for under in ("public", "private/index", "private/tree"):
        assert files(incremental.directory, under) == files(full.directory, under), under
    summary = json.loads((incremental.directory / "private" / "summary.json").read_text())
    assert summary["cut"] == {
        "path": "incremental",
        "previous": first.directory.name,
        "since_seq": first.cut_seq,
        "changed_accounts": incremental.basis.changed,
        "fallback_reason": None,
    }
    kept = read_claims(incremental.directory)
    assert kept.seq == incremental.cut_seq and kept.count == incremental.accounts

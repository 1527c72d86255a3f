"""Private files are private (issue 17, item 12): a snapshot's private/ tree (every account
id and nonce, the proof store, the secret) is 0600 files in 0700 directories whatever the
umask; a new SQLite ledger is 0600; a snapshot secret readable by others is refused, as
the signing key is."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.db import open_database
from exchange.export import SqlLedgerExport
from por.snapshot import SnapshotConfigError, read_secret, take_snapshot
from tests.por.snapshot.snapshot_ledger import AFTER, AT, BEFORE, make_ledger

SECRET = bytes(range(32))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest usual umask (022): new files 0644, new directories 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_snapshots_private_files_are_0600_in_0700_directories(
    tmp_path: Path, open_umask: None
) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", BEFORE + AFTER)
    result = take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET)
    private = result.directory / "private"
    index = private / "index"
    assert (index / "ids.bin").is_file() and (index / "nonces.bin").is_file()
    loose = [
        f"{p.relative_to(private)} {_mode(p):04o}"
        for p in [private, *private.rglob("*")]
        if _mode(p) != (0o700 if p.is_dir() else 0o600)
    ]
    assert loose == []
    public = result.directory / "public"
    assert _mode(public / "snapshot.json") == 0o644, "public files stay readable"


def test_a_new_sqlite_ledger_and_its_wal_are_0600(tmp_path: Path, open_umask: None) -> None:
    db = tmp_path / "exchange.db"
    make_ledger(f"sqlite:///{db}", BEFORE)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert "exchange.db" in made
    assert {p: f"{_mode(tmp_path / p):04o}" for p in made} == {p: "0600" for p in made}


def test_an_existing_ledger_file_keeps_the_mode_its_owner_gave_it(
    tmp_path: Path, open_umask: None
) -> None:
    db = tmp_path / "shared.db"
    open_database(f"sqlite:///{db}", create=True).dispose()
    db.chmod(0o640)
    open_database(f"sqlite:///{db}", create=True).dispose()
    assert _mode(db) == 0o640


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_snapshot_secret_readable_by_others_is_refused_like_the_signing_key(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "snapshot.secret"
    path.write_text(SECRET.hex() + "\n")
    path.chmod(mode)
    with pytest.raises(SnapshotConfigError, match=f"mode {mode:04o}; it must be 0600"):
        read_secret(path)


def test_a_0600_or_0400_snapshot_secret_is_read(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.secret"
    path.write_text(SECRET.hex() + "\n")
    for mode in (0o600, 0o400):
        path.chmod(mode)
        assert read_secret(path) == SECRET


def test_a_snapshot_secret_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.secret"
    real.write_text(SECRET.hex() + "\n")
    real.chmod(0o600)
    link = tmp_path / "link.secret"
    link.symlink_to(real)
    with pytest.raises(SnapshotConfigError, match="symbolic link"):
        read_secret(link)

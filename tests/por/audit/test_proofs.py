"""por.audit.proofs: `por verify proof`'s checks as a library (the CLI only prints them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from por.audit.errors import LogMismatchError
from por.audit.proofs import (
    check_account_hours,
    check_proof_file,
    check_proof_files,
    find_site_log,
    read_account_hours,
)
from por.audit.replica import LogReplica, read_entries_file
from por.errors import ProofError
from tests.por.audit.sitegen import make_site


def test_a_proof_whose_root_is_not_logged_holds_and_its_log_failure_is_in_the_report(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path / "site", 2)
    sid = site.hour_id(1)
    proof = str(site.write_proof(tmp_path / "p", sid, "bob"))
    manifest = str(site.bundle(sid) / "manifest.json")
    entries = site.root / "log" / "entries.jsonl"
    key = bytes.fromhex(site.public_key)
    report = check_proof_file(proof, manifest, key, str(entries))
    assert report.log is not None and (report.log.index, report.log.size) == (1, 2)
    assert report.log_error is None
    first_line = entries.read_bytes().splitlines(keepends=True)[0]
    short = tmp_path / "short.jsonl"
    short.write_bytes(first_line)  # the hour's entry is missing from this log
    report = check_proof_file(proof, manifest, key, str(short))
    assert report.log is None
    assert isinstance(report.log_error, LogMismatchError), report.log_error
    assert report.claim is None and report.document.snapshot_id == sid


def test_a_batch_under_another_key_fails_check_5_once_not_per_proof(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    sid = site.hour_id(0)
    proofs = [str(site.write_proof(tmp_path / n, sid, n)) for n in ("alice", "bob")]
    manifest = str(site.bundle(sid) / "manifest.json")
    good = check_proof_files(proofs, manifest, bytes.fromhex(site.public_key))
    assert [o.valid for o in good.outcomes] == [True, True]
    with pytest.raises(ProofError) as caught:
        check_proof_files(proofs, manifest, bytes(32))
    assert caught.value.check == 5


def test_an_account_s_hours_are_checked_before_the_log_is_read(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    dirs = []
    for sid in site.manifests:
        d = tmp_path / "hours" / sid.replace(":", "-")
        site.write_proof(d, sid, "carol")
        shutil.copy(site.bundle(sid) / "manifest.json", d / "manifest.json")
        dirs.append(str(d))
    hours = read_account_hours(list(reversed(dirs)))
    assert [h.proof.snapshot_id for h in hours] == sorted(site.manifests)
    entries = str(site.root / "log" / "entries.jsonl")
    report = check_account_hours(
        hours, bytes.fromhex(site.public_key), lambda: read_entries_file(entries)
    )
    assert report.log_error is None and sorted(report.logged.values()) == [0, 1]
    assert report.history.account_id == "carol"
    read: list[bool] = []

    def replica() -> LogReplica:
        read.append(True)
        return read_entries_file(entries)

    with pytest.raises(ProofError):
        check_account_hours(hours, bytes(32), replica)
    assert read == [], "the log is read only once every hour's proof holds"


def test_the_site_log_is_found_above_a_bundle_or_not_at_all(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    found = find_site_log(str(site.bundle(site.hour_id(0))))
    assert found is not None and Path(found) == site.root / "log" / "entries.jsonl"
    assert find_site_log(str(tmp_path / "elsewhere" / "bundle")) is None

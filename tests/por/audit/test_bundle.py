"""`verify_bundle_dir` on bundles the real publisher wrote, honest and tampered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from por.audit.bundle import BUNDLE_CHECKS, verify_bundle_dir
from por.audit.errors import AuditInputError
from por.errors import InputError
from por.operator.signing import generate
from tests.por.audit.published import Published


def statuses(report: object) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}  # type: ignore[attr-defined]


def key(p: Published) -> bytes:
    return bytes.fromhex(p.public_key)


def test_every_published_hour_passes_every_check_including_the_anchors(
    published: Published,
) -> None:
    for hour in range(3):
        report = verify_bundle_dir(
            published.bundle(hour),
            key(published),
            eth_rpc=published.eth_rpc,
            anchor_contract=published.anchor,
        )
        assert statuses(report) == {name: "pass" for name in BUNDLE_CHECKS}, report.checks


def test_a_bundle_under_another_pinned_key_fails_and_nothing_else_is_trusted(
    published: Published,
) -> None:
    report = verify_bundle_dir(published.bundle(), bytes.fromhex(generate().public_key_hex))
    assert statuses(report)["manifest"] == "fail"
    assert "expected pinned key" in report.checks[0].detail
    assert {s for n, s in statuses(report).items() if n != "manifest"} == {"skip"}


def test_a_changed_liability_file_fails_its_digest(published: Published, tmp_path: Path) -> None:
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle().name
    path = bundle / "liabilities.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"equity":["0"', b'"equity":["1"', 1))
    report = verify_bundle_dir(bundle, key(published))
    assert statuses(report)["files"] == "fail"
    assert "liabilities.jsonl: SHA-256" in next(
        c.detail for c in report.checks if c.name == "files"
    )


def test_an_extra_file_in_a_bundle_fails_the_file_check(
    published: Published, tmp_path: Path
) -> None:
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle().name
    (bundle / "note.txt").write_text("trust us")
    report = verify_bundle_dir(bundle, key(published))
    assert statuses(report)["files"] == "fail"
    assert "not in the signed list: ['note.txt']" in report.checks[1].detail


def test_a_bundle_whose_hour_is_not_in_the_log_fails_the_log_check(
    published: Published, tmp_path: Path
) -> None:
    site = published.copy(tmp_path / "site")
    entries = (site / "log" / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (site / "log" / "entries.jsonl").write_bytes(b"".join(entries[:1] + entries[2:]))
    report = verify_bundle_dir(site / "snapshots" / published.bundle(1).name, key(published))
    assert statuses(report)["log"] == "fail"
    assert "holds 2 entries, the signed head says 3" in report.checks[-2].detail


def test_the_anchor_of_another_manifest_fails(published: Published, tmp_path: Path) -> None:
    # hour 2's anchor holds hour 2's manifest hash: re-serialising its manifest (same
    # signature, other bytes) makes the bytes differ from what was anchored
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle(2).name
    doc = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps(doc))
    report = verify_bundle_dir(bundle, key(published), eth_rpc=published.eth_rpc)
    assert statuses(report)["manifest"] == "pass"
    assert statuses(report)["anchor"] == "fail"
    assert "is anchored with log size 3" in report.checks[-1].detail


def test_a_missing_bundle_directory_is_unreadable_input(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError, match="not a directory"):
        verify_bundle_dir(tmp_path / "nope", b"\0" * 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="manifest.json: cannot read"):
        verify_bundle_dir(tmp_path / "empty", b"\0" * 32)

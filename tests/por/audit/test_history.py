"""`verify_history` over a whole site the publisher wrote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from por.audit.history import verify_history
from tests.por.audit.published import Published


def site_checks(report: object) -> dict[str, str]:
    return {c.name: c.status for c in report.site_checks}  # type: ignore[attr-defined]


def test_the_whole_site_verifies_hour_by_hour_and_as_a_chain(published: Published) -> None:
    report = verify_history(str(published.site), bytes.fromhex(published.public_key))
    assert report.passed, [(c.name, c.detail) for b in report.bundles for c in b.failed]
    assert site_checks(report) == {"log": "pass", "bundles": "pass", "chain": "pass"}
    assert len(report.bundles) == 3


def test_a_logged_hour_whose_bundle_was_removed_fails(published: Published, tmp_path: Path) -> None:
    site = published.copy(tmp_path / "site")
    shutil.rmtree(site / "snapshots" / published.bundle(1).name)
    report = verify_history(str(site), bytes.fromhex(published.public_key))
    assert not report.passed and site_checks(report)["bundles"] == "fail"


def test_a_bundle_replaced_by_an_unlogged_one_breaks_the_log_and_the_chain(
    published: Published, tmp_path: Path
) -> None:
    site = published.copy(tmp_path / "site")
    head = json.loads((site / "log" / "head.json").read_text())
    head["size"] = 2
    (site / "log" / "head.json").write_text(json.dumps(head))
    report = verify_history(str(site), bytes.fromhex(published.public_key))
    assert site_checks(report) == {"log": "fail"}
    assert "signature" in report.site_checks[0].detail

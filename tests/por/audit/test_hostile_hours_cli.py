"""Issue 17, items 7 and 8 (history): `por verify bundle|history` on hours a dishonest or
broken site publishes: a manifest with a lone surrogate (`"\\ud800"`) or one that is not
JSON at all. One line, exit 1 or 2, never "internal error"; `verify history` reports the
bad hour and goes on with the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from tests.por.audit.published import HOURS, Published


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", *args])


def assert_clean_exit(result: Result, codes: tuple[int, ...], words: str = "") -> str:
    assert result.exit_code in codes, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0], lines[0]
    return lines[0]


EDITS = {
    "extra key": lambda text: text.rstrip()[:-1] + ',"\\ud800":"x"}\n',
    "extra value": lambda text: text.rstrip()[:-1] + ',"note":"a\\udfffb"}\n',
    "snapshot id": lambda text: text.replace('"snapshot_id": "', '"snapshot_id": "\\ud800', 1),
}


@pytest.mark.parametrize("where", sorted(EDITS))
def test_lone_surrogate_in_manifest_exits_cleanly(
    published: Published, tmp_path: Path, where: str
) -> None:
    site = published.copy(tmp_path / "site")
    manifest = site / "snapshots" / published.bundle(1).name / "manifest.json"
    text = manifest.read_text(encoding="utf-8")
    edited = EDITS[where](text)
    assert edited != text
    manifest.write_text(edited, encoding="ascii")
    key = ["--public-key", published.public_key]
    assert_clean_exit(run("bundle", str(manifest.parent), *key), (1, 2))
    assert_clean_exit(run("bundle", str(manifest.parent), *key, "--json"), (1, 2))
    history = run("history", str(site), *key)
    assert_clean_exit(history, (1,), "history: failed")


def test_history_reports_bad_hour_and_goes_on(published: Published, tmp_path: Path) -> None:
    site = published.copy(tmp_path / "site")
    bad = site / "snapshots" / published.bundle(1).name
    (bad / "manifest.json").write_bytes(b"this is not JSON\n")
    key = ["--public-key", published.public_key]
    result = run("history", str(site), *key)
    line = assert_clean_exit(result, (1,), "invalid: history: failed")
    assert bad.name in line, line
    assert f"{HOURS} hours, FAILED" in result.stdout, result.stdout
    rows = [r for r in result.stdout.splitlines() if "│" in r]
    passing = [r for r in rows if "PASS" in r and "2026-11-24T" in r]
    assert len(passing) == HOURS - 1, result.stdout  # the other hours were all checked
    assert any(bad.name in r and "FAIL" in r for r in rows), result.stdout
    assert "not JSON" in result.stdout
    report = json.loads(run("history", str(site), *key, "--json").stdout)
    assert report["valid"] is False
    hours = {h["snapshot_id"]: h["valid"] for h in report["hours"]}
    assert len(hours) == HOURS and sum(hours.values()) == HOURS - 1, hours

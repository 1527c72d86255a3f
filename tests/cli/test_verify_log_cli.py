"""`por verify log`: exit 0 while the log only grows, 1 on equivocation, 2 when unreadable."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from cli.main import cli
from tests.por.audit.sitegen import make_site


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", "log", *args])


def test_the_monitor_exits_zero_first_then_on_growth_and_says_what_it_saw(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    state = str(tmp_path / "state.json")
    args = ["--site", str(site.root), "--public-key", site.public_key, "--state", state]
    first = run(*args)
    assert first.exit_code == 0, first.stderr
    assert "first head remembered" in first.stdout and "2 entries" in first.stdout
    site.add_hour(2)
    grown = run(*args, "--json")
    assert grown.exit_code == 0, grown.stderr
    report = json.loads(grown.stdout)
    assert report["status"] == "extended", report
    assert (report["old"]["size"], report["new"]["size"]) == (2, 3)


def test_equivocation_exits_one_with_one_line_and_prints_both_signed_heads(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    state = str(tmp_path / "state.json")
    args = ["--site", str(site.root), "--public-key", site.public_key, "--state", state]
    assert run(*args).exit_code == 0
    other = make_site(tmp_path / "other", 0, key=site.key)
    for hour in range(3):
        other.add_hour(hour, seed=10 + hour)
    site.entries = other.entries
    site.write_log()
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.splitlines() == [
        "invalid: equivocation: two different roots for log size 3"
    ]
    assert result.stdout.startswith("old head: {") and "new head: {" in result.stdout
    again = run(*args, "--json")
    assert again.exit_code == 1
    report = json.loads(again.stdout)
    assert report["equivocation"] is True
    assert report["old_head"]["root"] != report["new_head"]["root"]


def test_a_missing_site_or_a_bad_key_is_a_usage_error(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    state = str(tmp_path / "state.json")
    missing = run(
        "--site", str(tmp_path / "nope"), "--public-key", site.public_key, "--state", state
    )
    assert missing.exit_code == 2 and "not a directory" in missing.stderr
    bad_key = run("--site", str(site.root), "--public-key", "abc", "--state", state)
    assert bad_key.exit_code == 2 and "64 hex" in bad_key.stderr
    (site.root / "log" / "head.json").unlink()
    no_head = run("--site", str(site.root), "--public-key", site.public_key, "--state", state)
    assert no_head.exit_code == 2 and "head.json: cannot read" in no_head.stderr


def test_log_help_ends_with_examples() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("por verify log")

"""Issue 17, items 4, 5 and 7 through the CLI: what `por verify` must refuse, in one line.

Weak and unpinned keys (`verify proof`), stale, future and backdated log heads
(`verify log --max-age`), and lone surrogates (`"\\ud800"`) in manifests and in the
unsigned `log/entries.jsonl`: exit 1 naming the check or exit 2, never "internal error",
and an equivocation stays an equivocation whatever the entries file holds.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from por._canonical import canonical_json
from por.builder.vectorgen import make_snapshot, random_accounts, write_snapshot
from tests.por.audit.sitegen import Site, make_site

IDENTITY = "01" + "00" * 31
TRIVIAL_SIGNATURE = IDENTITY + "00" * 32  # R = identity, S = 0: verifies under IDENTITY
TRUST_WARNING = "warning: --trust-manifest-key"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", *args])


def assert_clean_exit(result: Result, codes: tuple[int, ...], words: str = "") -> str:
    """Exit in `codes`, no traceback, no internal error, one error line (besides warnings
    and click's usage lines around a usage error's "Error: ..."); that line."""
    assert result.exit_code in codes, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    usage = ("warning: ", "Usage: ", "Try '")
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith(usage)]
    assert len(lines) == 1, result.stderr
    assert words in lines[0], lines[0]
    return lines[0]


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- item 4: weak keys, and a pinned key by default -----------------------------------------


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    vector, _ = make_snapshot("2026-12-01T00:00:00Z", random_accounts(random.Random(7), 4, 4))
    directory = tmp_path_factory.mktemp("snapshot")
    write_snapshot(directory, vector)
    forged = {k: v for k, v in vector["manifest"].items() if k != "signature"}
    forged["public_key"] = IDENTITY
    forged["signature"] = TRIVIAL_SIGNATURE
    (directory / "forged.json").write_bytes(canonical_json(forged))
    return directory, vector


def test_identity_point_key_is_refused(snapshot: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = snapshot
    args = ["proof", str(directory / "proofs/0.json"), "--manifest", str(directory / "forged.json")]
    unpinned = run(*args)
    assert_clean_exit(unpinned, (2,), "--public-key")
    trusted = run(*args, "--trust-manifest-key")
    line = assert_clean_exit(trusted, (1,), "check 5")
    assert "public_key" in line and "small order" in line, line
    assert trusted.stderr.startswith(TRUST_WARNING), trusted.stderr
    pinned = run(*args, "--public-key", IDENTITY)
    assert_clean_exit(pinned, (2,), "small order")


def test_verify_proof_needs_a_pinned_key_unless_told_to_trust_the_manifests(
    snapshot: tuple[Path, dict[str, Any]],
) -> None:
    directory, vector = snapshot
    key = vector["manifest"]["public_key"]
    proofs = [str(directory / "proofs/0.json"), str(directory / "proofs/1.json")]
    manifest = ["--manifest", str(directory / "manifest.json")]
    for args in ([proofs[0], *manifest], [*proofs, *manifest]):
        missing = run("proof", *args)
        assert_clean_exit(missing, (2,), "--public-key")
        assert "--trust-manifest-key" in missing.stderr
        trusted = run("proof", *args, "--trust-manifest-key")
        assert trusted.exit_code == 0, trusted.stderr
        assert trusted.stderr.splitlines()[0].startswith(TRUST_WARNING), trusted.stderr
        assert "not pinned" in trusted.stdout
        pinned = run("proof", *args, "--public-key", key)
        assert pinned.exit_code == 0 and pinned.stderr == "", pinned.stderr
    both = run("proof", proofs[0], *manifest, "--public-key", key, "--trust-manifest-key")
    assert_clean_exit(both, (2,), "not both")


# ---- item 7: lone surrogates in a manifest ---------------------------------------------------

SURROGATE_EDITS = {
    "extra key": lambda text: text[:-1] + ',"\\ud800":"x"}',
    "extra value": lambda text: text[:-1] + ',"note":"a\\ud800b"}',
    "nested extra key": lambda text: text[:-1] + ',"bundle":{"files":{"\\udfff":1}}}',
    "snapshot id": lambda text: text.replace('"snapshot_id":"', '"snapshot_id":"\\ud800', 1),
    "asset symbol": lambda text: text.replace('"symbol":"', '"symbol":"\\udbff', 1),
}


@pytest.mark.parametrize("where", sorted(SURROGATE_EDITS))
def test_lone_surrogate_in_manifest_exits_cleanly(
    snapshot: tuple[Path, dict[str, Any]], tmp_path: Path, where: str
) -> None:
    directory, vector = snapshot
    text = canonical_json(vector["manifest"]).decode()
    bad = tmp_path / "manifest.json"
    bad.write_text(SURROGATE_EDITS[where](text), encoding="ascii")
    key = ["--public-key", vector["manifest"]["public_key"]]
    proof = str(directory / "proofs/0.json")
    one = run("proof", proof, "--manifest", str(bad), *key)
    assert_clean_exit(one, (1, 2))
    batch = run("proof", proof, str(directory / "proofs/1.json"), "--manifest", str(bad), *key)
    assert_clean_exit(batch, (1, 2))
    hour = tmp_path / "hour"
    hour.mkdir()
    (hour / "manifest.json").write_bytes(bad.read_bytes())
    (hour / "proof.json").write_bytes(Path(proof).read_bytes())
    history = run("proof", "--history", str(hour), *key)
    assert_clean_exit(history, (1, 2))
    as_json = run("proof", proof, "--manifest", str(bad), *key, "--json")
    assert_clean_exit(as_json, (1, 2))


# ---- item 5: stale, future and backdated log heads -------------------------------------------


def monitor(site: Site, state: Path, *more: str) -> Result:
    return run(
        "log", "--site", str(site.root), "--public-key", site.public_key, "--state", str(state),
        *more,
    )  # fmt: skip


def test_verify_log_refuses_stale_head(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    state = tmp_path / "state.json"
    site.write_log(timestamp=utc(datetime.now(UTC) - timedelta(hours=5)))
    stale = monitor(site, state)
    line = assert_clean_exit(stale, (1,), "freshness")
    assert "--max-age" in line, line
    assert not state.exists(), "a refused head must not be remembered"
    assert monitor(site, state, "--max-age", "6h").exit_code == 0
    assert_clean_exit(monitor(site, state), (1,), "freshness")


def test_verify_log_refuses_a_frozen_head_from_2020(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 0)
    site.write_log(timestamp="2020-01-01T00:00:00Z")
    assert_clean_exit(monitor(site, tmp_path / "state.json"), (1,), "freshness")


def test_verify_log_refuses_a_head_dated_in_the_future(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    site.write_log(timestamp=utc(datetime.now(UTC) + timedelta(hours=2)))
    assert_clean_exit(monitor(site, tmp_path / "state.json"), (1,), "in the future")


def test_verify_log_refuses_backdated_extension(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    state = tmp_path / "state.json"
    assert monitor(site, state).exit_code == 0
    before = json.loads(state.read_text())
    site.add_hour(2)
    site.write_log(timestamp="2001-01-01T00:00:00Z")
    result = monitor(site, state, "--max-age", "100000d")
    line = assert_clean_exit(result, (1,), "time")
    assert "2001-01-01T00:00:00Z" in line and "before" in line, line
    assert json.loads(state.read_text()) == before, "the old head must be kept"


def test_verify_log_refuses_a_backdated_entry(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    state = tmp_path / "state.json"
    assert monitor(site, state).exit_code == 0
    site.hour_id = lambda hour: "2001-01-01T00:00:00Z"  # type: ignore[method-assign]
    site.add_hour(2)
    line = assert_clean_exit(monitor(site, state), (1,), "time order")
    assert "2001-01-01T00:00:00Z" in line, line


def test_verify_log_max_age_default_is_documented_and_bad_values_are_usage_errors(
    tmp_path: Path,
) -> None:
    helped = run("log", "--help")
    assert "--max-age" in helped.stdout and "4h" in helped.stdout, helped.stdout
    site = make_site(tmp_path / "site", 1)
    for bad in ("", "soon", "-1h", "0", "3y"):
        assert_clean_exit(monitor(site, tmp_path / "state.json", "--max-age", bad), (2,))


# ---- item 7: lone surrogates in the unsigned entries file -----------------------------------


def surrogate_entry(entry: bytes) -> bytes:
    """The entry with its snapshot id replaced by a lone surrogate escape."""
    value = json.loads(entry)
    return entry.replace(json.dumps(value["snapshot_id"]).encode(), b'"\\ud800"', 1)


def test_lone_surrogate_in_log_entries_keeps_equivocation_alarm(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    state = tmp_path / "state.json"
    assert monitor(site, state).exit_code == 0
    before = json.loads(state.read_text())
    entries = [*site.entries]
    entries[1] = surrogate_entry(entries[1])
    site.write_log(entries=entries)  # same size, another root: equivocation
    result = monitor(site, state)
    assert_clean_exit(result, (1,), "equivocation: two different roots for log size 3")
    assert "old head: {" in result.stdout and "new head: {" in result.stdout
    assert json.loads(state.read_text()) == before
    fresh = monitor(site, tmp_path / "new-state.json")
    assert_clean_exit(fresh, (1,), "line 2")


def test_lone_surrogate_in_log_entries_fails_proof_log_and_bundle_in_one_line(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path / "site", 3)
    sid = site.hour_id(2)
    proof = str(site.write_proof(tmp_path / "p", sid, "alice"))
    entries = [*site.entries]
    entries[0] = surrogate_entry(entries[0])
    site.write_log(entries=entries)
    key = ["--public-key", site.public_key]
    log = str(site.root / "log" / "entries.jsonl")
    manifest = str(site.bundle(sid) / "manifest.json")
    assert_clean_exit(
        run("proof", proof, "--manifest", manifest, "--log", log, *key), (1,), "line 1"
    )
    assert_clean_exit(run("proof", proof, "--bundle", str(site.bundle(sid)), *key), (1,), "line 1")

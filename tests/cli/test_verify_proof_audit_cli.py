"""`por verify proof` for auditors and users: batches, --log/--bundle, --history, warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from cli.main import cli
from por.operator.signing import generate
from tests.por.audit.sitegen import Site, make_site


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", "proof", *args])


def hour_dirs(site: Site, tmp: Path, account: str) -> list[str]:
    dirs = []
    for sid in site.manifests:
        d = tmp / "hours" / sid.replace(":", "-")
        site.write_proof(d, sid, account)
        shutil.copy(site.bundle(sid) / "manifest.json", d / "manifest.json")
        dirs.append(str(d))
    return dirs


def test_a_named_proof_warns_that_it_identifies_the_account(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    sid = site.hour_id(0)
    proof = site.write_proof(tmp_path / "p", sid, "alice")
    manifest = str(site.bundle(sid) / "manifest.json")
    result = run(str(proof), "--manifest", manifest, "--public-key", site.public_key)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.rstrip().splitlines()[-1].startswith("warning: ")
    assert "do not paste it in public" in result.stdout
    as_json = json.loads(
        run(str(proof), "--manifest", manifest, "--public-key", site.public_key, "--json").stdout
    )
    assert "names the account" in as_json["warning"], as_json


def test_the_root_is_checked_against_the_log_with_log_and_with_bundle(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    sid = site.hour_id(1)
    proof = str(site.write_proof(tmp_path / "p", sid, "bob"))
    key = ["--public-key", site.public_key]
    entries = str(site.root / "log" / "entries.jsonl")
    by_log = run(
        proof, "--manifest", str(site.bundle(sid) / "manifest.json"), "--log", entries, *key
    )
    assert by_log.exit_code == 0, by_log.stderr
    assert "logged: entry 1 of the transparency log; its first 2 entries" in by_log.stdout
    by_bundle = run(proof, "--bundle", str(site.bundle(sid)), *key, "--json")
    assert by_bundle.exit_code == 0, by_bundle.stderr
    assert json.loads(by_bundle.stdout)["log"] == {"index": 1, "size": 2}


def test_a_root_the_log_does_not_hold_for_the_hour_exits_one(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    sid = site.hour_id(1)
    proof = str(site.write_proof(tmp_path / "p", sid, "bob"))
    other = make_site(tmp_path / "other", 0, key=site.key)
    for hour in range(3):
        other.add_hour(hour, seed=hour if hour != 1 else 77)
    site.entries = other.entries
    site.write_log()
    result = run(proof, "--bundle", str(site.bundle(sid)), "--public-key", site.public_key)
    assert result.exit_code == 1, result.stdout
    assert result.stderr.splitlines() == [
        f"invalid: snapshot '{sid}': the log's entry 1 differs from the manifest's"
        " (another root, totals or assets were logged for this hour)"
    ]


def test_a_bundle_outside_a_site_without_log_is_a_usage_error(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    sid = site.hour_id(0)
    lone = tmp_path / "lone" / "a" / "b" / "c"
    shutil.copytree(site.bundle(sid), lone)
    proof = str(site.write_proof(tmp_path / "p", sid, "bob"))
    result = run(proof, "--bundle", str(lone), "--public-key", site.public_key)
    assert result.exit_code == 2 and "pass --log" in result.stderr


def test_neither_manifest_nor_bundle_is_a_usage_error(tmp_path: Path) -> None:
    result = run(str(tmp_path / "x.json"), "--public-key", generate().public_key_hex)
    assert result.exit_code == 2 and "Missing option '--manifest'" in result.stderr


def test_a_batch_reports_each_proof_and_exits_one_naming_the_first_failure(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    sid = site.hour_id(0)
    paths = [str(site.write_proof(tmp_path / "p", sid, a)) for a in ("alice", "bob", "carol")]
    manifest = str(site.bundle(sid) / "manifest.json")
    good = run(*paths, "--manifest", manifest, "--public-key", site.public_key)
    assert good.exit_code == 0, good.stderr
    assert good.stdout.count("valid    ") == 3 and "3 valid, 0 invalid" in good.stdout
    forged = json.loads(Path(paths[1]).read_text())
    forged["leaf"]["equity"][0] = str(int(forged["leaf"]["equity"][0]) + 1)
    Path(paths[1]).write_text(json.dumps(forged))
    Path(paths[2]).write_text("not json")
    bad = run(*paths, "--manifest", manifest, "--public-key", site.public_key)
    assert bad.exit_code == 1
    assert "2 valid" not in bad.stdout and "1 valid, 2 invalid" in bad.stdout
    assert len(bad.stderr.splitlines()) == 1, bad.stderr
    assert bad.stderr.startswith(f"invalid: 2 of 3 proofs failed; first: {paths[1]}: check 4")
    report = json.loads(
        run(*paths, "--manifest", manifest, "--public-key", site.public_key, "--json").stdout
    )
    assert [p["check"] for p in report["proofs"]] == [None, 4, 0]


def test_history_follows_one_account_across_hours_and_checks_the_log(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 4)
    dirs = hour_dirs(site, tmp_path, "carol")
    entries = str(site.root / "log" / "entries.jsonl")
    result = run("--history", *reversed(dirs), "--public-key", site.public_key, "--log", entries)
    assert result.exit_code == 0, result.stderr
    assert "holds in all 4 hours and every hour's root is the logged one" in result.stdout
    assert "account: carol" in result.stdout
    snapshots = [line.split()[0] for line in result.stdout.splitlines() if "Z " in line]
    assert snapshots == sorted(snapshots) and len(snapshots) == 8, snapshots
    key = ("--public-key", site.public_key)
    report = json.loads(run("--history", *dirs, *key, "--json", "--log", entries).stdout)
    assert [h["log_index"] for h in report["hours"]] == [0, 1, 2, 3]


def test_history_refuses_hours_of_different_accounts(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    dirs = hour_dirs(site, tmp_path, "carol")
    d = Path(dirs[1])
    (d / "carol.json").unlink()
    site.write_proof(d, site.hour_id(1), "alice")
    result = run("--history", *dirs, "--public-key", site.public_key)
    assert result.exit_code == 1
    assert "proof is for account 'alice', the others are for 'carol'" in result.stderr


def test_history_with_a_directory_lacking_its_proof_is_a_usage_error(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    dirs = hour_dirs(site, tmp_path, "carol")
    (Path(dirs[0]) / "carol.json").unlink()
    result = run("--history", *dirs, "--public-key", site.public_key)
    assert result.exit_code == 2
    assert "exactly one por-proof/1 or por-proof-set/1 file" in result.stderr

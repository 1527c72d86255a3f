"""`por proof`: the account's own proof, checked before it is handed out, mode 0600."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from tests.por.audit.published import Published, published_site

HOUR = "2026-11-24T01:00:00Z"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    with published_site(tmp_path_factory.mktemp("published-proof")) as site:
        yield site


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_an_accounts_proof_set_is_written_0600_and_verifies_against_the_logged_bundle(
    published: Published, tmp_path: Path
) -> None:
    out = tmp_path / "cust01.json"
    pub = str(published.world.tmp / "pub")
    result = run("proof", "--account", "cust01", "--at", HOUR, "--from", pub, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    proof_set = json.loads(out.read_text())
    assert proof_set["format"] == "por-proof-set/1"
    assert (proof_set["account_id"], proof_set["snapshot_id"]) == ("cust01", HOUR)
    pieces = len(proof_set["proofs"])
    assert pieces >= 1
    assert all(p["account_id"] == "cust01" for p in proof_set["proofs"])
    assert (
        f"proof set of 'cust01' for {HOUR}, {pieces} piece{'' if pieces == 1 else 's'}"
        " (all 3 set checks and all 5 checks on every piece against the published manifest)"
    ) in result.stderr
    assert "warning: this proof names the account" in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    check = run(
        "verify",
        "proof",
        str(out),
        "--bundle",
        str(published.bundle(1)),
        "--public-key",
        published.public_key,
    )
    assert check.exit_code == 0, check.stderr
    assert "logged: entry 1" in check.stdout and "account: cust01" in check.stdout
    assert f"pieces: {pieces} " in check.stdout


def test_a_proof_set_on_stdout_is_the_one_written_to_a_file(
    published: Published, tmp_path: Path
) -> None:
    pub = str(published.world.tmp / "pub")
    out = tmp_path / "cust02.json"
    to_file = run("proof", "--account", "cust02", "--at", HOUR, "--from", pub, "--out", str(out))
    to_stdout = run("proof", "--account", "cust02", "--at", HOUR, "--from", pub)
    assert to_file.exit_code == 0 and to_stdout.exit_code == 0, to_stdout.stderr
    assert json.loads(to_stdout.stdout) == json.loads(out.read_text())
    assert "proof set of 'cust02'" in to_stdout.stderr


def test_a_proof_set_of_an_unpublished_hour_is_checked_without_a_manifest(
    published: Published, tmp_path: Path
) -> None:
    pub = published.world.tmp / "pub"
    copy = tmp_path / "pub"
    shutil.copytree(pub / "work", copy / "work")
    result = run("proof", "--account", "cust01", "--at", HOUR, "--from", str(copy))
    assert result.exit_code == 0, result.stderr
    assert "checks 1-4 on every piece (the hour is not published yet)" in result.stderr


def test_a_proof_set_against_a_manifest_that_does_not_hold_it_exits_one(
    published: Published, tmp_path: Path
) -> None:
    pub = published.world.tmp / "pub"
    copy = tmp_path / "pub"
    shutil.copytree(pub / "work", copy / "work")
    bundle = copy / "bundles" / HOUR.replace(":", "-")
    bundle.mkdir(parents=True)
    manifest = json.loads((pub / "bundles" / bundle.name / "manifest.json").read_text())
    manifest["tree"]["root"]["equity"][0] = str(int(manifest["tree"]["root"]["equity"][0]) + 1)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = run("proof", "--account", "cust01", "--at", HOUR, "--from", str(copy))
    assert result.exit_code == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "por proof: the stored proof does not verify: set check 2 (every piece) failed:"
        f" manifest: manifest signature does not verify under key {manifest['public_key']}\n"
    )


def test_an_unknown_account_or_hour_is_a_usage_error(published: Published) -> None:
    pub = str(published.world.tmp / "pub")
    nobody = run("proof", "--account", "nobody", "--at", HOUR, "--from", pub)
    assert nobody.exit_code == 2
    assert nobody.stderr == f"por proof: no such account 'nobody' in snapshot {HOUR}\n"
    later = run("proof", "--account", "cust01", "--at", "2026-11-25T01:00:00Z", "--from", pub)
    assert later.exit_code == 2 and "no snapshot 2026-11-25T01:00:00Z" in later.stderr
    bad = run("proof", "--account", "cust01", "--at", "yesterday", "--from", pub)
    assert bad.exit_code == 2 and "2026-11-24T16:00:00Z" in bad.stderr


def test_proof_help_ends_with_examples() -> None:
    result = run("proof", "--help")
    assert result.exit_code == 0
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("por proof")

"""`por proof`: the account's own proof, checked before it is handed out, mode 0600."""

from __future__ import annotations

import json
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


def test_an_accounts_proof_is_written_0600_and_verifies_against_the_logged_bundle(
    published: Published, tmp_path: Path
) -> None:
    out = tmp_path / "cust01.json"
    pub = str(published.world.tmp / "pub")
    result = run("proof", "--account", "cust01", "--at", HOUR, "--from", pub, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "all 5 checks against the published manifest" in result.stderr
    assert "warning: this proof names the account" in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    proof = json.loads(out.read_text())
    assert (proof["account_id"], proof["snapshot_id"]) == ("cust01", HOUR)
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


def test_an_unknown_account_or_hour_is_a_usage_error(published: Published) -> None:
    pub = str(published.world.tmp / "pub")
    nobody = run("proof", "--account", "nobody", "--at", HOUR, "--from", pub)
    assert nobody.exit_code == 2 and "no account 'nobody'" in nobody.stderr
    later = run("proof", "--account", "cust01", "--at", "2026-11-25T01:00:00Z", "--from", pub)
    assert later.exit_code == 2 and "no snapshot 2026-11-25T01:00:00Z" in later.stderr
    bad = run("proof", "--account", "cust01", "--at", "yesterday", "--from", pub)
    assert bad.exit_code == 2 and "2026-11-24T16:00:00Z" in bad.stderr


def test_proof_help_ends_with_examples() -> None:
    result = run("proof", "--help")
    assert result.exit_code == 0
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("por proof")

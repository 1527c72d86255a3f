"""`por verify bundle / reserves / history`: tables, exit codes 0/1/2, one line on failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from por.operator.signing import generate
from tests.por.audit.published import Published, published_site


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    with published_site(tmp_path_factory.mktemp("published-cli")) as site:
        yield site


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", *args])


def test_an_honest_bundle_prints_a_table_of_passing_checks_and_exits_zero(
    published: Published,
) -> None:
    result = run(
        "bundle",
        str(published.bundle()),
        "--public-key",
        published.public_key,
        "--eth-rpc",
        published.eth_rpc,
    )
    assert result.exit_code == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    for name in ("manifest", "files", "liabilities", "reconciliation", "reserves", "log", "anchor"):
        assert "PASS" in rows[name], (name, result.stdout)
    assert "FAIL" not in result.stdout and "all checks pass" in result.stdout


def test_a_tampered_bundle_exits_one_naming_each_failed_check(
    published: Published, tmp_path: Path
) -> None:
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle().name
    (bundle / "extra.txt").write_text("x")
    result = run("bundle", str(bundle), "--public-key", published.public_key, "--json")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and "failed: files (" in result.stderr
    report = json.loads(result.stdout)
    assert {c["name"]: c["status"] for c in report["checks"]}["files"] == "fail"


def test_an_unreadable_bundle_exits_two(tmp_path: Path) -> None:
    result = run("bundle", str(tmp_path / "none"), "--public-key", generate().public_key_hex)
    assert result.exit_code == 2 and "not a directory" in result.stderr
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text("{nope")
    result = run("bundle", str(tmp_path / "b"), "--public-key", generate().public_key_hex)
    assert result.exit_code == 2 and "not JSON" in result.stderr


def test_reserves_re_read_from_own_nodes_exit_zero_and_a_lie_exits_one(
    published: Published, tmp_path: Path
) -> None:
    good = run(
        "reserves",
        str(published.bundle()),
        "--eth-rpc",
        published.eth_rpc,
        "--sol-rpc",
        published.sol_rpc,
        "--public-key",
        published.public_key,
    )
    assert good.exit_code == 0, good.stderr
    assert "every check passes" in good.stdout
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle().name
    data = json.loads((bundle / "reserves.json").read_text())
    data["readings"][0]["balances"][0]["amount"] = "1"
    (bundle / "reserves.json").write_text(json.dumps(data))
    bad = run(
        "reserves",
        str(bundle),
        "--eth-rpc",
        published.eth_rpc,
        "--public-key",
        published.public_key,
    )
    assert bad.exit_code == 1
    assert "manifest (reserves.json's SHA-256" in bad.stderr
    # checked before any node is asked (the reading's own totals first, then the file's)
    assert "reserves (reserves.json: ethereum: totals" in bad.stderr
    assert run("reserves", str(bundle)).exit_code == 2


def test_history_of_the_site_exits_zero_and_lists_every_hour(published: Published) -> None:
    result = run("history", str(published.site), "--public-key", published.public_key)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("2026-11-24T0") >= 3 and "3 hours, all pass" in result.stdout


@pytest.mark.parametrize("name", ["bundle", "reserves", "history", "log"])
def test_every_new_help_ends_with_examples(name: str) -> None:
    result = run(name, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("por verify")


# -- issue 17 items 1 and 2: what a dishonest exchange can sign is refused, exit 1 ---------
def test_verify_bundle_without_reserves_exits_one_naming_reserves(
    published: Published, tmp_path: Path
) -> None:
    from tests.por.audit.dishonest import claim_reserves, json_bytes, resigned

    report = json.loads((published.bundle() / "reconciliation.json").read_text())
    files = {"reserves.json": None, "reconciliation.json": json_bytes(claim_reserves(report, 10))}
    bundle = resigned(published, tmp_path / "site", files)
    result = run("bundle", str(bundle), "--public-key", published.public_key)
    assert result.exit_code == 1, result.stdout
    assert "reserves (reserves.json is missing" in result.stderr.splitlines()[-1]


def test_verify_bundle_and_verify_tree_agree_on_a_list_with_62_and_66_char_tags(
    published: Published, tmp_path: Path
) -> None:
    from tests.por.audit.dishonest import resigned

    lines = (published.bundle() / "liabilities.jsonl").read_bytes().splitlines(keepends=True)
    k = len(lines) - 3  # tags near the end start with "f": no leading "0" moves
    a, b = (lines[i].split(b'"tag":"')[1][:64] for i in (k, k + 1))
    lines[k], lines[k + 1] = lines[k].replace(a, a[:62]), lines[k + 1].replace(b, a[62:] + b)
    bundle = resigned(published, tmp_path / "site", {"liabilities.jsonl": b"".join(lines)})
    tree = run(
        "tree",
        str(bundle / "liabilities.jsonl"),
        "--manifest",
        str(bundle / "manifest.json"),
        "--public-key",
        published.public_key,
    )
    assert tree.exit_code == 1 and "tag" in tree.stderr
    result = run("bundle", str(bundle), "--public-key", published.public_key)
    assert result.exit_code == 1 and "failed: liabilities (" in result.stderr.splitlines()[-1]

"""End to end: `por demo --accounts 200 --hours 4` (ledger, chains, hourly publication,
audit), then the published files checked again from outside with the project's verifier
commands, and every leaf compared with the ledger's own journal at the hour's cut.
`--insolvent` on a short day must fail the hours after the reserves left, with exit 1."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from por.manifest import parse_manifest
from por.proofset import parse_proof_set, verify_proof_set
from por.snapshot import SnapshotIndex

HOURS = 4


def por(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"traceback: {result.exception!r}"
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("demo")
    args = ("--accounts", "200", "--hours", str(HOURS), "--quiet")
    return out, por("demo", "--out", str(out), *args)


def _claims_at(db: Path, seq: int) -> dict[str, dict[str, int]]:
    """Every customer's claim per asset after event `seq`, summed from the journal's
    postings (not from the snapshot's code path); accounts opened with nothing are in."""
    claims: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT account, asset, amount FROM postings WHERE seq <= ?", (seq,))
        for account, asset, amount in rows:
            if not account.startswith("@"):
                claims[account][asset] += int(amount)
        opened = conn.execute(
            "SELECT command FROM events WHERE cmd = 'account' AND status = 'accepted' AND seq <= ?",
            (seq,),
        )
        for (command,) in opened:
            claims[json.loads(command)["id"]]  # opened without a posting: a zero claim
    return claims


def test_the_demo_publishes_every_hour_and_every_check_passes(demo: tuple[Path, Result]) -> None:
    out, result = demo
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["ok"], "the summary must say every check passed"
    assert [h["status"] for h in summary["hours"]] == ["PASS"] * HOURS
    assert all(not h["checks_failed"] for h in summary["hours"]), summary["hours"]
    assert sum(h["liquidated_accounts"] for h in summary["hours"]) > 0, "the crash liquidates"
    assert summary["users"] and all(u["ok"] for u in summary["users"]), summary["users"]
    assert "Hourly proofs of reserves" in result.stdout
    for name in ("site/index.html", "site/verifier.html", "exchange.db", "users"):
        assert (out / name).exists(), f"the demo must leave {name}"


def test_the_published_site_verifies_with_the_project_verifier(demo: tuple[Path, Result]) -> None:
    out, _ = demo
    key = json.loads((out / "summary.json").read_text(encoding="utf-8"))["public_key"]
    history = por("verify", "history", str(out / "site"), "--public-key", key)
    assert history.exit_code == 0, history.output + history.stderr
    bundles = sorted((out / "site" / "snapshots").glob("*/manifest.json"))
    assert len(bundles) == HOURS
    for manifest in bundles:
        checked = por("verify", "bundle", str(manifest.parent), "--public-key", key)
        assert checked.exit_code == 0, checked.output + checked.stderr
    owner = sorted((out / "users").iterdir())[0]
    hours = sorted(str(p) for p in owner.iterdir())
    proof = por("verify", "proof", "--history", *hours, "--public-key", key)
    assert proof.exit_code == 0, proof.output + proof.stderr


def test_the_demo_cold_wallets_attest_weekly_and_hot_wallets_sign_every_hour(
    demo: tuple[Path, Result],
) -> None:
    out, _ = demo
    roles = {
        (w["chain"], w["address"]): w["role"]
        for w in json.loads((out / "wallets.json").read_text(encoding="utf-8"))["wallets"]
    }
    assert sorted(roles.values()) == ["cold", "cold", "hot", "hot"]
    stored = sorted(p.name for p in (out / "attestations" / "2026-W48").iterdir())
    assert stored == sorted(f"{c}-{a}.json" for (c, a), r in roles.items() if r == "cold")
    for reserves in sorted((out / "site" / "snapshots").glob("*/reserves.json")):
        ownership = json.loads(reserves.read_text(encoding="utf-8"))["ownership"]
        kinds = {(p["chain"], p["address"]): (p["kind"], p["period"]) for p in ownership}
        sid = json.loads((reserves.parent / "manifest.json").read_text())["snapshot_id"]
        assert kinds == {
            k: ("period", "2026-W48") if r == "cold" else ("snapshot", sid)
            for k, r in roles.items()
        }


def test_every_leaf_equals_the_ledgers_claims_at_the_cut(demo: tuple[Path, Result]) -> None:
    out, _ = demo
    for manifest_path in sorted((out / "site" / "snapshots").glob("*/manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        assets = manifest["assets"]
        symbols = [a["symbol"] for a in assets]
        claims = _claims_at(out / "exchange.db", manifest["cut"]["seq"])
        index = SnapshotIndex(out / "publication" / "work" / manifest_path.parent.name)
        assert set(index.account_ids()) == set(claims), "every open customer account, no other"
        parsed = parse_manifest(manifest)
        totals = {"equity": [0] * len(symbols), "debt": [0] * len(symbols)}
        for account in claims:
            claim_of = verify_proof_set(parse_proof_set(index.proof(account)), parsed)
            for i, symbol in enumerate(symbols):
                claim = claims[account][symbol]
                expected = (max(claim, 0), max(-claim, 0))
                got = (claim_of.equity[i], claim_of.debt[i])
                assert got == expected, f"{manifest['snapshot_id']} {account} {symbol}"
                totals["equity"][i] += max(claim, 0)
                totals["debt"][i] += max(-claim, 0)
        root = manifest["tree"]["root"]
        assert root["equity"] == [str(v) for v in totals["equity"]], "root equity = ledger"
        assert root["debt"] == [str(v) for v in totals["debt"]], "root debt = ledger"


def test_an_insolvent_exchange_fails_the_hours_after_the_reserves_left(tmp_path: Path) -> None:
    result = por("demo", "--out", str(tmp_path), "--accounts", "60", "--hours", "2",
                 "--insolvent", "--quiet")  # fmt: skip
    assert result.exit_code == 1, result.output + result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert [h["status"] for h in summary["hours"]] == ["PASS", "FAIL"]
    failing = summary["hours"][1]["coverage_ppm"]
    assert all(ppm is not None and ppm < 1_000_000 for ppm in failing.values()), failing
    assert "reserves do not cover liabilities in 1 hour: 02:00" in result.stdout
    watch = next(line for line in result.stdout.splitlines() if line.startswith("por watch"))
    assert "exit 1, SHORTFALL at ethereum" in watch, watch
    assert all(f"{asset} short by" in watch for asset in failing), watch

"""The leaf list published three ways, end to end: three hours of the test world published
with the real publisher (Anvil anchors, reserves, site), one per mode -- public, encrypted
for two auditors, withheld -- then checked as an auditor (`verify_bundle_dir`, `por verify
bundle`, `por verify history`), as a user (own proofs) and as a reader of the site; plus a
dishonest exchange that signs an encrypted list which does not rebuild its root."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from por.audit.bundle import BUNDLE_CHECKS, LeafListLockedError, verify_bundle_dir
from por.builder.proofstore import ProofStore
from por.chain.anvil import Anvil
from por.leaflist import (
    SEALED_NAME,
    LeafListPolicy,
    decrypted,
    identity_recipients,
    read_identities,
    seal_file,
    write_identity_file,
)
from por.manifest import sign_manifest
from por.publish.bundle import manifest_file_bytes
from por.publish.errors import BundleError
from por.snapshot import SnapshotIndex
from por.verify import verify_proof_bytes
from tests.por.publish.checks import check_publication, files_under
from tests.por.publish.publish_world import DELAY, START, FakeClock, World, iso

HOURS = [iso(START + timedelta(hours=h)) for h in range(3)]
NAMES = [h.replace(":", "-") for h in HOURS]
PUBLIC, AUDITORS, NONE = range(3)  # the mode of each hour


@dataclass
class Mixed:
    world: World
    site: Path
    key_hex: str
    eth_rpc: str
    anchor: str
    auditor_keys: list[Path]
    recipients: list[str]
    stranger_key: Path

    def bundle(self, hour: int) -> Path:
        return self.site / "snapshots" / NAMES[hour]

    def work(self, hour: int) -> Path:
        return self.world.tmp / "pub" / "work" / NAMES[hour]

    def copy(self, dest: Path) -> Path:
        shutil.copytree(self.site, dest, copy_function=shutil.copy2)
        return dest


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mixed]:
    tmp = tmp_path_factory.mktemp("leaf-list")
    keys = [tmp / "auditor-a.key", tmp / "auditor-b.key", tmp / "stranger.key"]
    recipients = [write_identity_file(path) for path in keys]
    modes = [
        LeafListPolicy("public"),
        LeafListPolicy.of("auditors", recipients[:2]),
        LeafListPolicy("none"),
    ]
    with Anvil(timestamp=int((START - timedelta(hours=3)).timestamp())) as anvil:
        world = World(
            tmp, f"sqlite:///{tmp / 'ledger.db'}", f"sqlite:///{tmp / 'log.db'}", anvil.url
        )
        clock = FakeClock(START + DELAY, world.advance_to)
        world.advance_to(clock.t)
        for hour, policy in enumerate(modes):
            if hour:
                clock.t += timedelta(hours=1)
                world.advance_to(clock.t)
            publisher = world.publisher(clock, leaf_list=policy)
            with publisher.lock():
                publisher.recover()
                outcome = publisher.publish_hour(START + timedelta(hours=hour))
            assert outcome.status == "published"
        yield Mixed(
            world,
            tmp / "site",
            world.key.public_key_hex,
            anvil.url,
            world.reserve.ethereum.anchor,
            keys[:2],
            sorted(recipients[:2]),
            keys[2],
        )


def manifest(m: Mixed, hour: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((m.bundle(hour) / "manifest.json").read_text())
    return data


def statuses(report: Any) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def detail(report: Any, name: str) -> str:
    return str(next(c.detail for c in report.checks if c.name == name))


def verify(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", *args])


def test_each_hour_signs_its_mode_and_its_bundle_holds_only_that_list(mixed: Mixed) -> None:
    publisher = mixed.world.publisher(FakeClock(START))
    check_publication(publisher, HOURS)  # signatures, every digest, log, chain of hours
    fields = [manifest(mixed, h).get("leaf_list") for h in range(3)]
    assert fields == [
        {"mode": "public", "file": "liabilities.jsonl"},
        {"mode": "auditors", "file": SEALED_NAME, "recipients": mixed.recipients},
        {"mode": "none"},
    ]
    listed = [sorted(manifest(mixed, h)["bundle"]["files"]) for h in range(3)]
    rest = ["index.html", "reconciliation.json", "reserves.json"]
    assert listed == [sorted(["liabilities.jsonl", *rest]), sorted([SEALED_NAME, *rest]), rest]


def test_the_encrypted_hour_publishes_no_clear_leaf_anywhere(mixed: Mixed) -> None:
    clear = (mixed.work(AUDITORS) / "public" / "leaves.jsonl").read_bytes()
    tags = [json.loads(line)["tag"].encode() for line in clear.splitlines()]
    published = files_under(mixed.bundle(AUDITORS)) + [mixed.site / "index.html"]
    published += [mixed.site / "snapshots" / f"{NAMES[AUDITORS]}.html"]
    assert not [p for p in published for t in tags if t in p.read_bytes()]
    for key in mixed.auditor_keys:
        with decrypted(mixed.bundle(AUDITORS) / SEALED_NAME, read_identities(key)) as stream:
            assert stream.read() == clear, "each auditor opens exactly the snapshot's leaf list"


def test_an_auditor_with_its_identity_gets_every_check_of_a_public_hour(mixed: Mixed) -> None:
    for hour, keys in ((PUBLIC, []), (AUDITORS, read_identities(mixed.auditor_keys[0]))):
        report = verify_bundle_dir(
            mixed.bundle(hour),
            bytes.fromhex(mixed.key_hex),
            eth_rpc=mixed.eth_rpc,
            anchor_contract=mixed.anchor,
            identities=keys,
            require_identity=True,
        )
        assert statuses(report) == {name: "pass" for name in BUNDLE_CHECKS}, report.checks
    mine = identity_recipients(keys)[0]
    assert f"decrypted with the key {mine} rebuild the signed root" in detail(report, "liabilities")


def test_without_a_matching_identity_verify_bundle_exits_2_naming_the_recipients(
    mixed: Mixed,
) -> None:
    bundle = str(mixed.bundle(AUDITORS))
    missing = verify("bundle", bundle, "--public-key", mixed.key_hex)
    wrong = verify(
        "bundle", bundle, "--public-key", mixed.key_hex, "--identity", str(mixed.stranger_key)
    )
    for result in (missing, wrong):
        assert result.exit_code == 2, result.output
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
        assert "encrypted (age) for 2 auditors" in result.stderr
        assert all(r in result.stderr for r in mixed.recipients)
    assert "give --identity FILE" in missing.stderr
    assert "not one of them" in wrong.stderr
    good = verify(
        "bundle", bundle, "--public-key", mixed.key_hex, "--identity", str(mixed.auditor_keys[1])
    )
    assert good.exit_code == 0, good.output
    assert "liabilities" in good.stdout and "decrypted with the key" in good.stdout
    with pytest.raises(LeafListLockedError, match="encrypted"):
        verify_bundle_dir(bundle, bytes.fromhex(mixed.key_hex), require_identity=True)


def test_a_library_caller_without_the_key_gets_the_rebuild_skipped_and_said(mixed: Mixed) -> None:
    report = verify_bundle_dir(mixed.bundle(AUDITORS), bytes.fromhex(mixed.key_hex))
    assert statuses(report)["liabilities"] == "skip" and report.passed
    assert "NOT RUN" in detail(report, "liabilities") and mixed.recipients[0] in detail(
        report, "liabilities"
    )


def test_a_withheld_list_runs_every_other_check_and_says_the_rebuild_did_not_run(
    mixed: Mixed,
) -> None:
    bundle = str(mixed.bundle(NONE))
    args = ["bundle", bundle, "--public-key", mixed.key_hex, "--eth-rpc", mixed.eth_rpc]
    table = verify(*args)
    assert table.exit_code == 0, table.output
    assert "NOT RUN: liabilities" in table.stdout and "withheld" in table.stdout
    report = json.loads(verify(*args, "--json").stdout)
    assert report["valid"] is True and report["not_run"] == ["liabilities"]
    assert report["leaf_list"] == {"mode": "none"}
    checks = {c["name"]: c["status"] for c in report["checks"]}
    assert checks == {name: "skip" if name == "liabilities" else "pass" for name in BUNDLE_CHECKS}


def test_history_rebuilds_the_encrypted_hour_only_with_an_identity(mixed: Mixed) -> None:
    args = ["history", str(mixed.site), "--public-key", mixed.key_hex, "--json"]
    without = verify(*args)
    assert without.exit_code == 0, without.output
    hours = json.loads(without.stdout)["hours"]
    skipped = [
        h["snapshot_id"]
        for h in hours
        if {c["name"]: c["status"] for c in h["checks"]}["liabilities"] == "skip"
    ]
    assert skipped == [HOURS[AUDITORS], HOURS[NONE]]
    with_key = verify(*args, "--identity", str(mixed.auditor_keys[0]))
    assert with_key.exit_code == 0, with_key.output
    rebuilt = json.loads(with_key.stdout)["hours"][AUDITORS]["checks"]
    assert {c["name"]: c["status"] for c in rebuilt}["liabilities"] == "pass"


def test_users_proofs_verify_in_every_mode(mixed: Mixed) -> None:
    key = bytes.fromhex(mixed.key_hex)
    for hour in range(3):
        index = SnapshotIndex(mixed.work(hour))
        raw_manifest = (mixed.bundle(hour) / "manifest.json").read_bytes()
        accounts = list(index.account_ids())
        assert accounts
        with ProofStore.open(mixed.work(hour) / "private" / "tree") as store:
            for account in accounts[:4]:
                proof = store.account_proof(account, index.nonce(account))
                verify_proof_bytes(json.dumps(proof).encode(), raw_manifest, key)


def test_the_site_says_how_each_hours_leaf_list_is_published(mixed: Mixed) -> None:
    pages = [(mixed.site / "snapshots" / f"{n}.html").read_text() for n in NAMES]
    assert f'href="{NAMES[PUBLIC]}/liabilities.jsonl"' in pages[PUBLIC]
    assert "Encrypted for 2 auditors" in pages[AUDITORS]
    assert f'href="{NAMES[AUDITORS]}/{SEALED_NAME}"' in pages[AUDITORS]
    assert all(r in pages[AUDITORS] for r in mixed.recipients)
    assert "Withheld by the exchange" in pages[NONE] and "liabilities.jsonl" not in pages[NONE]
    for page in pages:
        assert "Liabilities" in page and "Net liabilities" in page, "totals on every page"
    index = (mixed.site / "index.html").read_text()
    assert all(f"<td>{mode}</td>" in index for mode in ("public", "auditors", "none"))
    own = (mixed.bundle(AUDITORS) / "index.html").read_text()
    assert "encrypted for 2 auditors" in own and mixed.recipients[1] in own


def _resign(bundle: Path, world: World, change: Any) -> None:
    """What a dishonest exchange can do: change the bundle and sign the manifest again."""
    from por.publish._fsio import sha256_file

    doc = json.loads((bundle / "manifest.json").read_text())
    change(doc)
    for name in doc["bundle"]["files"]:
        digest, size = sha256_file(bundle / name)
        doc["bundle"]["files"][name] = {"sha256": digest, "bytes": size}
    signed = sign_manifest(doc, world.key.private)
    (bundle / "manifest.json").write_bytes(manifest_file_bytes(signed))


def _forged_list(mixed: Mixed) -> bytes:
    """The hour's leaf list with one customer's equity raised by one unit."""
    lines = (mixed.work(AUDITORS) / "public" / "leaves.jsonl").read_bytes().splitlines()
    for i, line in enumerate(lines):
        leaf = json.loads(line)
        k = next((k for k, v in enumerate(leaf["equity"]) if v != "0"), None)
        if k is not None:
            leaf["equity"][k] = str(int(leaf["equity"][k]) + 1)
            lines[i] = json.dumps(leaf, sort_keys=True, separators=(",", ":")).encode()
            return b"".join(line + b"\n" for line in lines)
    raise AssertionError("no leaf with equity")


def test_a_re_encrypted_altered_list_fails_its_signed_digest(mixed: Mixed, tmp_path: Path) -> None:
    bundle = mixed.copy(tmp_path / "site") / "snapshots" / NAMES[AUDITORS]
    (tmp_path / "forged.jsonl").write_bytes(_forged_list(mixed))
    (bundle / SEALED_NAME).unlink()
    seal_file(tmp_path / "forged.jsonl", bundle / SEALED_NAME, mixed.recipients)
    keys = read_identities(mixed.auditor_keys[0])
    report = verify_bundle_dir(bundle, bytes.fromhex(mixed.key_hex), identities=keys)
    assert statuses(report)["files"] == "fail" and f"{SEALED_NAME}: SHA-256" in detail(
        report, "files"
    )
    assert statuses(report)["liabilities"] == "skip"


def test_a_signed_encrypted_list_that_does_not_rebuild_the_root_fails_the_liabilities_check(
    mixed: Mixed, tmp_path: Path
) -> None:
    bundle = mixed.copy(tmp_path / "site") / "snapshots" / NAMES[AUDITORS]
    (tmp_path / "forged.jsonl").write_bytes(_forged_list(mixed))
    (bundle / SEALED_NAME).unlink()
    seal_file(tmp_path / "forged.jsonl", bundle / SEALED_NAME, mixed.recipients)
    _resign(bundle, mixed.world, lambda doc: None)
    args = ["bundle", str(bundle), "--public-key", mixed.key_hex]
    result = verify(*args, "--identity", str(mixed.auditor_keys[0]), "--json")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note: ")]
    assert len(errors) == 1 and "failed: liabilities (" in errors[0], result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["liabilities"]["status"] == "fail"
    assert "the leaves give root" in checks["liabilities"]["detail"]
    assert [n for n, c in checks.items() if c["status"] == "fail"] == ["liabilities"]


def test_a_signed_list_encrypted_to_other_keys_than_it_names_fails(
    mixed: Mixed, tmp_path: Path
) -> None:
    bundle = mixed.copy(tmp_path / "site") / "snapshots" / NAMES[AUDITORS]
    clear = mixed.work(AUDITORS) / "public" / "leaves.jsonl"
    keys = read_identities(mixed.auditor_keys[0])
    others = [r for r in mixed.recipients if r not in identity_recipients(keys)]
    (bundle / SEALED_NAME).unlink()
    seal_file(clear, bundle / SEALED_NAME, others)  # named: both auditors; sealed: one
    _resign(bundle, mixed.world, lambda doc: None)
    report = verify_bundle_dir(
        bundle, bytes.fromhex(mixed.key_hex), identities=keys, require_identity=True
    )
    assert [c.name for c in report.failed] == ["liabilities"]
    assert "not encrypted to the given identity's key" in detail(report, "liabilities")


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.update(mode="none", file=None, recipients=None),
        lambda f: f.update(recipients=f["recipients"][:1]),
    ],
    ids=["mode", "recipients"],
)
def test_the_leaf_list_field_is_covered_by_the_signature(
    mixed: Mixed, tmp_path: Path, change: Any
) -> None:
    bundle = mixed.copy(tmp_path / "site") / "snapshots" / NAMES[AUDITORS]
    doc = json.loads((bundle / "manifest.json").read_text())
    change(doc["leaf_list"])
    doc["leaf_list"] = {k: v for k, v in doc["leaf_list"].items() if v is not None}
    (bundle / "manifest.json").write_bytes(manifest_file_bytes(doc))
    result = verify("bundle", str(bundle), "--public-key", mixed.key_hex, "--json")
    assert result.exit_code == 1, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["manifest"]["status"] == "fail" and "signature" in checks["manifest"]["detail"]


def test_a_signed_but_contradictory_field_fails_the_liabilities_check(
    mixed: Mixed, tmp_path: Path
) -> None:
    bundle = mixed.copy(tmp_path / "site") / "snapshots" / NAMES[PUBLIC]
    _resign(bundle, mixed.world, lambda doc: doc.update(leaf_list={"mode": "none"}))
    report = verify_bundle_dir(bundle, bytes.fromhex(mixed.key_hex))
    assert [c.name for c in report.failed] == ["liabilities"]
    assert "mode none, yet bundle.files lists ['liabilities.jsonl']" in detail(
        report, "liabilities"
    )


def test_a_snapshot_taken_without_its_leaf_list_cannot_be_published_in_clear(
    mixed: Mixed, tmp_path: Path
) -> None:
    from por.publish.bundle import read_snapshot_facts, write_bundle_files

    facts = read_snapshot_facts(mixed.work(NONE))
    with pytest.raises(BundleError, match="taken without its leaf list"):
        write_bundle_files(
            facts, tmp_path / "b", leaf_list=LeafListPolicy(), previous=None, published_at="x"
        )

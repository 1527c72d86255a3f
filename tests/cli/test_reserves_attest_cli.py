"""Cold wallets attest once a period (issue 18 item 3): `por reserves challenge`, an offline
signature (the test keys stand in for the hardware wallet), `por reserves attest`, then the
publisher uses the stored attestations and `por verify bundle` / `por verify reserves` judge
them by the attestation policy. On Anvil and a LiteSVM JSON-RPC endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from por.chain.anvil import Anvil
from por.chain.litesvm_rpc import LiteSvmRpcServer
from por.operator.signing import generate
from por.publish.scheduler import ScheduleConfig, run_schedule
from por.reserves.attestation import AttestationStore
from por.snapshot import ReserveSetup
from tests.por.audit.forge import rekey_site
from tests.por.publish.publish_world import DELAY, START, FakeClock, World

HOURS = 3
PERIOD = "2026-W48"  # Monday 2026-11-23 .. Monday 2026-11-30; START is Tuesday 00:00


def por(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@dataclass
class Attested:
    world: World
    root: Path
    site: Path
    store: Path
    challenge: Path
    signed: Path
    public_key: str
    eth_rpc: str
    sol_rpc: str

    def bundle(self, hour: int) -> Path:
        return self.site / "snapshots" / f"2026-11-24T{hour:02d}-00-00Z"

    def common(self, key: str | None = None) -> list[str]:
        return [
            "--wallets",
            str(self.world.reserve.wallets_path),
            "--public-key",
            key or self.public_key,
            "--eth-rpc",
            self.eth_rpc,
            "--sol-rpc",
            self.sol_rpc,
        ]


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attested]:
    tmp = tmp_path_factory.mktemp("attested")
    with Anvil(timestamp=int((START - timedelta(hours=3)).timestamp())) as anvil:
        world = World(
            tmp, f"sqlite:///{tmp / 'ledger.db'}", f"sqlite:///{tmp / 'log.db'}", anvil.url
        )
        with LiteSvmRpcServer(world.reserve.solana.svm) as sol:
            made = Attested(world, tmp, tmp / "site", tmp / "reserve" / "attestations",
                            tmp / "challenge.json", tmp / "signed.json",
                            world.key.public_key_hex, anvil.url, sol.url)  # fmt: skip
            common = made.common()
            result = por("reserves", "challenge", "--period", PERIOD, *common,
                         "--out", str(made.challenge))  # fmt: skip
            assert result.exit_code == 0, result.stderr
            keys = str(world.reserve.keystore.path)
            result = por("reserves", "sign", str(made.challenge), "--keys", keys,
                         "--out", str(made.signed))  # fmt: skip
            assert result.exit_code == 0, result.stderr
            result = por("reserves", "attest", str(made.signed), *common)
            assert result.exit_code == 0, result.stderr
            assert "2 attestations of period 2026-W48 checked" in result.stdout
            clock = FakeClock(START + DELAY, world.advance_to)
            world.advance_to(clock.t + timedelta(hours=HOURS - 1))
            clock.t += timedelta(hours=HOURS - 1)
            publisher = world.publisher(clock, reserves=_setup(world, made.store))
            with publisher.lock():
                publisher.recover()
                outcomes = publisher.publish_due(clock.now(), DELAY, since=START)
            assert len(outcomes) == HOURS, outcomes
            yield made


def _setup(world: World, store: Path) -> ReserveSetup:
    r = world.reserve
    return ReserveSetup(r.registry, r.readers(), r.keystore, attestations=AttestationStore(store))


def _ownership(bundle: Path) -> list[dict[str, Any]]:
    reserves = json.loads((bundle / "reserves.json").read_text(encoding="utf-8"))
    return list(reserves["ownership"])


def test_challenge_names_a_recent_block_and_the_exact_text(attested: Attested) -> None:
    doc = json.loads(attested.challenge.read_text())
    assert doc["period"] == PERIOD
    assert doc["window"] == {"from": "2026-11-23T00:00:00Z", "until": "2026-11-30T00:00:00Z"}
    cold = {
        (w.chain, w.address) for w in attested.world.reserve.registry.wallets if w.role == "cold"
    }
    assert {(c["chain"], c["address"]) for c in doc["challenges"]} == cold
    for c in doc["challenges"]:
        lines = c["message"].splitlines()
        assert lines[0] == "Proof of reserves: address ownership"
        assert f"exchange key: {attested.public_key}" in lines
        assert "kind: period" in lines and f"period: {PERIOD}" in lines
        assert f"recent block: {c['block']['number']}" in lines
        assert f"recent block hash: {c['block']['hash']}" in lines
        assert c["message"].endswith("\n")


def test_attested_hours_publish_and_verify_cold_per_period_hot_per_snapshot(
    attested: Attested,
) -> None:
    roles = {(w.chain, w.address): w.role for w in attested.world.reserve.registry.wallets}
    for hour in range(HOURS):
        proofs = _ownership(attested.bundle(hour))
        kinds = {(p["chain"], p["address"]): p["kind"] for p in proofs}
        assert kinds == {k: "period" if r == "cold" else "snapshot" for k, r in roles.items()}
        for p in proofs:
            if p["kind"] == "period":
                assert p["window"] == {"from": "2026-11-23T00:00:00Z",
                                       "until": "2026-11-30T00:00:00Z"}  # fmt: skip
                assert p["block"]["time"] >= "2026-11-23T00:00:00Z"
            else:
                assert p["window"]["from"] == p["window"]["until"] == p["period"]
    bundle = attested.bundle(HOURS - 1)
    result = por("verify", "bundle", str(bundle), "--public-key", attested.public_key)
    assert result.exit_code == 0, result.stderr
    result = por("verify", "reserves", str(bundle), "--public-key", attested.public_key,
                 "--eth-rpc", attested.eth_rpc, "--sol-rpc", attested.sol_rpc)  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr


def test_expired_cold_attestation_fails_the_hour_naming_the_rule(attested: Attested) -> None:
    bundle = attested.bundle(HOURS - 1)
    result = por("verify", "bundle", str(bundle), "--public-key", attested.public_key,
                 "--max-attestation-age", "cold=1h")  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    cold = next(w for w in attested.world.reserve.registry.wallets if w.role == "cold")
    assert "attestation_expired: cold wallet" in result.stderr
    assert " on ethereum" in result.stderr or " on solana" in result.stderr
    assert any(w.address in result.stderr for w in attested.world.reserve.registry.wallets
               if w.role == "cold")  # fmt: skip
    assert cold.role == "cold"
    result = por("verify", "reserves", str(bundle), "--public-key", attested.public_key,
                 "--eth-rpc", attested.eth_rpc, "--max-attestation-age", "1h")  # fmt: skip
    assert result.exit_code == 1 and "attestation_expired" in result.stderr, result.stderr
    # the hot role takes per-snapshot proofs only: a cold attestation judged as hot fails too
    result = por("verify", "bundle", str(bundle), "--public-key", attested.public_key,
                 "--max-attestation-age", "cold=0")  # fmt: skip
    assert result.exit_code == 1 and "per-snapshot proofs only" in result.stderr


def test_malformed_max_attestation_age_is_unusable_input(attested: Attested) -> None:
    result = por("verify", "bundle", str(attested.bundle(0)), "--public-key", attested.public_key,
                 "--max-attestation-age", "warm=1d")  # fmt: skip
    assert result.exit_code == 2 and "role must be one of" in result.stderr, result.stderr


@pytest.mark.parametrize("chain", ["ethereum", "solana"])
def test_signature_over_a_block_hash_not_of_that_chain_fails_attest(
    attested: Attested, tmp_path: Path, chain: str
) -> None:
    doc = json.loads(attested.challenge.read_text())
    entry = next(c for c in doc["challenges"] if c["chain"] == chain)
    fake = (
        "0x" + "ab" * 32 if chain == "ethereum" else "GHtXQBsoZHVnNFa9YevAzFr17DJjgHXk3ycTKD5xD3Zi"
    )
    entry["message"] = entry["message"].replace(entry["block"]["hash"], fake)
    entry["block"]["hash"] = fake
    doc["challenges"] = [entry]
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    signed = tmp_path / "forged-signed.json"
    keys = str(attested.world.reserve.keystore.path)
    assert por("reserves", "sign", str(forged), "--keys", keys, "--out", str(signed)).exit_code == 0
    result = por("reserves", "attest", str(signed), *attested.common(),
                 "--store", str(tmp_path / "store"))  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "attestation_block_not_on_chain" in result.stderr
    assert entry["address"] in result.stderr and chain in result.stderr
    assert not (tmp_path / "store").exists(), "nothing is stored when a check fails"


def test_attestation_replayed_by_another_exchange_key_fails(
    attested: Attested, tmp_path: Path
) -> None:
    other = generate()
    result = por("reserves", "attest", str(attested.signed), *attested.common(other.public_key_hex),
                 "--store", str(tmp_path / "store"))  # fmt: skip
    assert result.exit_code == 1, result.stderr
    assert f"not the pinned key {other.public_key_hex}" in result.stderr
    # exchange B re-signs A's whole site with its key: the attestations name A's key
    site = tmp_path / "site-b"
    import shutil

    shutil.copytree(attested.site, site)
    rekey_site(site, other, attested.public_key)
    bundle = site / "snapshots" / attested.bundle(1).name
    result = por("verify", "bundle", str(bundle), "--public-key", other.public_key_hex)
    assert result.exit_code == 1
    assert f"not the pinned key {other.public_key_hex}" in result.stderr


def test_schedule_health_file_warns_a_day_before_the_attestation_expires(
    attested: Attested, tmp_path: Path
) -> None:
    world = attested.world
    health = tmp_path / "health.json"
    last = START + timedelta(hours=HOURS - 1)

    def run_at(now: datetime) -> dict[str, Any]:
        clock = FakeClock(now)
        publisher = world.publisher(clock, reserves=_setup(world, attested.store))
        config = ScheduleConfig(delay=DELAY, since=START, until=last, health=health)
        run_schedule(publisher, clock, config, lambda *a, **k: None)  # type: ignore[arg-type]
        return dict(json.loads(health.read_text()))

    assert run_at(START + timedelta(hours=3))["attestation_warnings"] == []
    warnings = run_at(datetime(2026, 11, 29, 6, tzinfo=UTC))["attestation_warnings"]
    cold = sorted(w.address for w in world.reserve.registry.wallets if w.role == "cold")
    assert sorted(w["address"] for w in warnings) == cold
    assert {w["rule"] for w in warnings} == {"attestation_expires_soon"}
    assert {w["expires"] for w in warnings} == {"2026-11-30T00:00:00Z"}
    assert all("por reserves challenge" in w["message"] for w in warnings)


def test_an_attestation_block_time_moved_later_fails_verify_reserves_on_your_node(
    attested: Attested, tmp_path: Path
) -> None:
    """The block time is the exchange's statement (the age is computed from it): a later
    time, re-signed with the exchange's key, passes verify bundle but not your node."""
    import shutil

    from por.operator.signing import signing_key_from_hex
    from tests.por.audit.forge import resign_bundle
    from tests.por.publish.publish_world import KEY_HEX

    site = tmp_path / "site"
    shutil.copytree(attested.site, site)
    bundle = site / "snapshots" / attested.bundle(HOURS - 1).name

    def later(reserves: dict[str, Any]) -> None:
        for proof in reserves["ownership"]:
            if proof["kind"] == "period":
                proof["block"]["time"] = "2026-11-24T01:30:00Z"

    resign_bundle(bundle, signing_key_from_hex(KEY_HEX, "test key"), later)
    result = por("verify", "bundle", str(bundle), "--public-key", attested.public_key,
                 "--max-attestation-age", "cold=1h")  # fmt: skip
    assert result.exit_code == 0, result.stderr  # the forged time makes it 30 minutes old
    result = por("verify", "reserves", str(bundle), "--public-key", attested.public_key,
                 "--eth-rpc", attested.eth_rpc, "--sol-rpc", attested.sol_rpc)  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "attestation_block_time_differs" in result.stderr

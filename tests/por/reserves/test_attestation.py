"""Per-period attestations, the pure parts: periods, the policy and its rules, the text a
cold wallet signs, and a per-snapshot proof's window (issue 18 item 3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from por.reserves.attestation import (
    AttestationPolicy,
    check_attestation,
    parse_iso_utc,
    parse_period,
)
from por.reserves.errors import AttestationRuleError, OwnershipError
from por.reserves.keystore import generate_keystore
from por.reserves.ownership import (
    Binding,
    OwnershipProof,
    ownership_message,
    sign_ownership,
    verify_ownership,
)
from por.reserves.values import Wallet

KEY = "ab" * 32
CHAIN_ID = "eip155:31337"
W48 = parse_period("2026-W48")


def test_periods_are_iso_weeks_months_and_days() -> None:
    assert W48.window == ("2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z")
    assert parse_period("2026-12").window == ("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")
    assert parse_period("2026-12-07").window == ("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z")
    for bad in ("2026-W54", "2026-13", "2026-W4", "W49", "2026-02-30"):
        with pytest.raises(OwnershipError, match="expected an ISO week"):
            parse_period(bad)


def test_the_policy_parses_roles_and_durations() -> None:
    assert AttestationPolicy().max_age == {"hot": 0, "cold": 7 * 86_400}
    policy = AttestationPolicy.parse(["36h", "hot=90m"])
    assert policy.max_age == {"hot": 5_400, "cold": 129_600}
    for bad in (["warm=1d"], ["cold=1w"], ["-1"]):
        with pytest.raises(OwnershipError):
            AttestationPolicy.parse(bad)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Wallet, OwnershipProof]:
    path: Path = tmp_path_factory.mktemp("keys") / "keys.json"
    store, (address,), _ = generate_keystore(path, ethereum=1)
    wallet = Wallet("ethereum", address, ("ETH",), "cold")
    binding = Binding("Ex", KEY, "ethereum", CHAIN_ID, W48.id, "period", W48.window, (7, "0xbb"))
    return wallet, sign_ownership(store, wallet, binding, "2026-11-23T05:00:00Z")


def test_the_period_text_names_window_and_recent_block(
    signed: tuple[Wallet, OwnershipProof],
) -> None:
    wallet, proof = signed
    assert proof.message.endswith(
        "kind: period\nperiod: 2026-W48\nvalid from: 2026-11-23T00:00:00Z\n"
        "valid until: 2026-11-30T00:00:00Z\nrecent block: 7\nrecent block hash: 0xbb\n"
    )
    assert OwnershipProof.from_dict(proof.to_dict()) == proof
    verify_ownership(proof, proof.binding("Ex"))
    other = dataclasses.replace(proof.binding("Ex"), block=(7, "0xcc"))
    with pytest.raises(OwnershipError, match="signed for block"):
        verify_ownership(proof, other)


@pytest.mark.parametrize(
    ("hour", "rule"),
    [
        ("2026-11-30T00:00:00Z", "attestation_window_does_not_cover_hour"),
        ("2026-11-22T23:00:00Z", "attestation_window_does_not_cover_hour"),
        ("2026-11-25T06:00:00Z", "attestation_expired"),
    ],
)
def test_each_rule_names_itself_the_role_chain_and_address(
    signed: tuple[Wallet, OwnershipProof], hour: str, rule: str
) -> None:
    wallet, proof = signed
    policy = AttestationPolicy.parse(["cold=1d"])
    check_attestation(proof, wallet, parse_iso_utc("2026-11-24T05:00:00Z"), policy)  # 1 day
    with pytest.raises(AttestationRuleError) as caught:
        check_attestation(proof, wallet, parse_iso_utc(hour), policy)
    assert caught.value.rule == rule
    assert str(caught.value).startswith(f"{rule}: cold wallet {wallet.address} on ethereum")


def test_a_block_older_than_the_period_and_a_foreign_window_are_refused(
    signed: tuple[Wallet, OwnershipProof],
) -> None:
    wallet, proof = signed
    hour = parse_iso_utc("2026-11-24T00:00:00Z")
    early = dataclasses.replace(proof, block=(7, "0xbb", "2026-11-22T23:59:59Z"))
    with pytest.raises(AttestationRuleError, match="attestation_made_before_period"):
        check_attestation(early, wallet, hour)
    wide = dataclasses.replace(proof, window=("2026-11-23T00:00:00Z", "2026-12-30T00:00:00Z"))
    with pytest.raises(AttestationRuleError, match="attestation_window_not_its_period"):
        check_attestation(wide, wallet, hour)
    hot = dataclasses.replace(wallet, role="hot")
    with pytest.raises(AttestationRuleError, match="per-snapshot proofs only"):
        check_attestation(proof, hot, hour)


def test_a_per_snapshot_proof_whose_window_is_not_its_snapshot_is_refused() -> None:
    binding = Binding("Ex", KEY, "ethereum", CHAIN_ID, "2026-11-24T16:00:00Z")
    raw = {
        "chain": "ethereum",
        "chain_id": CHAIN_ID,
        "address": "0x" + "00" * 20,
        "exchange_key": KEY,
        "kind": "snapshot",
        "period": binding.period,
        "scheme": "eip191-personal-sign",
        "message": ownership_message(binding, "0x" + "00" * 20),
        "signature": "0x00",
        "window": {"from": binding.period, "until": "2026-12-24T16:00:00Z"},
    }
    proof = OwnershipProof.from_dict(raw)
    with pytest.raises(OwnershipError, match="signed for window"):
        verify_ownership(proof, binding)

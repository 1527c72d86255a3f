"""Manifests: signing, pinned keys, what the signature covers, and malformed fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from por._canonical import canonical_json
from por.errors import InputError, ManifestError
from por.manifest import (
    AssetInfo,
    LogHead,
    build_manifest,
    manifest_signed_bytes,
    parse_manifest,
    parse_manifest_bytes,
    parse_public_key,
    public_key_bytes,
    verify_manifest,
)
from por.model import Node

ASSETS = (AssetInfo("BTC", 8), AssetInfo("USDC", 6))
ROOT = Node(b"\xab" * 32, (10**20, 5), (0, 7))
KEY = Ed25519PrivateKey.generate()


def signed(**extra: Any) -> dict[str, Any]:
    return build_manifest(
        "2026-11-24T16:00:00Z", ASSETS, 4, ROOT, LogHead(3, b"\x01" * 32), KEY, extra or None
    )


def test_a_built_manifest_verifies_with_its_key_and_with_that_key_pinned() -> None:
    manifest = parse_manifest(signed())
    assert manifest.public_key == public_key_bytes(KEY)
    assert (manifest.height, manifest.root, manifest.log) == (4, ROOT, LogHead(3, b"\x01" * 32))
    assert manifest.symbols == ("BTC", "USDC")
    verify_manifest(manifest)
    verify_manifest(manifest, public_key=public_key_bytes(KEY))


def test_the_signature_covers_the_canonical_json_without_the_signature_field() -> None:
    data = signed()
    body = {k: v for k, v in data.items() if k != "signature"}
    assert manifest_signed_bytes(data) == canonical_json(body)
    public = KEY.public_key()
    public.verify(bytes.fromhex(data["signature"]), canonical_json(body))


def test_extra_fields_are_signed_and_adding_one_later_breaks_the_signature() -> None:
    data = signed(published_at="2026-11-24T16:05:00Z")
    verify_manifest(parse_manifest(data))
    data["note"] = "added later"
    with pytest.raises(ManifestError, match="signature does not verify"):
        verify_manifest(parse_manifest(data))


def test_a_manifest_signed_by_another_key_is_refused_when_a_key_is_pinned() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(ManifestError, match="expected pinned key " + public_key_bytes(other).hex()):
        verify_manifest(parse_manifest(signed()), public_key=public_key_bytes(other))


def test_claiming_the_pinned_key_without_its_signature_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    data = dict(signed(), public_key=public_key_bytes(other).hex())
    with pytest.raises(ManifestError, match="signature does not verify"):
        verify_manifest(parse_manifest(data), public_key=public_key_bytes(other))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("log"), "missing field 'log'"),
        (lambda m: m.update(format="por-manifest/2"), "format: expected 'por-manifest/1'"),
        (lambda m: m["tree"].update(height=True), "tree.height: expected an integer"),
        (lambda m: m["tree"].update(height=33), "tree.height: expected an integer in 1..32"),
        (lambda m: m["assets"][0].update(decimals="8"), r"assets\[0\].decimals"),
        (lambda m: m["assets"][1].update(symbol="BTC"), "distinct symbols"),
        (lambda m: m["tree"]["root"]["equity"].append("0"), "expected 2 amounts"),
        (lambda m: m["tree"]["root"]["debt"].__setitem__(0, 7), "JSON number 7"),
        (lambda m: m.update(signature="AB" * 64), "signature: expected 128 lowercase hex"),
        (lambda m: m.update(public_key="00"), "public_key: expected 64 lowercase hex"),
        (lambda m: m["log"].update(size=0), "log.size"),
        (lambda m: m.update(extra=None), "not signable as canonical JSON"),
    ],
)
def test_malformed_manifests_are_refused_naming_the_field(change: Any, message: str) -> None:
    data = json.loads(json.dumps(signed()))
    change(data)
    with pytest.raises(ManifestError, match=message):
        parse_manifest(data)


def test_fractional_numbers_in_an_extra_field_make_the_manifest_unsignable() -> None:
    raw = canonical_json(signed())[:-1] + b',"ratio":1.5}'
    with pytest.raises(ManifestError, match="not signable"):
        parse_manifest_bytes(raw)


def test_building_with_an_extra_field_that_replaces_a_required_one_is_refused() -> None:
    with pytest.raises(InputError, match="would replace a required field"):
        signed(tree={"height": 1})


def test_pinned_keys_are_64_hex_digits() -> None:
    key = public_key_bytes(KEY)
    assert parse_public_key(key.hex().upper()) == key
    with pytest.raises(InputError, match="expected 64 hex digits"):
        parse_public_key("xyz")

"""Snapshot manifests (`por-manifest/1`): build, sign, parse and verify.

The signature is Ed25519 over the canonical JSON of the manifest without its `signature`
field, so every other field, including ones added later, is covered. Verifiers pin the
exchange's key: the `public_key` in the manifest only says which key signed.

Record `Manifest`
  Fields: snapshot_id, assets (symbol, decimals), height, root (hash, equity, debt totals),
    log (size, root), public_key, signature, and `signed_bytes` (what the signature covers).
  Guarantees (once parsed): well-formed fields; once `verify_manifest` returns, the
    signature verifies under the pinned (or named) key.
  Updates / deletion: never; a new snapshot gets a new manifest.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from por._canonical import CanonicalJSONError, canonical_json
from por._fields import (
    MAX_ASSETS,
    SYMBOL_BYTES_MAX,
    FieldError,
    describe,
    node_json,
    read_hash,
    read_int,
    read_keys,
    read_list,
    read_node,
    read_object,
    read_text,
)
from por._input import load_json_text
from por.amounts import DECIMALS_MAX
from por.errors import InputError, ManifestError
from por.keys import public_key_problem
from por.model import MAX_HEIGHT, Node

__all__ = [
    "LOG_SIZE_MAX",
    "MANIFEST_FORMAT",
    "AssetInfo",
    "LogHead",
    "Manifest",
    "build_manifest",
    "manifest_signed_bytes",
    "parse_manifest",
    "parse_manifest_bytes",
    "parse_public_key",
    "public_key_bytes",
    "sign_manifest",
    "verify_manifest",
]

MANIFEST_FORMAT = "por-manifest/1"
LOG_SIZE_MAX = (1 << 63) - 1

_REQUIRED = frozenset({"format", "snapshot_id", "assets", "tree", "log", "public_key", "signature"})
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_HEX_SIG = re.compile(r"[0-9a-f]{128}", re.ASCII)


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """An asset of the snapshot: its symbol and how many decimals its smallest unit has."""

    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class LogHead:
    """A transparency log's size and root: in a manifest, the log after this snapshot's
    root was appended (no timestamp); signed alone, a log head (`por.log.head`, with the
    time it was signed). One record for both."""

    size: int
    root: bytes
    timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """A well-formed manifest (not yet signature-checked; see `verify_manifest`)."""

    snapshot_id: str
    assets: tuple[AssetInfo, ...]
    height: int
    root: Node
    log: LogHead
    public_key: bytes
    signature: bytes
    signed_bytes: bytes

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(asset.symbol for asset in self.assets)


def manifest_signed_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The exact bytes the signature covers: canonical JSON of all fields but `signature`."""
    return canonical_json({k: v for k, v in manifest.items() if k != "signature"})


def _read_assets(value: Any) -> tuple[AssetInfo, ...]:
    items = read_list(value, "assets", 1, MAX_ASSETS)
    result = []
    for i, item in enumerate(items):
        where = f"assets[{i}]"
        obj = read_object(item, where)
        read_keys(obj, where, frozenset({"symbol", "decimals"}), extra_allowed=True)
        result.append(
            AssetInfo(
                symbol=read_text(obj["symbol"], f"{where}.symbol", SYMBOL_BYTES_MAX),
                decimals=read_int(obj["decimals"], f"{where}.decimals", 0, DECIMALS_MAX),
            )
        )
    if len({a.symbol for a in result}) != len(result):
        raise FieldError("assets: expected distinct symbols, got a repeated one")
    return tuple(result)


def _parse(data: Any) -> Manifest:
    top = read_object(data, "manifest")
    if "format" not in top:
        raise FieldError("manifest: missing field 'format'")
    if top["format"] != MANIFEST_FORMAT:
        raise FieldError(f"format: expected {MANIFEST_FORMAT!r}, got {describe(top['format'])}")
    read_keys(top, "manifest", _REQUIRED, extra_allowed=True)
    snapshot_id = read_text(top["snapshot_id"], "snapshot_id")
    assets = _read_assets(top["assets"])
    tree = read_object(top["tree"], "tree")
    read_keys(tree, "tree", frozenset({"height", "root"}), extra_allowed=True)
    height = read_int(tree["height"], "tree.height", 1, MAX_HEIGHT)
    root = read_node(tree["root"], "tree.root", len(assets))
    log = read_object(top["log"], "log")
    read_keys(log, "log", frozenset({"size", "root"}), extra_allowed=True)
    log_head = LogHead(
        size=read_int(log["size"], "log.size", 1, LOG_SIZE_MAX),
        root=read_hash(log["root"], "log.root"),
    )
    public_key = read_hash(top["public_key"], "public_key")
    problem = public_key_problem(public_key)
    if problem is not None:
        raise FieldError(f"public_key: {public_key.hex()} is {problem}")
    signature = top["signature"]
    if not isinstance(signature, str) or _HEX_SIG.fullmatch(signature) is None:
        raise FieldError(f"signature: expected 128 lowercase hex digits, got {describe(signature)}")
    try:
        signed = manifest_signed_bytes(top)
    except CanonicalJSONError as exc:
        raise FieldError(f"manifest: not signable as canonical JSON: {exc}") from None
    return Manifest(
        snapshot_id=snapshot_id,
        assets=assets,
        height=height,
        root=root,
        log=log_head,
        public_key=public_key,
        signature=bytes.fromhex(signature),
        signed_bytes=signed,
    )


def parse_manifest(data: Any) -> Manifest:
    """A decoded JSON value as a manifest; raises `ManifestError` naming the bad field."""
    try:
        return _parse(data)
    except FieldError as exc:
        raise ManifestError(f"manifest is malformed: {exc}") from None


def parse_manifest_bytes(raw: bytes) -> Manifest:
    """Manifest file bytes: `NotJSONError` if not JSON or if a string or key holds a lone
    surrogate (not UTF-8 text: invalid input, as the spec says), else as `parse_manifest`."""
    return parse_manifest(load_json_text(raw, "manifest"))


def parse_public_key(text: str) -> bytes:
    """A pinned Ed25519 public key given as 64 hex digits; raises `InputError` otherwise,
    and for a weak key (small order, non-canonical: `por.keys.public_key_problem`)."""
    cleaned = text.strip()
    if _HEX_KEY.fullmatch(cleaned) is None:
        raise InputError(
            f"public key: expected 64 hex digits (Ed25519), got {len(cleaned)} characters"
        )
    key = bytes.fromhex(cleaned)
    problem = public_key_problem(key)
    if problem is not None:
        raise InputError(f"public key {cleaned}: {problem}; pin the exchange's real key")
    return key


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes_raw()


def verify_manifest(manifest: Manifest, public_key: bytes | None = None) -> None:
    """Check the signature; with `public_key` given, only that key is accepted.

    Raises `ManifestError` saying which key was expected and whether the signature failed;
    a weak signing key (small order, non-canonical) is refused whatever the signature.
    """
    key = manifest.public_key
    if public_key is not None and not hmac.compare_digest(public_key, key):
        raise ManifestError(
            f"manifest is signed by key {key.hex()}, expected pinned key {public_key.hex()}"
        )
    problem = public_key_problem(key)
    if problem is not None:
        raise ManifestError(f"manifest public_key {key.hex()} is {problem}")
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(manifest.signature, manifest.signed_bytes)
    except (InvalidSignature, ValueError):
        raise ManifestError(f"manifest signature does not verify under key {key.hex()}") from None


def sign_manifest(unsigned: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of `unsigned` with `public_key` set to the signer's and `signature` added."""
    body = {k: v for k, v in unsigned.items() if k != "signature"}
    body["public_key"] = public_key_bytes(private_key).hex()
    signature = private_key.sign(manifest_signed_bytes(body))
    return {**body, "signature": signature.hex()}


def build_manifest(
    snapshot_id: str,
    assets: Sequence[AssetInfo],
    height: int,
    root: Node,
    log: LogHead,
    private_key: Ed25519PrivateKey,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The signed manifest JSON of a snapshot; `extra` fields are signed too.

    The result is parsed back before returning, so a malformed manifest is never produced.
    """
    unsigned: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "snapshot_id": snapshot_id,
        "assets": [{"symbol": a.symbol, "decimals": a.decimals} for a in assets],
        "tree": {"height": height, "root": node_json(root)},
        "log": {"size": log.size, "root": log.root.hex()},
    }
    for key, value in (extra or {}).items():
        if key in unsigned or key in ("public_key", "signature"):
            raise InputError(f"manifest extra field {key!r} would replace a required field")
        unsigned[key] = value
    signed = sign_manifest(unsigned, private_key)
    try:
        parse_manifest(signed)
    except ManifestError as exc:
        raise InputError(f"cannot build manifest: {exc}") from None
    return signed

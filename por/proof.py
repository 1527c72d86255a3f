"""Inclusion proofs (`por-proof/1`): the typed record, its strict parser and its JSON form.

Parsing is check 1 of the spec ("format is known; every vector has len(assets) canonical
amounts; hashes are 64 hex"): whatever is wrong with a JSON value, `parse_proof` raises
`ProofError(check=1)` naming the field, and nothing else. A parsed `InclusionProof` is
well-formed but not yet verified; `por.verify` does the rest.

Record `InclusionProof`
  Fields: snapshot_id, assets (symbols, in vector order), leaf (tag, index, equity, debt),
    path (sibling nodes from the leaf up), root, and, in the account's own copy only,
    account_id and nonce.
  Guarantees: every amount is an int in [0, 2^128); every vector has len(assets) entries;
    1 <= len(path) <= 32; account_id and nonce are both present or both absent.
  Updates / deletion: none; a proof is immutable and belongs to one snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    read_vector,
)
from por._input import load_json
from por.errors import ProofError
from por.model import MAX_HEIGHT, Node

__all__ = [
    "PROOF_FORMAT",
    "InclusionProof",
    "ProofLeaf",
    "parse_proof",
    "parse_proof_bytes",
    "proof_to_json",
]

PROOF_FORMAT = "por-proof/1"

_TOP_REQUIRED = frozenset({"format", "snapshot_id", "assets", "leaf", "path", "root"})
_TOP_OPTIONAL = frozenset({"account_id", "nonce"})
_LEAF_KEYS = frozenset({"tag", "index", "equity", "debt"})
# The index is any JSON integer here; check 3 decides whether it fits the path.
_INDEX_BOUND = 1 << 64


@dataclass(frozen=True, slots=True)
class ProofLeaf:
    """The proven leaf: its tag, its position in the tree and its two vectors."""

    tag: bytes
    index: int
    equity: tuple[int, ...]
    debt: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """A well-formed (not yet verified) inclusion proof; see the module docstring."""

    snapshot_id: str
    assets: tuple[str, ...]
    leaf: ProofLeaf
    path: tuple[Node, ...]
    root: Node
    account_id: str | None = None
    nonce: bytes | None = None

    @property
    def height(self) -> int:
        return len(self.path)


def _read_assets(value: Any) -> tuple[str, ...]:
    items = read_list(value, "assets", 1, MAX_ASSETS)
    symbols = tuple(
        read_text(item, f"assets[{i}]", SYMBOL_BYTES_MAX) for i, item in enumerate(items)
    )
    if len(set(symbols)) != len(symbols):
        raise FieldError("assets: expected distinct symbols, got a repeated one")
    return symbols


def _parse(data: Any) -> InclusionProof:
    top = read_object(data, "proof")
    if "format" not in top:
        raise FieldError("proof: missing field 'format'")
    if top["format"] != PROOF_FORMAT:
        raise FieldError(f"format: expected {PROOF_FORMAT!r}, got {describe(top['format'])}")
    read_keys(top, "proof", _TOP_REQUIRED, _TOP_OPTIONAL)
    if ("account_id" in top) != ("nonce" in top):
        present = "account_id" if "account_id" in top else "nonce"
        raise FieldError(f"proof: expected account_id and nonce together, got only {present}")
    snapshot_id = read_text(top["snapshot_id"], "snapshot_id")
    assets = _read_assets(top["assets"])
    n = len(assets)
    leaf_obj = read_object(top["leaf"], "leaf")
    read_keys(leaf_obj, "leaf", _LEAF_KEYS)
    leaf = ProofLeaf(
        tag=read_hash(leaf_obj["tag"], "leaf.tag"),
        index=read_int(leaf_obj["index"], "leaf.index", -_INDEX_BOUND, _INDEX_BOUND),
        equity=read_vector(leaf_obj["equity"], "leaf.equity", n),
        debt=read_vector(leaf_obj["debt"], "leaf.debt", n),
    )
    path_items = read_list(top["path"], "path", 1, MAX_HEIGHT)
    path = tuple(read_node(item, f"path[{i}]", n) for i, item in enumerate(path_items))
    root = read_node(top["root"], "root", n)
    account_id: str | None = None
    nonce: bytes | None = None
    if "account_id" in top:
        account_id = read_text(top["account_id"], "account_id")
        nonce = read_hash(top["nonce"], "nonce")
    return InclusionProof(
        snapshot_id=snapshot_id,
        assets=assets,
        leaf=leaf,
        path=path,
        root=root,
        account_id=account_id,
        nonce=nonce,
    )


def parse_proof(data: Any) -> InclusionProof:
    """A decoded JSON value as a proof; raises `ProofError` (check 1) naming the bad field."""
    try:
        return _parse(data)
    except FieldError as exc:
        raise ProofError(1, str(exc)) from None


def parse_proof_bytes(raw: bytes) -> InclusionProof:
    """Proof file bytes as a proof: `NotJSONError` if not JSON, else as `parse_proof`."""
    return parse_proof(load_json(raw, "proof"))


def proof_to_json(proof: InclusionProof) -> dict[str, Any]:
    """The spec's JSON object for a proof (the inverse of `parse_proof`)."""
    result: dict[str, Any] = {
        "format": PROOF_FORMAT,
        "snapshot_id": proof.snapshot_id,
        "assets": list(proof.assets),
    }
    if proof.account_id is not None and proof.nonce is not None:
        result["account_id"] = proof.account_id
        result["nonce"] = proof.nonce.hex()
    result["leaf"] = {
        "tag": proof.leaf.tag.hex(),
        "index": proof.leaf.index,
        "equity": [str(v) for v in proof.leaf.equity],
        "debt": [str(v) for v in proof.leaf.debt],
    }
    result["path"] = [node_json(node) for node in proof.path]
    result["root"] = node_json(proof.root)
    return result

"""The shared vectors (`../shared/vectors/*.json`): every key of their README, every file.

Files with `proof_sets` (an account in several leaves, "pieces") also have their sets
accepted with exactly their claim and their invalid sets rejected naming the set check;
their `accounts[]` has one entry per piece, so an account id recurs.

Files are found at collection time, so a new vector file is picked up without editing this
module; a missing directory is a collection error (loud), never a skip. The log's roots and
consistency proofs belong to the log's tests (tests/por/log/).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from por._canonical import canonical_json
from por._hashing import tag_hash
from por.builder.reference import ReferenceTree
from por.builder.vectorgen import shared_vector_files
from por.errors import ManifestError, ProofError, ProofSetError
from por.leaves import Leaf, parse_leaf
from por.manifest import manifest_signed_bytes, parse_manifest, verify_manifest
from por.model import AccountInput
from por.proof import parse_proof, parse_proof_bytes, proof_to_json
from por.proofset import (
    ProofSet,
    parse_proof_document_bytes,
    proof_set_to_json,
    verify_proof_set,
    verify_set_inclusion,
)
from por.verify import fold_leaves, verify_inclusion, verify_leaves, verify_proof

FILES = shared_vector_files()


@functools.cache
def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@functools.cache
def tree_of(path: Path) -> ReferenceTree:
    vector = load(path)
    symbols = [a["symbol"] for a in vector["assets"]]
    leaves = [parse_leaf(item, "leaf", len(symbols)) for item in vector["leaves"]]
    return ReferenceTree.from_leaves(vector["snapshot_id"], symbols, leaves)


def account_of(item: dict[str, Any]) -> AccountInput:
    return AccountInput(
        item["account_id"],
        bytes.fromhex(item["nonce"]),
        tuple(int(v) for v in item["equity"]),
        tuple(int(v) for v in item["debt"]),
    )


def cases(key: str) -> list[Any]:
    return [
        pytest.param(path, i, id=f"{path.stem}-{i}-{entry['why'][:30]}")
        for path in FILES
        for i, entry in enumerate(load(path)[key])
    ]


by_file = pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])

# What each known attack must be rejected for: (allowed checks, words in the reason).
# A `why` not listed here (a new vector) must still be rejected with a ProofError.
EXPECTED_REJECTION: dict[str, tuple[set[int], str]] = {
    "leaf equity raised by one unit": ({4}, "root hash"),
    "sibling equity lowered (Maxwell sum attack)": ({4}, "root hash"),
    "sibling hash flipped": ({4}, "root hash"),
    "negative amount in sibling": ({1}, "negative"),
    "amount not canonical (leading zero)": ({1}, "leading zero"),
    "amount as JSON number": ({1}, "JSON number"),
    "amount beyond u128": ({1}, "2^128"),
    "wrong account id for tag": ({2}, "tag"),
    "wrong nonce": ({2}, "tag"),
    "index points to the other side": ({4}, "root hash"),
    "index beyond tree": ({3}, "index"),
    "path truncated": ({1, 3, 4}, ""),
    "vector length wrong": ({1}, "amounts"),
    "root sums changed": ({4}, "root"),
    "unknown format": ({1}, "format"),
    "snapshot id changed": ({2, 5}, ""),
}


@by_file
def test_snapshot_id_and_assets_agree_across_the_vector(path: Path) -> None:
    vector = load(path)
    manifest = parse_manifest(vector["manifest"])
    assert manifest.snapshot_id == vector["snapshot_id"]
    assert [{"symbol": a.symbol, "decimals": a.decimals} for a in manifest.assets] == vector[
        "assets"
    ]
    for proof in vector["valid_proofs"]:
        assert proof["snapshot_id"] == vector["snapshot_id"]
        assert proof["assets"] == [a["symbol"] for a in vector["assets"]]


@by_file
def test_every_account_tag_is_what_the_tag_function_gives(path: Path) -> None:
    vector = load(path)
    assert vector["accounts"], "a vector without accounts checks nothing"
    for item in vector["accounts"]:
        tag = tag_hash(vector["snapshot_id"], bytes.fromhex(item["nonce"]), item["account_id"])
        assert tag.hex() == item["tag"], f"tag of {item['account_id']!r}"


@by_file
def test_building_from_the_leaves_gives_height_leaf_count_and_root(path: Path) -> None:
    vector = load(path)
    tree = tree_of(path)
    assert tree.height == vector["height"]
    assert tree.leaf_count == vector["leaf_count"] == len(vector["leaves"])
    assert tree.root.hash.hex() == vector["root"]["hash"]
    assert [str(v) for v in tree.root.equity] == vector["root"]["equity"]
    assert [str(v) for v in tree.root.debt] == vector["root"]["debt"]


@by_file
def test_the_streaming_rebuild_agrees_with_the_reference_tree(path: Path) -> None:
    tree = tree_of(path)
    summary = fold_leaves(iter(tree.leaves), tree.assets)
    assert (summary.leaf_count, summary.height, summary.root) == (
        tree.leaf_count,
        tree.height,
        tree.root,
    )
    verify_leaves(iter(tree.leaves), parse_manifest(load(path)["manifest"]))


@by_file
def test_each_account_leaf_is_in_the_leaf_list_with_its_vectors(path: Path) -> None:
    vector = load(path)
    tree = tree_of(path)
    for item in vector["accounts"]:
        account = account_of(item)
        leaf = tree.leaves[tree.index_of(bytes.fromhex(item["tag"]))]
        assert leaf == Leaf(bytes.fromhex(item["tag"]), account.equity, account.debt)


def _field_differences(mine: Any, theirs: Any, where: str = "proof") -> list[str]:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        out = [f"{where}.{k}: only one side has it" for k in mine.keys() ^ theirs.keys()]
        for key in mine.keys() & theirs.keys():
            out += _field_differences(mine[key], theirs[key], f"{where}.{key}")
        return out
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        out = []
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            out += _field_differences(a, b, f"{where}[{i}]")
        return out
    return [] if mine == theirs else [f"{where}: mine {mine!r}, vector {theirs!r}"]


@by_file
def test_each_valid_proof_equals_the_reference_builders_field_by_field_and_verifies(
    path: Path,
) -> None:
    vector = load(path)
    tree = tree_of(path)
    manifest = parse_manifest(vector["manifest"])
    assert len(vector["valid_proofs"]) == len(vector["accounts"])
    for item, expected in zip(vector["accounts"], vector["valid_proofs"], strict=True):
        mine = tree.proof_json(account_of(item))
        assert _field_differences(mine, expected) == []
        assert mine == expected
        parsed = parse_proof_bytes(json.dumps(expected).encode("utf-8"))
        assert proof_to_json(parsed) == expected
        verify_proof(parsed, manifest)
        verify_proof(parsed, manifest, manifest.public_key)


@pytest.mark.parametrize(("path", "i"), cases("invalid_proofs"))
def test_each_invalid_proof_is_rejected_with_a_reason(path: Path, i: int) -> None:
    vector = load(path)
    entry = vector["invalid_proofs"][i]
    manifest = parse_manifest(vector["manifest"])
    raw = json.dumps(entry["proof"], ensure_ascii=False).encode("utf-8")
    with pytest.raises(ProofError) as caught:
        verify_proof(parse_proof_bytes(raw), manifest)
    error = caught.value
    assert error.detail, f"{entry['why']}: rejected without a reason"
    assert str(error).startswith(f"check {error.check} (")
    checks, words = EXPECTED_REJECTION.get(entry["why"], ({1, 2, 3, 4, 5}, ""))
    assert error.check in checks, f"{entry['why']}: failed check {error.check}: {error}"
    assert words in str(error), f"{entry['why']}: reason {error} lacks {words!r}"


@by_file
def test_the_manifest_signature_verifies_with_its_public_key(path: Path) -> None:
    manifest = parse_manifest(load(path)["manifest"])
    verify_manifest(manifest)
    verify_manifest(manifest, public_key=manifest.public_key)


@pytest.mark.parametrize(("path", "i"), cases("invalid_manifests"))
def test_each_invalid_manifest_fails_signature_verification(path: Path, i: int) -> None:
    entry = load(path)["invalid_manifests"][i]
    with pytest.raises(ManifestError, match="signature does not verify") as caught:
        verify_manifest(parse_manifest(entry["manifest"]))
    assert entry["why"] and str(caught.value)


@by_file
def test_log_signed_bytes_are_the_canonical_json_of_the_manifest_without_signature(
    path: Path,
) -> None:
    vector = load(path)
    signed = vector["log"]["signed_bytes"].encode("utf-8")
    assert manifest_signed_bytes(vector["manifest"]) == signed
    assert parse_manifest(vector["manifest"]).signed_bytes == signed
    body = {k: v for k, v in vector["manifest"].items() if k != "signature"}
    assert canonical_json(body) == signed


@by_file
def test_the_last_log_entry_names_this_snapshots_root(path: Path) -> None:
    vector = load(path)
    entry = json.loads(vector["log"]["entries"][-1])
    assert entry == {
        "snapshot_id": vector["snapshot_id"],
        "assets": vector["assets"],
        "root": vector["manifest"]["tree"]["root"],
    }


def test_vector_files_are_found_and_not_empty() -> None:
    assert FILES, "no vector files"
    for path in FILES:
        vector = load(path)
        assert vector["valid_proofs"] and vector["invalid_proofs"] and vector["invalid_manifests"]


def test_proof_parser_is_the_inverse_of_the_serialiser_on_vector_proofs() -> None:
    for path in FILES:
        for proof in load(path)["valid_proofs"]:
            assert proof_to_json(parse_proof(proof)) == proof


# --- proof sets (`proof_sets[]`, `invalid_proof_sets[]`): one account in several leaves ---

# What each known bad set must be rejected for: (set check, allowed proof checks, words).
# A `why` not listed here (a new vector) must still be rejected with a ProofSetError.
EXPECTED_SET_REJECTION: dict[str, tuple[int, set[int], str]] = {
    "a piece of another account": (2, {2}, "is a piece of account"),
    "the same piece twice": (3, {2}, "counted twice"),
    "empty proofs": (1, {1}, "proofs: expected 1..256 entries, got 0"),
    "257 elements (pieces repeated)": (1, {1}, "proofs: expected 1..256 entries, got 257"),
    "element with another snapshot_id (its leaf is in this tree)": (2, {5}, "snapshot id"),
    "element without nonce": (2, {1}, "account_id and nonce together"),
    "element without account_id and nonce (the public copy)": (2, {2}, "no account_id and nonce"),
    "set account_id differs from its elements'": (2, {2}, "is a piece of account"),
    "set snapshot_id differs from its elements'": (2, {5}, "snapshot_id"),
    "one element's sibling equity lowered (Maxwell sum attack)": (2, {4}, "root hash"),
    "unknown set format": (1, {1}, "format: expected 'por-proof-set/1'"),
    "element is a valid proof of another snapshot's tree": (2, {5}, "snapshot id"),
    "element is a valid proof of another tree of this snapshot (root not the manifest's)": (
        2,
        {4, 5},
        "",
    ),
}

SET_FILES = [path for path in FILES if "proof_sets" in load(path)]
by_set_file = pytest.mark.parametrize("path", SET_FILES, ids=[p.stem for p in SET_FILES])


def set_cases(key: str) -> list[Any]:
    return [
        pytest.param(
            path, i, id=f"{path.stem}-{i}-{entry.get('why', entry.get('account_id'))[:30]}"
        )
        for path in SET_FILES
        for i, entry in enumerate(load(path).get(key, []))
    ]


def test_some_vector_file_has_proof_sets_and_invalid_ones() -> None:
    assert SET_FILES, "no vector file has proof_sets: the set tests would check nothing"
    for path in SET_FILES:
        vector = load(path)
        assert vector["proof_sets"] and vector["invalid_proof_sets"], path.name
        assert {len(s["set"]["proofs"]) for s in vector["proof_sets"]} >= {1, 6}, path.name


@pytest.mark.parametrize(("path", "i"), set_cases("proof_sets"))
def test_each_vector_proof_set_is_accepted_with_exactly_its_claim(path: Path, i: int) -> None:
    vector = load(path)
    entry = vector["proof_sets"][i]
    manifest = parse_manifest(vector["manifest"])
    raw = json.dumps(entry["set"], ensure_ascii=False).encode("utf-8")
    proof_set = parse_proof_document_bytes(raw)
    assert isinstance(proof_set, ProofSet)
    for key in (None, manifest.public_key):
        claim = verify_proof_set(proof_set, manifest, key)
        assert claim.account_id == entry["account_id"] == entry["set"]["account_id"]
        assert claim.snapshot_id == vector["snapshot_id"]
        assert claim.pieces == len(entry["set"]["proofs"])
        assert [str(v) for v in claim.equity] == entry["claim"]["equity"]
        assert [str(v) for v in claim.debt] == entry["claim"]["debt"]
        assert claim.root == manifest.root
    assert verify_set_inclusion(proof_set) == claim
    assert proof_set_to_json(proof_set) == entry["set"]


@pytest.mark.parametrize(("path", "i"), set_cases("invalid_proof_sets"))
def test_each_invalid_proof_set_is_rejected_naming_the_set_check(path: Path, i: int) -> None:
    vector = load(path)
    entry = vector["invalid_proof_sets"][i]
    manifest = parse_manifest(vector["manifest"])
    raw = json.dumps(entry["set"], ensure_ascii=False).encode("utf-8")
    with pytest.raises(ProofSetError) as caught:
        document = parse_proof_document_bytes(raw)
        assert isinstance(document, ProofSet), entry["why"]
        verify_proof_set(document, manifest, manifest.public_key)
    error = caught.value
    assert error.detail, f"{entry['why']}: rejected without a reason"
    assert str(error).startswith(f"set check {error.set_check} ("), str(error)
    set_check, checks, words = EXPECTED_SET_REJECTION.get(entry["why"], (0, {1, 2, 3, 4, 5}, ""))
    if set_check:
        assert error.set_check == set_check, f"{entry['why']}: {error}"
    assert error.check in checks, f"{entry['why']}: proof check {error.check}: {error}"
    assert words in str(error), f"{entry['why']}: reason {error} lacks {words!r}"


@by_set_file
def test_account_pieces_are_numbered_from_zero_and_each_set_is_its_accounts_pieces(
    path: Path,
) -> None:
    vector = load(path)
    pieces: dict[str, list[int]] = {}
    proofs_of: dict[str, list[Any]] = {}
    for item, proof in zip(vector["accounts"], vector["valid_proofs"], strict=True):
        pieces.setdefault(item["account_id"], []).append(item["piece"])
        proofs_of.setdefault(item["account_id"], []).append(proof)
        assert proof["account_id"] == item["account_id"] and proof["nonce"] == item["nonce"]
    assert any(len(p) > 1 for p in pieces.values()), "no account has several pieces"
    for account, numbers in pieces.items():
        assert sorted(numbers) == list(range(len(numbers))), account
    tags = [item["tag"] for item in vector["accounts"]]
    assert len(set(tags)) == len(tags), "two pieces share a tag"
    width = len(vector["assets"])
    for entry in vector["proof_sets"]:
        account = entry["account_id"]
        own = proofs_of[account]
        assert sorted(p["leaf"]["tag"] for p in entry["set"]["proofs"]) == sorted(
            p["leaf"]["tag"] for p in own
        )
        for side in ("equity", "debt"):
            sums = [sum(int(p["leaf"][side][k]) for p in own) for k in range(width)]
            assert [str(v) for v in sums] == entry["claim"][side], (account, side)


@by_set_file
def test_the_element_tagged_with_another_snapshot_has_a_zero_leaf_in_this_tree(
    path: Path,
) -> None:
    vector = load(path)
    tree = tree_of(path)
    foreign = [
        proof
        for entry in vector["invalid_proof_sets"]
        for proof in entry["set"]["proofs"]
        if isinstance(proof, dict)
        and proof.get("snapshot_id") != vector["snapshot_id"]
        and len(proof.get("path", [])) == vector["height"]
    ]
    assert foreign, "no element of another snapshot whose leaf is in this tree"
    for proof in foreign:
        leaf = tree.leaves[tree.index_of(bytes.fromhex(proof["leaf"]["tag"]))]
        assert not any(leaf.equity) and not any(leaf.debt)
        verify_inclusion(parse_proof(proof))  # its own tag and path hold: only check 5 fails

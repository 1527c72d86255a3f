"""`por.proofset`: a set's parser and verifier beyond the shared vectors (bounds, dispatch,
errors, sums), on trees where accounts are split into pieces."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from por.builder.reference import ReferenceTree, account_tag
from por.errors import NotJSONError, ProofError, ProofSetError
from por.leaves import Leaf
from por.manifest import AssetInfo, LogHead, Manifest, build_manifest, parse_manifest
from por.model import AccountInput, filler_tag, padded_size
from por.proof import InclusionProof, parse_proof
from por.proofset import (
    MAX_PIECES,
    ProofSet,
    is_proof_set,
    parse_proof_document,
    parse_proof_document_bytes,
    parse_proof_set,
    parse_proof_set_bytes,
    prefixed,
    proof_set_to_json,
    verify_proof_set,
    verify_set_inclusion,
)

SID = "2026-11-24T16:00:00Z"
ASSETS = (AssetInfo("BTC", 8), AssetInfo("ETH", 18))
KEY = Ed25519PrivateKey.from_private_bytes(b"k" * 32)


def split(account_id: str, equity: tuple[int, ...], debt: tuple[int, ...], k: int,
          rng: random.Random) -> list[AccountInput]:  # fmt: skip
    """`k` pieces of random shares that add up to the account's amounts."""

    def shares(total: int) -> list[int]:
        cuts = sorted(rng.randint(0, total) for _ in range(k - 1))
        return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]

    eq = [shares(v) for v in equity]
    de = [shares(v) for v in debt]
    return [
        AccountInput(
            account_id,
            rng.randbytes(32),
            tuple(column[j] for column in eq),
            tuple(column[j] for column in de),
        )
        for j in range(k)
    ]


def tree_of(pieces: list[AccountInput], sid: str = SID) -> ReferenceTree:
    leaves = [Leaf(account_tag(sid, p), p.equity, p.debt) for p in pieces]
    zero = (0,) * len(ASSETS)
    size = padded_size(len(leaves))
    leaves += [Leaf(filler_tag(b"f" * 32, sid, i), zero, zero) for i in range(size - len(leaves))]
    leaves.sort(key=lambda leaf: leaf.tag)
    return ReferenceTree.from_leaves(sid, [a.symbol for a in ASSETS], leaves)


def manifest_of(tree: ReferenceTree, key: Ed25519PrivateKey = KEY) -> Manifest:
    signed = build_manifest(
        tree.snapshot_id, ASSETS, tree.height, tree.root, LogHead(1, b"\x00" * 32), key
    )
    return parse_manifest(signed)


def set_json(tree: ReferenceTree, pieces: list[AccountInput]) -> dict[str, Any]:
    return {
        "format": "por-proof-set/1",
        "snapshot_id": tree.snapshot_id,
        "account_id": pieces[0].account_id,
        "proofs": [tree.proof_json(p) for p in pieces],
    }


@pytest.fixture(scope="module")
def world() -> tuple[ReferenceTree, Manifest, list[AccountInput], list[AccountInput]]:
    rng = random.Random(16)
    alice = split("alice", (10**30 + 7, 5), (0, 3), 5, rng)
    bob = split("bob", (12, 10**20), (1, 0), 2, rng)
    tree = tree_of(alice + bob)
    return tree, manifest_of(tree), alice, bob


def test_a_split_accounts_claim_is_exactly_its_amounts_before_the_split(world: Any) -> None:
    tree, manifest, alice, _ = world
    claim = verify_proof_set(
        parse_proof_set(set_json(tree, alice)), manifest, KEY.public_key().public_bytes_raw()
    )
    assert (claim.account_id, claim.snapshot_id, claim.pieces) == ("alice", SID, 5)
    assert claim.equity == (10**30 + 7, 5) and claim.debt == (0, 3)
    assert claim.root == manifest.root and claim.assets == ("BTC", "ETH")


@settings(max_examples=25, deadline=None)
@given(
    equity=st.tuples(st.integers(0, 2**100), st.integers(0, 2**100)),
    debt=st.tuples(st.integers(0, 2**64), st.integers(0, 2**64)),
    k=st.integers(1, 12),
    seed=st.integers(0, 2**32),
)
def test_any_split_adds_up_to_the_account_with_and_without_the_manifest(
    equity: tuple[int, int], debt: tuple[int, int], k: int, seed: int
) -> None:
    rng = random.Random(seed)
    pieces = split("ünïcode", equity, debt, k, rng)
    other = split("other", (rng.randrange(10**9), 0), (0, 0), 1, rng)
    tree = tree_of(pieces + other)
    proof_set = parse_proof_set(set_json(tree, pieces))
    claim = verify_proof_set(proof_set, manifest_of(tree))
    assert (claim.equity, claim.debt, claim.pieces) == (equity, debt, k)
    assert verify_set_inclusion(proof_set) == claim


def test_the_bound_is_256_pieces_and_a_set_of_256_verifies() -> None:
    assert MAX_PIECES == 256
    pieces = split("many", (256 * 3, 0), (0, 0), MAX_PIECES, random.Random(1))
    tree = tree_of(pieces)
    document = set_json(tree, pieces)
    claim = verify_proof_set(parse_proof_set(document), manifest_of(tree))
    assert claim.pieces == 256 and claim.equity == (768, 0)
    document["proofs"].append(document["proofs"][0])
    with pytest.raises(ProofSetError, match=r"^set check 1 \(well-formed set\) failed: proofs:"
                       r" expected 1..256 entries, got 257$"):  # fmt: skip
        parse_proof_set(document)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.pop("format"), "proof set: missing field 'format'"),
        (lambda d: d.update(format="por-proof/1"), "format: expected 'por-proof-set/1'"),
        (lambda d: d.update(extra=1), "proof set: unexpected field 'extra'"),
        (lambda d: d.pop("account_id"), "proof set: missing field 'account_id'"),
        (lambda d: d.update(account_id=""), "account_id: expected 1..65535 bytes"),
        (lambda d: d.update(account_id="\ud800"), "account_id: expected UTF-8 text"),
        (lambda d: d.update(snapshot_id=5), "snapshot_id: expected a string"),
        (lambda d: d.update(proofs={}), "proofs: expected an array"),
        (lambda d: d["proofs"].append("a proof"), "proofs[5]: expected an object"),
    ],
)
def test_a_malformed_set_fails_set_check_1_naming_the_field(
    world: Any, change: Any, words: str
) -> None:
    tree, _, alice, _ = world
    document = set_json(tree, alice)
    change(document)
    with pytest.raises(ProofSetError) as caught:
        parse_proof_set(document)
    assert (caught.value.set_check, caught.value.check, caught.value.element) == (1, 1, None)
    assert str(caught.value) == f"set check 1 (well-formed set) failed: {caught.value.detail}"
    assert words in caught.value.detail


def test_a_malformed_piece_fails_set_check_2_with_its_own_check_1(world: Any) -> None:
    tree, _, alice, _ = world
    document = set_json(tree, alice)
    document["proofs"][3]["leaf"]["equity"][0] = "01"
    with pytest.raises(ProofSetError) as caught:
        parse_proof_set(document)
    error = caught.value
    assert (error.set_check, error.check, error.element) == (2, 1, 3)
    assert str(error).startswith(
        "set check 2 (every piece) failed: proofs[3]: check 1 (well-formed) failed: leaf.equity[0]:"
    )


def test_a_manifest_signed_by_another_key_fails_before_any_piece(world: Any) -> None:
    tree, _, alice, _ = world
    other = manifest_of(tree, Ed25519PrivateKey.from_private_bytes(b"o" * 32))
    proof_set = parse_proof_set(set_json(tree, alice))
    with pytest.raises(ProofSetError, match="manifest: manifest is signed by key") as caught:
        verify_proof_set(proof_set, other, KEY.public_key().public_bytes_raw())
    assert (caught.value.set_check, caught.value.check, caught.value.element) == (2, 5, None)


def test_without_a_manifest_pieces_of_two_trees_are_refused(world: Any) -> None:
    tree, _, alice, _ = world
    rng = random.Random(3)
    elsewhere = split("alice", (4, 4), (0, 0), 2, rng)
    other_tree = tree_of(elsewhere + split("x", (1, 1), (0, 0), 1, rng))
    mixed = set_json(tree, alice)
    mixed["proofs"].append(other_tree.proof_json(elsewhere[0]))
    proof_set = parse_proof_set(mixed)
    with pytest.raises(ProofSetError, match=r"proofs\[5\]: .* the pieces are not of one tree"):
        verify_set_inclusion(proof_set)
    with pytest.raises(ProofSetError, match=r"proofs\[5\]: check 5 \(manifest\)"):
        verify_proof_set(proof_set, manifest_of(tree))


def test_a_repeated_piece_is_refused_without_a_manifest_too(world: Any) -> None:
    tree, _, alice, _ = world
    document = set_json(tree, alice)
    document["proofs"].insert(2, document["proofs"][4])
    with pytest.raises(ProofSetError, match=r"proofs\[5\] has the leaf tag of proofs\[2\]") as c:
        verify_set_inclusion(parse_proof_set(document))
    assert (c.value.set_check, c.value.element) == (3, 5)


def test_a_single_proof_is_dispatched_to_the_proof_parser_unchanged(world: Any) -> None:
    tree, _, alice, _ = world
    single = tree.proof_json(alice[0])
    assert not is_proof_set(single)
    assert parse_proof_document(single) == parse_proof(single)
    raw = json.dumps(single).encode()
    assert isinstance(parse_proof_document_bytes(raw), InclusionProof)
    unknown = dict(single, format="por-proof/9")
    with pytest.raises(ProofError) as caught:
        parse_proof_document(unknown)
    assert not isinstance(caught.value, ProofSetError)
    assert str(caught.value) == (
        "check 1 (well-formed) failed: format: expected 'por-proof/1', got string 'por-proof/9'"
    )
    for value in ([], "por-proof-set/1", {"format": 1}, {"format": None}):
        assert not is_proof_set(value)
    assert is_proof_set({"format": "por-proof-set/0"})


def test_any_set_version_is_dispatched_to_the_set_parser(world: Any) -> None:
    tree, _, alice, _ = world
    document = set_json(tree, alice)
    assert isinstance(parse_proof_document(document), ProofSet)
    with pytest.raises(ProofSetError, match="format: expected 'por-proof-set/1', got string"):
        parse_proof_document(dict(document, format="por-proof-set/2"))


def test_a_lone_surrogate_in_set_bytes_is_unusable_input_not_a_failed_check(world: Any) -> None:
    tree, _, alice, _ = world
    document = set_json(tree, alice)
    text = json.dumps(document).replace('"alice"', '"\\udc80"', 1)
    for parse in (parse_proof_set_bytes, parse_proof_document_bytes):
        with pytest.raises(NotJSONError, match="proof set: not UTF-8 text: a string holds a lone"):
            parse(text.encode())
    nested = json.dumps(document).replace('"tag"', '"t\\ud800"', 1)
    with pytest.raises(NotJSONError, match="lone surrogate"):
        parse_proof_document_bytes(nested.encode())
    with pytest.raises(NotJSONError, match="not JSON"):
        parse_proof_set_bytes(b'{"format": "por-proof-set/1", ')


def test_the_set_serialiser_is_the_inverse_of_the_parser(world: Any) -> None:
    tree, _, _, bob = world
    document = set_json(tree, bob)
    assert proof_set_to_json(parse_proof_set(document)) == document
    raw = json.dumps(document, ensure_ascii=False).encode("utf-8")
    assert parse_proof_set_bytes(raw) == parse_proof_set(document)


def test_prefixed_keeps_the_error_type_checks_and_element() -> None:
    plain = prefixed(ProofError(3, "index: expected"), "hour 16")
    assert (
        type(plain) is ProofError
        and str(plain) == "check 3 (index) failed: hour 16: index: expected"
    )
    in_set = prefixed(ProofSetError(3, "proofs[4] repeats", 2, 4), "f.json")
    assert isinstance(in_set, ProofSetError)
    assert (in_set.set_check, in_set.check, in_set.element) == (3, 2, 4)
    assert str(in_set) == "set check 3 (distinct pieces) failed: f.json: proofs[4] repeats"


def test_a_set_error_is_a_proof_error_with_a_known_set_check() -> None:
    error = ProofSetError(1, "x", 1)
    assert isinstance(error, ProofError) and error.detail == "x"
    with pytest.raises(ValueError, match="unknown proof set check number: 4"):
        ProofSetError(4, "x", 1)
    with pytest.raises(ValueError, match="unknown proof check number: 6"):
        ProofSetError(1, "x", 6)

"""The verifier: the spec's five checks, the named attacks, and single-field tampering."""

from __future__ import annotations

import copy
import functools
import json
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from por._hashing import AMOUNT_LIMIT
from por.builder.vectorgen import make_snapshot, random_accounts
from por.errors import NotJSONError, ProofError, TreeError
from por.leaves import Leaf
from por.manifest import Manifest, parse_manifest, public_key_bytes
from por.proof import parse_proof, parse_proof_bytes
from por.verify import fold_leaves, verify_leaves, verify_proof, verify_proof_bytes

SID = "2026-11-24T16:00:00Z"


@functools.cache
def snapshot(seed: int = 1, count: int = 5) -> tuple[dict[str, Any], Manifest]:
    vector, _ = make_snapshot(SID, random_accounts(random.Random(seed), count, 4))
    return vector, parse_manifest(vector["manifest"])


def check(proof: Any, manifest: Manifest, public_key: bytes | None = None) -> None:
    verify_proof(parse_proof(proof), manifest, public_key)


def rejected(proof: Any, manifest: Manifest) -> ProofError:
    with pytest.raises(ProofError) as caught:
        check(proof, manifest)
    return caught.value


def test_every_proof_of_a_fresh_snapshot_verifies() -> None:
    vector, manifest = snapshot()
    for proof in vector["valid_proofs"]:
        check(proof, manifest)
        check(proof, manifest, manifest.public_key)


# ---- named attacks ---------------------------------------------------------------------


def test_maxwell_sibling_sum_lowering_is_rejected_even_with_the_root_lowered_to_match() -> None:
    vector, manifest = snapshot()
    proof = copy.deepcopy(vector["valid_proofs"][0])
    sibling = next(node for node in proof["path"] if node["equity"][0] != "0")
    sibling["equity"][0] = str(int(sibling["equity"][0]) - 1)
    assert rejected(proof, manifest).check == 4
    # Lowering the root's total by the same unit keeps the sums consistent; the hash,
    # which covers both children's sums, still gives it away.
    proof["root"]["equity"][0] = str(int(proof["root"]["equity"][0]) - 1)
    error = rejected(proof, manifest)
    assert error.check == 4 and "root hash" in str(error)


def test_a_negative_leaf_amount_is_rejected_as_malformed() -> None:
    vector, manifest = snapshot()
    proof = copy.deepcopy(vector["valid_proofs"][0])
    proof["leaf"]["equity"][1] = "-1"
    error = rejected(proof, manifest)
    assert error.check == 1
    assert "leaf.equity[1]" in str(error) and "negative" in str(error)


def test_a_negative_debt_as_json_number_is_rejected_as_malformed() -> None:
    vector, manifest = snapshot()
    proof = copy.deepcopy(vector["valid_proofs"][0])
    proof["leaf"]["debt"][0] = -5
    assert "expected a decimal string, got JSON number -5" in str(rejected(proof, manifest))


def test_a_sum_reaching_two_to_the_128_is_rejected_as_overflow() -> None:
    vector, manifest = snapshot()
    proof = copy.deepcopy(vector["valid_proofs"][0])
    proof["leaf"]["equity"][0] = str(AMOUNT_LIMIT - 1)
    proof["path"][0]["equity"][0] = "1"
    error = rejected(proof, manifest)
    assert error.check == 4
    assert "equity sum of BTC at level 1 reaches 2^128" in str(error)


def test_duplicate_tags_in_a_published_leaf_list_are_rejected() -> None:
    leaf = Leaf(b"\x07" * 32, (1,), (0,))
    with pytest.raises(TreeError, match="repeats the previous tag"):
        fold_leaves([leaf, leaf], ("BTC",))


def test_a_negative_index_fails_the_index_check() -> None:
    vector, manifest = snapshot()
    proof = copy.deepcopy(vector["valid_proofs"][0])
    proof["leaf"]["index"] = -1
    error = rejected(proof, manifest)
    assert error.check == 3 and "got -1" in str(error)


def test_a_proof_from_another_snapshot_fails_the_manifest_check() -> None:
    vector, _ = snapshot(1)
    _, other_manifest = snapshot(2)
    error = rejected(vector["valid_proofs"][0], other_manifest)
    assert error.check == 5 and "root" in str(error)


def test_a_pinned_key_refuses_a_manifest_signed_by_another_key() -> None:
    vector, manifest = snapshot()
    other = public_key_bytes(Ed25519PrivateKey.generate())
    with pytest.raises(ProofError, match=r"check 5 \(manifest\).*expected pinned key"):
        check(vector["valid_proofs"][0], manifest, other)


def test_a_manifest_that_names_the_pinned_key_but_is_signed_by_another_fails() -> None:
    vector, _ = snapshot()
    pinned = Ed25519PrivateKey.generate()
    forged = dict(vector["manifest"], public_key=public_key_bytes(pinned).hex())
    with pytest.raises(ProofError, match="signature does not verify"):
        check(vector["valid_proofs"][0], parse_manifest(forged), public_key_bytes(pinned))


def test_a_malformed_manifest_fails_check_five_from_bytes() -> None:
    vector, _ = snapshot()
    raw = json.dumps(vector["valid_proofs"][0]).encode()
    with pytest.raises(ProofError, match=r"check 5 .*missing field 'log'"):
        manifest = {k: v for k, v in vector["manifest"].items() if k != "log"}
        verify_proof_bytes(raw, json.dumps(manifest).encode())


# ---- single-field tampering (property) ---------------------------------------------------


def _locations(proof: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Every scalar field of a proof, with its kind."""
    out: list[tuple[tuple[Any, ...], str]] = [
        (("format",), "text"),
        (("snapshot_id",), "text"),
        (("account_id",), "text"),
        (("nonce",), "hex"),
        (("leaf", "tag"), "hex"),
        (("leaf", "index"), "index"),
    ]
    out += [(("assets", k), "text") for k in range(len(proof["assets"]))]
    for side in ("equity", "debt"):
        out += [(("leaf", side, k), "amount") for k in range(len(proof["assets"]))]
    nodes = [("path", i) for i in range(len(proof["path"]))] + [("root",)]
    for node in nodes:
        out.append(((*node, "hash"), "hex"))
        for side in ("equity", "debt"):
            out += [((*node, side, k), "amount") for k in range(len(proof["assets"]))]
    return out


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(obj, path[:-1])[path[-1]] = value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3), data=st.data())
def test_changing_any_single_field_of_a_proof_is_rejected(seed: int, data: st.DataObject) -> None:
    vector, manifest = snapshot(seed, 3 + seed * 4)
    proofs = vector["valid_proofs"]
    proof = copy.deepcopy(proofs[data.draw(st.integers(0, len(proofs) - 1), "account")])
    where, kind = data.draw(st.sampled_from(_locations(proof)), "field")
    old = _get(proof, where)
    if kind == "text":
        new: Any = old + data.draw(st.sampled_from(["x", " ", "\u00e9", "0"]))
    elif kind == "hex":
        bit = data.draw(st.integers(0, 255), "bit")
        new = (int(old, 16) ^ (1 << bit)).to_bytes(32, "big").hex()
    elif kind == "index":
        height = len(proof["path"])
        new = data.draw(st.integers(-(1 << height), 1 << (height + 1)).filter(lambda v: v != old))
    else:
        new = str(
            data.draw(
                st.one_of(
                    st.sampled_from([int(old) + 1, max(int(old) - 1, 0) if int(old) else 1]),
                    st.integers(0, AMOUNT_LIMIT - 1),
                ).filter(lambda v: v != int(old)),
                "amount",
            )
        )
    _set(proof, where, new)
    with pytest.raises(ProofError) as caught:
        check(proof, manifest)
    assert caught.value.detail


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 40))
def test_random_account_sets_every_proof_verifies(seed: int, count: int) -> None:
    accounts = random_accounts(random.Random(seed), count, 3)
    vector, tree = make_snapshot(SID, accounts, assets=snapshot()[1].assets[:3])
    manifest = parse_manifest(vector["manifest"])
    for proof in vector["valid_proofs"]:
        check(proof, manifest, manifest.public_key)
    assert tree.root.equity == tuple(sum(a.equity[k] for a in accounts) for k in range(3))
    assert tree.root.debt == tuple(sum(a.debt[k] for a in accounts) for k in range(3))
    verify_leaves(iter(tree.leaves), manifest, manifest.public_key)


# ---- whatever the JSON, only ProofError --------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["0", "-1", "00", "por-proof/1", "a" * 64]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["format", "leaf", "path", "root", "tag", "equity", "debt", "x"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_any_json_value_that_is_not_a_proof_raises_only_proof_error(value: Any) -> None:
    with pytest.raises(ProofError) as caught:
        parse_proof(value)
    assert caught.value.check == 1


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_replacing_any_part_of_a_valid_proof_with_junk_raises_only_proof_error(
    data: st.DataObject,
) -> None:
    vector, manifest = snapshot()
    proof = copy.deepcopy(vector["valid_proofs"][0])
    containers: list[tuple[Any, ...]] = []

    def walk(obj: Any, path: tuple[Any, ...]) -> None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                containers.append((*path, key))
                walk(value, (*path, key))
        elif isinstance(obj, list):
            for i, value in enumerate(obj):
                containers.append((*path, i))
                walk(value, (*path, i))

    walk(proof, ())
    where = data.draw(st.sampled_from(containers))
    junk = data.draw(json_values)
    if _get(proof, where) == junk:
        return
    _set(proof, where, junk)
    raw = json.dumps(proof).encode()
    with pytest.raises(ProofError):
        verify_proof(parse_proof_bytes(raw), manifest)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_arbitrary_bytes_raise_only_not_json_or_proof_error(raw: bytes) -> None:
    with pytest.raises((NotJSONError, ProofError)):
        parse_proof_bytes(raw)


def test_json_a_proof_never_contains_is_a_proof_error_not_a_crash() -> None:
    vector, _ = snapshot()
    text = json.dumps(vector["valid_proofs"][0])
    for raw, message in [
        (text.replace('"index": ', '"index": 1.0e0, "x": '), "duplicate key|unexpected field"),
        (text.replace('"index": ', '"index": 1' + "0" * 100 + ', "y": '), "."),
        (text[:-1] + ', "format": "por-proof/1"}', "duplicate key 'format'"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": "por-proof/1", "snapshot_id": "\\ud800"}', "missing field"),
    ]:
        with pytest.raises(ProofError, match=message):
            parse_proof_bytes(raw.encode())


def test_an_account_id_with_a_lone_surrogate_is_malformed() -> None:
    vector, _ = snapshot()
    proof = dict(vector["valid_proofs"][0], account_id="\ud800")
    with pytest.raises(ProofError, match="account_id: expected UTF-8 text"):
        parse_proof(proof)


def test_account_id_without_nonce_is_malformed() -> None:
    vector, _ = snapshot()
    proof = {k: v for k, v in vector["valid_proofs"][0].items() if k != "nonce"}
    with pytest.raises(ProofError, match="account_id and nonce together"):
        parse_proof(proof)


def test_a_proof_without_account_id_and_nonce_still_verifies() -> None:
    vector, manifest = snapshot()
    proof = {k: v for k, v in vector["valid_proofs"][0].items() if k not in ("account_id", "nonce")}
    check(proof, manifest)


# ---- the published leaf list -------------------------------------------------------------


def _leaves(seed: int = 1) -> tuple[list[Leaf], Manifest]:
    vector, manifest = snapshot(seed)
    from por.leaves import parse_leaf

    return [parse_leaf(item, "leaf", 4) for item in vector["leaves"]], manifest


def test_the_leaf_list_rebuilds_the_manifest_root() -> None:
    leaves, manifest = _leaves()
    summary = verify_leaves(iter(leaves), manifest)
    assert (summary.leaf_count, summary.height, summary.root) == (8, 3, manifest.root)


def test_a_changed_leaf_amount_changes_the_root() -> None:
    leaves, manifest = _leaves()
    leaves[3] = Leaf(
        leaves[3].tag, (leaves[3].equity[0] + 1, *leaves[3].equity[1:]), leaves[3].debt
    )
    with pytest.raises(TreeError, match="root hash: leaf list gives"):
        verify_leaves(iter(leaves), manifest)


def test_unsorted_or_incomplete_leaf_lists_are_rejected() -> None:
    leaves, manifest = _leaves()
    with pytest.raises(TreeError, match="is below the previous tag"):
        verify_leaves(iter([leaves[1], leaves[0], *leaves[2:]]), manifest)
    with pytest.raises(TreeError, match="power of two >= 2 leaves, got 7"):
        verify_leaves(iter(leaves[:7]), manifest)
    with pytest.raises(TreeError, match="height: manifest has 3, leaf list gives 2"):
        verify_leaves(iter(leaves[:4]), manifest)
    with pytest.raises(TreeError, match="got 1"):
        verify_leaves(iter(leaves[:1]), manifest)


def test_a_leaf_list_against_another_snapshots_manifest_is_rejected() -> None:
    leaves, _ = _leaves(1)
    _, manifest = _leaves(2)
    with pytest.raises(TreeError):
        verify_leaves(iter(leaves), manifest)


def test_the_manifest_signature_is_checked_before_any_leaf_is_read() -> None:
    _, manifest = _leaves()
    other = public_key_bytes(Ed25519PrivateKey.generate())

    def no_leaves() -> Any:
        raise AssertionError("a leaf was read")
        yield

    from por.errors import ManifestError

    with pytest.raises(ManifestError, match="expected pinned key"):
        verify_leaves(no_leaves(), manifest, other)

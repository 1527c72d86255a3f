"""The transparency log against every shared vector, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from por.log import ConsistencyProof, LogProofError, entry_from_manifest, leaf_hash
from por.log._rfc9162 import consistency_proof_reference, mth_reference
from por.log.store import TransparencyLog


@pytest.fixture
def log(db_url: str) -> Iterator[TransparencyLog]:
    store = TransparencyLog.open(db_url)
    yield store
    store.close()


def _flip(hex_hash: str, byte: int = 0) -> str:
    raw = bytearray(bytes.fromhex(hex_hash))
    raw[byte] ^= 0x01
    return raw.hex()


def test_entry_of_the_vector_manifest_is_the_last_logged_entry(vector: dict[str, Any]) -> None:
    entry = entry_from_manifest(vector["manifest"])
    assert entry == vector["log"]["entries"][-1].encode("utf-8"), "entry bytes differ"


def test_appending_the_vector_entries_gives_the_vector_roots_after_each(
    vector: dict[str, Any], log: TransparencyLog
) -> None:
    for i, (entry, root) in enumerate(
        zip(vector["log"]["entries"], vector["log"]["roots"], strict=True)
    ):
        state = log.append(entry.encode("utf-8"))
        assert (state.size, state.root.hex()) == (i + 1, root), f"after entry {i}"
        assert log.state(i + 1).root.hex() == root
    manifest_log = vector["manifest"]["log"]
    assert log.state().size == manifest_log["size"]
    assert log.state().root.hex() == manifest_log["root"], "last root is not manifest.log.root"


def test_consistency_proofs_equal_the_vectors_and_verify(
    vector: dict[str, Any], log: TransparencyLog
) -> None:
    log.extend([e.encode("utf-8") for e in vector["log"]["entries"]])
    roots = [bytes.fromhex(r) for r in vector["log"]["roots"]]
    for case in vector["log"]["consistency"]:
        proof = log.prove_consistency(case["first"], case["second"])
        assert proof.to_json() == case, f"proof {case['first']} -> {case['second']}"
        ConsistencyProof.from_json(case).verify(roots[case["first"] - 1], roots[case["second"] - 1])


def test_the_reference_rfc_functions_reproduce_the_vectors(vector: dict[str, Any]) -> None:
    leaves = [leaf_hash(e.encode("utf-8")) for e in vector["log"]["entries"]]
    assert [mth_reference(leaves[: i + 1]).hex() for i in range(len(leaves))] == vector["log"][
        "roots"
    ]
    for case in vector["log"]["consistency"]:
        path = consistency_proof_reference(leaves[: case["second"]], case["first"])
        assert [h.hex() for h in path] == case["path"]


def test_tampered_vector_proofs_and_roots_are_rejected(vector: dict[str, Any]) -> None:
    roots = vector["log"]["roots"]
    for case in vector["log"]["consistency"]:
        first, second = case["first"], case["second"]
        r1, r2 = bytes.fromhex(roots[first - 1]), bytes.fromhex(roots[second - 1])
        for i in range(len(case["path"])):
            bad = dict(case, path=[_flip(h) if j == i else h for j, h in enumerate(case["path"])])
            with pytest.raises(LogProofError, match="does not reproduce the root"):
                ConsistencyProof.from_json(bad).verify(r1, r2)
        proof = ConsistencyProof.from_json(case)
        # (for a power-of-two `first` the old root is the proof's start, so the mismatch
        # shows up on the new root; either way it is rejected)
        with pytest.raises(LogProofError, match="does not reproduce the root of size"):
            proof.verify(bytes.fromhex(_flip(roots[first - 1], 31)), r2)
        with pytest.raises(LogProofError, match=f"root of size {second}"):
            proof.verify(r1, bytes.fromhex(_flip(roots[second - 1], 5)))
        with pytest.raises(LogProofError, match="wrong size"):
            ConsistencyProof.from_json(dict(case, path=case["path"][:-1])).verify(r1, r2)
        with pytest.raises(LogProofError, match="wrong size"):
            ConsistencyProof.from_json(dict(case, path=[*case["path"], roots[0]])).verify(r1, r2)

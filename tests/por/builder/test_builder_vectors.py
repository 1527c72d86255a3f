"""The fast builder and the proof store against every shared vector file.

Vector fillers come from a secret we do not have, so the tree is built from the vector's
full `leaves` list (the same partition function the engines run), in 1, 2 and 4 partitions.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import pytest

from por.builder import LeafBatch, build_tree_from_leaves
from por.builder.proofstore import ProofStore
from por.builder.vectorgen import shared_vector_files

FILES = shared_vector_files()


@functools.cache
def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def leaf_batch(vector: dict[str, Any]) -> LeafBatch:
    leaves = [
        (
            bytes.fromhex(item["tag"]),
            [int(v) for v in item["equity"]],
            [int(v) for v in item["debt"]],
        )
        for item in vector["leaves"]
    ]
    return LeafBatch.from_strings(leaves, len(vector["assets"]))


def build_store(path: Path, out: Path, partitions: int) -> ProofStore:
    vector = load(path)
    symbols = [a["symbol"] for a in vector["assets"]]
    tree = build_tree_from_leaves(
        leaf_batch(vector), symbols, vector["snapshot_id"], out_dir=out, partitions=partitions
    )
    return tree.open_store()


@pytest.mark.parametrize("partitions", [1, 2, 4])
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_root_built_from_vector_leaves_equals_vector_root(
    path: Path, partitions: int, tmp_path: Path
) -> None:
    vector = load(path)
    with build_store(path, tmp_path, partitions) as store:
        root = {
            "hash": store.root.hash.hex(),
            "equity": [str(v) for v in store.root.equity],
            "debt": [str(v) for v in store.root.debt],
        }
        assert root == vector["root"], f"{path.name}: root differs with {partitions} partitions"
        assert store.height == vector["height"], "height differs"
        assert store.leaf_count == vector["leaf_count"], "leaf count differs"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_store_proof_of_each_account_equals_vector_valid_proof(path: Path, tmp_path: Path) -> None:
    vector = load(path)
    with build_store(path, tmp_path, 2) as store:
        for expected in vector["valid_proofs"]:
            got = store.account_proof(expected["account_id"], bytes.fromhex(expected["nonce"]))
            assert got == expected, f"{path.name}: proof of {expected['account_id']!r} differs"
            assert list(got) == list(expected), "field order differs from the vector"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_bulk_export_lines_equal_vector_proofs_without_identity(path: Path, tmp_path: Path) -> None:
    vector = load(path)
    with build_store(path, tmp_path, 4) as store:
        out = io.StringIO()
        count = store.export_jsonl(out)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(lines) == vector["leaf_count"], "one line per leaf of a leaf-list build"
    for expected in vector["valid_proofs"]:
        public = {k: v for k, v in expected.items() if k not in ("account_id", "nonce")}
        assert lines[expected["leaf"]["index"]] == public, "exported proof differs from vector"

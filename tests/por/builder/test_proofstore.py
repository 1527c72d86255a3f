"""The proof store: lookups by account, bulk export, proofs that verify, clear misses."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from por.builder import AccountBatch, BuiltTree, build_tree
from por.builder.proofstore import ProofNotFoundError, ProofStore, StoreLayoutError
from por.builder.vectorgen import random_accounts
from por.model import AccountInput
from por.proof import parse_proof
from por.verify import verify_inclusion

ASSETS = ("BTC", "ETH", "SOL")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"proofstore-filler-secret"


@pytest.fixture(scope="module")
def accounts() -> list[AccountInput]:
    return random_accounts(random.Random(5), 900, len(ASSETS))


@pytest.fixture(scope="module")
def tree(accounts: list[AccountInput], tmp_path_factory: pytest.TempPathFactory) -> BuiltTree:
    out = tmp_path_factory.mktemp("store")
    return build_tree(
        accounts, ASSETS, SNAPSHOT, SECRET, engine="serial", partitions=4, out_dir=out
    )


def test_every_account_proof_is_found_and_verifies(
    accounts: list[AccountInput], tree: BuiltTree
) -> None:
    with ProofStore.open(tree.out_dir) as store:
        assert store.leaf_count == 1024 and store.account_count == 900, "store shape"
        for acc in accounts:
            proof = store.account_proof(acc.account_id, acc.nonce)
            assert proof["leaf"]["equity"] == [str(v) for v in acc.equity], "leaf equity"
            assert proof["leaf"]["debt"] == [str(v) for v in acc.debt], "leaf debt"
            verify_inclusion(parse_proof(proof))  # raises ProofError if anything is off


def test_prefetched_proofs_of_an_accounts_pieces_equal_the_proofs_one_by_one(
    accounts: list[AccountInput], tmp_path: Path
) -> None:
    """`account_proofs` (what a proof set is served by) only reorders the reads."""
    rng = random.Random(7)
    pieces = [
        AccountInput(f"acct-{j % 50}", rng.randbytes(32), acc.equity, acc.debt)
        for j, acc in enumerate(accounts[:400])
    ]  # 50 accounts of 8 pieces each
    tree = build_tree(
        pieces,
        ASSETS,
        SNAPSHOT,
        SECRET,
        engine="serial",
        partitions=4,
        out_dir=tmp_path,
        pieces=True,
    )
    with ProofStore.open(tree.out_dir) as store:
        for j in range(50):
            own = [p for p in pieces if p.account_id == f"acct-{j}"]
            nonces = [p.nonce for p in own]
            served = store.account_proofs(f"acct-{j}", nonces)
            assert served == [store.account_proof(f"acct-{j}", n) for n in nonces], "same proofs"
            assert [p["leaf"]["equity"] for p in served] == [
                [str(v) for v in p.equity] for p in own
            ], "each piece's own leaf"
        with pytest.raises(ProofNotFoundError, match="no leaf with tag"):
            store.account_proofs("acct-0", [pieces[0].nonce, pieces[1].nonce])


def test_unknown_account_is_a_lookup_error_naming_the_tag(tree: BuiltTree) -> None:
    with ProofStore.open(tree.out_dir) as store:
        with pytest.raises(ProofNotFoundError, match="no leaf with tag"):
            store.account_proof("nobody", bytes(32))
        with pytest.raises(LookupError, match="no leaf with tag 00"):
            store.index_of_tag(bytes(32))  # below every fence
        with pytest.raises(LookupError, match="no leaf with tag ff"):
            store.index_of_tag(b"\xff" * 32)  # above every tag
        with pytest.raises(LookupError, match=r"leaf index must be in \[0, 1024\)"):
            store.proof(1024)


def test_bulk_export_writes_each_account_once_with_its_own_copy(
    accounts: list[AccountInput], tree: BuiltTree
) -> None:
    batch = AccountBatch.from_accounts(accounts, len(ASSETS))
    out = io.StringIO()
    with ProofStore.open(tree.out_dir) as store:
        count = store.export_jsonl(out, batch)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert count == len(lines) == len(accounts), "one line per account, no fillers"
        assert sorted(p["account_id"] for p in lines) == sorted(a.account_id for a in accounts)
        for proof in lines[::37]:
            expected = store.account_proof(proof["account_id"], bytes.fromhex(proof["nonce"]))
            assert proof == expected, "exported line differs from the served proof"


def test_opening_a_directory_without_a_finished_tree_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no finished tree here"):
        ProofStore.open(tmp_path)


def test_parallel_export_to_a_directory_equals_the_single_stream_export(
    accounts: list[AccountInput], tree: BuiltTree, tmp_path: Path
) -> None:
    batch = AccountBatch.from_accounts(accounts, len(ASSETS))
    single = io.StringIO()
    with ProofStore.open(tree.out_dir) as store:
        expected = store.export_jsonl(single, batch)
        count = store.export_dir(tmp_path / "proofs", batch, workers=2)
    files = sorted((tmp_path / "proofs").glob("proofs-*.jsonl"))
    assert [f.name for f in files] == [f"proofs-{p:05d}.jsonl" for p in range(4)], "one per part"
    joined = "".join(f.read_text(encoding="utf-8") for f in files)
    assert count == expected and joined == single.getvalue(), "parallel export differs"


def _rewrite_meta(src: Path, dest: Path, **changes: object) -> Path:
    """A copy of a store's files with fields of tree.json replaced (None: removed)."""
    dest.mkdir()
    for path in src.iterdir():
        (dest / path.name).write_bytes(path.read_bytes())
    meta = json.loads((dest / "tree.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    (dest / "tree.json").write_text(json.dumps(meta), encoding="utf-8")
    return dest


def test_store_of_an_older_layout_version_is_refused_naming_both_versions(
    tree: BuiltTree, tmp_path: Path
) -> None:
    old = _rewrite_meta(tree.out_dir, tmp_path / "v1", format="por-tree-store/1", layout=None)
    with pytest.raises(
        StoreLayoutError,
        match=r"'por-tree-store/1' \(layout version 1\).*"
        r"'por-tree-store/2' \(layout version 2\): rebuild the tree",
    ):
        ProofStore.open(old)


def test_store_with_the_same_format_but_another_layout_is_refused(
    tree: BuiltTree, tmp_path: Path
) -> None:
    meta = json.loads((tree.out_dir / "tree.json").read_text(encoding="utf-8"))
    changed = dict(meta["layout"], section_align=512)
    other = _rewrite_meta(tree.out_dir, tmp_path / "other", layout=changed)
    with pytest.raises(StoreLayoutError, match="'section_align': 512.*rebuild the tree"):
        ProofStore.open(other)
    with pytest.raises(StoreLayoutError, match="not a tree store"):
        ProofStore.open(_rewrite_meta(tree.out_dir, tmp_path / "x", format="something/1"))


def test_store_written_by_the_builder_names_its_layout(tree: BuiltTree) -> None:
    meta = json.loads((tree.out_dir / "tree.json").read_text(encoding="utf-8"))
    assert meta["format"] == "por-tree-store/2", "format carries the layout version"
    assert meta["layout"]["version"] == 2 and meta["layout"]["section_align"] == 4096, "layout"

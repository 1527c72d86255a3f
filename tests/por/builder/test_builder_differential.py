"""Fast builder versus the plain reference builder (`por.builder.reference`) on random inputs."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from por._hashing import tag_hash
from por.builder import AccountBatch, build_tree, reference
from por.builder._tags import account_tags, filler_tags
from por.builder.proofstore import ProofStore
from por.builder.vectorgen import random_accounts
from por.model import AccountInput, filler_tag

ASSETS = ("BTC", "ETH", "SOL")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"differential-filler-secret"

amount = st.one_of(st.just(0), st.integers(0, 2**64), st.integers(0, 2**120))
vector = st.tuples(amount, amount, amount)
account = st.builds(
    lambda i, name, nonce, eq, debt: AccountInput(f"{name}-{i}", nonce, eq, debt),
    st.integers(0, 10**6),
    st.text(min_size=0, max_size=8),
    st.binary(min_size=32, max_size=32),
    vector,
    vector,
)
accounts = st.lists(account, min_size=0, max_size=40, unique_by=lambda a: a.account_id)


@settings(max_examples=60, deadline=None)
@given(
    accs=accounts,
    min_leaves=st.sampled_from([0, 0, 3, 64]),
    parts_log=st.integers(0, 3),
)
def test_fast_tree_root_and_proofs_equal_reference_tree(
    accs: list[AccountInput], min_leaves: int, parts_log: int, tmp_path_factory: object
) -> None:
    ref = reference.build_tree(SNAPSHOT, ASSETS, accs, filler_secret=SECRET, min_leaves=min_leaves)
    out = Path(getattr(tmp_path_factory, "mktemp")("tree"))  # noqa: B009
    fast = build_tree(
        accs,
        ASSETS,
        SNAPSHOT,
        SECRET,
        min_leaves=min_leaves,
        engine="serial",
        partitions=1 << parts_log,
        out_dir=out,
    )
    assert fast.root == ref.root, "root differs from the reference builder"
    assert fast.height == ref.height, "height differs"
    with ProofStore.open(out) as store:
        for acc in accs:
            got = store.account_proof(acc.account_id, acc.nonce)
            assert got == ref.proof_json(acc), f"proof of {acc.account_id!r} differs"


def test_filler_tags_equal_model_filler_tag_for_short_and_long_secrets() -> None:
    for secret in (b"s" * 16, b"k" * 64, b"long" * 40):
        tags = filler_tags(secret, SNAPSHOT, 5, 12)
        expected = [filler_tag(secret, SNAPSHOT, i) for i in range(5, 12)]
        assert [row.tobytes() for row in tags] == expected, f"HMAC differs ({len(secret)} B key)"


def test_fast_tree_of_many_accounts_with_large_amounts_equals_reference(tmp_path: Path) -> None:
    accs = random_accounts(random.Random(7), 700, len(ASSETS), max_amount=2**110)
    ref = reference.build_tree(SNAPSHOT, ASSETS, accs, filler_secret=SECRET)
    fast = build_tree(accs, ASSETS, SNAPSHOT, SECRET, engine="serial", out_dir=tmp_path)
    assert fast.root == ref.root, "root differs on 700 accounts (1024 leaves)"


def test_tags_of_ids_of_varying_utf8_lengths_equal_the_spec_tag() -> None:
    # Lengths 13, 7, 12, 18, 15 bytes: total 285 = 5 x 57, the first record's length.
    ids = [
        "0\U00010000\U00010000-100",
        "00\x80-10",
        "\U00010000\U00010000-100",
        "0\x80\x80\x80\x80\U00010000-1000",
        "0\x80\x80\U00010000-10000",
        "",
    ]
    accs = [AccountInput(i, bytes([k]) * 32, (0,), (0,)) for k, i in enumerate(ids)]
    tags = account_tags(AccountBatch.from_accounts(accs, 1), SNAPSHOT)
    for k, a in enumerate(accs):
        expected = tag_hash(SNAPSHOT, a.nonce, a.account_id)
        assert tags[k].tobytes() == expected, f"tag of {a.account_id!r} differs"

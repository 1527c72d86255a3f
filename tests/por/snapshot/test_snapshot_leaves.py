"""por.snapshot.customer_leaves: claims -> equity/debt vectors, nonces, the totals check."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.builder import build_tree
from por.builder.reference import build_tree as reference_tree
from por.model import AccountInput, Node
from por.snapshot import customer_leaves
from por.snapshot.customer_leaves import (
    check_root_totals,
    claim_limbs,
    collect_leaves,
    derive_nonce,
    leaves_from_columns,
    split_claim,
)
from por.snapshot.errors import SnapshotError, TotalsMismatchError

SID = "2026-11-24T16:00:00Z"
SECRET = bytes(range(32))
ASSETS = ("BTC", "ETH")


def test_a_claim_splits_into_equity_or_debt_never_both() -> None:
    assert split_claim(5) == (5, 0)
    assert split_claim(0) == (0, 0)
    assert split_claim(-7) == (0, 7)


def test_the_nonce_is_hmac_sha256_over_the_documented_byte_layout() -> None:
    sid, aid = SID.encode(), b"alice"
    msg = b"por/nonce" + len(sid).to_bytes(2, "big") + sid + len(aid).to_bytes(2, "big") + aid
    expected = hmac.new(SECRET, msg, hashlib.sha256).digest()
    assert derive_nonce(SECRET, SID, "alice") == expected
    assert derive_nonce(SECRET, "2026-11-24T17:00:00Z", "alice") != expected, "per snapshot"
    assert derive_nonce(bytes(32), SID, "alice") != expected, "depends on the secret"


@pytest.mark.parametrize("secret", [SECRET, b"s" * 100], ids=["32-byte", "100-byte"])
def test_batch_nonces_equal_the_reference_hmac(secret: bytes) -> None:
    ids = ["alice", "bob", "é" * 40]
    leaves = collect_leaves(((a, [1, 0]) for a in ids), ASSETS, SID, secret)
    for i in range(leaves.count):
        account = leaves.batch.account_id(i)
        assert leaves.batch.nonce(i) == derive_nonce(secret, SID, account), account


def test_nonces_hashed_by_forked_workers_equal_the_reference_hmac(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above PARALLEL_NONCES_MIN the ids are hashed in slices by forked workers: every
    nonce still in its account's row (a slice out of order or lost would move them)."""
    monkeypatch.setattr(customer_leaves, "PARALLEL_NONCES_MIN", 8)
    monkeypatch.setattr(customer_leaves.os, "cpu_count", lambda: 3)  # 12 slices of 9 ids
    ids = [f"u{i:03d}" for i in range(101)]
    leaves = collect_leaves(((a, [1, 0]) for a in ids), ASSETS, SID, SECRET)
    assert leaves.count == 101
    for i in range(leaves.count):
        account = leaves.batch.account_id(i)
        assert leaves.batch.nonce(i) == derive_nonce(SECRET, SID, account), account
    batch = leaves.batch  # the kept-claims path: ids as one blob with offsets
    again = leaves_from_columns(ASSETS, batch.ids, batch.id_offsets, batch.amounts, SID, SECRET)
    assert again.batch.nonces.tobytes() == batch.nonces.tobytes()


def test_leaves_put_debt_in_the_debt_vector_and_keep_locked_funds_as_equity() -> None:
    claims = [("alice", [150, 0]), ("bob", [-20, 9]), ("carol", [20, 0]), ("zed", [0, 0])]
    leaves = collect_leaves(iter(claims), ASSETS, SID, SECRET)
    batch = leaves.batch
    rows = {batch.account_id(i): i for i in range(batch.count)}
    assert set(rows) == {"alice", "bob", "carol", "zed"}, "an account owed nothing has a leaf"
    assert not batch.amounts[rows["zed"]].any(), "zed's leaf is all zero"
    bob = batch.amounts[rows["bob"]]
    assert (int(bob[0, 0, 1]), int(bob[0, 1, 1])) == (0, 9), "bob's equity: BTC 0, ETH 9"
    assert (int(bob[1, 0, 1]), int(bob[1, 1, 1])) == (20, 0), "bob's debt: BTC 20"
    assert leaves.equity_totals == (170, 9)
    assert leaves.debt_totals == (20, 0)
    assert leaves.borrowers == 1
    assert leaves.borrower_collateral == (0, 9), "bob's ETH backs his BTC debt"
    assert batch.nonce(rows["carol"]) == derive_nonce(SECRET, SID, "carol")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ([("@fees", [1, 0])], "system accounts start with '@'"),
        ([("alice", [1])], "gave 1 claims for 'alice', expected 2"),
        ([("alice", [1, 0]), ("alice", [2, 0])], "twice"),
        ([("alice", [1 << 128, 0])], "claim of 'alice' in BTC is 3402"),
        ([("alice", [0, -(1 << 128)])], "claim of 'alice' in ETH is -3402"),
        ([("alice", ["12", 0])], "expected an int"),
        ([("", [1, 0])], "expected a customer account id"),
        ([("x" * 70_000, [1, 0])], "expected at most 65535"),
    ],
)
def test_bad_claims_from_a_source_are_refused_naming_the_problem(
    claims: list[tuple[str, list[object]]], message: str
) -> None:
    with pytest.raises(SnapshotError, match=message):
        collect_leaves(iter(claims), ASSETS, SID, SECRET)  # type: ignore[arg-type]


def test_amounts_above_64_bits_survive_into_the_tree() -> None:
    big = (1 << 127) + 12345
    leaves = collect_leaves(
        iter([("whale", [0, big]), ("minnow", [0, -5]), ("shrimp", [1 << 70, -(1 << 65)])]),
        ASSETS,
        SID,
        SECRET,
    )
    built = build_tree(leaves.batch, ASSETS, SID, SECRET, engine="serial")
    try:
        assert built.root.equity == (1 << 70, big)
        assert built.root.debt == (0, 5 + (1 << 65))
        assert leaves.equity_totals == (1 << 70, big)
    finally:
        built.discard()


_EDGES = [0, 1, -1, (1 << 63) - 1, 1 << 63, -(1 << 63), (1 << 64) - 1, 1 << 64, -(1 << 64)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from(_EDGES + [(1 << 128) - 1, -((1 << 128) - 1)]),
                st.integers(-(1 << 62), 1 << 62),
                st.integers(0, (1 << 64) - 1),
                st.integers(-((1 << 128) - 1), (1 << 128) - 1),
            ),
            min_size=2,
            max_size=2,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_claim_limbs_are_the_exact_equity_and_debt_halves_whatever_the_column_width(
    vectors: list[list[int]],
) -> None:
    """Each column takes the path its widest claim allows (int64; uint64 parts; high and
    low limbs): every path must give max(claim, 0) and max(-claim, 0) as [hi, lo]."""
    limbs = claim_limbs(vectors, 2)
    for row, vector in enumerate(vectors):
        for k, claim in enumerate(vector):
            for side, part in ((0, max(claim, 0)), (1, max(-claim, 0))):
                hi, lo = (int(v) for v in limbs[row, side, k])
                assert (hi << 64) | lo == part, (row, k, side, claim)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from(["a", "b", "c", "d", "é", "f"]), st.sampled_from(ASSETS)),
        st.integers(-(1 << 100), 1 << 100).filter(bool),
        max_size=12,
    )
)
def test_the_fast_leaves_build_the_same_root_as_the_reference_tree(
    claims: dict[tuple[str, str], int],
) -> None:
    vectors: dict[str, list[int]] = {}
    for (account, asset), value in claims.items():
        vectors.setdefault(account, [0, 0])[ASSETS.index(asset)] = value
    leaves = collect_leaves(iter(vectors.items()), ASSETS, SID, SECRET)
    accounts = {
        a: ([split_claim(v)[0] for v in vec], [split_claim(v)[1] for v in vec])
        for a, vec in vectors.items()
    }
    inputs = [
        AccountInput(a, derive_nonce(SECRET, SID, a), tuple(eq), tuple(de))
        for a, (eq, de) in accounts.items()
    ]
    reference = reference_tree(SID, ASSETS, inputs, filler_secret=SECRET)
    built = build_tree(leaves.batch, ASSETS, SID, SECRET, engine="serial")
    try:
        assert built.root == reference.root
        assert built.root.equity == leaves.equity_totals
        assert built.root.debt == leaves.debt_totals
    finally:
        built.discard()


def test_the_totals_check_passes_only_when_every_unit_matches() -> None:
    root = Node(bytes(32), (170, 9), (20, 0))
    check_root_totals(root, ASSETS, {"BTC": (170, 20), "ETH": (9, 0)})
    with pytest.raises(TotalsMismatchError, match=r"BTC: tree root equity is 170, ledger .* 171"):
        check_root_totals(root, ASSETS, {"BTC": (171, 20), "ETH": (9, 0)})
    with pytest.raises(
        TotalsMismatchError, match=r"ETH: tree root debt is 0, ledger customer debts total 1"
    ):
        check_root_totals(root, ASSETS, {"BTC": (170, 20), "ETH": (9, 1)})
    with pytest.raises(TotalsMismatchError, match="not snapshot assets"):
        check_root_totals(root, ASSETS, {"BTC": (170, 20), "ETH": (9, 0), "SOL": (0, 0)})

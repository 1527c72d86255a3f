"""por.snapshot.pieces: every account split into pieces that sum to its claim exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from por.builder import AccountBatch
from por.snapshot.customer_leaves import collect_leaves, derive_nonce
from por.snapshot.errors import SnapshotConfigError
from por.snapshot.pieces import DEFAULT_POLICY, PiecePolicy, split_pieces

SID = "2026-11-24T16:00:00Z"
SECRET = bytes(range(32))
ASSETS = ("BTC", "ETH", "SOL", "USDC")


def _ints(limbs: NDArray[np.uint64]) -> NDArray[np.object_]:
    return (limbs[..., 0].astype(object) << 64) + limbs[..., 1].astype(object)


def _batch(claims: dict[str, list[int]]) -> AccountBatch:
    return collect_leaves(iter(claims.items()), ASSETS, SID, SECRET).batch


def _claims(n: int, seed: int) -> dict[str, list[int]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {}
    for i in range(n):
        row = [int(v) for v in rng.integers(0, 1 << 40, 4)]
        row[1] *= 10**9  # wei: beyond 2^64
        if i % 7 == 0:
            row[0] = -row[0]  # a debt
        if i % 11 == 0:
            row = [0, 0, 0, 0]
        out[f"acct-{i:05d}-\u00fc"] = row
    return out


def _sums(batch: AccountBatch, policy: PiecePolicy) -> tuple[NDArray[np.object_], ...]:
    pieces = split_pieces(batch, policy, SID, SECRET)
    amounts = _ints(pieces.batch.amounts)
    sums = np.add.reduceat(amounts, pieces.offsets[:-1], axis=0)
    return sums, _ints(batch.amounts)[pieces.order], amounts


def test_the_pieces_of_every_account_sum_to_its_equity_and_debt_exactly() -> None:
    batch = _batch(_claims(3000, seed=1))
    sums, want, amounts = _sums(batch, DEFAULT_POLICY)
    assert (sums == want).all(), "per account, asset and side: sum of pieces == claim"
    assert (amounts >= 0).all()
    debt_pieces = amounts[:, 1, :].sum(axis=0)
    assert list(debt_pieces) == list(_ints(batch.amounts)[:, 1, :].sum(axis=0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(-(1 << 127), (1 << 127) - 1), min_size=4, max_size=4),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 8),
    st.integers(1, 1000),
    st.integers(0, 999),
)
def test_any_claims_and_policy_split_exactly(
    rows: list[list[int]], min_pieces: int, cap: int, extra: int
) -> None:
    claims = {f"a{i}": row for i, row in enumerate(rows)}
    policy = PiecePolicy(
        min_pieces=min_pieces, max_pieces=256, cap_permille=cap, extra_permille=extra
    )
    batch = _batch(claims)
    sums, want, amounts = _sums(batch, policy)
    assert (sums == want).all()
    assert all(0 <= v < 1 << 128 for v in amounts.ravel())


def test_the_split_does_not_depend_on_the_order_the_ledger_streams_accounts() -> None:
    claims = _claims(500, seed=2)
    shuffled = dict(sorted(claims.items(), key=lambda kv: hash(kv[0]) % 97))
    one = split_pieces(_batch(claims), DEFAULT_POLICY, SID, SECRET)
    two = split_pieces(_batch(shuffled), DEFAULT_POLICY, SID, SECRET)
    assert one.batch.ids == two.batch.ids
    assert (one.batch.nonces == two.batch.nonces).all()
    assert (one.batch.amounts == two.batch.amounts).all()


def test_a_new_snapshot_or_secret_draws_new_pieces_and_a_rerun_the_same() -> None:
    batch = _batch(_claims(200, seed=3))
    again = split_pieces(batch, DEFAULT_POLICY, SID, SECRET)
    base = split_pieces(batch, DEFAULT_POLICY, SID, SECRET)
    assert (again.batch.amounts == base.batch.amounts).all(), "a re-run reproduces the hour"
    later = collect_leaves(
        iter(_claims(200, seed=3).items()), ASSETS, "2026-11-24T17:00:00Z", SECRET
    )
    hour = split_pieces(later.batch, DEFAULT_POLICY, "2026-11-24T17:00:00Z", SECRET)
    mine = {bytes(r.tobytes()) for r in base.batch.amounts}
    theirs = {bytes(r.tobytes()) for r in hour.batch.amounts}
    nonzero = {r for r in mine if any(r)}
    assert len(nonzero & theirs) <= 1, "the next hour's pieces are fresh (same claims)"


def test_piece_zero_keeps_the_account_nonce_and_every_nonce_is_distinct() -> None:
    claims = _claims(300, seed=4)
    pieces = split_pieces(_batch(claims), DEFAULT_POLICY, SID, SECRET)
    for j in (0, 1, 150, pieces.accounts - 1):
        first = int(pieces.offsets[j])
        account = pieces.batch.account_id(first)
        assert pieces.batch.nonce(first) == derive_nonce(SECRET, SID, account)
        for row in range(first, int(pieces.offsets[j + 1])):
            assert pieces.batch.account_id(row) == account
    nonces = {pieces.batch.nonce(i) for i in range(pieces.count)}
    assert len(nonces) == pieces.count


def test_an_account_with_nothing_has_one_zero_piece_and_a_funded_one_at_least_min() -> None:
    claims = {"empty": [0, 0, 0, 0], "funded": [5, 0, 0, 0], "dust": [1, 0, 0, 0]}
    pieces = split_pieces(_batch(claims), DEFAULT_POLICY, SID, SECRET)
    counts = {
        pieces.batch.account_id(int(pieces.offsets[j])): int(
            pieces.offsets[j + 1] - pieces.offsets[j]
        )
        for j in range(pieces.accounts)
    }
    assert counts["empty"] == 1
    assert counts["funded"] >= DEFAULT_POLICY.min_pieces
    assert counts["dust"] >= DEFAULT_POLICY.min_pieces, "the count never says the size"


def test_no_piece_holds_the_whole_of_an_asset_that_can_be_split() -> None:
    claims = {f"a{i}": [10**12 + i, 0, 3 * 10**15, -(10**9)] for i in range(200)}
    pieces = split_pieces(_batch(claims), DEFAULT_POLICY, SID, SECRET)
    amounts = _ints(pieces.batch.amounts)
    for j in range(pieces.accounts):
        rows = amounts[int(pieces.offsets[j]) : int(pieces.offsets[j + 1])]
        for side, asset in ((0, 0), (0, 2), (1, 3)):
            whole = rows[:, side, asset].sum()
            assert max(rows[:, side, asset]) < whole, "every asset is split over >= 2 pieces"


def test_a_whale_gets_more_pieces_most_of_them_the_size_of_ordinary_claims() -> None:
    claims = {f"a{i:04d}": [10**6 + 37 * i, 0, 0, 0] for i in range(1000)}
    claims["whale"] = [5 * 10**8, 0, 0, 0]  # 500x an ordinary claim
    pieces = split_pieces(_batch(claims), DEFAULT_POLICY, SID, SECRET)
    amounts = _ints(pieces.batch.amounts)[:, 0, 0]
    j = next(
        j
        for j in range(pieces.accounts)
        if pieces.batch.account_id(int(pieces.offsets[j])) == "whale"
    )
    lo, hi = int(pieces.offsets[j]), int(pieces.offsets[j + 1])
    assert hi - lo == DEFAULT_POLICY.max_pieces, "as many pieces as the policy allows"
    whale = sorted(amounts[lo:hi])
    assert whale[len(whale) // 2] < 10**6, "the median piece is below an ordinary claim"
    assert whale[-1] < 5 * 10**8 // 2, "no piece holds half the whale"


def test_the_unsplit_policy_gives_one_leaf_per_account_as_before() -> None:
    batch = _batch(_claims(100, seed=5))
    pieces = split_pieces(batch, PiecePolicy.unsplit(), SID, SECRET)
    assert pieces.count == batch.count
    assert (pieces.batch.amounts == batch.amounts[pieces.order]).all()


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("default", DEFAULT_POLICY),
        ("none", PiecePolicy.unsplit()),
        ("min=2,max=8", PiecePolicy(min_pieces=2, max_pieces=8)),
        ("cap=500, extra=0", PiecePolicy(cap_permille=500, extra_permille=0)),
        ("min=100", PiecePolicy(min_pieces=100, max_pieces=100)),
    ],
)
def test_policies_are_read_from_text(text: str, want: PiecePolicy) -> None:
    assert PiecePolicy.parse(text) == want
    assert PiecePolicy.parse(want.describe()) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min=0", "1 <= min <= max <= 256"),
        ("max=257", "1 <= min <= max <= 256"),
        ("min=5,max=4", "1 <= min <= max"),
        ("cap=0", "cap must be in 1..1000"),
        ("extra=1000", "extra must be in 0..999"),
        ("pieces=3", "cannot read 'pieces=3'"),
        ("min=-1", "cannot read"),
    ],
)
def test_a_bad_policy_is_refused_with_one_line(text: str, message: str) -> None:
    with pytest.raises(SnapshotConfigError, match=message):
        PiecePolicy.parse(text)


def test_the_unsplit_policy_hands_the_batch_over_as_it_is_without_copying() -> None:
    """`--pieces none` at 10M accounts spent 15.5 s copying and re-ordering a batch it did
    not change (bench/hour.py, 2026-12-06): one leaf per account is the batch itself."""
    batch = _batch(_claims(300, 7))
    pieces = split_pieces(batch, PiecePolicy.unsplit(), SID, SECRET)
    assert pieces.batch is batch and pieces.count == pieces.accounts == batch.count
    assert pieces.offsets.tolist() == list(range(batch.count + 1))
    assert pieces.order.tolist() == list(range(batch.count))

"""Pieces: every account's claim split into several leaves, afresh in every snapshot.

Why: a leaf list published every hour is a surveillance feed if one leaf is one account.
Its exact vector, or its vector rounded, recurs hour after hour and links the account
through the day; and every proof hands its holder the whole portfolio of its sibling.
Split into pieces with fresh randomness each hour (spec `proof-format.md`, "Pieces: one
account in several leaves"), no leaf carries an account's vector, pieces of one account
cannot be told from pieces of others, and a sibling is a random share of someone's claim.
The tree, leaf and tag rules do not change: a piece is an ordinary leaf with its own
nonce, and the account's claim is the sum of its pieces.

Policy (`PiecePolicy`, `--pieces SPEC` on `por snapshot`, `publish`, `schedule`, `demo`):

    min      pieces of an account with any non-zero claim (default 16: bench/privacy.py
             measured that fewer leave a proof's sibling holding a median 5-20 % of
             another account; see docs/snapshot.md). An account whose
             claims are all zero has one all-zero piece: a zero leaf, like a filler.
    max      at most this many pieces (default 64; a proof set holds at most 256).
    cap      per asset, a piece should hold about at most this quantile (per mille) of
             the snapshot's own non-zero amounts of that asset (default 900: the 90th
             percentile). An amount x gets `need = ceil(x / cap)` pieces, so a whale's
             pieces are of the size of ordinary customers' claims. Computed in float64:
             it sets a count, never an amount.
    extra    per mille chance of one more piece, tried up to 8 times (default 0: with
             min=16 every funded account has 16 pieces unless `need` says more, so the
             count says nothing about the size).

Split of one account with k pieces, for each asset with (net) amount x:
- m of the k pieces receive the asset, m uniform in [max(need, min(3, k)), k] (x >= 2;
  else m = 1), the m pieces a rotation of the k from a random start: some pieces are
  empty in some assets, and no piece holds the whole of an asset when it can be split
  (at least 3 non-zero pieces: two pieces summing to an unchanged claim in two hours
  link it, bench/privacy.py's group-sum attack);
- piece r of the m gets a random log-uniform weight w_r = floor(2^(16 u)) in [1, 2^16)
  (most pieces a small share, a few the bulk: a sibling usually reveals ~1 % of an
  account; with uniform weights it was ~20 %), cumulative cut points
  C_r = floor(2^32 * (w_1 + ... + w_r) / (w_1 + ... + w_m)) (so C_m = 2^32), and the
  amount floor(x * C_r / 2^32) - floor(x * C_(r-1) / 2^32): exact integers (u128 limb
  arithmetic), never negative, summing to x exactly. An equity stays equity, a debt debt.

Randomness and nonces: two AES-256-CTR keystreams (a CSPRNG; `cryptography`) keyed by
HMAC-SHA256(secret, domain || u16(snapshot_id) || snapshot_id), domains "por/pieces/split"
and "por/pieces/nonce": fresh per snapshot, and a re-run with the same secret reproduces
the hour. Accounts are taken in the order of their piece-0 nonce, so the result does not
depend on the order in which the ledger streams its rows. Piece 0 keeps the account's
nonce (`derive_nonce`); pieces 1.. take 32 bytes each of the nonce keystream, in that
order. Every nonce is kept in the private index (`por.snapshot.run.write_private_index`).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numpy.typing import NDArray

from por._hashing import u16
from por.builder import AccountBatch
from por.snapshot.errors import SnapshotConfigError

__all__ = [
    "DEFAULT_POLICY",
    "PIECES_MAX",
    "PiecePolicy",
    "Pieces",
    "split_pieces",
]

PIECES_MAX = 256  # a por-proof-set/1 holds at most 256 proofs
_EXTRA_TRIES = 8
_WEIGHT_BITS = 16
_SPREAD = 3  # an asset that can be split goes to at least this many pieces (if it has them)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_SPEC = re.compile(r"^([a-z]+)=(\d{1,6})$")


@dataclass(frozen=True, slots=True)
class PiecePolicy:
    """How a snapshot splits claims into pieces (fields in the module docstring).

    Guarantees: 1 <= min <= max <= 256, 0 < cap <= 1000, 0 <= extra < 1000 (checked).
    """

    min_pieces: int = 16
    max_pieces: int = 64
    cap_permille: int = 900
    extra_permille: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.min_pieces <= self.max_pieces <= PIECES_MAX:
            raise SnapshotConfigError(
                f"pieces: expected 1 <= min <= max <= {PIECES_MAX}, got min={self.min_pieces}"
                f" max={self.max_pieces}"
            )
        if not 0 < self.cap_permille <= 1000:
            raise SnapshotConfigError(f"pieces: cap must be in 1..1000, got {self.cap_permille}")
        if not 0 <= self.extra_permille < 1000:
            raise SnapshotConfigError(f"pieces: extra must be in 0..999, got {self.extra_permille}")

    @classmethod
    def unsplit(cls) -> PiecePolicy:
        """One leaf per account (the publication before pieces; for comparison only)."""
        return cls(min_pieces=1, max_pieces=1, cap_permille=1000, extra_permille=0)

    @property
    def splits(self) -> bool:
        return self.max_pieces > 1

    @classmethod
    def parse(cls, text: str) -> PiecePolicy:
        """`default`, `none` (one leaf per account), or `min=16,max=64,cap=900,extra=0`
        (any subset; the rest from the default)."""
        text = text.strip()
        if text == "default":
            return DEFAULT_POLICY
        if text == "none":
            return cls.unsplit()
        names = {"min": "min_pieces", "max": "max_pieces", "cap": "cap_permille"}
        names["extra"] = "extra_permille"
        values: dict[str, int] = {}
        for part in text.split(","):
            match = _SPEC.match(part.strip())
            if match is None or match.group(1) not in names:
                raise SnapshotConfigError(
                    f"pieces: cannot read {part.strip()!r} in {text!r}: expected 'default',"
                    " 'none' or key=integer pairs from min, max, cap, extra"
                )
            values[names[match.group(1)]] = int(match.group(2))
        base = DEFAULT_POLICY
        return cls(
            min_pieces=values.get("min_pieces", base.min_pieces),
            max_pieces=values.get("max_pieces", max(base.max_pieces, values.get("min_pieces", 0))),
            cap_permille=values.get("cap_permille", base.cap_permille),
            extra_permille=values.get("extra_permille", base.extra_permille),
        )

    def describe(self) -> str:
        if not self.splits:
            return "none"
        return (
            f"min={self.min_pieces},max={self.max_pieces},cap={self.cap_permille},"
            f"extra={self.extra_permille}"
        )


DEFAULT_POLICY = PiecePolicy()


@dataclass(frozen=True, slots=True)
class Pieces:
    """The pieces of one snapshot, ready for the tree builder.

    Fields: `batch` (one row per piece: the account's id, the piece's nonce, its vectors),
    `offsets` (int64, accounts + 1: account j's pieces are rows offsets[j]:offsets[j+1],
    piece 0 first), `order` (int64: account j here is row order[j] of the input batch).
    Guarantees: per account and asset, the pieces' equity (debt) sums to the account's.
    """

    batch: AccountBatch
    offsets: NDArray[np.int64]
    order: NDArray[np.int64]

    @property
    def accounts(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def count(self) -> int:
        return self.batch.count


def _keystream(secret: bytes, domain: bytes, snapshot_id: str) -> Cipher[modes.CTR]:
    sid = snapshot_id.encode("utf-8")
    key = hmac.digest(secret, domain + u16(sid) + sid, "sha256")
    return Cipher(algorithms.AES(key), modes.CTR(bytes(16)))


class _Stream:
    """Draws from one AES-CTR keystream, in the order asked (so a re-run draws the same)."""

    def __init__(self, secret: bytes, domain: bytes, snapshot_id: str) -> None:
        self._enc = _keystream(secret, domain, snapshot_id).encryptor()

    def bytes(self, n: int) -> bytes:
        return self._enc.update(bytes(n))

    def uint(self, shape: tuple[int, ...], dtype: type[np.unsignedinteger[Any]]) -> NDArray[Any]:
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return np.frombuffer(self.bytes(size), dtype=dtype).reshape(shape)


def _canonical_order(nonces: NDArray[np.uint8]) -> NDArray[np.int64]:
    """Accounts by their piece-0 nonce (independent of the ledger's row order)."""
    n = nonces.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    words = np.ascontiguousarray(nonces).view(">u8").reshape(n, 4).astype(np.uint64)
    order = np.argsort(words[:, 0], kind="stable")
    first = words[order, 0]
    if bool((first[1:] == first[:-1]).any()):  # ~n^2 / 2^65: take the whole nonce
        order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
    return order.astype(np.int64)


def _as_float(  # float-ok: claim sizes for the piece counts, never an amount
    hi: NDArray[np.uint64], lo: NDArray[np.uint64]
) -> NDArray[np.float64]:  # float-ok: sizes only
    return hi.astype(np.float64) * 18446744073709551616.0 + lo.astype(np.float64)  # float-ok: sizes


def _scaled(
    hi: NDArray[np.uint64], lo: NDArray[np.uint64], cut: NDArray[np.uint64]
) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """floor(x * cut / 2^32) for u128 x = (hi, lo) and 0 <= cut <= 2^32, exactly.

    x in four 32-bit limbs; each limb times cut is < 2^64; carries propagate upward. When
    every x fits 64 bits (satoshi, lamports, micro-USDC) the upper limbs are skipped."""
    wide = bool(hi.any())
    a = (lo & _M32, lo >> _S32, hi & _M32, hi >> _S32) if wide else (lo & _M32, lo >> _S32)
    p = [limb * cut for limb in a]
    carry = p[0] >> _S32
    out = []
    for k in range(1, len(a)):
        t = (p[k] & _M32) + carry
        out.append(t & _M32)
        carry = (t >> _S32) + (p[k] >> _S32)
    if not wide:
        return np.zeros_like(lo), out[0] | (carry << _S32)
    return out[2] | (carry << _S32), out[0] | (out[1] << _S32)


def _piece_counts(
    policy: PiecePolicy,
    net: NDArray[np.uint64],
    stream: _Stream,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(pieces per account, need per account and asset) for accounts in canonical order."""
    n, n_assets = net.shape[0], net.shape[1]
    values = _as_float(net[:, :, 0], net[:, :, 1])  # float-ok: piece counts, never amounts
    need = np.zeros((n, n_assets), dtype=np.int64)
    for k in range(n_assets):
        column = values[:, k]
        nonzero = column[column > 0]
        if nonzero.size == 0:
            continue
        rank = min(nonzero.size - 1, (nonzero.size * policy.cap_permille) // 1000)
        cap = float(np.partition(nonzero, rank)[rank])  # float-ok: a size class, not money
        need[:, k] = np.minimum(np.ceil(column / cap), PIECES_MAX).astype(np.int64)
    funded = (net != 0).any(axis=(1, 2))
    draws = stream.uint((n, _EXTRA_TRIES), np.uint16).astype(np.int64)
    hit = draws < (policy.extra_permille * 65536) // 1000
    extra = np.cumprod(hit, axis=1).sum(axis=1)
    counts = np.maximum(need.max(axis=1, initial=0), policy.min_pieces) + extra
    counts = np.clip(counts, 1, policy.max_pieces)
    counts[~funded] = 1
    return counts.astype(np.int64), need


def split_pieces(
    batch: AccountBatch, policy: PiecePolicy, snapshot_id: str, secret: bytes
) -> Pieces:
    """Split every account of `batch` (one row per account, its piece-0 nonce) into pieces.

    Amounts are exact; each piece's equity and debt keep the account's sides. See the
    module docstring for the policy, the split and the randomness.
    """
    n, n_assets = batch.count, batch.n_assets
    if not policy.splits:  # one leaf per account: the batch as it is (no draw to order)
        identity = np.arange(n + 1, dtype=np.int64)
        return Pieces(batch, identity, identity[:-1])
    order = _canonical_order(batch.nonces)
    amounts = batch.amounts[order]  # (n, 2, A, 2)
    is_debt = (amounts[:, 1] != 0).any(axis=2)  # (n, A): the side of each claim
    net = np.where(is_debt[:, :, None], amounts[:, 1], amounts[:, 0])  # (n, A, 2)
    split = _Stream(secret, b"por/pieces/split", snapshot_id)
    counts, need = _piece_counts(policy, net, split)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    rank = np.arange(total, dtype=np.int64) - offsets[:-1][owner]
    pieces = np.zeros((total, 2, n_assets, 2), dtype=np.uint64)
    _fill(pieces, net, is_debt, counts, need, offsets, owner, rank, split)
    nonces = np.empty((total, 32), dtype=np.uint8)
    first = offsets[:-1]
    nonces[first] = batch.nonces[order]
    rest = np.ones(total, dtype=bool)
    rest[first] = False
    extra = int(rest.sum())
    if extra:
        stream = _Stream(secret, b"por/pieces/nonce", snapshot_id)
        nonces[rest] = np.frombuffer(stream.bytes(32 * extra), dtype=np.uint8).reshape(extra, 32)
    ids, id_offsets = _repeat_ids(batch, order, counts)
    pieces_batch = AccountBatch.from_arrays(ids, id_offsets, nonces, pieces, n_assets)
    return Pieces(pieces_batch, offsets, order)


def _fill(
    pieces: NDArray[np.uint64],
    net: NDArray[np.uint64],
    is_debt: NDArray[np.bool_],
    counts: NDArray[np.int64],
    need: NDArray[np.int64],
    offsets: NDArray[np.int64],
    owner: NDArray[np.int64],
    rank: NDArray[np.int64],
    stream: _Stream,
) -> None:
    """Each asset of each account over its pieces (module docstring), in place.

    Per asset only the accounts holding it are drawn and split: on an exchange most
    accounts hold one or two assets, so the work follows the holdings, not accounts x
    assets. The draws are made in canonical account order among the holders."""
    n_assets = net.shape[1]
    for a in range(n_assets):
        hi, lo = net[:, a, 0], net[:, a, 1]
        holders = np.flatnonzero((hi != 0) | (lo != 0))
        if holders.size == 0:
            continue
        if holders.size == hi.size:  # every account: the piece rows as they are
            rows = None
            h_counts, h_owner, h_rank, h_offsets = counts, owner, rank, offsets
        else:
            h_counts = counts[holders]
            h_offsets = np.zeros(holders.size + 1, dtype=np.int64)
            np.cumsum(h_counts, out=h_offsets[1:])
            h_owner = np.repeat(np.arange(holders.size, dtype=np.int64), h_counts)
            h_rank = np.arange(h_owner.size, dtype=np.int64) - h_offsets[:-1][h_owner]
            rows = offsets[:-1][holders][h_owner] + h_rank
        part_hi, part_lo = _split_asset(
            hi[holders], lo[holders], h_counts, need[holders, a], h_offsets, h_owner, h_rank,
            stream,
        )  # fmt: skip
        debt_rows = is_debt[holders, a][h_owner]
        if rows is None:  # slice writes: the common case of a benchmark, all funded
            zero = np.uint64(0)
            pieces[:, 1, a, 0] = np.where(debt_rows, part_hi, zero)
            pieces[:, 1, a, 1] = np.where(debt_rows, part_lo, zero)
            pieces[:, 0, a, 0] = np.where(debt_rows, zero, part_hi)
            pieces[:, 0, a, 1] = np.where(debt_rows, zero, part_lo)
        else:
            side = debt_rows.astype(np.int64)
            pieces[rows, side, a, 0] = part_hi
            pieces[rows, side, a, 1] = part_lo


def _split_asset(
    hi: NDArray[np.uint64],
    lo: NDArray[np.uint64],
    counts: NDArray[np.int64],
    need: NDArray[np.int64],
    offsets: NDArray[np.int64],
    owner: NDArray[np.int64],
    rank: NDArray[np.int64],
    stream: _Stream,
) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """One asset's amounts (u128 as hi, lo; one per holder) over the holders' pieces."""
    n, total = hi.size, owner.size
    first = offsets[:-1]
    last = offsets[1:] - 1
    k_of = counts[owner]
    draws = stream.uint((n, 2), np.uint32).astype(np.int64)
    splittable = (hi > 0) | (lo >= 2)
    low = np.where(splittable, np.minimum(counts, np.maximum(need, _SPREAD)), 1)
    low = np.minimum(low, counts)
    m = low + draws[:, 0] % (counts - low + 1)
    start = draws[:, 1] % counts
    receives = (rank - start[owner]) % k_of < m[owner]
    unit = stream.uint((total,), np.uint16).astype(np.float64)  # float-ok: weights only
    draw = unit / 65536.0
    weights = np.exp2(draw * _WEIGHT_BITS).astype(np.uint64)  # log-uniform in [1, 2^16)
    weights[~receives] = 0
    cum = np.cumsum(weights, dtype=np.uint64)
    base = np.zeros(n, dtype=np.uint64)
    base[1:] = cum[last[:-1]]
    cum -= base[owner]
    whole = cum[last][owner]
    cut = (cum << _S32) // whole
    f_hi, f_lo = _scaled(hi[owner], lo[owner], cut)
    p_hi = np.zeros(total, dtype=np.uint64)
    p_lo = np.zeros(total, dtype=np.uint64)
    p_hi[1:], p_lo[1:] = f_hi[:-1], f_lo[:-1]
    p_hi[first], p_lo[first] = 0, 0
    part_lo = f_lo - p_lo
    part_hi = f_hi - p_hi - (f_lo < p_lo).astype(np.uint64)
    return part_hi, part_lo


def _repeat_ids(
    batch: AccountBatch, order: NDArray[np.int64], counts: NDArray[np.int64]
) -> tuple[bytes, NDArray[np.int64]]:
    """The ids blob with account j's id repeated counts[j] times, accounts in `order`."""
    lengths = np.diff(batch.id_offsets)[order]
    blob = np.frombuffer(batch.ids, dtype=np.uint8)
    width = int(lengths[0]) if lengths.size else 0
    if width and bool((lengths == width).all()):  # one id length: rows of a 2-D array
        rows = blob.reshape(-1, width)[order].repeat(counts, axis=0)
        offsets = np.arange(rows.shape[0] + 1, dtype=np.int64) * width
        return rows.tobytes(), offsets
    starts = batch.id_offsets[:-1][order]
    piece_lengths = np.repeat(lengths, counts)
    piece_starts = np.repeat(starts, counts)
    offsets = np.zeros(piece_lengths.size + 1, dtype=np.int64)
    np.cumsum(piece_lengths, out=offsets[1:])
    total = int(offsets[-1])
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], piece_lengths)
    out = blob[np.repeat(piece_starts, piece_lengths) + within]
    return out.tobytes(), offsets

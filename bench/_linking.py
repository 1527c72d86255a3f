"""Linking attacks on published leaf lists, and how bench/privacy.py scores them.

The attacker holds what anyone can download: each hour's leaf list (tag, equity, debt per
leaf, in tree order; tags are fresh every hour, fillers and zero pieces are all-zero leaves)
and the index prices of the reconciliation report. Each attack takes the lists of two
consecutive hours t and t+1 and asserts links: "this leaf (or group of leaves) of t and this
leaf (or group) of t+1 belong to the same account". Zero leaves are never used (they cannot
be told from fillers). The attacks, all run on every hour pair (`ATTACKS`):

- exact: the same (equity, debt) vector, unique among the non-zero leaves of t and of t+1.
- rounded2, rounded1: the same signature -- which amounts are non-zero, and each amount to
  2 (resp. 1) significant digits -- unique in both hours.
- nearest: nearest neighbour in log-space (log10 of each non-zero amount; leaves compared
  only with leaves of the same non-zero pattern), mutual, within a factor of 2 overall
  (distance <= log10 2) and clearly better than the second nearest (ratio test: nearest
  < 0.5 x second; a leaf with no second candidate passes).
- groupsum: exact sums (an unchanged account re-split into other pieces). Groups are
  single leaves, pairs and triples: pairs of the GROUP_PAIRS largest leaves of an hour by
  USD value and every pair inside a non-zero pattern class of at most GROUP_CLASS leaves;
  triples of the GROUP_TRIPLES largest and every triple inside a class of at most
  GROUP_CLASS3. Only leaves whose exact vector does not recur in the other hour take part
  (a recurring one is the exact attack's, and its sums would only repeat it). A sum that
  is unique among the groups of t and unique among the groups of t+1, equal in both, with
  a group of two or three on at least one side, is a link -- unless the attacker's own
  estimate says such a coincidence is likely by chance: groups are put in strata
  (non-zero pattern, group size, decade of USD value), and a match of a group of stratum
  S at t with one of S' at t+1 is kept when |S| x |S'| / V <= GROUP_CHANCE, V the number
  of integer vectors of the sum's magnitude (the product of its non-zero amounts). Small
  1-asset sums of crowded strata coincide by the thousand; sums in wei or over several
  assets practically never.
- groupround: the same groups, their sums rounded to 3 significant digits per amount (an
  account whose claim drifted a little, e.g. by interest, re-split), unique in both hours,
  with the same chance estimate (V: the number of 3-digit signatures of the sum's
  magnitude, the product of its mantissas in [100, 1000)).
- largest: the largest leaves tracked per column (each asset's equity, each asset's debt)
  and by USD value: among the LARGEST_TOP largest of each hour, nearest neighbour in log
  of that one value, mutual, within 25 % and passing the same ratio test.

Exact vectors are compared by a 64-bit linear fingerprint (each amount mod 2^64 times a
fixed odd multiplier, summed mod 2^64): a sum of leaves has the sum of their fingerprints,
so group sums are additions of integers. A false match needs two different vectors with
the same fingerprint (~ n^2 / 2^64: negligible at these sizes).

Scoring (ground truth: who owns each leaf; never shown to the attacks). An assertion is
*correct* when all its leaves (both sides) belong to one account, and otherwise *wrong* for
every account owning one of its leaves. An account is linked by a set of assertions when
at least one correct assertion names it and it has at least as many correct as wrong ones
(ties go to the attacker). An account is **linked** t -> t+1 when it is linked by the
assertions of any one attack, or by all attacks' assertions together (deduplicated): the
attacker is credited with whichever attack works for that account, and with linking only
one piece of it to one other piece of it. The accounts counted are those with a non-zero
claim at both t and t+1 (an all-zero account has only zero leaves, which say nothing and
cannot be linked).

- linked_share: linked accounts / counted accounts, pooled over the day's hour pairs.
- whales_linked: the WHALES accounts of largest gross USD value (sum over assets of
  equity + debt, at that hour's index prices) at the first hour, among the accounts with
  a non-zero claim at every hour of the day; how many of them are linked in every hour
  pair (the chain followed through the whole day; each pair may use other pieces).
- sibling_leak: every piece of every account (every leaf that is not a filler) is a proof:
  its level-0 sibling leaf, then the sibling subtrees (the block of 2^k leaves next to its
  own block of 2^k) up to the root. A sibling node reveals a share of ONE other account
  when its non-zero leaves all belong to that one account: the node's gross USD value /
  that account's gross USD value at the hour. A node mixing several accounts' leaves
  reveals only a sum (0), zero leaves and fillers reveal nothing, the holder's own pieces
  are not another account. A proof's leak is the largest share over its siblings;
  sibling_leak is the median over all proofs of all hours.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ATTACKS",
    "GROUP_CHANCE",
    "GROUP_CLASS",
    "GROUP_CLASS3",
    "GROUP_PAIRS",
    "GROUP_TRIPLES",
    "LARGEST_TOP",
    "WHALES",
    "distinct",
    "HourLeaves",
    "Links",
    "PairScore",
    "parse_leaf_lines",
    "read_leaf_list",
    "score_pair",
    "sibling_leaks",
]

GROUP_PAIRS = 2000  # pairs among this many largest leaves (2M sums)
GROUP_CLASS = 1500  # and every pair inside a non-zero pattern class this small
GROUP_TRIPLES = 200  # triples among this many largest leaves (1.3M sums)
GROUP_CLASS3 = 120  # and every triple inside a non-zero pattern class this small
GROUP_CHANCE = 1.0  # a group-sum link: at most this many coincidences expected by chance
LARGEST_TOP = 200  # leaves tracked per column by the largest-leaf attack
WHALES = 100
NN_MAX = math.log10(2.0)  # a link by nearest neighbour: within a factor of 2
NN_RATIO = 0.5  # nearest < this x second nearest
LARGEST_MAX = math.log10(1.25)
_BRUTE_MAX = 100_000_000  # leaf pairs of a pattern class compared by brute force, at most
_CHUNK = 8_000_000  # coordinate differences per chunk of a nearest-neighbour search
_WINDOW = 64  # candidates per leaf when a pattern class is too large for brute force
_MASK = (1 << 64) - 1
_FILTER = (1 << 26) - 1
_RNG = np.random.default_rng(20261124)
_MULT = (_RNG.integers(0, 1 << 63, 64, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)


@dataclass(frozen=True, slots=True)
class HourLeaves:
    """One hour's public leaf list, parsed for the attacks.

    Fields: `tags` (hex, tree order), `values` (float64, leaves x 2A: equities then debts;
    approximate, for logs and rounding), `fp` (uint64 linear fingerprint of the exact
    amounts), `usd` (gross USD value per leaf, float), `nonzero`, `pattern` (bit c set when
    column c is non-zero).
    """

    snapshot_id: str
    tags: list[str]
    values: NDArray[np.float64]
    fp: NDArray[np.uint64]
    usd: NDArray[np.float64]
    nonzero: NDArray[np.bool_]
    pattern: NDArray[np.int64]

    @property
    def count(self) -> int:
        return len(self.tags)


@dataclass(slots=True)
class Links:
    """Asserted links: row r says group left[r] of hour t and right[r] of t+1 are one
    account; groups are up to 3 leaf indices, padded with -1."""

    left: NDArray[np.int64]
    right: NDArray[np.int64]

    @classmethod
    def pairs(cls, left: NDArray[np.int64], right: NDArray[np.int64]) -> Links:
        return cls(_pad(left.reshape(-1, 1)), _pad(right.reshape(-1, 1)))

    @classmethod
    def empty(cls) -> Links:
        return cls(np.full((0, 3), -1, np.int64), np.full((0, 3), -1, np.int64))

    def __len__(self) -> int:
        return int(self.left.shape[0])


def _pad(groups: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.full((groups.shape[0], 3), -1, dtype=np.int64)
    out[:, : groups.shape[1]] = groups
    return out


# -- reading ---------------------------------------------------------------------------------
def parse_leaf_lines(
    lines: Iterable[str | bytes],
    snapshot_id: str,
    decimals: Sequence[int],
    prices: Sequence[int | None],
    price_decimals: int,
) -> HourLeaves:
    """Parse leaf-list lines (`{"debt": [...], "equity": [...], "tag": ...}`)."""
    tags: list[str] = []
    columns: list[list[str]] = [[] for _ in range(2 * len(decimals))]
    n_assets = len(decimals)
    for line in lines:
        row = json.loads(line)
        tags.append(row["tag"])
        for k, value in enumerate(row["equity"]):
            columns[k].append(value)
        for k, value in enumerate(row["debt"]):
            columns[n_assets + k].append(value)
    n = len(tags)
    values = np.zeros((n, 2 * n_assets), dtype=np.float64)
    fp = np.zeros(n, dtype=np.uint64)
    for c, column in enumerate(columns):
        text = np.array(column, dtype=str)
        values[:, c] = text.astype(np.float64)
        fp += _mod64(text) * _MULT[c]
    nonzero = np.asarray(values.any(axis=1), dtype=bool)
    weights = np.zeros(2 * n_assets, dtype=np.float64)
    for k, (d, p) in enumerate(zip(decimals, prices, strict=True)):
        if p is not None:
            weights[k] = weights[n_assets + k] = p / 10**d / 10**price_decimals
    usd = values @ weights
    bits = (1 << np.arange(2 * n_assets, dtype=np.int64)).astype(np.int64)
    pattern = (values > 0).astype(np.int64) @ bits
    return HourLeaves(snapshot_id, tags, values, fp, usd, nonzero, pattern)


def _mod64(text: NDArray[np.str_]) -> NDArray[np.uint64]:
    """Decimal strings -> value mod 2^64 (19 digits or fewer directly, longer via int)."""
    short = np.strings.str_len(text) <= 19
    out = np.zeros(text.shape, dtype=np.uint64)
    out[short] = text[short].astype(np.uint64)
    long = np.flatnonzero(~short)
    if long.size:
        out[long] = np.fromiter((int(s) & _MASK for s in text[long]), np.uint64, long.size)
    return out


def read_leaf_list(
    path: Path, snapshot_id: str, decimals: Sequence[int], prices: Sequence[int | None],
    price_decimals: int,
) -> HourLeaves:  # fmt: skip
    with open(path, encoding="utf-8") as handle:
        return parse_leaf_lines(handle, snapshot_id, decimals, prices, price_decimals)


# -- helpers -------------------------------------------------------------------------------
def _unique_matches(
    keys_a: NDArray[np.uint64], keys_b: NDArray[np.uint64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Positions (i in a, j in b) of the keys that occur exactly once in a and once in b."""
    where_a, where_b = _maybe_common(keys_a, keys_b), _maybe_common(keys_b, keys_a)
    ka, ia = _singular(keys_a[where_a])
    kb, ib = _singular(keys_b[where_b])
    ia, ib = where_a[ia], where_b[ib]
    _common, pa, pb = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    return ia[pa], ib[pb]


def _maybe_common(keys: NDArray[np.uint64], other: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Positions of the keys that may occur in `other`: a filter on the low 26 bits, so all
    copies of a key pass or none (counting them afterwards stays exact)."""
    present = np.zeros(1 << 26, dtype=bool)
    present[(other & np.uint64(_FILTER)).astype(np.int64)] = True
    return np.flatnonzero(present[(keys & np.uint64(_FILTER)).astype(np.int64)])


def _singular(keys: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """The keys that occur once (sorted), and where."""
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    once = np.ones(ranked.size, dtype=bool)
    if ranked.size > 1:
        same = ranked[1:] == ranked[:-1]
        once[1:] &= ~same
        once[:-1] &= ~same
    return ranked[once], order[once].astype(np.int64)


def distinct(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sorted distinct values (np.unique's hash path is slow on this numpy for large arrays)."""
    ranked = np.sort(values, kind="stable")
    if ranked.size < 2:
        return ranked
    keep = np.ones(ranked.size, dtype=bool)
    keep[1:] = ranked[1:] != ranked[:-1]
    return ranked[keep]


def distinct_rows(rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """Distinct rows of a 2-D int array (lexicographic order)."""
    if rows.shape[0] < 2:
        return rows
    ranked = rows[np.lexsort(rows.T[::-1])]
    keep = np.ones(ranked.shape[0], dtype=bool)
    keep[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    return ranked[keep]


def _row_hash(codes: NDArray[np.int64]) -> NDArray[np.uint64]:
    out = np.zeros(codes.shape[0], dtype=np.uint64)
    for c in range(codes.shape[1]):
        out += codes[:, c].astype(np.uint64) * _MULT[c]
    return out


# -- the attacks -------------------------------------------------------------------------------
def attack_exact(a: HourLeaves, b: HourLeaves) -> Links:
    ia, ib = np.flatnonzero(a.nonzero), np.flatnonzero(b.nonzero)
    i, j = _unique_matches(a.fp[ia], b.fp[ib])
    return Links.pairs(ia[i], ib[j])


def _rounded(values: NDArray[np.float64], digits: int) -> NDArray[np.uint64]:
    """Hash of each row's signature: per amount zero or (exponent, mantissa to `digits`
    significant digits)."""
    out = np.zeros(values.shape[0], dtype=np.uint64)
    for c in range(values.shape[1]):
        _add_rounded(out, values[:, c], digits, c)
    return out


def _add_rounded(out: NDArray[np.uint64], column: NDArray[np.float64], digits: int, c: int) -> None:
    """Add column c's part of the signature hash (non-zero amounts only) to `out`."""
    rows = np.flatnonzero(column > 0)
    v = column[rows]
    exponent = np.floor(np.log10(v)).astype(np.int64)
    mantissa = np.rint(v / 10.0 ** (exponent - digits + 1)).astype(np.int64)
    carry = mantissa >= 10**digits
    exponent[carry] += 1
    mantissa[carry] //= 10
    out[rows] += ((exponent + 100) * 10_000 + mantissa).astype(np.uint64) * _MULT[c]


def attack_rounded(digits: int) -> Callable[[HourLeaves, HourLeaves], Links]:
    def attack(a: HourLeaves, b: HourLeaves) -> Links:
        ia, ib = np.flatnonzero(a.nonzero), np.flatnonzero(b.nonzero)
        i, j = _unique_matches(_rounded(a.values[ia], digits), _rounded(b.values[ib], digits))
        return Links.pairs(ia[i], ib[j])

    return attack


def _two_nearest(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """For each row of x: index of its nearest row of y, that distance, the second one
    (inf when y has one row). Euclidean. Exact by sorting in 1-D, by chunks of brute force
    when small enough, else among the _WINDOW nearest in the sum of coordinates."""
    m, dims = x.shape
    if y.shape[0] == 0:
        return np.full(m, -1, np.int64), np.full(m, np.inf), np.full(m, np.inf)
    if dims == 1 or m * y.shape[0] > _BRUTE_MAX:
        key_y = y.sum(axis=1)
        order = np.argsort(key_y, kind="stable")
        width = 2 if dims == 1 else _WINDOW // 2
        at = np.searchsorted(key_y[order], x.sum(axis=1))
        offsets = np.arange(-width, width)
        step = max(1, _CHUNK // (2 * width * dims))
        cand_rows, dist_rows = [], []
        for s in range(0, m, step):
            cand = order[np.clip(at[s : s + step, None] + offsets[None, :], 0, y.shape[0] - 1)]
            dist = np.sqrt(((x[s : s + step, None, :] - y[cand]) ** 2).sum(axis=2))
            cand_rows.append(cand)
            dist_rows.append(_mask_repeats(cand, dist))
    else:  # brute force: |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, a matrix product per chunk
        cand_rows, dist_rows = [], []
        step = max(1, _CHUNK // max(1, y.shape[0]))
        k = min(2, y.shape[0])
        yy = (y * y).sum(axis=1)
        for s in range(0, m, step):
            xs = x[s : s + step]
            d2 = (xs * xs).sum(axis=1)[:, None] + yy[None, :] - 2.0 * (xs @ y.T)
            rows = np.arange(xs.shape[0])
            first = d2.argmin(axis=1)
            picks = [first, first]
            near = [d2[rows, first], np.full(rows.size, np.inf)]
            if k == 2:
                d2[rows, first] = np.inf
                picks[1] = d2.argmin(axis=1)
                near[1] = d2[rows, picks[1]]
            cand_rows.append(np.stack(picks, axis=1))
            dist_rows.append(np.sqrt(np.maximum(np.stack(near, axis=1), 0.0)))
    cand = np.concatenate(cand_rows)
    dist = np.concatenate(dist_rows)
    order2 = np.argsort(dist, axis=1)
    best = np.take_along_axis(cand, order2[:, :1], axis=1)[:, 0]
    d1 = np.take_along_axis(dist, order2[:, :1], axis=1)[:, 0]
    d2 = np.take_along_axis(dist, order2[:, 1:2], axis=1)[:, 0] if dist.shape[1] > 1 else None
    if d2 is None:
        d2 = np.full(m, np.inf)
    return best.astype(np.int64), d1, d2


def _mask_repeats(cand: NDArray[np.int64], dist: NDArray[np.float64]) -> NDArray[np.float64]:
    """Clipped windows repeat a candidate: count each candidate once (others -> inf)."""
    order = np.argsort(cand, axis=1, kind="stable")
    sorted_cand = np.take_along_axis(cand, order, axis=1)
    repeat = np.zeros(cand.shape, dtype=bool)
    repeat[:, 1:] = sorted_cand[:, 1:] == sorted_cand[:, :-1]
    out = dist.copy()
    np.put_along_axis(out, order, np.where(repeat, np.inf, np.take_along_axis(dist, order, 1)), 1)
    return out


def _mutual_nn(
    x: NDArray[np.float64], y: NDArray[np.float64], max_d: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows (i of x, j of y) that are each other's nearest, within max_d, passing the
    ratio test on both sides."""
    if x.shape[0] == 0 or y.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    j, d1, d2 = _two_nearest(x, y)
    i_back, e1, e2 = _two_nearest(y, x)
    rows = np.arange(x.shape[0])
    ok = (d1 <= max_d) & (d1 < NN_RATIO * d2)
    ok &= i_back[j] == rows
    ok &= e1[j] < NN_RATIO * e2[j]
    return rows[ok].astype(np.int64), j[ok]


def attack_nearest(a: HourLeaves, b: HourLeaves) -> Links:
    left, right = [], []
    ia_all, ib_all = np.flatnonzero(a.nonzero), np.flatnonzero(b.nonzero)
    pa, pb = a.pattern[ia_all], b.pattern[ib_all]
    for pattern in np.intersect1d(distinct(pa), distinct(pb), assume_unique=True):
        ia, ib = ia_all[pa == pattern], ib_all[pb == pattern]
        cols = [c for c in range(a.values.shape[1]) if (int(pattern) >> c) & 1]
        x = np.log10(a.values[np.ix_(ia, cols)])
        y = np.log10(b.values[np.ix_(ib, cols)])
        i, j = _mutual_nn(x, y, NN_MAX)
        left.append(ia[i])
        right.append(ib[j])
    if not left:
        return Links.empty()
    return Links.pairs(np.concatenate(left), np.concatenate(right))


def attack_largest(a: HourLeaves, b: HourLeaves) -> Links:
    left, right = [], []
    columns = [a.values[:, c] for c in range(a.values.shape[1])]
    columns_b = [b.values[:, c] for c in range(b.values.shape[1])]
    for col_a, col_b in [*zip(columns, columns_b, strict=True), (a.usd, b.usd)]:
        top_a = _top(col_a, LARGEST_TOP)
        top_b = _top(col_b, LARGEST_TOP)
        if top_a.size == 0 or top_b.size == 0:
            continue
        x = np.log10(col_a[top_a])[:, None]
        y = np.log10(col_b[top_b])[:, None]
        i, j = _mutual_nn(x, y, LARGEST_MAX)
        left.append(top_a[i])
        right.append(top_b[j])
    if not left:
        return Links.empty()
    return Links.pairs(np.concatenate(left), np.concatenate(right))


def _top(column: NDArray[np.float64], n: int) -> NDArray[np.int64]:
    positive = np.flatnonzero(column > 0)
    if positive.size <= n:
        return positive.astype(np.int64)
    part = np.argpartition(column[positive], positive.size - n)[positive.size - n :]
    return positive[part].astype(np.int64)


@functools.lru_cache(maxsize=8)
def _combinations(n: int, r: int) -> NDArray[np.int64]:
    """Every r-subset of range(n), one per row, ascending (cached: the sizes recur)."""
    flat = itertools.chain.from_iterable(itertools.combinations(range(n), r))
    count = math.comb(n, r)
    out = np.fromiter(flat, np.int64, r * count).reshape(count, r)
    out.flags.writeable = False
    return out


class _Groups:
    """Sums (fingerprints) of a pool's singles, pairs and triples (see the docstring):
    `keys`, and the members of any of them on demand (`members(rows)`)."""

    def __init__(self, h: HourLeaves, pool: NDArray[np.int64]) -> None:
        by_value = pool[np.argsort(-h.usd[pool], kind="stable")]
        pair_sets = [by_value[:GROUP_PAIRS]]
        patterns = h.pattern[pool]
        kinds = distinct(patterns)
        counts = np.bincount(np.searchsorted(kinds, patterns), minlength=kinds.size)
        for pattern in kinds[(counts <= GROUP_CLASS) & (counts >= 2)]:
            pair_sets.append(pool[patterns == pattern])
        codes = []
        for group in pair_sets:
            i, j = _combinations(group.size, 2).T
            lo, hi = np.minimum(group[i], group[j]), np.maximum(group[i], group[j])
            codes.append(lo * (1 << 32) + hi)
        code = distinct(np.concatenate(codes)) if codes else np.zeros(0, np.int64)
        self.pairs = np.stack([code >> 32, code & 0xFFFFFFFF], axis=1)
        top = np.sort(by_value[:GROUP_TRIPLES])
        triples = [top[_combinations(top.size, 3)]]
        for pattern in kinds[(counts <= GROUP_CLASS3) & (counts >= 3)]:
            members = np.sort(pool[patterns == pattern])
            triples.append(members[_combinations(members.size, 3)])
        self.triples = distinct_rows(np.concatenate(triples))
        self._values = h.values
        self.singles = pool
        fp, pat, usd = h.fp, h.pattern, h.usd
        p, t = self.pairs, self.triples
        self.keys = np.concatenate(
            [fp[pool], fp[p[:, 0]] + fp[p[:, 1]], fp[t[:, 0]] + fp[t[:, 1]] + fp[t[:, 2]]]
        )
        # strata for the chance estimate: non-zero pattern, group size, decade of USD value
        pattern = np.concatenate(
            [pat[pool], pat[p[:, 0]] | pat[p[:, 1]], pat[t[:, 0]] | pat[t[:, 1]] | pat[t[:, 2]]]
        )
        value = np.concatenate(
            [usd[pool], usd[p[:, 0]] + usd[p[:, 1]], usd[t[:, 0]] + usd[t[:, 1]] + usd[t[:, 2]]]
        )
        size = np.repeat(np.arange(1, 4), [pool.size, p.shape[0], t.shape[0]])
        decade = np.clip(np.floor(np.log10(np.maximum(value, 1e-12))), -12, 51).astype(np.int64)
        self.stratum = (pattern << 8) | (size << 6) | (decade + 12)
        kinds = distinct(self.stratum)
        self._kinds = kinds
        self._counts = np.bincount(np.searchsorted(kinds, self.stratum), minlength=kinds.size)

    def rounded(self, digits: int) -> NDArray[np.uint64]:
        """Every group's sum rounded (`_rounded`), one column at a time."""
        p, t = self.pairs, self.triples
        out = np.zeros(self.keys.size, dtype=np.uint64)
        for c in range(self._values.shape[1]):
            v = self._values[:, c]
            if not v.any():
                continue
            column = np.concatenate(
                [v[self.singles], v[p[:, 0]] + v[p[:, 1]], v[t[:, 0]] + v[t[:, 1]] + v[t[:, 2]]]
            )
            _add_rounded(out, column, digits, c)
        return out

    def crowd(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """How many groups share each row's stratum."""
        return np.asarray(self._counts[np.searchsorted(self._kinds, self.stratum[rows])], np.int64)

    def members(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        out = np.full((rows.size, 3), -1, dtype=np.int64)
        n1, n2 = self.singles.size, self.pairs.shape[0]
        one = rows < n1
        two = (rows >= n1) & (rows < n1 + n2)
        three = rows >= n1 + n2
        out[one, 0] = self.singles[rows[one]]
        out[two, :2] = self.pairs[rows[two] - n1]
        out[three] = self.triples[rows[three] - n1 - n2]
        return out


_LAST_GROUPS: list[tuple[int, int, _Groups, _Groups]] = []


def _groups_of(a: HourLeaves, b: HourLeaves) -> tuple[_Groups, _Groups]:
    """The groups of both hours (pools: non-zero leaves whose exact vector does not recur
    in the other hour); the last pair is kept for the next group attack on it."""
    for ida, idb, ga, gb in _LAST_GROUPS:
        if ida == id(a) and idb == id(b):
            return ga, gb
    ia, ib = np.flatnonzero(a.nonzero), np.flatnonzero(b.nonzero)
    pool_a = ia[~np.isin(a.fp[ia], b.fp[ib])]
    pool_b = ib[~np.isin(b.fp[ib], a.fp[ia])]
    groups = (_Groups(a, pool_a), _Groups(b, pool_b))
    _LAST_GROUPS[:] = [(id(a), id(b), *groups)]
    return groups


def _group_links(
    a: HourLeaves,
    b: HourLeaves,
    groups_a: _Groups,
    groups_b: _Groups,
    keys_a: NDArray[np.uint64],
    keys_b: NDArray[np.uint64],
    cells: Callable[[NDArray[np.float64]], NDArray[np.float64]],
) -> Links:
    """Unique matches of group keys with a group of 2 or 3 on one side at least, kept when
    the attacker's own estimate of chance coincidences is low: the groups of the match's
    stratum on both sides, over log10 `cells(sum vector)` (the number of distinct keys of
    the sum's magnitude). A match is also dropped when one leaf of its t group and one of
    its t+1 group have the same 2-digit signature: it decomposes into leaves that continue
    one by one (two accounts each barely changed), the single-leaf attacks' business."""
    i, j = _unique_matches(keys_a, keys_b)
    left, right = groups_a.members(i), groups_b.members(j)
    grouped = (left[:, 1] >= 0) | (right[:, 1] >= 0)
    sig_a = np.append(_rounded(a.values, 2), np.uint64(1))  # index -1: padding, no match
    sig_b = np.append(_rounded(b.values, 2), np.uint64(2))
    same = (sig_a[left][:, :, None] == sig_b[right][:, None, :]).any(axis=(1, 2))
    keep = grouped & ~same
    i, j, left, right = i[keep], j[keep], left[keep], right[keep]
    total = (np.where(left >= 0, 1.0, 0.0)[:, :, None] * a.values[np.maximum(left, 0)]).sum(1)
    crowd = np.log10(groups_a.crowd(i).astype(np.float64) * groups_b.crowd(j))
    keep = crowd - cells(total) <= math.log10(GROUP_CHANCE)
    return Links(left[keep], right[keep])


def _integer_cells(total: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.log10(np.maximum(total, 1.0)).sum(axis=1), dtype=np.float64)


def _rounded_cells(total: NDArray[np.float64]) -> NDArray[np.float64]:
    """log10 of the number of 3-digit signatures of the sum's magnitude: per non-zero
    amount, its mantissa in [100, 1000)."""
    logs = np.log10(np.where(total > 0, total, 1.0))
    return np.asarray(np.where(total > 0, logs - np.floor(logs) + 2, 0.0).sum(axis=1), np.float64)


def attack_groupsum(a: HourLeaves, b: HourLeaves) -> Links:
    ga, gb = _groups_of(a, b)
    return _group_links(a, b, ga, gb, ga.keys, gb.keys, _integer_cells)


def attack_groupround(a: HourLeaves, b: HourLeaves) -> Links:
    ga, gb = _groups_of(a, b)
    keys_a, keys_b = ga.rounded(3), gb.rounded(3)
    return _group_links(a, b, ga, gb, keys_a, keys_b, _rounded_cells)


ATTACKS: dict[str, Callable[[HourLeaves, HourLeaves], Links]] = {
    "exact": attack_exact,
    "rounded2": attack_rounded(2),
    "rounded1": attack_rounded(1),
    "nearest": attack_nearest,
    "groupsum": attack_groupsum,
    "groupround": attack_groupround,
    "largest": attack_largest,
}


# -- scoring ---------------------------------------------------------------------------------
@dataclass(slots=True)
class PairScore:
    """One hour pair: the linked accounts (ids) and per attack (assertions, correct ones,
    accounts it links on its own; and those accounts in `alone`)."""

    linked: NDArray[np.int64]
    counted: int
    per_attack: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    alone: dict[str, NDArray[np.int64]] = field(default_factory=dict)


def _judge(
    links: Links, owner_a: NDArray[np.int64], owner_b: NDArray[np.int64], n_accounts: int
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """(correct per row, correct count per account, wrong count per account)."""
    own = np.concatenate(
        [np.where(links.left >= 0, owner_a[links.left], -2),
         np.where(links.right >= 0, owner_b[links.right], -2)], axis=1
    )  # fmt: skip
    present = own != -2
    lo = np.where(present, own, np.iinfo(np.int64).max).min(axis=1)
    hi = np.where(present, own, -1).max(axis=1)
    correct = (lo == hi) & (lo >= 0)
    good = np.bincount(lo[correct], minlength=n_accounts)
    rows, cols = np.nonzero(present & (own >= 0) & ~correct[:, None])
    pairs = distinct_rows(np.stack([rows, own[rows, cols]], axis=1))
    bad = np.bincount(pairs[:, 1], minlength=n_accounts)
    return correct, good, bad


def _dedupe(links: Links) -> Links:
    if not len(links):
        return links
    rows = np.concatenate([np.sort(links.left, axis=1), np.sort(links.right, axis=1)], axis=1)
    unique = distinct_rows(rows)
    left, right = unique[:, :3], unique[:, 3:]
    # sorted ascending puts the -1 padding first: move it back to the end
    return Links(_repack(left), _repack(right))


def _repack(groups: NDArray[np.int64]) -> NDArray[np.int64]:
    key = np.where(groups < 0, np.iinfo(np.int64).max, groups)
    order = np.argsort(key, axis=1, kind="stable")
    return np.take_along_axis(groups, order, axis=1)


def score_pair(
    found: Mapping[str, Links],
    owner_a: NDArray[np.int64],
    owner_b: NDArray[np.int64],
    counted: NDArray[np.int64],
    n_accounts: int,
) -> PairScore:
    """Score one hour pair (definitions in the module docstring). `owner_*`: account number
    of each leaf, -1 for fillers; `counted`: account numbers with a non-zero claim in both
    hours. Zero leaves of accounts may carry their owner: no attack ever names one."""
    is_counted = np.zeros(n_accounts, dtype=bool)
    is_counted[counted] = True
    score = PairScore(np.zeros(0, np.int64), int(counted.size))
    linked = np.zeros(n_accounts, dtype=bool)
    for name, links in found.items():
        correct, good, bad = _judge(links, owner_a, owner_b, n_accounts)
        alone = (good >= 1) & (good >= bad) & is_counted
        linked |= alone
        score.per_attack[name] = (len(links), int(correct.sum()), int(alone.sum()))
        score.alone[name] = np.flatnonzero(alone).astype(np.int64)
    every = [lk for lk in found.values() if len(lk)]
    union = _dedupe(
        Links(np.concatenate([lk.left for lk in every]), np.concatenate([lk.right for lk in every]))
    ) if every else Links.empty()  # fmt: skip
    _correct, good, bad = _judge(union, owner_a, owner_b, n_accounts)
    linked |= (good >= 1) & (good >= bad) & is_counted
    score.linked = np.flatnonzero(linked).astype(np.int64)
    return score


# -- sibling leak ----------------------------------------------------------------------------
def sibling_leaks(
    owner: NDArray[np.int64], usd: NDArray[np.float64], nonzero: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Per proof (each leaf whose owner is >= 0), the largest share of one other account's
    gross USD value a sibling node reveals (definition in the module docstring).
    The leaf count must be a power of two (the tree's leaf list, fillers included)."""
    n = owner.size
    if n & (n - 1):
        raise ValueError(f"leaf count {n} is not a power of two")
    n_accounts = int(owner.max()) + 1 if n else 0
    totals = np.bincount(owner[owner >= 0], weights=usd[owner >= 0], minlength=n_accounts)
    big = np.iinfo(np.int64).max
    lo = np.where(nonzero & (owner >= 0), owner, big)
    hi = np.where(nonzero & (owner >= 0), owner, -1)
    value = np.where(nonzero, usd, 0.0)
    leaf = np.arange(n)
    leak = np.zeros(n, dtype=np.float64)
    level = 0
    while (1 << level) < n:
        sibling = (leaf >> level) ^ 1
        s_lo, s_hi, s_val = lo[sibling], hi[sibling], value[sibling]
        single = (s_lo == s_hi) & (s_hi >= 0) & (s_hi != owner)
        who = np.where(single, s_hi, 0)
        total = totals[who] if n_accounts else np.zeros(n)
        share = np.where(single & (total > 0), s_val / np.where(total > 0, total, 1.0), 0.0)
        np.maximum(leak, share, out=leak)
        lo = np.minimum(lo[0::2], lo[1::2])
        hi = np.maximum(hi[0::2], hi[1::2])
        value = value[0::2] + value[1::2]
        level += 1
    return leak[owner >= 0]

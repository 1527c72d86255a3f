"""The plain reference builder of the liabilities Merkle sum tree (`proof-format.md` v1).

Slow and obvious on purpose: Python ints and lists, every level kept. The fast builder is
checked against it (differential tests), and the vectors pin both. All input is validated
up front, so bad input fails with one `InputError` before any tree exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from por._fields import ID_BYTES_MAX, MAX_ASSETS, SYMBOL_BYTES_MAX
from por._hashing import AMOUNT_LIMIT, HASH_BYTES, tag_hash
from por._sumtree import SumOverflowError, leaf_node, parent_node
from por.amounts import AmountError, check_amount
from por.errors import InputError
from por.leaves import Leaf
from por.model import MAX_LEAVES, AccountInput, Node, filler_tag, padded_size
from por.proof import InclusionProof, ProofLeaf, proof_to_json

__all__ = [
    "FILLER_SECRET_MIN_BYTES",
    "ReferenceTree",
    "account_tag",
    "build_tree",
    "validate_accounts",
]

FILLER_SECRET_MIN_BYTES = 16


def account_tag(snapshot_id: str, account: AccountInput) -> bytes:
    """The account's leaf tag for this snapshot (the spec's `tag`)."""
    return tag_hash(snapshot_id, account.nonce, account.account_id)


def _check_text(value: object, where: str, max_bytes: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a string, got {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InputError(f"{where}: expected UTF-8 text, got a lone surrogate") from None
    if not 1 <= size <= max_bytes:
        raise InputError(f"{where}: expected 1..{max_bytes} bytes of UTF-8, got {size}")
    return value


def _check_assets(assets: Sequence[str]) -> tuple[str, ...]:
    if not 1 <= len(assets) <= MAX_ASSETS:
        raise InputError(f"assets: expected 1..{MAX_ASSETS} symbols, got {len(assets)}")
    symbols = tuple(_check_text(s, f"assets[{i}]", SYMBOL_BYTES_MAX) for i, s in enumerate(assets))
    if len(set(symbols)) != len(symbols):
        raise InputError("assets: expected distinct symbols, got a repeated one")
    return symbols


def _check_vector(values: object, where: str, length: int) -> tuple[int, ...]:
    if not isinstance(values, tuple | list):
        raise InputError(f"{where}: expected a tuple of amounts, got {type(values).__name__}")
    if len(values) != length:
        raise InputError(f"{where}: expected {length} amounts (one per asset), got {len(values)}")
    try:
        return tuple(check_amount(v, f"{where}[{i}]") for i, v in enumerate(values))
    except AmountError as exc:
        raise InputError(str(exc)) from None


def validate_accounts(
    snapshot_id: str,
    assets: Sequence[str],
    accounts: Sequence[AccountInput],
    min_leaves: int = 0,
) -> list[Leaf]:
    """Every rule the builder input must satisfy; returns the accounts' leaves (unsorted).

    Raises one `InputError` naming the first offending account: wrong types, a nonce that
    is not 32 bytes, an amount < 0 or >= 2^128, a vector of the wrong length, a repeated
    account id or tag, per-asset totals reaching 2^128, or more than 2^32 leaves.
    """
    _check_text(snapshot_id, "snapshot_id", ID_BYTES_MAX)
    symbols = _check_assets(assets)
    if isinstance(min_leaves, bool) or not isinstance(min_leaves, int) or min_leaves < 0:
        raise InputError(f"min_leaves: expected a non-negative integer, got {min_leaves!r}")
    count = len(accounts)
    if count > MAX_LEAVES or min_leaves > MAX_LEAVES:
        raise InputError(
            f"tree too large: expected at most {MAX_LEAVES} leaves, got {max(count, min_leaves)}"
        )
    n = len(symbols)
    seen_ids: dict[str, int] = {}
    seen_tags: dict[bytes, int] = {}
    equity_total = [0] * n
    debt_total = [0] * n
    leaves: list[Leaf] = []
    for i, account in enumerate(accounts):
        where = f"account {i}"
        if not isinstance(account, AccountInput):
            raise InputError(f"{where}: expected AccountInput, got {type(account).__name__}")
        account_id = _check_text(account.account_id, f"{where} account_id", ID_BYTES_MAX)
        where = f"account {i} ({account_id!r})"
        if account_id in seen_ids:
            raise InputError(
                f"{where}: duplicate account id, already account {seen_ids[account_id]}"
            )
        seen_ids[account_id] = i
        nonce = account.nonce
        if not isinstance(nonce, bytes) or len(nonce) != HASH_BYTES:
            got = len(nonce) if isinstance(nonce, bytes) else type(nonce).__name__
            raise InputError(f"{where}: nonce: expected {HASH_BYTES} bytes, got {got}")
        equity = _check_vector(account.equity, f"{where} equity", n)
        debt = _check_vector(account.debt, f"{where} debt", n)
        tag = tag_hash(snapshot_id, nonce, account_id)
        if tag in seen_tags:
            raise InputError(f"{where}: duplicate tag, same as account {seen_tags[tag]}")
        seen_tags[tag] = i
        for k in range(n):
            equity_total[k] += equity[k]
            debt_total[k] += debt[k]
        leaves.append(Leaf(tag, equity, debt))
    for side, totals in (("equity", equity_total), ("debt", debt_total)):
        for k, total in enumerate(totals):
            if total >= AMOUNT_LIMIT:
                raise InputError(f"total {side} of {symbols[k]}: expected below 2^128, got {total}")
    return leaves


@dataclass(frozen=True, slots=True)
class ReferenceTree:
    """Every level of a built tree, leaves first; `levels[-1]` is `[root]`.

    Guarantees: leaves sorted by tag, tags unique, leaf count a power of two >= 2.
    """

    snapshot_id: str
    assets: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    levels: tuple[tuple[Node, ...], ...]
    _index: dict[bytes, int] = field(repr=False, compare=False)

    @classmethod
    def from_leaves(
        cls, snapshot_id: str, assets: Sequence[str], leaves: Sequence[Leaf]
    ) -> ReferenceTree:
        """Build every level from a full, sorted, padded leaf list (e.g. a vector's)."""
        _check_text(snapshot_id, "snapshot_id", ID_BYTES_MAX)
        symbols = _check_assets(assets)
        count = len(leaves)
        if count < 2 or count > MAX_LEAVES or count & (count - 1):
            raise InputError(f"leaves: expected a power of two >= 2 leaves, got {count}")
        index: dict[bytes, int] = {}
        for i, leaf in enumerate(leaves):
            if i and leaf.tag <= leaves[i - 1].tag:
                raise InputError(f"leaves[{i}]: tags must be strictly ascending")
            _check_vector(leaf.equity, f"leaves[{i}].equity", len(symbols))
            _check_vector(leaf.debt, f"leaves[{i}].debt", len(symbols))
            index[leaf.tag] = i
        level = tuple(leaf_node(leaf.tag, leaf.equity, leaf.debt) for leaf in leaves)
        levels = [level]
        try:
            while len(level) > 1:
                level = tuple(parent_node(level[j], level[j + 1]) for j in range(0, len(level), 2))
                levels.append(level)
        except SumOverflowError as exc:
            raise InputError(
                f"total {exc.side} of {symbols[exc.asset]}: expected below 2^128,"
                f" got at least {exc.total}"
            ) from None
        return cls(snapshot_id, symbols, tuple(leaves), tuple(levels), index)

    @property
    def root(self) -> Node:
        return self.levels[-1][0]

    @property
    def height(self) -> int:
        return len(self.levels) - 1

    @property
    def leaf_count(self) -> int:
        return len(self.leaves)

    def index_of(self, tag: bytes) -> int:
        try:
            return self._index[tag]
        except KeyError:
            raise InputError(f"no leaf with tag {tag.hex()} in this tree") from None

    def path(self, index: int) -> tuple[Node, ...]:
        """Siblings of the leaf's ancestors, from the leaf up."""
        if not 0 <= index < self.leaf_count:
            raise InputError(f"leaf index: expected 0..{self.leaf_count - 1}, got {index}")
        return tuple(self.levels[k][(index >> k) ^ 1] for k in range(self.height))

    def proof(self, index: int, account: AccountInput | None = None) -> InclusionProof:
        """The inclusion proof of leaf `index`; with `account`, the account's own copy."""
        path = self.path(index)
        leaf = self.leaves[index]
        if account is not None and account_tag(self.snapshot_id, account) != leaf.tag:
            raise InputError(f"account {account.account_id!r} is not leaf {index}")
        return InclusionProof(
            snapshot_id=self.snapshot_id,
            assets=self.assets,
            leaf=ProofLeaf(leaf.tag, index, leaf.equity, leaf.debt),
            path=path,
            root=self.root,
            account_id=None if account is None else account.account_id,
            nonce=None if account is None else account.nonce,
        )

    def account_proof(self, account: AccountInput) -> InclusionProof:
        """The account's own proof (with its id and nonce)."""
        index = self.index_of(account_tag(self.snapshot_id, account))
        leaf = self.leaves[index]
        if (tuple(account.equity), tuple(account.debt)) != (leaf.equity, leaf.debt):
            raise InputError(f"account {account.account_id!r}: vectors differ from its leaf")
        return self.proof(index, account)

    def proof_json(self, account: AccountInput) -> dict[str, object]:
        """The account's proof as the spec's JSON object."""
        return proof_to_json(self.account_proof(account))


def build_tree(
    snapshot_id: str,
    assets: Sequence[str],
    accounts: Sequence[AccountInput],
    *,
    filler_secret: bytes,
    min_leaves: int = 0,
) -> ReferenceTree:
    """Validate, tag, pad with filler leaves (tags from `filler_secret`), sort, build.

    Padding reaches a power of two >= 2 and >= `min_leaves` (to hide the account count).
    Filler tags are HMACs of the secret, so a rebuild gives the same tree.
    """
    if not isinstance(filler_secret, bytes) or len(filler_secret) < FILLER_SECRET_MIN_BYTES:
        raise InputError(
            f"filler_secret: expected at least {FILLER_SECRET_MIN_BYTES} bytes,"
            f" got {len(filler_secret) if isinstance(filler_secret, bytes) else 'none'}"
        )
    leaves = validate_accounts(snapshot_id, assets, accounts, min_leaves)
    size = padded_size(len(leaves), min_leaves)
    zero = (0,) * len(assets)
    used = {leaf.tag for leaf in leaves}
    for i in range(size - len(leaves)):
        tag = filler_tag(filler_secret, snapshot_id, i)
        if tag in used:  # would need an HMAC collision; refuse rather than assume
            raise InputError(f"filler tag {i} collides with an account tag")
        used.add(tag)
        leaves.append(Leaf(tag, zero, zero))
    leaves.sort(key=lambda leaf: leaf.tag)
    return ReferenceTree.from_leaves(snapshot_id, assets, leaves)

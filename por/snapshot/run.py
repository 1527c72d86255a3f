"""Taking a snapshot: cut -> leaves -> tree -> proof store -> reserves -> reconciliation.

Files are written crash-safely: everything goes into a hidden temporary directory next to
the destination, every file and directory is fsynced, and only then is it renamed into
place. On any error the temporary directory is removed: a snapshot directory is complete
or absent, never half-written.

Layout of `<out>/<name>/` (name = snapshot id with ':' -> '-', e.g. 2026-11-24T16-00-00Z):

    public/                 the bundle-to-be: no account id, no nonce anywhere
      snapshot.json         id, assets, cut (seq, time), tree (height, leaf count, root),
                            reserve pins, verdict -- the fields a manifest is built from
      leaves.jsonl          the published leaf list, tree order (tag, equity, debt)
      reserves.json         balances per chain at its pin, ownership signatures
      reconciliation.json   the report (see reconcile.py)
    private/                stays with the exchange
      tree/                 the proof store (levels of the tree, por.builder.proofstore)
      index/                the proof store's private index: account ids, every piece's
                            nonce, each account's pieces (a proof set per account)
      claims/               the cut's claims per account, kept for the next hour's
                            incremental cut (por.snapshot.cut_claims)
      summary.json          account count, system account balances, how the cut was
                            read (full, or incremental from which previous), timings
      secret                the snapshot secret, only when it was generated here
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from por._fields import node_json
from por._hashing import AMOUNT_LIMIT, HASH_BYTES, tag_hash
from por.builder import AccountBatch, BuiltTree, EngineName, build_tree, build_tree_from_shards
from por.builder.proofstore import ProofStore
from por.builder.shards import write_shards
from por.model import Node
from por.operator.fsync import fsync_dir, fsync_path
from por.operator.progress import NO_PROGRESS, Progress
from por.operator.workers import map_forked
from por.proof import parse_proof
from por.snapshot.customer_leaves import CustomerLeaves, check_root_totals, collect_leaves
from por.snapshot.cut_claims import (
    CLAIMS_DIR,
    UnusableClaimsError,
    merge,
    read_claims,
    write_claims,
)
from por.snapshot.errors import SnapshotConfigError, SnapshotError, TotalsMismatchError
from por.snapshot.leaf_lines import leaf_lines
from por.snapshot.pieces import DEFAULT_POLICY, PiecePolicy, Pieces, split_pieces
from por.snapshot.reconcile import BorrowerBook, Reconciliation, reconcile
from por.snapshot.reserves import ReserveSetup, SnapshotReserves, read_reserves
from por.snapshot.source import LedgerChanges, LedgerCut, LedgerSource
from por.verify import verify_inclusion

__all__ = [
    "PROOF_SET_FORMAT",
    "PRICE_DECIMALS_MAX",
    "SECRET_BYTES_MIN",
    "CutBasis",
    "CutData",
    "SnapshotIndex",
    "SnapshotResult",
    "check_borrower_book",
    "directory_name",
    "leaf_list_line",
    "parse_snapshot_time",
    "read_cut",
    "read_secret",
    "take_snapshot",
    "write_cut_claims",
    "write_leaf_list",
    "write_private_index",
]

SECRET_BYTES_MIN = 32
_SECRET_FILE_BYTES_MAX = 4096  # hex of a secret, a line end; a larger file is not one
PRICE_DECIMALS_MAX = 38  # the scale of prices and USD values a ledger may declare
SELF_CHECK_PROOFS = 32  # proofs served from the finished store and verified before renaming
PROOF_SET_FORMAT = "por-proof-set/1"


def parse_snapshot_time(text: str) -> tuple[str, datetime]:
    """`2026-11-24T16:00:00Z` -> (snapshot id, aware datetime). Whole seconds, UTC, 'Z'."""
    try:
        if len(text) != 20 or not text.endswith("Z"):
            raise ValueError
        at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SnapshotConfigError(
            f"snapshot time must look like 2026-11-24T16:00:00Z (UTC, whole seconds), got {text!r}"
        ) from None
    return at.strftime("%Y-%m-%dT%H:%M:%SZ"), at


def directory_name(snapshot_id: str) -> str:
    return snapshot_id.replace(":", "-")


def read_secret(path: str | os.PathLike[str]) -> bytes:
    """A snapshot secret file: hex text of at least 32 bytes (`openssl rand -hex 32`).

    Like the signing key, it must be readable by its owner only (0600 or 0400, no symbolic
    link): whoever reads it can link every account's leaves across hours. The mode is read
    from the opened file (fstat), so the file checked is the file read.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SnapshotConfigError(
                f"{name}: the snapshot secret is a symbolic link; point to the file itself"
            ) from None
        raise SnapshotConfigError(f"{name}: cannot read secret: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            raise SnapshotConfigError(f"{name}: the snapshot secret is not a regular file")
        if mode & 0o077:
            raise SnapshotConfigError(
                f"{name}: the snapshot secret has mode {mode:04o}; it must be 0600 (readable "
                f"by its owner only): run chmod 600 {name}"
            )
        data = os.read(fd, _SECRET_FILE_BYTES_MAX + 1)
    finally:
        os.close(fd)
    try:
        if len(data) > _SECRET_FILE_BYTES_MAX:
            raise ValueError
        secret = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise SnapshotConfigError(f"{name}: secret must be hex text") from None
    if len(secret) < SECRET_BYTES_MIN:
        raise SnapshotConfigError(
            f"{name}: secret too short: expected at least {SECRET_BYTES_MIN} bytes, "
            f"got {len(secret)}"
        )
    return secret


def _make_private(root: Path) -> None:
    """Files under `root` 0600, directories 0700 (whatever the umask made them): the
    private index holds every account id and nonce, the store every proof."""
    os.chmod(root, 0o700)
    for dirpath, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(dirpath, name), 0o700)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o600)


# -- the cut ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CutBasis:
    """How a cut was read. Fields: `path` ("full": every account's claims from the ledger;
    "incremental": the previous snapshot's kept claims and what changed since), `previous`
    (the previous snapshot's directory name, when one was given), `since_seq` (its cut),
    `changed` (accounts the ledger reported as changed), `reason` (why a given previous
    snapshot was not used: the cut was then read in full)."""

    path: str = "full"
    previous: str | None = None
    since_seq: int | None = None
    changed: int = 0
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "previous": self.previous,
            "since_seq": self.since_seq,
            "changed_accounts": self.changed,
            "fallback_reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CutData:
    """Everything read from the ledger at the cut (the cut's transaction is closed)."""

    seq: int
    time_ms: int | None
    assets: tuple[tuple[str, int], ...]
    leaves: CustomerLeaves
    totals: dict[str, tuple[int, int]]
    system: dict[tuple[str, str], int]
    custody_account: str
    custody: dict[str, int]
    in_flight: dict[str, int]
    prices: dict[str, int] | None
    price_decimals: int
    book: BorrowerBook | None
    basis: CutBasis = CutBasis()

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s for s, _ in self.assets)


def read_cut(
    source: LedgerSource,
    boundary_ms: int,
    snapshot_id: str,
    secret: bytes,
    timings: dict[str, float] | None = None,
    progress: Progress = NO_PROGRESS,
    previous: Path | None = None,
) -> CutData:
    """One consistent read of everything the snapshot needs from the ledger.

    `timings` (if given) receives "cut" (time spent in the ledger's queries, including
    streaming the claims) and "leaves" (time spent turning claims into leaf columns).
    `progress` advances by the accounts read (the stage itself is the caller's).

    `previous`: an earlier snapshot's directory (the previous hour's). Its kept claims
    (`por.snapshot.cut_claims`) and what the ledger says changed since its cut make this
    cut (`_read_changes`), the same leaves and answers as a full read; when they cannot
    (no such file, a digest or an asset list that differs, a later cut, a ledger that
    cannot say what changed or disagrees with them), the cut is read in full and
    `CutData.basis` says why. It never fails the cut.
    """
    try:
        with source.cut(boundary_ms) as cut:
            return _read(
                cut, snapshot_id, secret, {} if timings is None else timings, progress, previous
            )
    except SnapshotError:
        raise
    except Exception as exc:  # the source is another party's code: name it, keep one line
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SnapshotError(f"ledger source: {detail}") from exc


_PROGRESS_ROWS = 65_536  # accounts between two progress reports


class _TimedRows:
    """Wraps the claims stream, adds up the time spent producing its rows and reports
    them to `progress` every `_PROGRESS_ROWS`."""

    def __init__(
        self, rows: Iterator[tuple[str, Sequence[int]]], progress: Progress = NO_PROGRESS
    ) -> None:
        self._rows = rows
        self._progress = progress
        self.elapsed = 0.0

    def __iter__(self) -> Iterator[tuple[str, Sequence[int]]]:
        clock = time.perf_counter
        rows = self._rows
        progress = self._progress
        count = 0
        while True:
            start = clock()
            try:
                row = next(rows)
            except StopIteration:
                self.elapsed += clock() - start
                progress.advance(count % _PROGRESS_ROWS)
                return
            self.elapsed += clock() - start
            count += 1
            if not count % _PROGRESS_ROWS:
                progress.advance(_PROGRESS_ROWS)
            yield row


def _read(
    cut: LedgerCut,
    snapshot_id: str,
    secret: bytes,
    timings: dict[str, float],
    progress: Progress = NO_PROGRESS,
    previous: Path | None = None,
) -> CutData:
    start = time.perf_counter()
    assets = tuple((str(s), int(d)) for s, d in cut.assets())
    if not assets:
        raise SnapshotError(f"the ledger has no assets at seq {cut.seq}")
    basis = CutBasis()
    if previous is not None:
        try:
            return _read_changes(cut, assets, previous, snapshot_id, secret, timings, progress)
        except UnusableClaimsError as exc:
            basis = CutBasis(previous=previous.name, reason=str(exc))
    symbols = tuple(s for s, _ in assets)
    rows = _TimedRows(iter(cut.claims()), progress)
    before_leaves = time.perf_counter()
    leaves = collect_leaves(rows, symbols, snapshot_id, secret)
    after_leaves = time.perf_counter()
    prices = cut.index_prices()
    book = _borrower_book(cut)
    data = CutData(
        seq=cut.seq,
        time_ms=cut.time_ms,
        assets=assets,
        leaves=leaves,
        totals=dict(cut.customer_totals()),
        system=dict(cut.system_balances()),
        custody_account=str(cut.custody_account),
        custody=dict(cut.custody()),
        in_flight=dict(cut.in_flight()),
        prices=None if prices is None else _prices(prices),
        price_decimals=_price_decimals(cut.price_decimals()),
        book=book,
        basis=basis,
    )
    leaves_s = after_leaves - before_leaves - rows.elapsed
    timings["leaves"] = leaves_s
    timings["cut"] = time.perf_counter() - start - leaves_s
    return data


def _read_changes(
    cut: LedgerCut,
    assets: tuple[tuple[str, int], ...],
    previous: Path,
    snapshot_id: str,
    secret: bytes,
    timings: dict[str, float],
    progress: Progress,
) -> CutData:
    """The cut from `previous`'s kept claims and the ledger's changes since their cut
    (UnusableClaimsError when they cannot make it: the caller reads the cut in full).

    What is checked against what: every changed account's claims at the kept cut, as the
    ledger reads them, against the kept row; the merged columns' totals against the kept
    cut's ledger totals plus the ledger's change (those carried totals are what the tree
    root is then checked against, as a full cut's are); system balances, custody and the
    borrower book are the ledger's own answers at this cut."""
    start = time.perf_counter()
    kept = read_claims(previous)
    if kept.seq > cut.seq:
        raise UnusableClaimsError(
            f"the previous snapshot's cut (seq {kept.seq}) is after this one (seq {cut.seq})"
        )
    if kept.assets != assets:
        raise UnusableClaimsError(
            f"the assets changed since the previous snapshot: {list(kept.assets)} then, "
            f"{list(assets)} now"
        )
    changes_since = getattr(cut, "changes_since", None)
    changes: LedgerChanges | None = None
    if callable(changes_since):
        watch = sorted({*kept.borrowers(), *kept.system_accounts})
        changes = changes_since(kept.seq, watch)
    if changes is None:
        raise UnusableClaimsError(f"the ledger source cannot say what changed since seq {kept.seq}")
    if changes.since != kept.seq or changes.since_time_ms != kept.time_ms:
        raise UnusableClaimsError(
            f"the ledger's event at seq {kept.seq} has time {changes.since_time_ms}, the "
            f"kept cut's was {kept.time_ms}: not a cut of this ledger"
        )
    merged = merge(
        kept,
        changes.claims(),
        changes.totals_change(),
        changes.in_flight_change(),
        snapshot_id,
        secret,
    )
    progress.advance(merged.leaves.count)
    prices = cut.index_prices()
    data = CutData(
        seq=cut.seq,
        time_ms=cut.time_ms,
        assets=assets,
        leaves=merged.leaves,
        totals=merged.totals,
        system=dict(changes.system_balances()),
        custody_account=str(cut.custody_account),
        custody=dict(changes.custody()),
        in_flight=merged.in_flight,
        prices=None if prices is None else _prices(prices),
        price_decimals=_price_decimals(cut.price_decimals()),
        book=_borrower_book(changes),
        basis=CutBasis("incremental", previous.name, kept.seq, merged.changed),
    )
    timings["leaves"] = merged.leaves_s
    timings["cut"] = time.perf_counter() - start - merged.leaves_s
    return data


def write_cut_claims(cut: CutData, snapshot_dir: Path) -> None:
    """Keep the cut's claims in `snapshot_dir/private/claims/` for the next hour's
    incremental cut (`read_cut(..., previous=snapshot_dir)`)."""
    write_claims(
        snapshot_dir / "private" / CLAIMS_DIR,
        seq=cut.seq,
        time_ms=cut.time_ms,
        assets=cut.assets,
        batch=cut.leaves.batch,
        totals=cut.totals,
        in_flight=cut.in_flight,
        system_accounts=[account for account, _ in cut.system],
    )


def _price_decimals(value: object) -> int:
    if type(value) is not int or not 0 <= value <= PRICE_DECIMALS_MAX:
        raise SnapshotError(
            f"ledger source gave price decimals {value!r}: expected an int in "
            f"0..{PRICE_DECIMALS_MAX}"
        )
    return value


def _prices(prices: Mapping[str, int]) -> dict[str, int]:
    out = {}
    for asset, price in prices.items():
        if type(price) is not int or not 0 < price < AMOUNT_LIMIT:
            raise SnapshotError(
                f"ledger source gave the index price {price!r} for {asset}: expected an int "
                "in (0, 2^128)"
            )
        out[str(asset)] = price
    return out


def _borrower_book(cut: LedgerCut | LedgerChanges) -> BorrowerBook | None:
    """The ledger's borrowers (both queries answer, or neither), checked to be ints >= 0."""
    assets = cut.borrower_collateral()
    shortfall = cut.borrower_shortfall()
    if assets is None or shortfall is None:
        return None
    values = [v for row in assets.values() for v in row] + list(shortfall)
    if any(type(v) is not int or v < 0 for v in values) or any(
        len(row) != 4 for row in assets.values()
    ):
        raise SnapshotError(
            "ledger source gave a borrower book that is not non-negative ints "
            "(debt, collateral, debt value, collateral value per asset)"
        )
    accounts, under, short = shortfall
    rows = {str(k): (row[0], row[1], row[2], row[3]) for k, row in assets.items()}
    return BorrowerBook(rows, accounts, under, short)


def check_borrower_book(
    root: Node, assets: Sequence[str], book: BorrowerBook | None, borrowers: int
) -> None:
    """The borrower book must describe the tree's debts: per asset its debt equals the root
    debt to the unit, and it counts the accounts with a debt leaf."""
    if book is None:
        return
    problems = []
    for k, symbol in enumerate(assets):
        debt = book.assets.get(symbol, (0, 0, 0, 0))[0]
        if debt != root.debt[k]:
            problems.append(f"{symbol}: borrowers owe {debt}, tree root debt {root.debt[k]}")
    if book.accounts != borrowers:
        problems.append(
            f"{book.accounts} borrowing accounts, the leaves have {borrowers} with a debt"
        )
    unknown = sorted(set(book.assets) - set(assets))
    if unknown:
        problems.append(f"borrower book for assets not in the snapshot: {unknown}")
    if problems:
        raise TotalsMismatchError(
            "the ledger's borrower book does not match the tree, snapshot refused: "
            + "; ".join(problems)
        )


# -- files ----------------------------------------------------------------------------------
def write_leaf_list(store: ProofStore, path: Path, workers: int | None = None) -> int:
    """The public leaf list from the store, canonical JSON per line (keys sorted).

    Bulk: one `leaf_block` per partition, its lines built with numpy a block at a time
    (`por.snapshot.leaf_lines`; `leaf_list_line` is the plain reference, tested against
    this). Partitions are formatted by `workers` forked processes (one per core by
    default; with pieces the list is ~16 lines per account, formatting is the cost) into
    part files, joined in order by the kernel (`copy_file_range`), then renamed into
    place."""
    parts = store.partitions
    tmp = path.with_name(path.name + ".tmp")
    names = [path.with_name(f".{path.name}.{p:05d}") for p in range(parts)]
    _LEAF_LIST.update(store_dir=store.out_dir, names=names)
    try:
        map_forked(_write_leaf_part, parts, workers)
        with open(tmp, "wb") as out:
            for name in names:
                with open(name, "rb") as src:
                    _append_file(src, out)
        os.replace(tmp, path)
    finally:
        _LEAF_LIST.clear()
        for name in [*names, tmp]:
            name.unlink(missing_ok=True)
    return store.leaf_count


_LEAF_LIST: dict[str, Any] = {}


def _write_leaf_part(part: int) -> None:
    """One partition's lines to its part file (in a forked worker, or in-process)."""
    with ProofStore.open(_LEAF_LIST["store_dir"]) as store:
        tags, records = store.leaf_block(part)
        with open(_LEAF_LIST["names"][part], "wb") as out:
            for lines in leaf_lines(tags, records[:, HASH_BYTES:], len(store.assets)):
                out.write(lines)


def _append_file(src: Any, out: Any) -> None:
    """Append all of `src` to `out` (copy_file_range where the kernel has it)."""
    size = os.fstat(src.fileno()).st_size
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        shutil.copyfileobj(src, out, 1 << 20)
        return
    out.flush()
    done = 0
    while done < size:
        sent = copy(src.fileno(), out.fileno(), size - done)
        if sent == 0:
            break
        done += sent
    if done < size:  # a filesystem that copies nothing: plain reads
        src.seek(done)
        out.seek(0, os.SEEK_END)
        shutil.copyfileobj(src, out, 1 << 20)


def leaf_list_line(store: ProofStore, index: int) -> str:
    """One line of the leaf list, read leaf by leaf (the reference for `write_leaf_list`)."""
    n = len(store.assets)
    rec = store.record(0, index)
    amounts = [
        int.from_bytes(rec[HASH_BYTES + 16 * k : HASH_BYTES + 16 * k + 16], "big")
        for k in range(2 * n)
    ]
    return (
        json.dumps(
            {
                "debt": [str(v) for v in amounts[n:]],
                "equity": [str(v) for v in amounts[:n]],
                "tag": store.tag_at(index).hex(),
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        + "\n"
    )


def write_private_index(pieces: Pieces, directory: Path) -> None:
    """ids.bin (UTF-8 ids of the accounts back to back), id_offsets.npy (int64, accounts + 1),
    pieces.npy (int64, accounts + 1: account j's pieces are nonces pieces[j]:pieces[j+1],
    piece 0 first), nonces.bin (pieces x 32)."""
    directory.mkdir(parents=True)
    batch, offsets = pieces.batch, pieces.offsets
    first = offsets[:-1]
    starts = batch.id_offsets[first]
    ends = batch.id_offsets[first + 1]
    lengths = ends - starts
    id_offsets = np.zeros(first.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=id_offsets[1:])
    blob = np.frombuffer(batch.ids, dtype=np.uint8)
    total = int(id_offsets[-1])
    within = np.arange(total, dtype=np.int64) - np.repeat(id_offsets[:-1], lengths)
    (directory / "ids.bin").write_bytes(blob[np.repeat(starts, lengths) + within].tobytes())
    np.save(directory / "id_offsets.npy", id_offsets, allow_pickle=False)
    np.save(directory / "pieces.npy", offsets, allow_pickle=False)
    (directory / "nonces.bin").write_bytes(batch.nonces.tobytes())


class SnapshotIndex:
    """The private index of a finished snapshot: an account's nonces, hence its proof set."""

    def __init__(self, snapshot_dir: str | os.PathLike[str]) -> None:
        base = Path(snapshot_dir) / "private"
        ids = (base / "index" / "ids.bin").read_bytes()
        offsets = np.load(base / "index" / "id_offsets.npy", allow_pickle=False)
        nonces = (base / "index" / "nonces.bin").read_bytes()
        pieces_path = base / "index" / "pieces.npy"
        if pieces_path.exists():
            pieces = np.load(pieces_path, allow_pickle=False)
        else:  # an index written before pieces: one leaf per account
            pieces = np.arange(len(offsets), dtype=np.int64)
        self._ids = ids
        self._offsets = offsets
        self._pieces: list[int] = pieces.tolist()
        self._nonces = nonces
        self._rows: dict[str, int] | None = None
        self.store_dir = base / "tree"

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def account_ids(self) -> Iterator[str]:
        bounds = self._offsets.tolist()
        for i in range(len(bounds) - 1):
            yield self._ids[bounds[i] : bounds[i + 1]].decode("utf-8")

    def _row(self, account_id: str) -> int:
        if self._rows is None:
            self._rows = {a: i for i, a in enumerate(self.account_ids())}
        row = self._rows.get(account_id)
        if row is None:
            raise KeyError(f"no account {account_id!r} in this snapshot")
        return row

    def nonces(self, account_id: str) -> list[bytes]:
        """The nonce of each of the account's pieces, piece 0 first."""
        row = self._row(account_id)
        lo, hi = self._pieces[row], self._pieces[row + 1]
        return [self._nonces[32 * k : 32 * k + 32] for k in range(lo, hi)]

    def nonce(self, account_id: str) -> bytes:
        """The nonce of the account's piece 0."""
        return self.nonces(account_id)[0]

    def piece_tags(self, snapshot_id: str) -> Iterator[tuple[str, bytes]]:
        """(account id, tag) of every piece of every account (ground truth for tests and
        the privacy bench; never published)."""
        for row, account in enumerate(self.account_ids()):
            for k in range(self._pieces[row], self._pieces[row + 1]):
                yield account, tag_hash(snapshot_id, self._nonces[32 * k : 32 * k + 32], account)

    def proof(self, account_id: str) -> dict[str, Any]:
        """The account's own `por-proof-set/1`: a proof (with its id and nonce) per piece,
        served from the proof store."""
        nonces = self.nonces(account_id)
        with ProofStore.open(self.store_dir) as store:
            proofs = store.account_proofs(account_id, nonces)
            return {
                "format": PROOF_SET_FORMAT,
                "snapshot_id": store.snapshot_id,
                "account_id": account_id,
                "proofs": proofs,
            }


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fsync_path(os.path.join(dirpath, name))
        fsync_dir(dirpath)


def _iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    frac = ms % 1000
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:03d}Z" if frac else f"{base}Z"


def _self_check(store: ProofStore, batch: AccountBatch, count: int) -> None:
    """Serve a spread of accounts' proofs from the finished store and verify each."""
    n = batch.count
    if n == 0:
        return
    step = max(1, n // count)
    for row in range(0, n, step):
        proof = parse_proof(store.account_proof(batch.account_id(row), batch.nonce(row)))
        verify_inclusion(proof)
        if proof.root.hash != store.root.hash:
            raise SnapshotError("self-check: a served proof names another root")


# -- the whole run ----------------------------------------------------------------------------
@dataclass(slots=True)
class SnapshotResult:
    snapshot_id: str
    directory: Path
    cut_seq: int
    cut_time_ms: int | None
    accounts: int
    leaf_count: int
    height: int
    root: Node
    reconciliation: Reconciliation
    reserves: SnapshotReserves | None
    timings: dict[str, float] = field(default_factory=dict)
    pieces: int = 0
    basis: CutBasis = field(default_factory=CutBasis)


def take_snapshot(
    source: LedgerSource,
    at: str,
    out: str | os.PathLike[str],
    *,
    secret: bytes | None = None,
    reserves: ReserveSetup | None = None,
    engine: EngineName = "local",
    min_leaves: int = 0,
    publish_leaves: bool = True,
    pieces: PiecePolicy = DEFAULT_POLICY,
    after_step: Callable[[str], None] | None = None,
    progress: Progress = NO_PROGRESS,
    scheduler: str | None = None,
    previous: str | os.PathLike[str] | None = None,
) -> SnapshotResult:
    """Take the snapshot at `at` and write `<out>/<name>/` (see the module docstring).

    `secret` derives nonces, the split into pieces (`pieces`, the policy) and filler tags;
    when None a fresh one is generated and kept in `private/secret`. `after_step(name)` is
    called after each step (tests use it to fail midway); `progress` receives each stage
    (cut, reserves, pieces, tree, check, store, publish, write) with its counts. With
    `engine="dask"` the tree is built from account shards (`_build`): `scheduler` is the
    cluster's address (else a LocalCluster here), and `out` must then be storage every
    worker sees at the same path. `previous`: an earlier snapshot's directory (the previous
    hour's), whose kept claims let the cut read only what changed since (`read_cut`; a
    full read when they cannot, never a failure; `SnapshotResult.basis` says which).
    Raises SnapshotError (or a reserves error); nothing is left behind.
    """
    snapshot_id, at_dt = parse_snapshot_time(at)
    if secret is not None and len(secret) < SECRET_BYTES_MIN:
        raise SnapshotConfigError(f"secret must be at least {SECRET_BYTES_MIN} bytes")
    generated = secret is None
    key = secrets.token_bytes(SECRET_BYTES_MIN) if secret is None else secret
    out_dir = Path(out)
    final = out_dir / directory_name(snapshot_id)
    if final.exists():
        raise SnapshotConfigError(f"{final} already exists: snapshot {snapshot_id} was taken")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{final.name}.tmp-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        result = _run(
            source,
            snapshot_id,
            at_dt,
            key,
            generated,
            tmp,
            reserves,
            engine,
            min_leaves,
            publish_leaves,
            pieces,
            after_step or (lambda _step: None),
            progress,
            scheduler,
            None if previous is None else Path(previous),
        )
        _make_private(tmp / "private")
        _fsync_tree(tmp)
        if final.exists():
            raise SnapshotConfigError(f"{final} appeared meanwhile: snapshot {snapshot_id}")
        os.rename(tmp, final)
        fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.directory = final
    return result


def _run(
    source: LedgerSource,
    snapshot_id: str,
    at: datetime,
    secret: bytes,
    generated: bool,
    tmp: Path,
    reserve_setup: ReserveSetup | None,
    engine: EngineName,
    min_leaves: int,
    publish_leaves: bool,
    policy: PiecePolicy,
    after_step: Callable[[str], None],
    progress: Progress = NO_PROGRESS,
    scheduler: str | None = None,
    previous: Path | None = None,
) -> SnapshotResult:
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str, following: str | None = None, **counts: int) -> None:
        """`name` is done (timed from the last lap); `following` starts."""
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now
        progress.finish(name, timings[name], counts)
        after_step(name)
        if following is not None:
            progress.start(following)

    boundary_ms = int(at.timestamp()) * 1000
    progress.start("cut")
    begin = time.perf_counter()
    cut = read_cut(source, boundary_ms, snapshot_id, secret, timings, progress, previous)
    clock = time.perf_counter()
    counts = {"accounts": cut.leaves.count, "seq": cut.seq}
    if cut.basis.path == "incremental":
        counts["changed"] = cut.basis.changed
    progress.finish("cut", clock - begin, counts)
    after_step("cut")
    progress.start("reserves")
    ledger_assets = dict(cut.assets)
    found: SnapshotReserves | None = None
    if reserve_setup is not None:
        found = read_reserves(reserve_setup, ledger_assets, snapshot_id, at)
    lap("reserves", "pieces", chains=0 if found is None else len(found.readings))
    public, private = tmp / "public", tmp / "private"
    public.mkdir()
    private.mkdir(mode=0o700)  # private from the start; its files are made 0600 at the end
    pieces = split_pieces(cut.leaves.batch, policy, snapshot_id, secret)
    lap("pieces", "tree", pieces=pieces.count)
    built = _build(
        pieces.batch, cut.symbols, snapshot_id, secret, min_leaves, engine, private, scheduler
    )
    lap("tree", "check", leaves=built.leaf_count, height=built.height)
    check_root_totals(built.root, cut.symbols, cut.totals)
    check_borrower_book(built.root, cut.symbols, cut.book, cut.leaves.borrowers)
    lap("check", "store")
    write_private_index(pieces, private / "index")
    write_cut_claims(cut, tmp)
    with ProofStore.open(private / "tree") as store:
        _self_check(store, pieces.batch, SELF_CHECK_PROOFS)
        lap("store", "publish")
        if publish_leaves:
            workers = 1 if engine == "serial" else None  # serial: no process forked
            write_leaf_list(store, public / "leaves.jsonl", workers=workers)
    lap("publish", "write", leaves=built.leaf_count if publish_leaves else 0)
    report = _write_public(public, snapshot_id, cut, built, found, publish_leaves)
    if generated:
        fd = os.open(private / "secret", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secret.hex() + "\n")
    lap("write")
    _write_json(private / "summary.json", _summary(snapshot_id, cut, pieces, policy, timings))
    return SnapshotResult(
        snapshot_id,
        tmp,
        cut.seq,
        cut.time_ms,
        cut.leaves.count,
        built.leaf_count,
        built.height,
        built.root,
        report,
        found,
        timings,
        pieces.count,
        cut.basis,
    )


def _build(
    batch: AccountBatch,
    symbols: Sequence[str],
    snapshot_id: str,
    secret: bytes,
    min_leaves: int,
    engine: EngineName,
    private: Path,
    scheduler: str | None,
) -> BuiltTree:
    """The tree of the pieces, in `private/tree`. On Dask the pieces reach the workers as
    account shards on the snapshot's own storage, never through the client (which would
    carry ~180 B per account and become the bottleneck beyond ~10^7: docs/scaling.md);
    the shards are removed once the tree is built. Same root and store files either way."""
    if engine != "dask":
        return build_tree(
            batch,
            symbols,
            snapshot_id,
            secret,
            min_leaves=min_leaves,
            engine=engine,
            out_dir=private / "tree",
            pieces=True,
        )
    shards = private / "shards"
    try:
        write_shards(batch, shards)
        return build_tree_from_shards(
            shards,
            symbols,
            snapshot_id,
            secret,
            min_leaves=min_leaves,
            out_dir=private / "tree",
            pieces=True,
            scheduler=scheduler,
            consume_shards=True,  # ours to remove: each goes once read (lower peak disk)
        ).tree
    finally:
        shutil.rmtree(shards, ignore_errors=True)


def _write_public(
    public: Path,
    snapshot_id: str,
    cut: CutData,
    built: BuiltTree,
    found: SnapshotReserves | None,
    publish_leaves: bool,
) -> Reconciliation:
    """The write stage: reconcile and write reconciliation.json, reserves.json and
    snapshot.json (the leaf list is written by the publish stage)."""
    system_per_asset: dict[str, int] = {}
    for (account, asset), amount in cut.system.items():
        if account != cut.custody_account:
            system_per_asset[asset] = system_per_asset.get(asset, 0) + amount
    notes = []
    if found is None:
        notes.append("no wallet registry given: reserves were not read (all zero)")
    notes.append(
        "perpetual PnL is included as recorded at the cut (bucket pnl_unsettled, at the "
        "last mark the ledger applied)"
    )
    report = reconcile(
        snapshot_id,
        cut.assets,
        built.root,
        {} if found is None else found.totals,
        cut.custody,
        cut.in_flight,
        system_per_asset,
        borrowers=cut.leaves.borrowers,
        borrower_collateral=cut.leaves.borrower_collateral,
        prices=cut.prices,
        price_decimals=cut.price_decimals,
        book=cut.book,
        notes=notes,
    )
    _write_json(public / "reconciliation.json", report.to_dict())
    if found is not None:
        _write_json(public / "reserves.json", found.to_dict())
    _write_json(
        public / "snapshot.json",
        {
            "format": "por-snapshot/1",
            "snapshot_id": snapshot_id,
            "assets": [{"symbol": s, "decimals": d} for s, d in cut.assets],
            "cut": {"seq": cut.seq, "time": _iso_ms(cut.time_ms)},
            "tree": {
                "height": built.height,
                "leaf_count": built.leaf_count,
                "root": node_json(built.root),
            },
            "reserves": (None if found is None else [r.pin.to_dict() for r in found.readings]),
            "reserve_assets": (
                None if found is None or found.registry is None else found.registry.to_json()
            ),
            "status": "PASS" if report.passed else "FAIL",
            "files": {
                "leaves": "leaves.jsonl" if publish_leaves else None,
                "reserves": None if found is None else "reserves.json",
                "reconciliation": "reconciliation.json",
            },
        },
    )
    return report


def _summary(
    snapshot_id: str,
    cut: CutData,
    pieces: Pieces,
    policy: PiecePolicy,
    timings: dict[str, float],
) -> dict[str, Any]:
    """private/summary.json: counts, system balances and the stages' timings."""
    return {
        "snapshot_id": snapshot_id,
        "accounts": cut.leaves.count,
        "pieces": pieces.count,
        "piece_policy": policy.describe(),
        "borrowing_accounts": cut.leaves.borrowers,
        "cut": cut.basis.to_json(),
        "system_balances": [
            {"account": a, "asset": s, "amount": str(v)} for (a, s), v in sorted(cut.system.items())
        ],
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }

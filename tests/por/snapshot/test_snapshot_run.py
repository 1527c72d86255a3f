"""por.snapshot.run: a whole snapshot from a persisted ledger (SQLite and PostgreSQL),
its files, their verification, and what happens when anything goes wrong."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.export import SqlLedgerCut, SqlLedgerExport
from por._hashing import AMOUNT_LIMIT
from por.builder import build_tree
from por.builder.proofstore import ProofStore
from por.chain.solana_world import create_solana_world, fund_sol, fund_usdc
from por.leaves import read_leaves
from por.manifest import AssetInfo, LogHead, Manifest, build_manifest, parse_manifest
from por.model import Node
from por.proof import parse_proof
from por.reserves import Wallet, WalletRegistry
from por.reserves.errors import KeyStoreError
from por.reserves.keystore import generate_keystore
from por.reserves.solana import LiteSvmReader
from por.reserves.values import AssetSpec
from por.snapshot import (
    ReserveSetup,
    SnapshotConfigError,
    SnapshotError,
    SnapshotIndex,
    TotalsMismatchError,
    collect_leaves,
    take_snapshot,
)
from por.snapshot.run import leaf_list_line, write_leaf_list
from por.verify import verify_leaves, verify_proof
from tests.por.snapshot.snapshot_ledger import (
    AFTER,
    AT,
    BEFORE,
    BORROWER_BOOK,
    BORROWERS,
    BORROWERS_AFTER,
    BORROWERS_REJECTED,
    CUT_SEQ,
    make_ledger,
)

SECRET = bytes(range(32))
PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(32))


def _manifest(snapshot_dir: Path) -> Any:
    """Sign the snapshot's public summary as a manifest (publication is the next step)."""
    summary = json.loads((snapshot_dir / "public" / "snapshot.json").read_text())
    tree = summary["tree"]
    r = tree["root"]
    root = Node(bytes.fromhex(r["hash"]), tuple(map(int, r["equity"])), tuple(map(int, r["debt"])))
    signed = build_manifest(
        summary["snapshot_id"],
        [AssetInfo(a["symbol"], a["decimals"]) for a in summary["assets"]],
        tree["height"],
        root,
        LogHead(1, bytes(32)),
        PRIVATE_KEY,
        extra={"cut": summary["cut"]},
    )
    return parse_manifest(signed)


def _only_snapshot(out: Path) -> Path:
    entries = list(out.iterdir())
    assert len(entries) == 1, f"expected exactly the snapshot directory, found {entries}"
    return entries[0]


def _claim(proof_set: dict[str, Any], manifest: Manifest) -> tuple[tuple[int, ...], ...]:
    """Every piece of the set verifies (all five checks); the claim is their sum."""
    assert proof_set["format"] == "por-proof-set/1"
    pieces = [parse_proof(p) for p in proof_set["proofs"]]
    assert len({p.leaf.tag for p in pieces}) == len(pieces) >= 1
    for piece in pieces:
        assert piece.account_id == proof_set["account_id"]
        verify_proof(piece, manifest, PRIVATE_KEY.public_key().public_bytes_raw())
    equity = tuple(sum(v) for v in zip(*(p.leaf.equity for p in pieces), strict=True))
    debt = tuple(sum(v) for v in zip(*(p.leaf.debt for p in pieces), strict=True))
    return equity, debt


def test_a_snapshot_of_a_ledger_gives_leaves_that_verify_for_every_customer(
    db_url: str, tmp_path: Path
) -> None:
    ledger = make_ledger(db_url, BEFORE + AFTER)
    result = take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET)
    snap = _only_snapshot(tmp_path / "out")
    assert snap.name == "2026-11-24T16-00-00Z" and result.directory == snap
    assert result.cut_seq == CUT_SEQ
    assert result.accounts == 3, "alice, bob, carol; dave came after the cut"
    assert result.root.equity == (151_000_000, 2 * 10**18)
    assert result.root.debt == (1_000_000, 0)
    summary = json.loads((snap / "public" / "snapshot.json").read_text())
    assert summary["cut"] == {"seq": CUT_SEQ, "time": "2026-11-24T15:59:59.999Z"}
    manifest = _manifest(snap)
    index = SnapshotIndex(snap)
    assert sorted(index.account_ids()) == ["alice", "bob", "carol"], "no system account leaf"
    claims = {a: _claim(index.proof(a), manifest) for a in index.account_ids()}
    assert claims["alice"] == ((150_000_000, 0), (0, 0)), "funds locked by a withdrawal count"
    assert claims["bob"] == ((0, 2 * 10**18), (1_000_000, 0)), (
        "bob's borrowed BTC is debt, his ETH equity"
    )
    with open(snap / "public" / "leaves.jsonl", "rb") as fh:
        verify_leaves(read_leaves(fh, 2), manifest)


def test_the_public_files_hold_no_account_id_and_no_nonce(db_url: str, tmp_path: Path) -> None:
    ledger = make_ledger(db_url, BEFORE + AFTER)
    take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET)
    snap = _only_snapshot(tmp_path / "out")
    index = SnapshotIndex(snap)
    secrets = [a.encode() for a in index.account_ids()]
    secrets += [index.nonce(a).hex().encode() for a in index.account_ids()]
    secrets.append(SECRET.hex().encode())
    public = list((snap / "public").iterdir())
    assert {p.name for p in public} == {"snapshot.json", "leaves.jsonl", "reconciliation.json"}
    for path in public:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"{path.name} leaks {secret[:16]!r}"


def test_system_accounts_are_reported_separately_not_as_leaves(db_url: str, tmp_path: Path) -> None:
    ledger = make_ledger(db_url, BEFORE + AFTER)
    take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET)
    snap = _only_snapshot(tmp_path / "out")
    private = json.loads((snap / "private" / "summary.json").read_text())
    assert {"account": "@custody", "asset": "BTC", "amount": "-150000000"} in private[
        "system_balances"
    ]
    report = json.loads((snap / "public" / "reconciliation.json").read_text())
    btc = report["assets"][0]
    assert (btc["asset"], btc["ledger_custody"], btc["in_flight_withdrawals"]) == (
        "BTC",
        "150000000",
        "50000000",
    )
    col = report["collateral"]
    assert col["borrowing_accounts"] == 1
    # bob owes 0.01 BTC at 100,000 USD; holds 2 ETH at 3,000 USD with weight 0.9
    assert col["assets"][1] == {
        "asset": "ETH",
        "debt": "0",
        "collateral": str(2 * 10**18),
        "debt_usd": "0",
        "collateral_after_haircut_usd": "5400000000",
        "coverage_ppm": None,
        "priced": True,
    }
    assert (col["debt_usd"], col["collateral_after_haircut_usd"], col["status"]) == (
        "1000000000",
        "5400000000",
        "PASS",
    )


class _TamperedExport:
    """A source that lies about one customer's claim (the ledger's own totals are true)."""

    def __init__(self, inner: SqlLedgerExport, account: str, delta: int) -> None:
        self.inner, self.account, self.delta = inner, account, delta

    @contextmanager
    def cut(self, boundary_ms: int) -> Iterator[SqlLedgerCut]:
        with self.inner.cut(boundary_ms) as cut:
            real = cut.claims

            def claims() -> Iterator[tuple[str, list[int]]]:
                for account, vector in real():
                    if account == self.account:
                        vector = [vector[0] + self.delta, *vector[1:]]
                    yield account, vector

            cut.claims = claims  # type: ignore[method-assign]
            yield cut


def test_the_report_values_reserves_in_usd_and_warns_of_an_under_collateralised_borrower(
    db_url: str, tmp_path: Path
) -> None:
    """The BORROWERS ledger (no reserves read, so reserves are 0) in exact integers, USD x
    10^6: BTC at 100,000.000001 -- liabilities 1.12 BTC -> ceil(112_000_000_001.12), debts
    0.02 BTC -> floor(2_000_000_000.02); ETH 1.5 at 2,000; USDC 15,000 owed, 5,000 owed by
    customers. eve (0.02 BTC against 1 ETH at 0.8) is under-collateralised by 400_000_001."""
    ledger = make_ledger(db_url, BORROWERS + BORROWERS_AFTER, rejected=BORROWERS_REJECTED)
    result = take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET)
    report = json.loads((result.directory / "public" / "reconciliation.json").read_text())
    usd = report["usd"]
    assert usd["price_decimals"] == 6
    assert [(a["asset"], a["liabilities_usd"], a["debts_usd"]) for a in usd["assets"]] == [
        ("BTC", "112000000002", "2000000000"),
        ("ETH", "3000000000", "0"),
        ("USDC", "15000000000", "5000000000"),
    ]
    assert (usd["liabilities_usd"], usd["debts_usd"], usd["net_liabilities_usd"]) == (
        "130000000002",
        "7000000000",
        "123000000002",
    )
    assert (usd["reserves_usd"], usd["surplus_usd"], usd["assets_without_price"]) == (
        "0",
        "-123000000002",
        [],
    )
    col = report["collateral"]
    assert {
        a["asset"]: (a["debt"], a["collateral"], a["debt_usd"], a["collateral_after_haircut_usd"])
        for a in col["assets"]
    } == {k: tuple(str(v) for v in row) for k, row in BORROWER_BOOK.items()}
    assert (col["debt_usd"], col["collateral_after_haircut_usd"]) == ("7000000001", "10766666660")
    assert col["coverage_ppm"] == 10_766_666_660 * 10**6 // 7_000_000_001
    assert (col["under_collateralised_accounts"], col["shortfall_usd"]) == (1, "400000001")
    assert col["status"] == "WARN", "one borrower's debt exceeds its collateral"
    assert report["status"] == "FAIL", "no reserves were read: the reserves verdict is apart"
    verdict = result.reconciliation.collateral.verdict()
    assert verdict.startswith("collateral WARN: 2 borrowing accounts owe 7000.000001 USD")
    assert "1 borrowing accounts under-collateralised by 400.000001 USD" in verdict


class _LyingBook:
    """A source whose borrower book disagrees with its claims by one unit of debt."""

    def __init__(self, inner: SqlLedgerExport) -> None:
        self.inner = inner

    @contextmanager
    def cut(self, boundary_ms: int) -> Iterator[SqlLedgerCut]:
        with self.inner.cut(boundary_ms) as cut:
            real = cut.borrower_collateral

            def book() -> dict[str, tuple[int, int, int, int]]:
                rows = dict(real())
                debt, *rest = rows["USDC"]
                rows["USDC"] = (debt - 1, *rest)  # type: ignore[assignment]
                return rows

            cut.borrower_collateral = book  # type: ignore[method-assign]
            yield cut


def test_a_borrower_book_that_does_not_match_the_tree_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    ledger = make_ledger(db_url, BORROWERS + BORROWERS_AFTER, rejected=BORROWERS_REJECTED)
    with pytest.raises(TotalsMismatchError, match="USDC: borrowers owe 4999999999, tree root"):
        take_snapshot(_LyingBook(SqlLedgerExport(ledger.engine)), AT, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == [], "no snapshot files may be left behind"


@pytest.mark.parametrize(("account", "delta"), [("carol", -1), ("bob", 1)])
def test_a_tampered_leaf_fails_the_totals_check_loudly_and_leaves_nothing(
    db_url: str, tmp_path: Path, account: str, delta: int
) -> None:
    ledger = make_ledger(db_url, BEFORE + AFTER)
    source = _TamperedExport(SqlLedgerExport(ledger.engine), account, delta)
    with pytest.raises(TotalsMismatchError, match=r"BTC: tree root (equity|debt) is"):
        take_snapshot(source, AT, tmp_path / "out", secret=SECRET)
    assert list((tmp_path / "out").iterdir()) == [], "no snapshot files may be left behind"


@pytest.mark.parametrize("step", ["cut", "reserves", "tree", "store", "publish", "write"])
def test_an_error_midway_leaves_no_output_directory(step: str, tmp_path: Path, db_url: str) -> None:
    ledger = make_ledger(db_url, BEFORE + AFTER)

    def crash(name: str) -> None:
        if name == step:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        take_snapshot(
            SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET, after_step=crash
        )
    assert list((tmp_path / "out").iterdir()) == [], f"crash after {step} left files"


def test_a_snapshot_is_never_overwritten(tmp_path: Path) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", BEFORE + AFTER)
    source = SqlLedgerExport(ledger.engine)
    first = take_snapshot(source, AT, tmp_path / "out", secret=SECRET)
    with pytest.raises(SnapshotConfigError, match="already exists"):
        take_snapshot(source, AT, tmp_path / "out", secret=SECRET)
    assert first.directory.exists()


def test_a_generated_secret_is_kept_private_with_mode_0600(tmp_path: Path) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", BEFORE + AFTER)
    result = take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out")
    secret_file = result.directory / "private" / "secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(secret_file.read_text().strip())) == 32


@pytest.mark.parametrize(
    ("at", "message"),
    [("2026-11-24 16:00", "must look like"), ("2026-11-24T16:00:00+01:00", "must look like")],
)
def test_a_bad_snapshot_time_is_refused_before_anything_is_written(
    at: str, message: str, tmp_path: Path
) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", BEFORE + AFTER)
    with pytest.raises(SnapshotConfigError, match=message):
        take_snapshot(SqlLedgerExport(ledger.engine), at, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_cut_that_is_not_final_is_refused(tmp_path: Path) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", BEFORE)
    with pytest.raises(SnapshotError, match="has not reached"):
        take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET)
    assert list((tmp_path / "out").iterdir()) == []


# -- reserves, with the embedded LiteSVM chain (Anvil runs in the CLI end-to-end test) -------
def _solana_setup(tmp_path: Path, sol: int, *, decimals: int = 9) -> ReserveSetup:
    world = create_solana_world(unix_timestamp=1_795_536_005)
    store, _, (owner,) = generate_keystore(tmp_path / "keys.json", solana=1)
    fund_sol(world.svm, {owner: sol})
    fund_usdc(world, {owner: 1})
    specs = {"SOL": AssetSpec("SOL", "solana", "native", decimals)}
    registry = WalletRegistry(
        "Test Exchange", {"solana": specs}, (Wallet("solana", owner, ("SOL",), "cold"),)
    )
    readers = {"solana": LiteSvmReader(world.svm, specs)}
    return ReserveSetup(registry, readers, store, EXCHANGE_KEY)


EXCHANGE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


SOL_LEDGER = [
    '{"cmd":"asset","symbol":"SOL","decimals":9}',
    '{"cmd":"clock","time":"2026-11-24T15:00:00Z"}',
    '{"cmd":"deposit","account":"ann","asset":"SOL","amount":"5000000000","tx":"s1"}',
    '{"cmd":"clock","time":"2026-11-24T16:00:01Z"}',
]


@pytest.mark.parametrize(("held", "status"), [(5_000_000_000, "PASS"), (4_999_999_999, "FAIL")])
def test_reserves_are_read_signed_and_reconciled(tmp_path: Path, held: int, status: str) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", SOL_LEDGER)
    setup = _solana_setup(tmp_path, held)
    result = take_snapshot(
        SqlLedgerExport(ledger.engine), AT, tmp_path / "out", secret=SECRET, reserves=setup
    )
    assert result.reconciliation.to_dict()["status"] == status
    reserves = json.loads((result.directory / "public" / "reserves.json").read_text())
    assert reserves["totals"] == {"SOL": str(held)}
    (proof,) = reserves["ownership"]
    assert proof["scheme"] == "ed25519" and "period: 2026-11-24T16:00:00Z" in proof["message"]
    assert f"exchange key: {EXCHANGE_KEY}" in proof["message"]
    assert reserves["readings"][0]["pin"]["chain_id"] == proof["chain_id"]
    assert reserves["readings"][0]["pin"]["requested_at"] == AT


def test_a_missing_signing_key_fails_the_snapshot_and_leaves_nothing(tmp_path: Path) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", SOL_LEDGER)
    setup = _solana_setup(tmp_path, 1)
    other, _, _ = generate_keystore(tmp_path / "other.json", solana=1)
    setup = ReserveSetup(setup.registry, setup.readers, other, EXCHANGE_KEY)
    with pytest.raises(KeyStoreError, match="no signing key for solana address"):
        take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", reserves=setup)
    assert list((tmp_path / "out").iterdir()) == []


def test_reserve_assets_must_match_the_ledgers_decimals(tmp_path: Path) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'l.db'}", SOL_LEDGER)
    setup = _solana_setup(tmp_path, 1, decimals=6)
    with pytest.raises(
        SnapshotConfigError, match="SOL on solana has 6 decimals, the ledger's SOL has 9"
    ):
        take_snapshot(SqlLedgerExport(ledger.engine), AT, tmp_path / "out", reserves=setup)
    assert list((tmp_path / "out").iterdir()) == []


def _check_bulk_leaf_list(
    tmp_path: Path, claims: list[tuple[str, list[int]]], partitions: int, min_leaves: int
) -> None:
    """The bulk leaf list of these claims' tree equals the leaf-by-leaf reference."""
    assets = ("BTC", "ETH", "USDC")
    leaves = collect_leaves(claims, assets, AT, SECRET)
    build_tree(
        leaves.batch,
        assets,
        AT,
        SECRET,
        min_leaves=min_leaves,
        engine="serial",
        partitions=partitions,
        out_dir=tmp_path / "tree",
    )
    with ProofStore.open(tmp_path / "tree") as store:
        reference = "".join(leaf_list_line(store, i) for i in range(store.leaf_count))
        for workers in (1, 2):  # in-process, and forked workers joining part files
            out = tmp_path / f"leaves-{workers}.jsonl"
            count = write_leaf_list(store, out, workers=workers)
            assert count == store.leaf_count
            assert out.read_text() == reference, f"fast path != reference ({workers} workers)"
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert left == ["leaves-1.jsonl", "leaves-2.jsonl"], "no part or temporary file is left"


@pytest.mark.parametrize(
    ("accounts", "partitions", "min_leaves"),
    [(1, 1, 0), (1, 2, 0), (3, 1, 0), (5, 4, 0), (37, 8, 0), (40, 4, 256)],
)
def test_the_bulk_leaf_list_equals_the_leaf_by_leaf_reference(
    tmp_path: Path, accounts: int, partitions: int, min_leaves: int
) -> None:
    rng = random.Random(accounts * 1_000 + partitions)
    big = [0, 1, 9_999, 10_000, 2**63 - 1, 2**63, 10**19, 2**64 - 1, 2**64, 2**120 + 5, 10**30]
    claims = [
        (f"acct-{i}", [rng.choice(big) * rng.choice((1, -1)) for _ in range(3)])
        for i in range(accounts)
    ]
    _check_bulk_leaf_list(tmp_path, claims, partitions, min_leaves)


@pytest.mark.parametrize("partitions", [1, 4])
def test_the_bulk_leaf_list_writes_the_largest_amounts(tmp_path: Path, partitions: int) -> None:
    """2^128 - 1 as an equity and as a debt (the only non-zero one of its asset and side,
    so the root's totals stay below 2^128), beside u64 amounts in the same partition."""
    top = AMOUNT_LIMIT - 1
    claims = [
        ("acct-top", [top, 0, -top]),
        ("acct-u64", [0, 2**64 - 1, 0]),
        ("acct-wei", [0, 2**64, 0]),
        ("acct-zero", [0, 0, 0]),
        ("acct-debt", [0, -(2**63), 10**19]),
    ]
    _check_bulk_leaf_list(tmp_path, claims, partitions, 0)


def _sleeper(path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(60)


def test_a_leaf_list_worker_dies_with_a_killed_publisher(tmp_path: Path) -> None:
    """Regression (CI, test_publish_crash): forked leaf-list workers inherit the publisher's
    lock; orphaned by a SIGKILL they held it, and the restart was refused as a second
    publisher. A worker started with `die_with_parent` is killed with its parent."""
    import multiprocessing
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from por.operator.workers import die_with_parent

    marker = tmp_path / "worker.pid"
    pid = os.fork()
    if pid == 0:  # the "publisher": starts a worker, then is killed
        try:
            ctx = multiprocessing.get_context("fork")
            pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=die_with_parent)
            pool.submit(_sleeper, str(marker))
            while not marker.exists() or not marker.read_text():
                time.sleep(0.01)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL, "the publisher was killed"
    worker = int(marker.read_text())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:  # gone, or a zombie waiting for whoever reaps orphans
            state = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        time.sleep(0.05)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError(f"worker {worker} outlived its killed parent")

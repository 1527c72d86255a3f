"""`por snapshot`: take the hourly snapshot (liabilities tree + reserves + reconciliation).

Thin: parse options, build the ledger source (exchange.export), the reserve readers and
the key store, call `por.snapshot.take_snapshot`, print the table. Exit codes: 0 PASS,
1 a check failed (the tree does not match the ledger, a node lied, an ownership signature
did not verify, or the reconciliation FAILs -- in that last case the files are written),
2 unusable input (time, database, wallet file, keys, secret). On any error no snapshot
files are left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, fail, reporter
from cli._leaflist import leaf_list_policy, with_leaf_list_options
from cli._options import engine_options, reader_rpc_option
from cli._pieces import pieces_option

if TYPE_CHECKING:
    from por.snapshot import ReserveSetup

__all__ = ["snapshot"]

KEYSTORE_NAME = "ownership-keys.json"


def _fail(message: str, code: int) -> NoReturn:
    fail(f"por snapshot: {message}", code)


def _snapshot_error(exc: BaseException) -> int:
    """A snapshot that could not be taken because its cut is not final yet is unusable
    input (exit 2); any other failed snapshot check is a failure (exit 1)."""
    cause = exc.__cause__
    return (
        EXIT_USAGE
        if cause is not None and type(cause).__name__ == "CutNotFinalError"
        else EXIT_FAILED
    )


def _rules() -> list[Rule]:
    from exchange.errors import ExchangeError
    from por.errors import PorError
    from por.leaflist import LeafListError
    from por.reserves.errors import KeyStoreError, OwnershipError, ReaderError, WalletFileError
    from por.snapshot.errors import SnapshotConfigError, SnapshotError

    said = "por snapshot: {}".format
    unusable = (SnapshotConfigError, WalletFileError, KeyStoreError, ExchangeError, LeafListError)
    return [
        (unusable, EXIT_USAGE, said),
        ((ReaderError, OwnershipError), EXIT_FAILED, lambda exc: said(f"reserves: {exc}")),
        ((SnapshotError,), _snapshot_error, said),
        ((PorError,), EXIT_FAILED, said),
    ]


_reported = reporter("por snapshot: ", _rules)


def _reserve_setup(
    wallets: str,
    keys: str | None,
    eth_rpcs: Sequence[str],
    sol_rpcs: Sequence[str],
    exchange_key: str = "",
) -> ReserveSetup:
    """Readers per chain: one node, or an AgreeingReader when an RPC option is repeated;
    the cold wallets' attestations from attestations/ beside the wallet file, if there."""
    from por.reserves import ReserveReader, load_wallets
    from por.reserves.ethereum import EthereumReader
    from por.reserves.keystore import FileKeyStore
    from por.reserves.quorum import AgreeingReader
    from por.reserves.solana import SolanaRpcReader
    from por.snapshot import ReserveSetup
    from por.snapshot.errors import SnapshotConfigError

    registry = load_wallets(wallets)
    if keys is None:
        raise SnapshotConfigError("--keys is required with --wallets (ownership signatures)")
    key_path = Path(keys)
    if key_path.is_dir():
        key_path = key_path / KEYSTORE_NAME
    keystore = FileKeyStore(key_path)
    readers: dict[str, ReserveReader] = {}
    chains = {w.chain for w in registry.wallets}
    if "ethereum" in chains:
        if not eth_rpcs:
            raise SnapshotConfigError("the wallet file has ethereum wallets: give --eth-rpc URL")
        eth = [EthereumReader(url, registry.assets_on("ethereum")) for url in eth_rpcs]
        readers["ethereum"] = eth[0] if len(eth) == 1 else AgreeingReader(eth)
    if "solana" in chains:
        if not sol_rpcs:
            raise SnapshotConfigError("the wallet file has solana wallets: give --sol-rpc URL")
        sol = [SolanaRpcReader(url, registry.assets_on("solana")) for url in sol_rpcs]
        readers["solana"] = sol[0] if len(sol) == 1 else AgreeingReader(sol)
    from cli.reserves import attestation_dir
    from por.reserves.attestation import AttestationStore

    store = attestation_dir(wallets)  # cold wallets' attestations (`por reserves attest`)
    attestations = AttestationStore(store) if store.is_dir() else None
    return ReserveSetup(registry, readers, keystore, exchange_key, attestations)


@contextlib.contextmanager
def _sealed_leaves(out: Path, at: str, recipients: tuple[str, ...]) -> Iterator[Path]:
    """Where take_snapshot writes. With recipients (--leaf-list auditors): a hidden staging
    directory in OUT; its leaf list is encrypted there, then the snapshot renamed into
    OUT, so OUT/<name>/ never holds the clear list and is complete or absent."""
    if not recipients:
        yield out
        return
    from por.leaflist import seal_snapshot_leaves
    from por.snapshot import parse_snapshot_time
    from por.snapshot.errors import SnapshotConfigError
    from por.snapshot.run import directory_name

    name = directory_name(parse_snapshot_time(at)[0])
    if (out / name).exists():
        raise SnapshotConfigError(f"{out / name} already exists: snapshot {at} was taken")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.sealing-", dir=out))
    try:
        yield staging
        seal_snapshot_leaves(staging / name, recipients)
        os.rename(staging / name, out / name)
        fd = os.open(out, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@click.command(
    epilog="""\b
Examples:
  por snapshot --at 2026-11-24T16:00:00Z --db sqlite:///por.db --out snapshots
  por snapshot --at 2026-11-24T16:00:00Z --leaf-list auditors --auditors-file auditors.txt
  por snapshot --at 2026-11-24T16:00:00Z --db postgresql://postgres@127.0.0.1:5432/test \\
      --wallets wallets.toml --keys keys/ --public-key HEX --eth-rpc http://127.0.0.1:8545 \\
      --eth-rpc http://10.0.0.2:8545 --sol-rpc http://127.0.0.1:8899 \\
      --secret-file snapshot.secret --out snapshots
"""
)
@click.option(
    "--at", "at", required=True, metavar="TIME", help="Snapshot time, e.g. 2026-11-24T16:00:00Z."
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    default=None,
    help="Ledger database (default: env POR_DATABASE_URL, else sqlite:///por.db).",
)
@click.option(
    "--wallets",
    type=click.Path(dir_okay=False),
    default=None,
    help="Wallet registry (.toml/.json). Without it reserves are not read (all zero).",
)
@click.option(
    "--keys",
    type=click.Path(),
    default=None,
    help=f"Ownership key store: a JSON file, or a directory holding {KEYSTORE_NAME}.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="snapshots",
    show_default=True,
    help="Parent directory; the snapshot goes to OUT/<time with ':' as '-'>/.",
)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Snapshot secret (hex, >= 32 bytes) for nonces and fillers; default: a fresh one,"
    " kept in the snapshot's private/secret.",
)
@reader_rpc_option("eth")
@reader_rpc_option("sol")
@click.option(
    "--public-key",
    "public_key_hex",
    default=None,
    metavar="HEX",
    help="With --wallets: the public key that will sign this hour's manifest (every"
    " ownership message names it, so no other exchange can reuse the proofs).",
)
@engine_options
@click.option(
    "--min-leaves",
    type=click.IntRange(min=0),
    default=0,
    help="Pad the tree to at least this many leaves (hides the account count).",
)
@with_leaf_list_options("public/")
@pieces_option
@click.option("--json", "as_json", is_flag=True, help="Print the reconciliation as JSON.")
@_reported
def snapshot(
    at: str,
    db_url: str | None,
    wallets: str | None,
    keys: str | None,
    out: str,
    secret_file: str | None,
    eth_rpc: tuple[str, ...],
    sol_rpc: tuple[str, ...],
    public_key_hex: str | None,
    engine: str,
    dask_scheduler: str | None,
    min_leaves: int,
    leaf_list: str | None,
    auditors: tuple[str, ...],
    auditors_file: str | None,
    pieces: str,
    as_json: bool,
) -> None:
    """Take the snapshot at TIME: cut the ledger, build the liabilities tree and its proof
    store, read reserves at a pinned block/slot with ownership signatures, reconcile.

    Writes OUT/<name>/public (snapshot.json, leaves.jsonl -- or leaves.jsonl.age with
    --leaf-list auditors, nothing with none --, reserves.json, reconciliation.json: no
    account ids, no nonces) and OUT/<name>/private (proof store,
    its account index, secret). Prints the reconciliation per asset, in USD at the
    ledger's index prices, and the borrowers' debts against their collateral after
    haircuts (PASS/WARN, a warning only); exits 1 if the reserves FAIL.
    """
    from cli._progress import terminal_progress
    from exchange.db import open_database
    from exchange.export import SqlLedgerExport
    from por.snapshot import (
        PiecePolicy,
        parse_snapshot_time,
        read_secret,
        render_table,
        take_snapshot,
    )
    from por.snapshot.reconcile import render_collateral_table, render_usd_table

    parse_snapshot_time(at)  # bad time: fail before touching anything
    piece_policy = PiecePolicy.parse(pieces)
    policy = leaf_list_policy(leaf_list, auditors, auditors_file)
    secret = None if secret_file is None else read_secret(secret_file)
    setup = None
    if wallets is not None:
        from por.snapshot.errors import SnapshotConfigError

        if public_key_hex is None:
            raise SnapshotConfigError(
                "--public-key HEX is required with --wallets: every ownership message names"
                " the manifest key"
            )
        key = public_key_hex.strip().lower()
        setup = _reserve_setup(wallets, keys, eth_rpc, sol_rpc, key)
    engine_db = open_database(db_url, create=False)
    try:
        with (
            _sealed_leaves(Path(out), at, policy.recipients) as where,
            terminal_progress() as progress,
        ):
            result = take_snapshot(
                SqlLedgerExport(engine_db),
                at,
                where,
                secret=secret,
                reserves=setup,
                engine=engine,  # type: ignore[arg-type]
                scheduler=dask_scheduler,
                min_leaves=min_leaves,
                publish_leaves=policy.needs_leaves,
                pieces=piece_policy,
                progress=progress,
            )
    finally:
        engine_db.dispose()
    if policy.recipients:
        result.directory = Path(out) / result.directory.name
    report = result.reconciliation
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=1))
    else:
        from rich.console import Console

        console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
        console.print(render_table(report))
        usd_table = render_usd_table(report)
        if usd_table is not None:
            console.print(usd_table)
        console.print(render_collateral_table(report))
        console.print(report.collateral.verdict(), markup=False)
        for note in report.to_dict()["notes"]:
            console.print(f"note: {note}", markup=False)
    click.echo(
        f"snapshot {result.snapshot_id} written to {result.directory}: cut seq {result.cut_seq},"
        f" {result.accounts} accounts in {result.pieces} pieces, {result.leaf_count} leaves"
        f" (height {result.height}),"
        f" root {result.root.hash.hex()}",
        err=True,
    )
    if not report.passed:
        failed = [ln.symbol for ln in report.lines if not ln.passed]
        _fail(f"reconciliation FAIL: reserves below net liabilities for {failed}", EXIT_FAILED)

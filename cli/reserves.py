"""`por reserves`: per-period ownership attestations for cold wallets (challenge, sign, attest).

Thin: parse options, call `por.reserves.attestation`, write its documents, print a line.
Exit codes: 0 done; 1 a check failed (a signature, a block not of that chain or older than
the period, another exchange's key: the line names the wallet and the rule); 2 unusable
input (files, options, a node that cannot be asked).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, reporter
from cli._options import rpc_option

__all__ = ["attestation_dir", "reserves"]

F = TypeVar("F", bound=Callable[..., Any])
STORE_NAME = "attestations"


def attestation_dir(wallets: str | Path) -> Path:
    """Where `por reserves attest` stores proofs and the publisher finds them by default:
    `attestations/` beside the wallet file."""
    return Path(wallets).resolve().parent / STORE_NAME


def _rules() -> list[Rule]:
    from por.errors import PorError
    from por.reserves.errors import (
        KeyStoreError,
        OwnershipError,
        ReaderError,
        ReservesError,
        WalletFileError,
    )

    said = "por reserves: {}".format
    return [
        ((WalletFileError, KeyStoreError, ReaderError), EXIT_USAGE, said),
        ((OwnershipError,), EXIT_FAILED, said),
        ((ReservesError, PorError, ValueError), EXIT_USAGE, said),
    ]


_reported = reporter("por reserves: ", _rules)


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: str) -> Any:
    from por.reserves.attestation import read_document

    return read_document(path)


def _key(public_key_hex: str) -> str:
    from por.manifest import parse_public_key

    return parse_public_key(public_key_hex).hex()


def _sources(eth_rpc: str | None, sol_rpc: str | None) -> dict[str, Any]:
    from por.reserves.blocks import EthereumBlocks, SolanaBlocks

    out: dict[str, Any] = {}
    if eth_rpc:
        out["ethereum"] = EthereumBlocks(eth_rpc)
    if sol_rpc:
        out["solana"] = SolanaBlocks(sol_rpc)
    return out


def _period(text: str) -> Any:
    from por.reserves.attestation import parse_period
    from por.reserves.errors import OwnershipError

    try:
        return parse_period(text)
    except OwnershipError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None


def _common(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--wallets",
                required=True,
                type=click.Path(dir_okay=False),
                help="The wallet registry (.json/.toml).",
            ),  # fmt: skip
            click.option(
                "--public-key",
                "public_key_hex",
                required=True,
                metavar="HEX",
                help="The exchange's manifest key (64 hex): every message names it.",
            ),  # fmt: skip
            rpc_option("eth", "An Ethereum node."),
            rpc_option("sol", "A Solana node."),
        ]
    ):
        func = option(func)
    return func


@click.group()
def reserves() -> None:
    """Cold wallets' ownership, attested once a period, offline.

    Hot wallets sign every snapshot from the key store. A cold wallet signs once per
    period (an ISO week 2026-W49, a month 2026-12 or a day 2026-12-07) a text naming the
    exchange's key, the chain, the address, the period and a recent finalized block, with
    whatever holds its key (EIP-191 personal_sign; Ed25519 over the bytes on Solana).
    See docs/reserves.md.

    \b
    Examples:
      por reserves challenge --period 2026-W49 --wallets wallets.json --public-key HEX \\
          --eth-rpc http://127.0.0.1:8545 --sol-rpc http://127.0.0.1:8899 --out w49.json
      por reserves sign w49.json --keys custody-keys.json --out w49-signed.json
      por reserves attest w49-signed.json --wallets wallets.json --public-key HEX \\
          --eth-rpc http://127.0.0.1:8545 --sol-rpc http://127.0.0.1:8899
    """


@reserves.command("challenge")
@click.option("--period", required=True, metavar="PERIOD", help="2026-W49, 2026-12 or 2026-12-07.")
@_common
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["cold", "hot"]),
    default=("cold",),
    show_default=True,
    help="Which wallets attest per period (repeatable).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Challenge file.")
@_reported
def challenge_cmd(
    period: str,
    wallets: str,
    public_key_hex: str,
    eth_rpc: str | None,
    sol_rpc: str | None,
    roles: Sequence[str],
    out: str,
) -> None:
    """Write the exact texts the wallets sign for PERIOD, each naming a recent finalized
    block of its chain (issue it once the period has begun)."""
    from por.reserves import load_wallets
    from por.reserves.attestation import make_challenge

    chosen = _period(period)  # a malformed period is a usage error before anything is read
    doc = make_challenge(
        load_wallets(wallets),
        chosen,
        _key(public_key_hex),
        _sources(eth_rpc, sol_rpc),
        roles=tuple(roles),  # type: ignore[arg-type]
    )
    _write_json(Path(out), doc)
    click.echo(f"{len(doc['challenges'])} messages to sign for period {period}: {out}")


@reserves.command("sign")
@click.argument("challenge", type=click.Path(dir_okay=False))
@click.option(
    "--keys",
    required=True,
    type=click.Path(dir_okay=False),
    help="A key store file (demo, tests); a hardware wallet or HSM signs instead.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Signed file.")
@_reported
def sign_cmd(challenge: str, keys: str, out: str) -> None:
    """Sign every message of CHALLENGE with a key store file (what the offline signer
    does: the signature of each exact `message` added beside it)."""
    from por.reserves.attestation import sign_challenge
    from por.reserves.keystore import FileKeyStore

    signed = sign_challenge(_read_json(challenge), FileKeyStore(keys))
    _write_json(Path(out), signed)
    click.echo(f"{len(signed['challenges'])} messages signed: {out}")


@reserves.command("attest")
@click.argument("sigs", metavar="SIGS", type=click.Path(dir_okay=False))
@_common
@click.option(
    "--store",
    default=None,
    type=click.Path(file_okay=False),
    help="Where the publisher finds them (default: attestations/ beside the wallet file).",
)
@_reported
def attest_cmd(
    sigs: str,
    wallets: str,
    public_key_hex: str,
    eth_rpc: str | None,
    sol_rpc: str | None,
    store: str | None,
) -> None:
    """Check a signed challenge (every signature; every block a real block of its chain
    at or after the period's start; the key in every text the pinned one) and store the
    proofs where `por publish` / `por schedule` / `por snapshot` find them."""
    from por.reserves import load_wallets
    from por.reserves.attestation import AttestationStore, import_signatures

    proofs = import_signatures(
        _read_json(sigs),
        registry=load_wallets(wallets),
        exchange_key=_key(public_key_hex),
        sources=_sources(eth_rpc, sol_rpc),
    )
    target = AttestationStore(Path(store) if store else attestation_dir(wallets))
    target.save(proofs)
    period = proofs[0].period
    click.echo(f"{len(proofs)} attestations of period {period} checked, stored in {target.path}")

"""Options that several `por` commands share, each declared once (pip-tools'
`scripts/options.py`): its name, destination, metavar and multiplicity here; a factory
takes the help where what the option does differs from one command to the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import click

__all__ = [
    "anchor_rpc_option",
    "engine_options",
    "assets_option",
    "identity_option",
    "json_option",
    "manifest_option",
    "public_key_option",
    "reader_rpc_option",
    "rpc_option",
    "site_option",
]

F = TypeVar("F", bound=Callable[..., Any])
Chain = Literal["eth", "sol"]

manifest_option = click.option(
    "--manifest",
    "manifest_path",
    required=True,
    metavar="MANIFEST.json",
    help="The snapshot's signed manifest.",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of text."
)


def public_key_option(*, required: bool, multiple: bool = False) -> Callable[[F], F]:
    """The one `--public-key` of every `verify` command (`public_key_hex`, or `public_keys`
    when it may be repeated); what its absence means is said by each command's help."""
    return click.option(
        "--public-key",
        "public_keys" if multiple else "public_key_hex",
        metavar="HEX",
        required=required,
        multiple=multiple,
        help="The exchange's pinned Ed25519 key (64 hex): a manifest or log head signed by"
        " any other key is invalid.",
    )


assets_option = click.option(
    "--assets",
    "assets_file",
    default=None,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Your pinned asset registry (.json/.toml, the `assets` table of a wallet file): which"
    " token contract, SPL mint or native coin each reserve asset is on each chain. Without it"
    " the registry the manifest signs is trusted, and stderr says so.",
)

identity_option = click.option(
    "--identity",
    "identity_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="KEYFILE",
    help="Your age identity file (AGE-SECRET-KEY-1..., as age-keygen or `por keys"
    " age-generate` write it): opens a leaf list encrypted for the auditors (repeatable).",
)


def site_option(help: str, *, required: bool = False) -> Callable[[F], F]:
    """`--site DIR|URL` (`site_location`): a published site, read from a directory or over
    HTTPS; `help` says what the command reads there."""
    return click.option("--site", "site_location", required=required, metavar="DIR|URL", help=help)


def rpc_option(
    chain: Chain, help: str, *, multiple: bool = False, env: bool = False, dest: str | None = None
) -> Callable[[F], F]:
    """`--eth-rpc URL` or `--sol-rpc URL`: a node's JSON-RPC address (`eth_rpc`/`sol_rpc`
    unless `dest`); `multiple`: repeatable; `env`: also read from POR_ETH_RPC/POR_SOL_RPC."""
    name = f"{chain}_rpc"
    return click.option(
        f"--{chain}-rpc",
        dest or name,
        envvar=f"POR_{name.upper()}" if env else None,
        multiple=multiple,
        metavar="URL",
        help=help,
    )


def reader_rpc_option(chain: Chain) -> Callable[[F], F]:
    """The nodes that read the reserves for an hour (`por snapshot`, `publish`, `schedule`):
    repeatable, and they must agree."""
    node = {"eth": "Ethereum", "sol": "Solana"}[chain]
    return rpc_option(
        chain,
        f"{node} JSON-RPC URL; repeat it: every node must read the same balances.",
        multiple=True,
        env=True,
    )


anchor_rpc_option = rpc_option("eth", "Your own Ethereum node: check the on-chain anchors too.")


def engine_options(f: F) -> F:
    """`--engine` and `--dask-scheduler`: where the tree is built (snapshot, publish,
    schedule)."""
    f = click.option(
        "--dask-scheduler",
        "dask_scheduler",
        default=None,
        metavar="ADDRESS",
        envvar="POR_DASK_SCHEDULER",
        help="With --engine dask: the cluster's scheduler (e.g. tcp://10.0.0.5:8786; env"
        " POR_DASK_SCHEDULER); else a local cluster of one worker per core. The pieces go"
        " to the workers as account shards under --out, which every worker must see at"
        " the same path.",
    )(f)
    return click.option(
        "--engine",
        type=click.Choice(["serial", "local", "dask"]),
        default="local",
        show_default=True,
        help="Where the tree is built: in this process, in forked workers, or on Dask.",
    )(f)

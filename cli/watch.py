"""`por watch SITE`: reserves against the last published hour, block by block, as JSON
lines on stdout (see `por.watch`); this module only parses, calls and prints."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, reporter
from cli._options import rpc_option

__all__ = ["watch"]


def _rules() -> list[Rule]:
    from por.audit.errors import AuditInputError
    from por.errors import InputError, PorError
    from por.watch import HourRejectedError

    return [
        ((HourRejectedError,), EXIT_FAILED, lambda e: f"por watch: last hour rejected: {e}"),
        ((AuditInputError, InputError), EXIT_USAGE, lambda e: f"por watch: {e}"),
        ((PorError,), EXIT_FAILED, lambda e: f"por watch: {e}"),
    ]


def _print(event: Any) -> None:
    sys.stdout.write(json.dumps(event.to_json(), separators=(",", ":")) + "\n")
    sys.stdout.flush()


@click.command(
    epilog="""\b
Examples:
  por watch ./site --eth-rpc http://my-node:8545 --sol-rpc http://my-sol:8899 --public-key HEX
  por watch ./site --eth-rpc http://my-node:8545 --public-key HEX --once
  por watch ./site --eth-rpc http://my-node:8545 --public-key HEX --max-seconds 3600 --each-block
"""
)
@click.argument("site", metavar="SITE_DIR")
@click.option(
    "--public-key",
    "public_key_hex",
    required=True,
    metavar="HEX",
    help="The exchange's pinned manifest key (64 hex digits).",
)
@rpc_option("eth", "Your Ethereum node (JSON-RPC).")
@rpc_option("sol", "Your Solana node (JSON-RPC).")
@click.option(
    "--once",
    is_flag=True,
    help="Check the latest block/slot and exit: 0 covered, 1 shortfall, 2 unread.",
)
@click.option(
    "--until-block",
    type=click.IntRange(0),
    metavar="N",
    help="Stop after Ethereum block N (Solana slot N without --eth-rpc).",
)
@click.option("--max-seconds", type=click.FloatRange(0), metavar="S", help="Stop after S seconds.")
@click.option(
    "--interval",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    metavar="S",
    help="Seconds between polls of the nodes.",
)
@click.option(
    "--site-every",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    metavar="S",
    help="Seconds between looks for a newly published hour.",
)
@click.option(
    "--rpc-timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    metavar="S",
    help="Seconds before an RPC request is a gap.",
)
@click.option(
    "--each-block", is_flag=True, help="Also a 'block' line per reading (lag, read time)."
)
@reporter("por watch: ", _rules)
def watch(
    site: str,
    public_key_hex: str,
    eth_rpc: str | None,
    sol_rpc: str | None,
    once: bool,
    until_block: int | None,
    max_seconds: float | None,
    interval: float,
    site_every: float,
    rpc_timeout: float,
    each_block: bool,
) -> None:
    """Follow the exchange's published wallets between the hours.

    Verifies the site's last published hour with the pinned key (as `por verify bundle`),
    then reads the balances of its wallets at every new Ethereum block and Solana slot and
    prints a JSON line whenever an asset's reserves fall below that hour's net
    liabilities (`shortfall`) or cover them again (`recovered`); a node that times out or
    answers garbage is a `gap` line, and the watch goes on. Switches to each newly
    published hour. A chain without a node keeps the hour's published balances (said in
    the `hour` line). Exit 1 if a shortfall was reported, else 0; with --once: 0 covered,
    1 shortfall, 2 a chain could not be read. An hour that fails its checks: exit 1.
    """
    from por.manifest import parse_public_key
    from por.watch import WatchConfig, run_watch

    if not (eth_rpc or sol_rpc):
        raise click.UsageError("give --eth-rpc and/or --sol-rpc: the nodes to watch with")
    config = WatchConfig(
        site=site,
        public_key=parse_public_key(public_key_hex),
        eth_rpc=eth_rpc,
        sol_rpc=sol_rpc,
        interval_s=interval,
        once=once,
        until_block=until_block,
        max_seconds=max_seconds,
        site_every_s=site_every,
        timeout_s=rpc_timeout,
        each_block=each_block,
    )
    try:
        code = run_watch(config, _print)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code)

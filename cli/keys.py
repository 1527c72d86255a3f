"""`por keys`: create and inspect the exchange's Ed25519 signing key."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from cli._errors import EXIT_USAGE, fail
from por.keys import SigningKeyError, generate, resolve_signing_key, write_key_file


def _fail(message: str) -> NoReturn:
    fail(f"por keys: {message}", EXIT_USAGE)


@click.group()
def keys() -> None:
    """The Ed25519 key that signs manifests and log heads.

    A key file holds the 32-byte seed as 64 hex characters and must have mode 0600;
    the environment variable POR_SIGNING_KEY may hold the same hex instead.
    Verifiers pin the public key; see docs/keys.md for rotation.

    \b
    Examples:
      por keys generate --out signing.key
      por keys public --key signing.key
    """


@keys.command("generate")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Key file to create (mode 0600); never overwritten.",
)
def generate_cmd(out: Path) -> None:
    """Create a new signing key in FILE and print its public key (64 hex).

    The file is written to a temporary name with mode 0600, synced, then linked into
    place, so it is complete or absent; an existing FILE is never replaced.

    \b
    Examples:
      por keys generate --out signing.key
      por keys generate --out /etc/por/2026-11.key > 2026-11.pub
    """
    key = generate()
    try:
        write_key_file(out, key)
    except SigningKeyError as exc:
        _fail(str(exc))
    click.echo(key.public_key_hex)


@keys.command("public")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Key file (mode 0600); default: env POR_SIGNING_KEY.",
)
def public_cmd(key_path: Path | None) -> None:
    """Print the public key (64 hex) of a signing key, to pin in verifiers.

    \b
    Examples:
      por keys public --key signing.key
      POR_SIGNING_KEY=... por keys public
    """
    try:
        key = resolve_signing_key(key_path)
    except SigningKeyError as exc:
        _fail(str(exc))
    click.echo(key.public_key_hex)

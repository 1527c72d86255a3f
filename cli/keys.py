"""`por keys`: create and inspect the exchange's Ed25519 signing key, and an auditor's
age identity (for leaf lists encrypted for auditors)."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from cli._errors import EXIT_USAGE, fail
from por.keys import SigningKeyError
from por.operator.signing import generate, resolve_signing_key, write_key_file


def _fail(message: str) -> NoReturn:
    fail(f"por keys: {message}", EXIT_USAGE)


@click.group()
def keys() -> None:
    """The Ed25519 key that signs manifests and log heads; an auditor's age key.

    A key file holds the 32-byte seed as 64 hex characters and must have mode 0600;
    the environment variable POR_SIGNING_KEY may hold the same hex instead.
    Verifiers pin the public key; see docs/keys.md for rotation.

    \b
    Examples:
      por keys generate --out signing.key
      por keys public --key signing.key
      por keys age-generate --out auditor.key
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


@keys.command("age-generate")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Identity file to create (mode 0600); never overwritten.",
)
def age_generate_cmd(out: Path) -> None:
    """Create an auditor's age X25519 identity in FILE and print its recipient (age1...).

    The file has age-keygen's format (so `age -d -i FILE` reads it too). Give the printed
    recipient to the exchange (`por publish --leaf-list auditors --auditor age1...`); keep
    the file to open the leaf lists encrypted for you (`por verify bundle --identity FILE`).

    \b
    Examples:
      por keys age-generate --out auditor.key
      por keys age-generate --out ~/.por/acme-auditor.key > acme-auditor.pub
    """
    from por.leaflist import LeafListError, write_identity_file

    try:
        recipient = write_identity_file(out)
    except LeafListError as exc:
        _fail(str(exc))
    click.echo(recipient)

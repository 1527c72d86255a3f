"""The leaf-list options shared by `por publish`, `por schedule`, `por snapshot` and
`por demo` (defined once): public, encrypted for auditors, or withheld (`por.leaflist`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from por.leaflist import LeafListPolicy

__all__ = ["leaf_list_options", "leaf_list_policy", "with_leaf_list_options"]

F = TypeVar("F", bound=Callable[..., Any])

_MODES = ("public", "auditors", "none")  # por.leaflist.MODES (not imported: keep --help light)


def leaf_list_options(where: str) -> list[Callable[[Any], Any]]:
    """`--leaf-list`, `--auditor` (repeatable) and `--auditors-file`."""
    return [
        click.option(
            "--leaf-list",
            "leaf_list",
            type=click.Choice(_MODES),
            default=None,
            help=f"How the leaf list goes into {where}: public (in clear; the default), "
            "auditors (encrypted with age to the --auditor keys), none (left out).",
        ),
        click.option(
            "--auditor",
            "auditors",
            multiple=True,
            metavar="age1...",
            help="An auditor's age X25519 recipient (repeatable); with --leaf-list auditors.",
        ),
        click.option(
            "--auditors-file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Auditors' age recipients, one per line, '#' comments (age -R format).",
        ),
    ]


def with_leaf_list_options(where: str) -> Callable[[F], F]:
    """Decorator: the three options on one command."""

    def decorate(func: F) -> F:
        for option in reversed(leaf_list_options(where)):
            func = option(func)
        return func

    return decorate


def leaf_list_policy(
    mode: str | None,
    auditors: Sequence[str],
    auditors_file: str | None,
    *,
    deprecated_none: bool = False,
) -> LeafListPolicy:
    """The operator's choice, validated; `LeafListError` (exit 2) naming the option."""
    from por.leaflist import LeafListError, LeafListPolicy, parse_recipient, read_recipients_file

    if deprecated_none:
        if mode not in (None, "none"):
            raise LeafListError(
                f"--no-liabilities (deprecated: --leaf-list none) with --leaf-list {mode}"
            )
        click.echo("por: --no-liabilities is deprecated; use --leaf-list none", err=True)
        mode = "none"
    recipients = [parse_recipient(r, "--auditor") for r in auditors]
    if auditors_file is not None:
        recipients += read_recipients_file(auditors_file)
    mode = mode or "public"
    if mode == "auditors" and not recipients:
        raise LeafListError(
            "--leaf-list auditors needs the auditors' keys: --auditor age1... or --auditors-file"
        )
    if mode != "auditors" and recipients:
        raise LeafListError(
            f"--auditor/--auditors-file are for --leaf-list auditors, not --leaf-list {mode}"
        )
    return LeafListPolicy.of(mode, recipients)

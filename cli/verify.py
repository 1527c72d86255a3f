"""`por verify`: check an inclusion proof, or a whole published leaf list, against a manifest.

Thin: read files (bounded), call the pure verifier in `por.verify`, print. Exit codes: 0
valid, 1 verification failed (one line naming the failed check), 2 usage or unreadable
input. Library imports happen inside the commands so that `por verify proof` loads only
what it needs (never web3, solana, sqlalchemy, dask or numpy). Other helpers add more
sub-commands (`bundle`, `log`, `reserves`) to this group; keep their imports lazy too.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from por.manifest import Manifest
    from por.model import Node

__all__ = [
    "EXIT_INVALID",
    "EXIT_USAGE",
    "json_option",
    "manifest_option",
    "public_key_option",
    "verify",
]

EXIT_INVALID = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(message: str) -> str:
    return message.replace("\r", "\\r").replace("\n", "\\n")


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then exit with `code` (1 invalid, 2 unusable input)."""
    click.echo(_one_line(message), err=True)
    sys.exit(code)


def reported(func: F) -> F:
    """Map the library's errors to exit codes and one line on stderr; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from por.errors import InputError, ManifestError, ProofError, TreeError

        try:
            return func(*args, **kwargs)
        except (ProofError, ManifestError, TreeError) as exc:
            fail(f"invalid: {exc}", EXIT_INVALID)
        except InputError as exc:
            fail(f"error: {exc}", EXIT_USAGE)
        except OSError as exc:
            fail(f"error: {exc.filename or ''}: {exc.strerror or exc}", EXIT_USAGE)
        except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:  # a bug: still one line, but say so
            fail(f"internal error (please report): {type(exc).__name__}: {exc}", EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


manifest_option = click.option(
    "--manifest",
    "manifest_path",
    required=True,
    metavar="MANIFEST.json",
    help="The snapshot's signed manifest.",
)
public_key_option = click.option(
    "--public-key",
    "public_key_hex",
    metavar="HEX",
    default=None,
    help="Pin the exchange's Ed25519 key (64 hex): a manifest signed by any other key is"
    " invalid. Without it, the key named in the manifest is trusted.",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of text."
)


def _asset_rows(
    manifest: Manifest, equity: Sequence[int], debt: Sequence[int], root: Node
) -> list[dict[str, Any]]:
    from por.amounts import format_units

    rows = []
    for k, asset in enumerate(manifest.assets):
        d = asset.decimals
        rows.append(
            {
                "symbol": asset.symbol,
                "decimals": d,
                "equity": str(equity[k]),
                "debt": str(debt[k]),
                "equity_units": format_units(equity[k], d),
                "debt_units": format_units(debt[k], d),
                "total_equity": str(root.equity[k]),
                "total_debt": str(root.debt[k]),
                "total_equity_units": format_units(root.equity[k], d),
                "total_debt_units": format_units(root.debt[k], d),
            }
        )
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        right = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        cells = [row[0].ljust(widths[0]), *right]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _key_line(manifest: Manifest, pinned: bytes | None) -> str:
    if pinned is not None:
        return f"signed by: {manifest.public_key.hex()} (pinned)"
    return f"signed by: {manifest.public_key.hex()} (not pinned; pass --public-key to pin)"


def _shown(text: str) -> str:
    """Text from the files, quoted when it could forge or break output lines."""
    return text if text.isprintable() else repr(text)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def _examples(*lines: str) -> str:
    """An epilog, so that every `--help` ends with its Examples (after options/commands)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_examples(
        "por verify proof alice.json --manifest manifest.json --public-key HEX",
        "por verify tree leaves.jsonl --manifest manifest.json --json",
    ),
)
def verify() -> None:
    """Verify what the exchange published: an account's proof, or the whole leaf list.

    Exit status: 0 valid, 1 invalid (one line naming the failed check), 2 usage error or
    unreadable input.
    """


@verify.command(
    "proof",
    epilog=_examples(
        "por verify proof alice.json --manifest manifest.json",
        "por verify proof alice.json --manifest manifest.json --public-key a558...6f26 --json",
    ),
)
@click.argument("proof_path", metavar="PROOF.json")
@manifest_option
@public_key_option
@json_option
@reported
def proof_command(
    proof_path: str, manifest_path: str, public_key_hex: str | None, as_json: bool
) -> None:
    """Check an inclusion proof against the signed manifest (all five checks of the spec).

    Prints the account's equity and debt per asset in human units (decimals from the
    manifest), the snapshot, and the exchange's totals.
    """
    from por._input import read_bounded
    from por.errors import ManifestError, ProofError
    from por.manifest import parse_manifest_bytes, parse_public_key
    from por.proof import parse_proof_bytes
    from por.verify import verify_proof

    pinned = None if public_key_hex is None else parse_public_key(public_key_hex)
    proof_raw = read_bounded(proof_path)
    manifest_raw = read_bounded(manifest_path)
    try:
        proof = parse_proof_bytes(proof_raw)
        try:
            manifest = parse_manifest_bytes(manifest_raw)
        except ManifestError as exc:
            raise ProofError(5, str(exc)) from None
        verify_proof(proof, manifest, pinned)
    except ProofError as exc:
        if as_json:
            _print_json({"valid": False, "check": exc.check, "error": str(exc)})
        raise
    rows = _asset_rows(manifest, proof.leaf.equity, proof.leaf.debt, proof.root)
    if as_json:
        _print_json(
            {
                "valid": True,
                "snapshot_id": proof.snapshot_id,
                "account_id": proof.account_id,
                "leaf": {"tag": proof.leaf.tag.hex(), "index": proof.leaf.index},
                "leaf_count": 1 << manifest.height,
                "public_key": manifest.public_key.hex(),
                "key_pinned": pinned is not None,
                "assets": rows,
            }
        )
        return
    who = "(not named in this proof)" if proof.account_id is None else _shown(proof.account_id)
    lines = [
        "valid: the proof holds against the signed manifest (all 5 checks)",
        f"snapshot: {_shown(proof.snapshot_id)}",
        f"account: {who}",
        f"leaf: {proof.leaf.index} of {1 << manifest.height}, tag {proof.leaf.tag.hex()}",
        _key_line(manifest, pinned),
        "",
        *_table(
            ["asset", "equity", "debt", "total equity", "total debt"],
            [
                [
                    _shown(r["symbol"]),
                    r["equity_units"],
                    r["debt_units"],
                    r["total_equity_units"],
                    r["total_debt_units"],
                ]
                for r in rows
            ],
        ),
    ]
    click.echo("\n".join(lines))


@verify.command(
    "tree",
    epilog=_examples(
        "por verify tree leaves.jsonl --manifest manifest.json --public-key HEX",
        "gunzip -c leaves.jsonl.gz | por verify tree - --manifest manifest.json",
    ),
)
@click.argument("leaves_path", metavar="LEAVES.jsonl")
@manifest_option
@public_key_option
@json_option
@reported
def tree_command(
    leaves_path: str, manifest_path: str, public_key_hex: str | None, as_json: bool
) -> None:
    """Rebuild the whole tree from a published leaf list and compare with the manifest.

    LEAVES.jsonl has one {"tag", "equity", "debt"} object per line in tree order ("-" reads
    stdin): tags strictly ascending, a power of two >= 2 lines. It is streamed: memory
    stays small for any number of leaves. Checks the manifest's signature, every leaf,
    the height and the root (hash and totals); no account id is needed.
    """
    from por._input import read_bounded
    from por.errors import ManifestError, TreeError
    from por.leaves import read_leaves
    from por.manifest import parse_manifest_bytes, parse_public_key, verify_manifest
    from por.verify import verify_leaves

    pinned = None if public_key_hex is None else parse_public_key(public_key_hex)
    manifest_raw = read_bounded(manifest_path)
    try:
        manifest = parse_manifest_bytes(manifest_raw)
        verify_manifest(manifest, pinned)
        if leaves_path == "-":
            leaves = read_leaves(sys.stdin.buffer, len(manifest.assets), "stdin")
            summary = verify_leaves(leaves, manifest, pinned)
        else:
            with open(leaves_path, "rb") as stream:
                leaves = read_leaves(stream, len(manifest.assets), leaves_path)
                summary = verify_leaves(leaves, manifest, pinned)
    except (ManifestError, TreeError) as exc:
        if as_json:
            _print_json({"valid": False, "error": str(exc)})
        raise
    zero = (0,) * len(manifest.assets)
    rows = _asset_rows(manifest, zero, zero, summary.root)
    if as_json:
        totals = [
            {k: r[k] for k in ("symbol", "decimals", "total_equity", "total_debt")}
            | {
                "total_equity_units": r["total_equity_units"],
                "total_debt_units": r["total_debt_units"],
            }
            for r in rows
        ]
        _print_json(
            {
                "valid": True,
                "snapshot_id": manifest.snapshot_id,
                "leaf_count": summary.leaf_count,
                "height": summary.height,
                "root": summary.root.hash.hex(),
                "public_key": manifest.public_key.hex(),
                "key_pinned": pinned is not None,
                "assets": totals,
            }
        )
        return
    lines = [
        f"valid: {summary.leaf_count} leaves rebuild the manifest's root",
        f"snapshot: {_shown(manifest.snapshot_id)}",
        f"height: {summary.height}, root: {summary.root.hash.hex()}",
        _key_line(manifest, pinned),
        "",
        *_table(
            ["asset", "total equity", "total debt"],
            [[_shown(r["symbol"]), r["total_equity_units"], r["total_debt_units"]] for r in rows],
        ),
    ]
    click.echo("\n".join(lines))

"""`por proof`: the exchange hands one account its own proof set for one hour.

Thin: find the hour's snapshot (the publisher's `work/<name>/`, or a `por snapshot`
output), serve the account's `por-proof-set/1` from the proof store (one proof per piece,
each with its `account_id` and `nonce`, so the account can check every leaf is its own),
check it before handing it out (against the signed manifest when the hour is published),
write it. The file identifies the account: it is written with mode 0600 and a warning
says so. An index that serves a single `por-proof/1` is handled the same way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, fail

__all__ = ["proof"]

EXIT_INVALID = EXIT_FAILED


def _fail(message: str, code: int) -> None:
    fail(f"por proof: {message}", code)


def _snapshot_dir(base: Path, name: str) -> Path | None:
    for candidate in (base / "work" / name, base / name, base):
        if (candidate / "private" / "index").is_dir():
            return candidate
    return None


def _write_private(path: Path, data: bytes) -> None:
    """Mode 0600 from the start, temp file then rename: complete or absent."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@click.command(
    epilog="\b\nExamples:\n"
    "  por proof --account alice --at 2026-11-24T16:00:00Z --out alice-16.json\n"
    "  por proof --account alice --at 2026-11-24T16:00:00Z --from /srv/por/publication"
)
@click.option("--account", "account_id", required=True, metavar="ID", help="The account id.")
@click.option(
    "--at", "at", required=True, metavar="HOUR", help="Snapshot time, e.g. 2026-11-24T16:00:00Z."
)
@click.option(
    "--out",
    "out",
    default=None,
    metavar="FILE",
    help="Write the proof set here (mode 0600); default stdout.",
)
@click.option(
    "--from",
    "base",
    default="publication",
    show_default=True,
    envvar="POR_PUBLICATION_DIR",
    metavar="DIR",
    help="The publisher's --out directory (work/<hour>/ inside), or a `por snapshot` --out.",
)
def proof(account_id: str, at: str, out: str | None, base: str) -> None:
    """Produce ACCOUNT's own proof set for one hour (a proof per piece, with account_id and
    nonce; the account's claim is the sum of its pieces).

    The set is checked before it is handed out: the three set checks with all five
    checks on every piece against the hour's signed manifest when the hour is published
    (bundles/<hour>/), else checks 1-4 on every piece. Exit 0 written, 1 the stored proof
    does not verify, 2 no such hour or account.
    """
    from por.audit.batch import verify_document
    from por.errors import InputError, ManifestError, PorError, ProofError
    from por.manifest import parse_manifest_bytes
    from por.proofset import (
        ProofSet,
        parse_proof_document,
        proof_document_bytes,
        verify_set_inclusion,
    )
    from por.snapshot import SnapshotIndex
    from por.snapshot.errors import SnapshotConfigError
    from por.snapshot.run import directory_name, parse_snapshot_time
    from por.verify import verify_inclusion

    try:
        snapshot_id, _ = parse_snapshot_time(at)
    except SnapshotConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
        return
    name = directory_name(snapshot_id)
    found = _snapshot_dir(Path(base), name)
    if found is None:
        _fail(f"no snapshot {snapshot_id} under {base} (looked in work/{name}/ and {name}/)", 2)
        return
    try:
        index = SnapshotIndex(found)
        document: dict[str, Any] = index.proof(account_id)
    except KeyError:
        _fail(f"no such account {account_id!r} in snapshot {snapshot_id}", EXIT_USAGE)
        return
    except (OSError, InputError) as exc:
        _fail(f"{found}: cannot read the proof store: {exc}", EXIT_USAGE)
        return
    manifest_path = Path(base) / "bundles" / name / "manifest.json"
    try:
        parsed = parse_proof_document(document)
        if manifest_path.is_file():
            manifest = parse_manifest_bytes(manifest_path.read_bytes())
            verify_document(parsed, manifest, manifest.public_key)
            checked = (
                "all 3 set checks and all 5 checks on every piece against the published manifest"
                if isinstance(parsed, ProofSet)
                else "all 5 checks against the published manifest"
            )
        else:
            if isinstance(parsed, ProofSet):
                verify_set_inclusion(parsed)
            else:
                verify_inclusion(parsed)
            checked = "checks 1-4 on every piece (the hour is not published yet)"
    except (ProofError, ManifestError) as exc:
        _fail(f"the stored proof does not verify: {exc}", EXIT_INVALID)
        return
    except PorError as exc:
        _fail(str(exc), EXIT_USAGE)
        return
    pieces = len(parsed.proofs) if isinstance(parsed, ProofSet) else 1
    what = "proof set" if isinstance(parsed, ProofSet) else "proof"
    data = proof_document_bytes(document)
    said = f"{what} of {account_id!r} for {snapshot_id}, {pieces} piece{'' if pieces == 1 else 's'}"
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        click.echo(f"{said} ({checked})", err=True)
    else:
        try:
            _write_private(Path(out), data)
        except OSError as exc:
            _fail(f"{out}: cannot write: {exc.strerror or exc}", EXIT_USAGE)
            return
        click.echo(f"wrote {out}: {said} ({checked})", err=True)
    click.echo(
        "warning: this proof names the account (account_id and nonce): hand it only to the"
        " account holder; they should not paste it in public",
        err=True,
    )

"""`por log`: the transparency log of published roots (head, proofs, entries, append)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, NoReturn

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, fail, reporter


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    fail(f"por log: {message}", code)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def _rules() -> list[Rule]:
    from por.keys import SigningKeyError
    from por.log.errors import LogError

    return [((LogError, SigningKeyError), EXIT_USAGE, lambda exc: f"por log: {exc}")]


_reported = reporter("por log: ", _rules)


db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="POR_LOG_DATABASE_URL",
    default="sqlite:///por-log.db",
    show_default=True,
    help="Where the log lives (SQLAlchemy URL; env POR_LOG_DATABASE_URL).",
)


def _open(db_url: str) -> Any:
    from por.log.store import TransparencyLog

    return TransparencyLog.open(db_url)


@click.group()
def log() -> None:
    """The transparency log of published roots (RFC 9162).

    Every published snapshot appends one entry; anyone holding an older head checks a
    consistency proof to the newer one, so a rewritten hour or two different roots shown
    to two people is caught. Entries are numbered from 0.

    \b
    Examples:
      por log head
      por log head --sign --key signing.key
      por log prove --from 17 --to 42
      por log entry 0
      por log append out/2026-11-24T16/manifest.json --db postgresql://localhost/por
    """


@log.command()
@db_option
@click.option("--sign", is_flag=True, help="Sign the head (por-log-head/1) with the key.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Signing key file (mode 0600); default: env POR_SIGNING_KEY.",
)
@_reported
def head(db_url: str, sign: bool, key_path: Path | None) -> None:
    """Print the log's current size and root as JSON.

    With --sign, a signed head: {"format": "por-log-head/1", "size", "root",
    "timestamp", "public_key", "signature"}, Ed25519 over its canonical JSON
    without "signature".

    \b
    Examples:
      por log head
      POR_SIGNING_KEY=... por log head --sign > head.json
    """
    from por.log.head import HEAD_FORMAT, LogHead, sign_head
    from por.operator.signing import resolve_signing_key

    key = resolve_signing_key(key_path) if sign or key_path else None
    store = _open(db_url)
    try:
        state = store.state()
    finally:
        store.close()
    if key is None:
        _print_json({"format": HEAD_FORMAT, "size": state.size, "root": state.root.hex()})
        return
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _print_json(sign_head(LogHead(state.size, state.root, now), key))


@log.command()
@db_option
@click.option("--from", "first", type=int, required=True, help="Older log size M (>= 1).")
@click.option("--to", "second", type=int, default=None, help="Newer log size N [default: now].")
@_reported
def prove(db_url: str, first: int, second: int | None) -> None:
    """Print an RFC 9162 consistency proof from log size M to N.

    Output: {"first": M, "second": N, "path": ["<64 hex>", ...]}, the form of the
    vectors' log.consistency; check it against two heads' roots (RFC 9162 2.1.4.2).

    \b
    Examples:
      por log prove --from 17
      por log prove --from 17 --to 42 --db sqlite:///por-log.db
    """
    store = _open(db_url)
    try:
        proof = store.prove_consistency(first, second)
    finally:
        store.close()
    _print_json(proof.to_json())


@log.command()
@db_option
@click.argument("index", type=int)
@click.option(
    "--proof",
    "with_proof",
    is_flag=True,
    help="Print an inclusion proof of the entry in the current log instead.",
)
@_reported
def entry(db_url: str, index: int, with_proof: bool) -> None:
    """Print entry INDEX (from 0) exactly as logged: one line of canonical JSON.

    Its leaf hash is SHA-256(0x00 || line). With --proof, print
    {"index", "size", "leaf_hash", "path", "root"}: RFC 9162 2.1.3 inclusion of the
    entry in the log as it is now.

    \b
    Examples:
      por log entry 0
      por log entry 16 --proof
    """
    store = _open(db_url)
    try:
        data = store.entry(index)
        if with_proof:
            state = store.state()
            proof = store.prove_inclusion(index, state.size)
    finally:
        store.close()
    if with_proof:
        _print_json(proof.to_json() | {"root": state.root.hex()})
    else:
        click.echo(data.decode("utf-8"))


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        _fail(f"{path}: {exc.strerror}")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{path}: not JSON: {exc}")


@log.command()
@db_option
@click.argument("manifests", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--entries",
    "entries_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file of entries, one canonical JSON line each (a site's log/entries.jsonl).",
)
@_reported
def append(db_url: str, manifests: tuple[Path, ...], entries_file: Path | None) -> None:
    """Append the entries of MANIFEST.json files (in order) to the log, in one transaction.

    A manifest that states "log": {"size", "root"} must be exactly what appending gives;
    otherwise nothing is appended and the exit code is 1. Prints the new size and root.

    \b
    Examples:
      por log append out/2026-11-24T16/manifest.json
      por log append --entries site/log/entries.jsonl --db sqlite:///mirror.db
    """
    from por.log.entry import entry_from_manifest, parse_entry
    from por.log.errors import LogError
    from por.log.store import LogState, extend

    batch: list[tuple[str, bytes, Any]] = []
    if entries_file is not None:
        try:
            lines = entries_file.read_bytes().split(b"\n")
        except OSError as exc:
            _fail(f"{entries_file}: {exc.strerror}")
        if lines and lines[-1] == b"":
            lines.pop()
        for i, line in enumerate(lines):
            try:
                parse_entry(line)
            except LogError as exc:
                _fail(f"{entries_file}:{i + 1}: {exc}")
            batch.append((f"{entries_file}:{i + 1}", line, None))
    for path in manifests:
        manifest = _read_json(path)
        if not isinstance(manifest, dict):
            _fail(f"{path}: expected a manifest object")
        try:
            data = entry_from_manifest(manifest)
        except LogError as exc:
            _fail(f"{path}: {exc}")
        batch.append((str(path), data, manifest.get("log")))
    if not batch:
        _fail("nothing to append: give MANIFEST.json files or --entries FILE")

    store = _open(db_url)
    try:
        with store.engine.connect() as conn:
            trans = conn.begin()
            state: LogState | None = None
            pending: list[bytes] = []
            for k, (source, data, stated) in enumerate(batch):
                pending.append(data)
                if stated is None and k + 1 < len(batch):
                    continue
                try:
                    state = extend(conn, pending)
                except LogError as exc:
                    trans.rollback()
                    _fail(f"{source if len(pending) == 1 else 'batch'}: {exc}")
                pending = []
                if stated is not None and stated != {"size": state.size, "root": state.root.hex()}:
                    trans.rollback()
                    _fail(
                        f"{source}: manifest says log {json.dumps(stated, sort_keys=True)}, "
                        f"appending gives size {state.size} root {state.root.hex()}; "
                        "nothing appended",
                        EXIT_FAILED,
                    )
            trans.commit()
    finally:
        store.close()
    assert state is not None
    _print_json({"size": state.size, "root": state.root.hex()})

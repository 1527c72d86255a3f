"""`por verify`: check an inclusion proof, or a whole published leaf list, against a manifest.

Thin: read files (bounded), call the pure verifier in `por.verify`, print. Exit codes: 0
valid, 1 verification failed (one line naming the failed check), 2 usage or unreadable
input. Library imports happen inside the commands so that `por verify proof` loads only
what it needs (never web3, solana, sqlalchemy, dask or numpy). Other helpers add more
sub-commands (`bundle`, `log`, `reserves`) to this group; keep their imports lazy too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from cli._errors import EXIT_FAILED, EXIT_USAGE, Rule, fail, one_line, reporter
from cli._options import (
    anchor_rpc_option,
    assets_option,
    identity_option,
    json_option,
    manifest_option,
    public_key_option,
    rpc_option,
    site_option,
)

if TYPE_CHECKING:
    from por.audit.batch import AccountHour, ProofOutcome
    from por.errors import ProofError
    from por.manifest import Manifest
    from por.model import Node
    from por.proofset import AccountClaim, ProofSet

__all__ = ["EXIT_INVALID", "EXIT_USAGE", "verify"]

EXIT_INVALID = EXIT_FAILED


def _rules() -> list[Rule]:
    from por.errors import InputError, ManifestError, PorError, ProofError, TreeError

    return [
        ((ProofError, ManifestError, TreeError), EXIT_INVALID, lambda exc: f"invalid: {exc}"),
        ((InputError,), EXIT_USAGE, lambda exc: f"error: {exc}"),
        # any other check of ours that failed (log, audit)
        ((PorError,), EXIT_INVALID, lambda exc: f"invalid: {exc}"),
    ]


reported = reporter("error: ", _rules)


TRUST_MANIFEST_KEY_WARNING = (
    "warning: --trust-manifest-key: the manifest's own key is trusted, so this shows only"
    " that someone signed it, not that the exchange did; pin its key with --public-key HEX"
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
        "por verify proof alice.json --manifest manifest.json --public-key a558...6f26 --json",
        "por verify proof alice-set.json --manifest manifest.json --public-key HEX",
        "por verify proof alice.json --bundle site/bundles/2026-11-24T16-00-00Z --public-key HEX",
        "por verify proof alice.json --manifest manifest.json --log site/log/entries.jsonl"
        " --public-key HEX",
        "por verify proof alice.json --manifest manifest.json --trust-manifest-key",
        "por verify proof proofs/*.json --manifest manifest.json --public-key HEX",
        "por verify proof --history hours/16 hours/17 hours/18 --public-key HEX",
    ),
)
@click.argument("paths", metavar="PROOF.json...", nargs=-1, required=True)
@click.option(
    "--manifest",
    "manifest_path",
    default=None,
    metavar="MANIFEST.json",
    help="The snapshot's signed manifest (or give --bundle).",
)
@click.option(
    "--bundle",
    "bundle_dir",
    default=None,
    metavar="DIR",
    help="The hour's published bundle: its manifest.json is used, and the root must be the"
    " one the site's log (found next to the bundle, or --log) holds for that hour.",
)
@click.option(
    "--log",
    "log_path",
    default=None,
    metavar="ENTRIES.jsonl",
    help="The site's log/entries.jsonl: the manifest's root must be the entry logged for"
    " its hour, and the log's first log.size entries must have the root it states.",
)
@click.option(
    "--history",
    is_flag=True,
    help="Follow one account across hours: each argument is a directory with one hour's"
    " proof (a por-proof/1 or por-proof-set/1 file) and that hour's manifest.json.",
)
@public_key_option(required=False)
@click.option(
    "--trust-manifest-key",
    is_flag=True,
    help="No pinned key: trust the key the manifest names (anyone can sign a manifest;"
    " a warning says so). Weak keys are refused either way.",
)
@json_option
@reported
def proof_command(
    paths: tuple[str, ...],
    manifest_path: str | None,
    bundle_dir: str | None,
    log_path: str | None,
    history: bool,
    public_key_hex: str | None,
    trust_manifest_key: bool,
    as_json: bool,
) -> None:
    """Check inclusion proofs or proof sets against the signed manifest.

    A proof (por-proof/1) gets all five checks of the spec; a proof set
    (por-proof-set/1: one account in several leaves, "pieces") gets its three set checks,
    the five on every piece. Prints the account's equity and debt per asset in human
    units (decimals from the manifest; for a set, the sums over its pieces, and how many
    there are), the snapshot, and the exchange's totals. Several files are checked as a
    batch against one manifest (one line each). A file with account_id and nonce
    identifies the account: a warning says not to paste it in public. --public-key is
    required unless --trust-manifest-key.
    """
    from por.manifest import parse_public_key

    if public_key_hex is None and not trust_manifest_key:
        raise click.UsageError(
            "Missing option '--public-key' (the exchange's pinned key, 64 hex); to trust"
            " the key the manifest names instead, say --trust-manifest-key"
        )
    if public_key_hex is not None and trust_manifest_key:
        raise click.UsageError("give --public-key or --trust-manifest-key, not both")
    pinned = None if public_key_hex is None else parse_public_key(public_key_hex)
    if pinned is None:
        click.echo(TRUST_MANIFEST_KEY_WARNING, err=True)
    if history:
        if manifest_path is not None or bundle_dir is not None:
            raise click.UsageError(
                "--history reads each hour's manifest.json from its directory;"
                " do not give --manifest or --bundle"
            )
        _proof_history(paths, pinned, log_path, as_json)
        return
    if manifest_path is not None and bundle_dir is not None:
        raise click.UsageError("give --manifest or --bundle, not both")
    if bundle_dir is not None:
        manifest_path = os.path.join(bundle_dir, "manifest.json")
        if log_path is None:
            log_path = _site_log_near(bundle_dir)
    if manifest_path is None:
        raise click.UsageError("Missing option '--manifest' (or give --bundle DIR).")
    if len(paths) > 1:
        _proof_batch(paths, manifest_path, pinned, log_path, as_json)
        return
    _one_proof(paths[0], manifest_path, pinned, log_path, as_json)


IDENTIFIES_WARNING = (
    "warning: {what} names the account (account_id and nonce): anyone holding it can"
    " link the account's balances; do not paste it in public issues, chats or forums"
)


def _identifies_warning(what: str) -> str:
    """The line every output of a proof that names its account ends with."""
    return IDENTIFIES_WARNING.format(what=what)


def _site_log_near(bundle_dir: str) -> str:
    """The site's log/entries.jsonl above a bundle directory; usage error when none."""
    from por.audit.monitor import LOG_ENTRIES_PATH
    from por.audit.proofs import find_site_log

    found = find_site_log(bundle_dir)
    if found is None:
        fail(
            f"error: {bundle_dir}: no {LOG_ENTRIES_PATH} found in the site around the bundle;"
            " pass --log ENTRIES.jsonl (or --manifest to skip the log check)",
            EXIT_USAGE,
        )
    return found


def _invalid_json(exc: ProofError) -> dict[str, Any]:
    """The `--json` object of a failed proof or set (a set also names its check and piece)."""
    from por.errors import ProofSetError

    result: dict[str, Any] = {"valid": False, "check": exc.check, "error": str(exc)}
    if isinstance(exc, ProofSetError):
        result["set_check"] = exc.set_check
        result["element"] = exc.element
    return result


def _one_proof(
    proof_path: str,
    manifest_path: str,
    pinned: bytes | None,
    log_path: str | None,
    as_json: bool,
) -> None:
    from por.audit.proofs import check_proof_file
    from por.errors import ProofError
    from por.proofset import ProofSet

    try:
        report = check_proof_file(proof_path, manifest_path, pinned, log_path)
    except ProofError as exc:
        if as_json:
            _print_json(_invalid_json(exc))
        raise
    if report.log_error is not None:
        if as_json:
            _print_json({"valid": False, "check": "log", "error": str(report.log_error)})
        raise report.log_error
    document, manifest, claim = report.document, report.manifest, report.claim
    logged = None if report.log is None else (report.log.index, report.log.size)
    logged_lines = (
        []
        if logged is None
        else [
            f"logged: entry {logged[0]} of the transparency log; its first {logged[1]}"
            " entries have the root the manifest states"
        ]
    )
    if isinstance(document, ProofSet):
        assert claim is not None
        _print_set(proof_path, document, claim, manifest, pinned, logged, logged_lines, as_json)
        return
    proof = document
    warning = None if proof.account_id is None else _identifies_warning(proof_path)
    rows = _asset_rows(manifest, proof.leaf.equity, proof.leaf.debt, proof.root)
    if as_json:
        result: dict[str, Any] = {
            "valid": True,
            "snapshot_id": proof.snapshot_id,
            "account_id": proof.account_id,
            "leaf": {"tag": proof.leaf.tag.hex(), "index": proof.leaf.index},
            "leaf_count": 1 << manifest.height,
            "public_key": manifest.public_key.hex(),
            "key_pinned": pinned is not None,
            "assets": rows,
        }
        if logged is not None:
            result["log"] = {"index": logged[0], "size": logged[1]}
        if warning is not None:
            result["warning"] = warning
        _print_json(result)
        return
    who = "(not named in this proof)" if proof.account_id is None else _shown(proof.account_id)
    lines = [
        "valid: the proof holds against the signed manifest (all 5 checks)",
        f"snapshot: {_shown(proof.snapshot_id)}",
        f"account: {who}",
        f"leaf: {proof.leaf.index} of {1 << manifest.height}, tag {proof.leaf.tag.hex()}",
        _key_line(manifest, pinned),
        *logged_lines,
        "",
        *_claim_table(rows),
        *([] if warning is None else ["", warning]),
    ]
    click.echo("\n".join(lines))


def _claim_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    return _table(
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
    )


def _print_set(
    path: str,
    proof_set: ProofSet,
    claim: AccountClaim,
    manifest: Manifest,
    pinned: bytes | None,
    logged: tuple[int, int] | None,
    logged_lines: list[str],
    as_json: bool,
) -> None:
    """A verified proof set: the account's claim (the sum of its pieces) per asset."""
    warning = _identifies_warning(path)
    rows = _asset_rows(manifest, claim.equity, claim.debt, claim.root)
    if as_json:
        result: dict[str, Any] = {
            "valid": True,
            "format": "por-proof-set/1",
            "snapshot_id": claim.snapshot_id,
            "account_id": claim.account_id,
            "pieces": claim.pieces,
            "claim": {
                "equity": [str(v) for v in claim.equity],
                "debt": [str(v) for v in claim.debt],
            },
            "leaves": [{"tag": p.leaf.tag.hex(), "index": p.leaf.index} for p in proof_set.proofs],
            "leaf_count": 1 << manifest.height,
            "public_key": manifest.public_key.hex(),
            "key_pinned": pinned is not None,
            "assets": rows,
        }
        if logged is not None:
            result["log"] = {"index": logged[0], "size": logged[1]}
        result["warning"] = warning
        _print_json(result)
        return
    leaves = "leaf" if claim.pieces == 1 else "leaves"
    lines = [
        "valid: the proof set holds against the signed manifest"
        f" (all 3 set checks, all 5 checks on each of its {claim.pieces} pieces)",
        f"snapshot: {_shown(claim.snapshot_id)}",
        f"account: {_shown(claim.account_id)}",
        f"pieces: {claim.pieces} {leaves} of {1 << manifest.height}; the account's claim"
        " (equity, debt) is the sum of their amounts",
        _key_line(manifest, pinned),
        *logged_lines,
        "",
        *_claim_table(rows),
        "",
        warning,
    ]
    click.echo("\n".join(lines))


def _proof_batch(
    paths: Sequence[str],
    manifest_path: str,
    pinned: bytes | None,
    log_path: str | None,
    as_json: bool,
) -> None:
    """Many proofs or sets against one manifest: one line each, exit 1 if any fails."""
    from por.audit.proofs import check_proof_files
    from por.proofset import ProofSet

    report = check_proof_files(paths, manifest_path, pinned, log_path)
    if report.log_error is not None:
        raise report.log_error
    manifest, outcomes = report.manifest, report.outcomes
    logged = None if report.log is None else (report.log.index, report.log.size)
    bad = [o for o in outcomes if not o.valid]
    named = any(o.account_id is not None for o in outcomes)
    warning = _identifies_warning("a proof file with account_id") if named else None

    def entry(o: ProofOutcome) -> dict[str, Any]:
        item: dict[str, Any] = {
            "file": o.name,
            "valid": o.valid,
            "check": o.check,
            "error": o.error,
            "account_id": o.account_id,
        }
        if isinstance(o.proof, ProofSet) or o.set_check is not None:
            item["format"] = "por-proof-set/1"
            item["set_check"] = o.set_check
            item["pieces"] = None if o.claim is None else o.claim.pieces
            item["claim"] = (
                None
                if o.claim is None
                else {
                    "equity": [str(v) for v in o.claim.equity],
                    "debt": [str(v) for v in o.claim.debt],
                }
            )
        return item

    if as_json:
        _print_json(
            {
                "valid": not bad,
                "snapshot_id": manifest.snapshot_id,
                "public_key": manifest.public_key.hex(),
                "key_pinned": pinned is not None,
                "log": None if logged is None else {"index": logged[0], "size": logged[1]},
                "warning": warning,
                "proofs": [entry(o) for o in outcomes],
            }
        )
    else:
        for o in outcomes:
            if o.valid and o.proof is not None:
                who = o.proof.account_id
                who_text = "" if who is None else f"  account {_shown(who)}"
                if isinstance(o.proof, ProofSet):
                    count = len(o.proof.proofs)
                    what = f"set of {count} piece{'' if count == 1 else 's'}"
                else:
                    what = f"leaf {o.proof.leaf.index}"
                click.echo(f"valid    {_shown(o.name)}  {what}{who_text}")
            else:
                click.echo(f"INVALID  {_shown(o.name)}: {one_line(str(o.error))}")
        click.echo(
            f"{len(outcomes)} proofs against snapshot {_shown(manifest.snapshot_id)}:"
            f" {len(outcomes) - len(bad)} valid, {len(bad)} invalid"
        )
        click.echo(_key_line(manifest, pinned))
        if warning is not None:
            click.echo(warning)
    if bad:
        fail(
            f"invalid: {len(bad)} of {len(outcomes)} proofs failed; first: {bad[0].name}:"
            f" {bad[0].error}",
            EXIT_INVALID,
        )


def _proof_history(
    directories: Sequence[str], pinned: bytes | None, log_path: str | None, as_json: bool
) -> None:
    """One account across hours: every proof or set holds, same account, (with --log) logged."""
    from por.audit.proofs import check_account_hours, read_account_hours
    from por.audit.replica import read_entries_file
    from por.errors import ProofError
    from por.proofset import ProofSet

    hours = read_account_hours(directories)
    try:
        report = check_account_hours(
            hours, pinned, None if log_path is None else lambda: read_entries_file(log_path)
        )
    except ProofError as exc:
        if as_json:
            _print_json(_invalid_json(exc))
        raise
    if report.log_error is not None:
        raise report.log_error
    history, logged = report.history, report.logged
    warning = _identifies_warning("each proof file")
    rows_of = {
        claim.snapshot_id: _asset_rows(hour.manifest, claim.equity, claim.debt, claim.root)
        for hour, claim in zip(hours, history.claims, strict=True)
    }
    any_set = any(isinstance(hour.proof, ProofSet) for hour in hours)

    def hour_json(hour: AccountHour, claim: AccountClaim) -> dict[str, Any]:
        document = hour.proof
        item: dict[str, Any] = {
            "snapshot_id": claim.snapshot_id,
            "public_key": hour.manifest.public_key.hex(),
        }
        if isinstance(document, ProofSet):
            item["pieces"] = claim.pieces
            item["leaves"] = [
                {"tag": p.leaf.tag.hex(), "index": p.leaf.index} for p in document.proofs
            ]
        else:
            item["leaf"] = {"tag": document.leaf.tag.hex(), "index": document.leaf.index}
        item["log_index"] = logged.get(claim.snapshot_id)
        item["assets"] = rows_of[claim.snapshot_id]
        return item

    if as_json:
        _print_json(
            {
                "valid": True,
                "account_id": history.account_id,
                "key_pinned": pinned is not None,
                "warning": warning,
                "hours": [
                    hour_json(hour, claim)
                    for hour, claim in zip(hours, history.claims, strict=True)
                ],
            }
        )
        return
    keys = sorted({h.manifest.public_key.hex() for h in hours})
    header = ["snapshot", "asset", "equity", "debt", *(["pieces"] if any_set else [])]
    table = [
        [
            _shown(claim.snapshot_id),
            _shown(r["symbol"]),
            r["equity_units"],
            r["debt_units"],
            *([str(claim.pieces)] if any_set else []),
        ]
        for claim in history.claims
        for r in rows_of[claim.snapshot_id]
    ]
    lines = [
        f"valid: the account's proof holds in all {len(hours)} hours"
        + (" and every hour's root is the logged one" if logged else ""),
        f"account: {_shown(history.account_id)}",
        f"signed by: {', '.join(keys)} ({'pinned' if pinned is not None else 'not pinned'})",
        *(
            ["an hour's equity and debt are its claim: the sums over that hour's pieces"]
            if any_set
            else []
        ),
        "",
        *_table(header, table),
        "",
        warning,
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
@public_key_option(required=False)
@json_option
@reported
def tree_command(
    leaves_path: str, manifest_path: str, public_key_hex: str | None, as_json: bool
) -> None:
    """Rebuild the whole tree from a published leaf list and compare with the manifest.

    LEAVES.jsonl has one {"tag", "equity", "debt"} object per line in tree order ("-" reads
    stdin): tags strictly ascending, a power of two >= 2 lines. It is streamed: memory
    stays small for any number of leaves. Checks the manifest's signature, every leaf,
    the height and the root (hash and totals); no account id is needed. Without
    --public-key the key named in the manifest is trusted.
    """
    from por.audit.tree import verify_leaf_list
    from por.errors import ManifestError, TreeError
    from por.manifest import parse_public_key

    pinned = None if public_key_hex is None else parse_public_key(public_key_hex)
    try:
        manifest, summary = verify_leaf_list(leaves_path, manifest_path, pinned, sys.stdin.buffer)
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


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> timedelta:
    """`90m`, `4h`, `2d` as a positive duration; click's usage error otherwise."""
    value = text.strip()
    number, unit = value[:-1], value[-1:]
    if unit not in _DURATION_UNITS or not number.isdigit() or not number.isascii():
        raise click.BadParameter(f"expected N followed by s, m, h or d (like 4h), got {text!r}")
    if len(number) > 7:
        raise click.BadParameter(f"{text!r} is too long a duration")
    seconds = int(number) * _DURATION_UNITS[unit]
    if seconds == 0:
        raise click.BadParameter("expected a duration above zero")
    return timedelta(seconds=seconds)


@verify.command(
    "log",
    epilog=_examples(
        "por verify log --site https://proofs.example.com --public-key HEX --state mon.json",
        "por verify log --site ./site --public-key OLD --public-key NEW --state mon.json --json",
        "por verify log --site ./site --public-key HEX --state mon.json --max-age 90m",
    ),
)
@site_option("The site.", required=True)
@public_key_option(required=True, multiple=True)
@click.option(
    "--state",
    "state_path",
    required=True,
    metavar="FILE",
    help="Where the last accepted head per exchange is kept (created on first use).",
)
@click.option(
    "--max-age",
    "max_age",
    default="4h",
    show_default=True,
    metavar="DURATION",
    callback=lambda _ctx, _param, value: _duration(value),
    help="The oldest signed head accepted as current (N followed by s, m, h or d). The"
    " exchange signs a head every hour; the default allows three hours late.",
)
@json_option
@reported
def log_command(
    site_location: str,
    public_keys: tuple[str, ...],
    state_path: str,
    max_age: timedelta,
    as_json: bool,
) -> None:
    """Monitor the exchange's transparency log, like a certificate-transparency monitor.

    Fetches the site's signed log head (log/head.json) and every entry
    (log/entries.jsonl), checks the signature under a pinned key and that the entries
    give exactly the signed root, then that the head extends the one remembered in the
    state file: the RFC 9162 consistency proof between the two sizes, computed from the
    entries, must verify against both signed roots. A head that does not extend the old
    one (a shrunk log, another root for a size seen, a rewritten hour) is equivocation:
    exit 1, both signed heads are printed, the state keeps the old head. Time must move
    forward: the head must be fresh (signed within --max-age, not in the future), dated no
    earlier than the head seen before, and the hours logged must be in time order (exit 1
    naming the check: freshness, time order). Run it every hour. Repeat --public-key for
    rotated keys; the first one names the exchange in the state file.
    """
    from pathlib import Path

    from por.audit.errors import EquivocationError
    from por.audit.monitor import monitor_log
    from por.audit.source import open_site
    from por.manifest import parse_public_key

    keys = [parse_public_key(k).hex() for k in public_keys]
    site = open_site(site_location)
    try:
        result = monitor_log(site, keys, Path(state_path), max_age=max_age)
    except EquivocationError as exc:
        if as_json:
            _print_json(
                {
                    "valid": False,
                    "equivocation": True,
                    "error": str(exc),
                    "old_head": exc.old,
                    "new_head": exc.new,
                }
            )
        else:
            click.echo(f"old head: {json.dumps(exc.old, sort_keys=True)}")
            click.echo(f"new head: {json.dumps(exc.new, sort_keys=True)}")
        raise
    finally:
        site.close()
    new = result.new
    if as_json:
        _print_json(
            {
                "valid": True,
                "status": result.status,
                "exchange": result.exchange,
                "old": None
                if result.old is None
                else {"size": result.old.size, "root": result.old.root.hex()},
                "new": {"size": new.size, "root": new.root.hex(), "timestamp": new.timestamp},
            }
        )
        return
    if result.status == "first":
        click.echo(
            f"ok: first head remembered for exchange {result.exchange}: {new.size} entries,"
            f" root {new.root.hex()} (the entries give exactly this signed root)"
        )
    elif result.status == "unchanged":
        click.echo(f"ok: unchanged at {new.size} entries, root {new.root.hex()}")
    else:
        assert result.old is not None
        click.echo(
            f"ok: the log grew from {result.old.size} to {new.size} entries and extends the"
            f" head seen before (consistency proof verified); root {new.root.hex()}"
        )


def _checks_json(checks: Sequence[Any]) -> list[dict[str, str]]:
    """Named checks as `--json` prints them."""
    return [{"name": c.name, "status": c.status, "detail": c.detail} for c in checks]


def _failed_names(checks: Sequence[Any]) -> str:
    """The failed checks as the exit line names them."""
    return ", ".join(f"{c.name} ({c.detail})" for c in checks)


def _checks_table(title: str, checks: Sequence[Any]) -> None:
    """A rich table of named checks on stdout (rich is loaded only here)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    style = {"pass": "[green]PASS[/green]", "fail": "[red]FAIL[/red]", "skip": "[dim]skip[/dim]"}
    for check in checks:
        table.add_row(check.name, style.get(check.status, check.status), _shown(check.detail))
    Console(width=160).print(table)


attestation_age_option = click.option(
    "--max-attestation-age",
    "max_attestation_age",
    multiple=True,
    metavar="[ROLE=]AGE",
    help="How old (the hour minus its block's time) a wallet's per-period ownership"
    " attestation may be, per role: e.g. cold=8d, hot=0 (AGE alone: cold). Defaults: hot 0"
    " (per-snapshot signatures only), cold 7d. Repeatable.",
)


def _attestation_policy(values: Sequence[str]) -> Any:
    """`--max-attestation-age` values as a policy; malformed: exit 2."""
    from por.errors import InputError
    from por.reserves.attestation import AttestationPolicy
    from por.reserves.errors import ReservesError

    try:
        return AttestationPolicy.parse(values)
    except ReservesError as exc:
        raise InputError(str(exc)) from None


def _trusted_registry_note(document: Any) -> None:
    """Say on stderr which asset registry was trusted when none was pinned."""
    from por.audit.reserves_bundle import trusted_registry_description

    described = trusted_registry_description(document)
    if described:
        click.echo(
            "note: no --assets given: trusted the asset registry the manifest signs: "
            + _shown(described),
            err=True,
        )


@verify.command(
    "bundle",
    epilog=_examples(
        "por verify bundle site/snapshots/2026-11-24T16-00-00Z --public-key HEX",
        "por verify bundle bundles/2026-11-24T16-00-00Z --public-key HEX --site site/"
        " --eth-rpc http://127.0.0.1:8545 --json",
        "por verify bundle site/snapshots/2026-11-24T16-00-00Z --public-key HEX"
        " --identity auditor.key",
        "por verify bundle site/snapshots/2026-11-24T16-00-00Z --public-key HEX"
        " --assets well-known-assets.toml",
    ),
)
@click.argument("directory", metavar="DIR")
@public_key_option(required=True)
@assets_option
@attestation_age_option
@identity_option
@site_option("The site whose log holds this hour (default: the site around DIR).")
@anchor_rpc_option
@click.option(
    "--anchor-contract",
    default=None,
    metavar="ADDRESS",
    help="PorAnchor's address when the manifest names no previous anchor.",
)
@json_option
@reported
def bundle_command(
    directory: str,
    public_key_hex: str,
    assets_file: str | None,
    max_attestation_age: tuple[str, ...],
    identity_files: tuple[str, ...],
    site_location: str | None,
    eth_rpc: str | None,
    anchor_contract: str | None,
    as_json: bool,
) -> None:
    """Check one published hour from its public files: every check, one table.

    manifest signature (pinned key), every file's SHA-256 and size, the whole tree rebuilt
    from the leaf list, the reconciliation recomputed, every ownership signature, the
    hour's entry in the site's log and the log head's signature, and with --eth-rpc the
    on-chain anchors. The signed manifest says how the leaf list is published: in clear,
    encrypted for auditors (give --identity: it is decrypted in memory, never written), or
    withheld (that check does not run, and the table says so). Exit 0 when nothing fails,
    1 naming each failed check, 2 when the bundle cannot be read or its leaf list is
    encrypted and no --identity opens it.
    """
    from por.audit.bundle import verify_bundle_dir
    from por.audit.reserves_bundle import pinned_asset_registry
    from por.audit.source import open_site
    from por.leaflist import read_identities
    from por.manifest import parse_public_key

    key = parse_public_key(public_key_hex)
    assets = pinned_asset_registry(assets_file)
    identities = [i for path in identity_files for i in read_identities(path)]
    site = None if site_location is None else open_site(site_location)
    report = verify_bundle_dir(
        directory,
        key,
        site=site,
        eth_rpc=eth_rpc,
        anchor_contract=anchor_contract,
        identities=identities,
        require_identity=True,
        assets=assets,
        attestation_policy=_attestation_policy(max_attestation_age),
    )
    if assets is None and any(c.name == "reserves" and c.status != "skip" for c in report.checks):
        _trusted_registry_note(report.document)
    sid = report.manifest.snapshot_id if report.manifest is not None else "?"
    not_run = [c.name for c in report.not_run]
    if as_json:
        _print_json(
            {
                "valid": report.passed,
                "snapshot_id": None if report.manifest is None else sid,
                "leaf_list": None if report.leaf_list is None else report.leaf_list.to_json(),
                "not_run": not_run,
                "checks": _checks_json(report.checks),
            }
        )
    else:
        verdict = "all checks pass" if report.passed else "FAILED"
        if report.passed and not_run:
            verdict = f"every check that ran passes; NOT RUN: {', '.join(not_run)}"
        _checks_table(f"bundle {_shown(sid)}: {verdict}", report.checks)
    if not report.passed:
        fail(f"invalid: bundle {sid}: failed: {_failed_names(report.failed)}", EXIT_INVALID)


@verify.command(
    "reserves",
    epilog=_examples(
        "por verify reserves site/snapshots/2026-11-24T16-00-00Z --eth-rpc http://my-node:8545"
        " --sol-rpc http://my-solana:8899 --public-key HEX",
        "por verify reserves site/snapshots/2026-11-24T16-00-00Z --eth-rpc http://node-a:8545"
        " --eth-rpc http://node-b:8545 --public-key HEX --assets well-known-assets.toml",
    ),
)
@click.argument("directory", metavar="DIR")
@rpc_option(
    "eth",
    "Your own Ethereum (archive) node; repeat it to check against each node.",
    multiple=True,
    dest="eth_rpcs",
)
@rpc_option(
    "sol",
    "Your own Solana RPC node; repeat it to check against each node.",
    multiple=True,
    dest="sol_rpcs",
)
@public_key_option(required=False)
@assets_option
@attestation_age_option
@json_option
@reported
def reserves_command(
    directory: str,
    eth_rpcs: tuple[str, ...],
    sol_rpcs: tuple[str, ...],
    public_key_hex: str | None,
    assets_file: str | None,
    max_attestation_age: tuple[str, ...],
    as_json: bool,
) -> None:
    """Check a bundle's reserves.json, then re-read every balance from your own nodes.

    First what `verify bundle` checks of the reserves: every balance read from the token
    contract, SPL mint or native coin the asset registry names (--assets, else the one the
    manifest signs), no balance twice, only listed wallets, every ownership proof bound to
    the pinned key, this chain and this hour. Then Ethereum at the bundle's pinned block
    (by number, checked against the recorded hash and chain id); Solana at the bundle's
    slot (nodes cannot read the past: a later slot is said so), every SPL account's mint
    and owner checked. With --public-key, the manifest's signature and reserves.json's
    digest are checked and every ownership proof must name that key (without it: the
    manifest's own key, said on stderr). Exit 0 when every check passes, 1 naming what
    fails, 2 unreadable.
    """
    from por.audit.reserves_bundle import pinned_asset_registry, verify_reserves_dir
    from por.manifest import parse_public_key

    if not eth_rpcs and not sol_rpcs:
        raise click.UsageError("give --eth-rpc URL and/or --sol-rpc URL")
    assets = pinned_asset_registry(assets_file)
    key = None if public_key_hex is None else parse_public_key(public_key_hex)
    policy = _attestation_policy(max_attestation_age)
    if key is None:  # said before the nodes are read, so it shows when one cannot be
        click.echo(
            "note: no --public-key given: ownership proofs are checked against the manifest's"
            " own key, which you have not pinned",
            err=True,
        )
    report = verify_reserves_dir(
        directory, eth_rpcs, sol_rpcs, public_key=key, assets=assets, policy=policy
    )
    if assets is None:
        _trusted_registry_note(report.document)
    if as_json:
        _print_json({"valid": report.passed, "checks": _checks_json(report.checks)})
    else:
        verdict = "every check passes" if report.passed else "FAILED"
        exchange = _shown(str(report.reserves.get("exchange")))
        _checks_table(f"reserves of {exchange}: {verdict}", report.checks)
    if not report.passed:
        fail(f"invalid: reserves: {_failed_names(report.failed)}", EXIT_INVALID)


@verify.command(
    "history",
    epilog=_examples(
        "por verify history ./site --public-key HEX",
        "por verify history ./site --public-key HEX --eth-rpc http://my-node:8545 --json",
    ),
)
@click.argument("site_dir", metavar="SITE_DIR")
@public_key_option(required=True)
@anchor_rpc_option
@identity_option
@json_option
@reported
def history_command(
    site_dir: str,
    public_key_hex: str,
    eth_rpc: str | None,
    identity_files: tuple[str, ...],
    as_json: bool,
) -> None:
    """Verify every hour a site published and the whole log, in one run.

    The signed log head and its entries; every bundle under snapshots/ with all the checks
    of `por verify bundle` against that log; every logged hour has its bundle; each hour
    names the hour before it and that hour's manifest. An hour whose leaf list is withheld,
    or encrypted for auditors and no --identity opens it, is listed with that rebuild
    skipped. Exit 0 all pass, 1 any fails.
    """
    from por.audit.history import verify_history
    from por.leaflist import read_identities
    from por.manifest import parse_public_key

    identities = [i for path in identity_files for i in read_identities(path)]
    report = verify_history(
        site_dir, parse_public_key(public_key_hex), eth_rpc=eth_rpc, identities=identities
    )
    if as_json:
        _print_json(
            {
                "valid": report.passed,
                "site": _checks_json(report.site_checks),
                "hours": [
                    {
                        "snapshot_id": None if b.manifest is None else b.manifest.snapshot_id,
                        "valid": b.passed,
                        "checks": _checks_json(b.checks),
                    }
                    for b in report.bundles
                ],
            }
        )
    else:
        rows = [*report.site_checks, *report.hour_summaries()]
        verdict = "all pass" if report.passed else "FAILED"
        _checks_table(f"site {_shown(site_dir)}: {len(report.bundles)} hours, {verdict}", rows)
    if not report.passed:
        bad = report.failed_names()
        fail(f"invalid: history: failed: {', '.join(bad)}", EXIT_INVALID)

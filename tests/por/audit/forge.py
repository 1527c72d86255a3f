"""Play a dishonest exchange (or a second one) on a published site: change reserves.json and
re-sign everything the exchange signs, so that only the checks that look at what the
reserves *mean* can catch it. (Used by tests/cli/test_verify_reserve_attacks_cli.py.)

`resign_bundle` rewrites a bundle's reserves.json (through `mutate`), recomputes the totals
and reconciliation.json from it (so the arithmetic checks pass), and signs a new manifest
listing the new files, with any extra manifest change from `manifest_edit`. `rekey_site`
turns a copy of a site into "exchange B": every manifest and the log head re-signed with
B's key, byte for byte the same reserves.json.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from por.log import sign_head
from por.log.head import verify_head
from por.manifest import sign_manifest
from por.operator.signing import SigningKey
from por.publish.bundle import manifest_file_bytes


def _recompute_totals(reserves: dict[str, Any]) -> None:
    """The file's totals and each reading's own, as sums of the balances."""
    totals: dict[str, int] = {}
    for reading in reserves["readings"]:
        own: dict[str, int] = {}
        for b in reading["balances"]:
            totals[b["asset"]] = totals.get(b["asset"], 0) + int(b["amount"])
            own[b["asset"]] = own.get(b["asset"], 0) + int(b["amount"])
        reading["totals"] = {k: str(v) for k, v in sorted(own.items())}
    reserves["totals"] = {k: str(v) for k, v in sorted(totals.items())}


def _recompute_reconciliation(report: dict[str, Any], totals: dict[str, str]) -> str:
    verdicts = []
    for line in report["assets"]:
        reserve = int(totals.get(line["asset"], "0"))
        net = int(line["net_liabilities"])
        line["reserves"] = str(reserve)
        line["custody_gap"] = str(reserve - int(line["ledger_custody"]))
        line["coverage_ppm"] = None if net <= 0 else reserve * 1_000_000 // net
        if "coverage" in line:
            line["coverage"] = (
                None if net <= 0 else {"reserves": str(reserve), "net_liabilities": str(net)}
            )
        line["status"] = "PASS" if reserve >= net else "FAIL"
        verdicts.append(line["status"])
    report["status"] = "PASS" if all(v == "PASS" for v in verdicts) else "FAIL"
    return str(report["status"])


def _write(path: Path, doc: Any) -> bytes:
    data = (json.dumps(doc, indent=1) + "\n").encode()
    path.write_bytes(data)
    return data


def resign_bundle(
    bundle: Path,
    key: SigningKey,
    mutate: Callable[[dict[str, Any]], None],
    manifest_edit: Callable[[dict[str, Any]], None] | None = None,
    *,
    recompute: bool = True,
) -> None:
    """Apply `mutate` to reserves.json and re-sign the bundle as the exchange would
    (`recompute=False`: a malformed reserves.json signed as it is)."""
    reserves = json.loads((bundle / "reserves.json").read_text())
    mutate(reserves)
    report = json.loads((bundle / "reconciliation.json").read_text())
    manifest = json.loads((bundle / "manifest.json").read_text())
    status = manifest["reconciliation"]
    if recompute:
        _recompute_totals(reserves)
        status = _recompute_reconciliation(report, reserves["totals"])
    for name, doc in (("reserves.json", reserves), ("reconciliation.json", report)):
        data = _write(bundle / name, doc)
        manifest["bundle"]["files"][name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    manifest["reconciliation"] = status
    if manifest_edit is not None:
        manifest_edit(manifest)
    signed = sign_manifest(manifest, key.private)
    (bundle / "manifest.json").write_bytes(manifest_file_bytes(signed))


def rekey_site(site: Path, key: SigningKey, old_public_key: str) -> None:
    """Exchange B: the same bundles and log, every manifest and the head signed by `key`."""
    for path in sorted((site / "snapshots").glob("*/manifest.json")):
        manifest = json.loads(path.read_text())
        path.write_bytes(manifest_file_bytes(sign_manifest(manifest, key.private)))
    head_path = site / "log" / "head.json"
    head = verify_head(json.loads(head_path.read_text()), [old_public_key])
    head_path.write_text(json.dumps(sign_head(head, key), sort_keys=True) + "\n")

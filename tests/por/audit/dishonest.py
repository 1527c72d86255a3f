"""A dishonest exchange's bundles (issue 17): files changed, dropped or added and the
manifest's `bundle.files` re-signed with the exchange's own key, so only the verifier's
own rules can catch them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from por.manifest import sign_manifest
from tests.por.audit.published import Published


def resigned(
    published: Published,
    dest: Path,
    files: Mapping[str, bytes | None],
    edit: Callable[[dict[str, Any]], None] = lambda _doc: None,
    hour: int = 1,
) -> Path:
    """A copy of the site whose hour `hour` has `files` replaced (None: removed) and its
    manifest re-signed listing exactly the files left; `edit` may change the manifest."""
    site = published.copy(dest)
    bundle = site / "snapshots" / published.bundle(hour).name
    for name, data in files.items():
        if data is None:
            (bundle / name).unlink(missing_ok=True)
        else:
            (bundle / name).write_bytes(data)
    doc = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    listed = {}
    for path in sorted(bundle.iterdir()):
        if path.name != "manifest.json":
            data = path.read_bytes()
            listed[path.name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    doc["bundle"]["files"] = listed
    edit(doc)
    signed = sign_manifest(doc, published.world.key.private)
    text = json.dumps(signed, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    (bundle / "manifest.json").write_text(text, encoding="utf-8")
    return bundle


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1) + "\n").encode()


def claim_reserves(report: dict[str, Any], factor: int) -> dict[str, Any]:
    """reconciliation.json claiming `factor` x the net liabilities as reserves, every
    derived figure made consistent with that claim."""
    for line in report["assets"]:
        net = int(line["net_liabilities"])
        held = max(net, 1) * factor
        line["reserves"] = str(held)
        line["custody_gap"] = str(held - int(line["ledger_custody"]))
        line["coverage"] = (
            None if net <= 0 else {"reserves": str(held), "net_liabilities": str(net)}
        )
        line["coverage_ppm"] = None if net <= 0 else held * 1_000_000 // net
        line["status"] = "PASS"
    report["status"] = "PASS"
    return report

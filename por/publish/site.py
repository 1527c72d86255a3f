"""`por site build DIR`: the static public site from the bundles and the log's database.

A publishing step (the publisher runs it after each hour): it reads the publications and
the bundles; the pages themselves are rendered by `por.site` (templates and the verifier
page), which knows nothing of publishing.

Layout of DIR (everything static; no page loads anything from anywhere):

    index.html                 hours newest first, coverage chart (inline SVG), log head
    verifier.html              the offline in-browser verifier (copied, unchanged)
    log/entries.jsonl          every log entry's canonical JSON, one per line, log order
    log/head.json              the latest signed log head (`por-log-head/1`)
    snapshots/<name>.html      one page per hour: reconciliation, files, log, anchor
    snapshots/<name>/          the hour's bundle files (hard links into the bundle dir)

Every file is written under a temporary name and renamed (a reader never sees half a
page); unchanged files are left alone, so an hourly update costs the new hour plus the
index. A build killed midway is completed by the next one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from por.leaflist import LeafListError, from_manifest
from por.log import store as log_store
from por.publish import records
from por.publish._fsio import link_or_copy, write_atomic
from por.publish.bundle import MANIFEST_NAME, bundle_name
from por.site import copy_verifier_page
from por.site.templates import CoveragePoint, coverage_svg, index_page, ppm_percent, snapshot_page

__all__ = ["SiteSummary", "build_site"]


class SiteSummary:
    """What a build wrote: hours listed and files changed."""

    def __init__(self, hours: int, changed: int) -> None:
        self.hours = hours
        self.changed = changed


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data)
    return True


def _sync_bundle(src: Path, dst: Path) -> int:
    """Hard-link the bundle's files into the site (bundles never change once published)."""
    dst.mkdir(parents=True, exist_ok=True)
    added = 0
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if target.exists():
            continue
        tmp = dst / f".{entry.name}.tmp"
        tmp.unlink(missing_ok=True)
        link_or_copy(entry, tmp)
        os.replace(tmp, target)
        added += 1
    return added


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _remove_leftovers(site: Path) -> None:
    """Temporary files a killed build left behind (names never used by the site itself)."""
    for path in site.rglob(".*"):
        name = path.name
        if path.is_file() and (".tmp" in name or name.startswith(".verifier.html.")):
            path.unlink(missing_ok=True)


def build_site(site: Path, bundles: Path, db: Engine) -> SiteSummary:
    """(Re)build the site in `site` from `bundles` and the publication records in `db`.

    Run by one process at a time (the publisher holds its lock; run `por site build` by
    hand only when no publisher is running on the same directory).
    """
    site.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(site)
    with db.connect() as conn:
        pubs = records.all_publications(conn)
        entries = list(log_store.iter_entries(conn))
    changed = 0
    rows: list[dict[str, Any]] = []
    points: list[CoveragePoint] = []
    assets: list[str] = []
    exchange = ""
    for pub in pubs:
        name = bundle_name(pub.snapshot_id)
        bundle = bundles / name
        if not (bundle / MANIFEST_NAME).exists():
            continue  # committed but not yet renamed: the publisher's recovery places it
        changed += _sync_bundle(bundle, site / "snapshots" / name)
        manifest = json.loads(pub.manifest)
        report = _read_json(bundle / "reconciliation.json")
        if (bundle / "reserves.json").exists() and not exchange:
            exchange = str(_read_json(bundle / "reserves.json").get("exchange", ""))
        anchor = None
        if pub.anchor_tx is not None:
            anchor = {"tx": pub.anchor_tx, "block": pub.anchor_block}
            nxt = _next_previous_anchor(pubs, pub.snapshot_id)
            if nxt is not None:
                anchor = nxt
        page = snapshot_page(manifest, report, f"{name}/", anchor, pub.log_index)
        changed += _write_if_changed(site / "snapshots" / f"{name}.html", page.encode())
        coverage = {str(a["asset"]): a.get("coverage_ppm") for a in report.get("assets", [])}
        for symbol in coverage:
            if symbol not in assets:
                assets.append(symbol)
        points.append(CoveragePoint(pub.snapshot_id, coverage))
        known = [v for v in coverage.values() if v is not None]
        try:
            leaf_list = from_manifest(manifest).mode
        except LeafListError:
            leaf_list = "malformed"
        rows.append(
            {
                "snapshot_id": pub.snapshot_id,
                "href": f"snapshots/{name}.html",
                "status": report.get("status", ""),
                "coverage": ppm_percent(min(known)) if known else "n/a",
                "log_index": pub.log_index,
                "anchor_tx": pub.anchor_tx,
                "late": manifest.get("late", []),
                "leaf_list": leaf_list,
            }
        )
    head = json.loads(pubs[-1].head) if pubs else None
    log_dir = site / "log"
    changed += _write_if_changed(log_dir / "entries.jsonl", b"".join(e + b"\n" for e in entries))
    if head is not None:
        changed += _write_if_changed(
            log_dir / "head.json", (json.dumps(head, indent=1, sort_keys=True) + "\n").encode()
        )
    chart = coverage_svg(points, assets)
    index = index_page(list(reversed(rows)), chart, head, exchange)
    changed += _write_if_changed(site / "index.html", index.encode())
    verifier = site / "verifier.html"
    from por.site import verifier_page_bytes

    if not verifier.exists() or verifier.read_bytes() != verifier_page_bytes():
        copy_verifier_page(site)
        changed += 1
    return SiteSummary(len(rows), changed)


def _next_previous_anchor(
    pubs: list[records.Publication], snapshot_id: str
) -> dict[str, Any] | None:
    """The full anchor (chain id, contract) as the next hour's manifest states it."""
    for i, pub in enumerate(pubs[:-1]):
        if pub.snapshot_id == snapshot_id:
            prev = json.loads(pubs[i + 1].manifest).get("previous", {})
            anchor = prev.get("anchor")
            return dict(anchor) if isinstance(anchor, dict) else None
    return None

"""The bundle's own index.html: a page of the bundle (its SHA-256 is in the manifest),
rendered with the site's HTML parts (`por.site.templates`), which know nothing of
publishing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from por.site.templates import (
    esc,
    files_table,
    layout,
    leaf_list_html,
    pins_table,
    reconciliation_table,
    status_html,
)

if TYPE_CHECKING:
    from por.leaflist import LeafListPolicy
    from por.publish.facts import FileDigest, PreviousPublication, SnapshotFacts

__all__ = ["bundle_page"]


def bundle_page(
    facts: SnapshotFacts,
    files: Mapping[str, FileDigest],
    previous: PreviousPublication | None,
    published_at: str,
    leaf_list: LeafListPolicy,
) -> str:
    """The bundle's own index.html (its hash is in the manifest, so it cannot show the
    manifest's signature or log position: manifest.json beside it has them)."""
    report = facts.reconciliation
    assets = ", ".join(f"{a.symbol} ({a.decimals} decimals)" for a in facts.assets)
    prev = '<p class="muted">First published hour.</p>'
    if previous is not None:
        anchor = previous.anchor
        tx = (
            f"anchored on Ethereum in transaction <code>{esc(anchor['tx'])}</code> "
            f"(block {esc(anchor['block'])}, contract <code>{esc(anchor['contract'])}</code>)"
            if anchor
            else "not anchored on chain"
        )
        prev = (
            f"<p>Previous hour <b>{esc(previous.snapshot_id)}</b>: manifest SHA-256 "
            f"<code>{esc(previous.manifest_sha256)}</code>, {tx}.</p>"
        )
    body = (
        '<section class="card"><dl>'
        f"<dt>Snapshot</dt><dd><b>{esc(facts.snapshot_id)}</b></dd>"
        f"<dt>Status</dt><dd>{status_html(facts.status)}</dd>"
        f"<dt>Assets</dt><dd>{esc(assets)}</dd>"
        f"<dt>Ledger cut</dt><dd>journal sequence {facts.cut_seq}"
        f"{' at ' + esc(facts.cut_time) if facts.cut_time else ''}</dd>"
        f"<dt>Tree</dt><dd>height {facts.height}, {facts.leaf_count:,} leaves</dd>"
        f"<dt>Leaf list</dt><dd>{esc(leaf_list.describe())}</dd>"
        f'<dt>Root hash</dt><dd class="hash">{esc(facts.root.hash.hex())}</dd>'
        f"<dt>Published</dt><dd>{esc(published_at)}</dd></dl></section>"
        f"<h2>Reconciliation</h2><section class=card>{reconciliation_table(report)}</section>"
        f"<h2>Reserves read at</h2><section class=card>{pins_table(facts.pins)}</section>"
        f"<h2>Leaf list</h2><section class=card>{leaf_list_html(leaf_list, '')}</section>"
        f"<h2>Files</h2><section class=card>{files_table(files, '')}"
        '<p class="muted">manifest.json (signed) lists each file with its SHA-256. Check '
        "your own leaves with <code>por verify proof PROOF.json --manifest manifest.json "
        "--public-key KEY</code>.</p></section>"
        f"<h2>Chain of hours</h2><section class=card>{prev}</section>"
    )
    return layout(
        f"Proof of reserves {facts.snapshot_id}",
        body,
        home="index.html",
        subtitle="Published bundle",
    )

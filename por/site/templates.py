"""HTML of the public pages: the site's index and snapshot pages, the parts the bundle's own
index.html is made of (`por.publish.page`), and the coverage chart as server-side SVG.

Pages are self-contained: inline CSS, no script, no font or image from anywhere, and a
Content-Security-Policy that forbids loading anything (`default-src 'none'`). All text is
HTML-escaped. Amounts are exact (decimal strings from ints, never floats).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from por.leaflist import LeafListError, from_manifest
from por.snapshot.reconcile import format_signed_units

if TYPE_CHECKING:
    from por.leaflist import LeafListPolicy

__all__ = [
    "CoveragePoint",
    "coverage_svg",
    "esc",
    "files_table",
    "index_page",
    "layout",
    "leaf_list_html",
    "pins_table",
    "ppm_percent",
    "reconciliation_table",
    "snapshot_page",
    "status_html",
]

CHART_MAX_PPM = 4_000_000  # the chart's y axis stops at 400% coverage
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"
PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2", "#65a30d", "#db2777")

STYLE = """
:root { color-scheme: light; --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --ok:#047857;
  --bad:#b91c1c; --bg:#f9fafb; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg); }
header { background:#0f172a; color:#f8fafc; padding: 18px 32px; }
header a { color:#f8fafc; text-decoration:none; }
header .sub { color:#94a3b8; font-size: 13px; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 22px; margin: 0; } h2 { font-size: 17px; margin: 28px 0 10px; }
section.card { background:#fff; border:1px solid var(--line); border-radius:10px;
  padding: 16px 20px; margin: 16px 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td.num, th.num { text-align: right; }
code, .hash { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12.5px;
  word-break: break-all; }
.pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); } .late { color:#b45309; font-weight:600; }
nav a { margin-right: 18px; }
svg text { font: 11px system-ui, sans-serif; fill: #374151; }
dl { display:grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin:0; }
dt { color: var(--muted); } dd { margin:0; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def layout(title: str, body: str, *, home: str = "index.html", subtitle: str = "") -> str:
    sub = f'<div class="sub">{esc(subtitle)}</div>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f'<header><h1><a href="{esc(home)}">{esc(title)}</a></h1>{sub}</header>'
        f"<main>{body}</main></body></html>\n"
    )


def ppm_percent(ppm: int | None) -> str:
    """Coverage in parts per million as a percentage with two decimals, rounded down."""
    if ppm is None:
        return "n/a"
    whole, frac = divmod(ppm, 10_000)
    return f"{whole}.{frac // 100:02d}%"


def status_html(text: str) -> str:
    cls = "pass" if text == "PASS" else "fail"
    return f'<span class="{cls}">{esc(text)}</span>'


def reconciliation_table(report: Mapping[str, Any]) -> str:
    """Per asset: liabilities, debts, net, reserves, coverage and status."""
    rows = []
    for line in report.get("assets", []):
        d = int(line["decimals"])

        def units(key: str, line: Mapping[str, Any] = line, d: int = d) -> str:
            return esc(format_signed_units(int(line[key]), d))

        rows.append(
            f"<tr><td><b>{esc(line['asset'])}</b></td>"
            f'<td class="num">{units("liabilities")}</td><td class="num">{units("debts")}</td>'
            f'<td class="num">{units("net_liabilities")}</td>'
            f'<td class="num">{units("reserves")}</td>'
            f'<td class="num">{units("custody_gap")}</td>'
            f'<td class="num">{esc(ppm_percent(line.get("coverage_ppm")))}</td>'
            f"<td>{status_html(line['status'])}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Asset</th><th class=num>Liabilities</th><th class=num>Debts</th>"
        "<th class=num>Net liabilities</th><th class=num>Reserves</th>"
        "<th class=num>Custody gap</th><th class=num>Coverage</th><th>Status</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def files_table(files: Mapping[str, Any], href_prefix: str) -> str:
    rows = []
    for name, d in sorted(files.items()):
        sha = d.sha256 if hasattr(d, "sha256") else d["sha256"]
        size = d.size if hasattr(d, "size") else d["bytes"]
        rows.append(
            f'<tr><td><a href="{esc(href_prefix + name)}">{esc(name)}</a></td>'
            f'<td class="num">{size:,}</td><td class="hash">{esc(sha)}</td></tr>'
        )
    return (
        "<table><thead><tr><th>File</th><th class=num>Bytes</th><th>SHA-256</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def pins_table(pins: Sequence[Mapping[str, Any]], late_after_s: int | None = None) -> str:
    if not pins:
        return '<p class="muted">No wallet registry: reserves were not read.</p>'
    rows = []
    for p in pins:
        where = f"block {p['block']}" if "block" in p else f"slot {p.get('slot')}"
        late_s = p.get("late_s", 0)
        late = (
            f' <span class="late">read {late_s} s after the hour</span>'
            if late_s and (late_after_s is None or late_s > late_after_s)
            else ""
        )
        rows.append(
            f"<tr><td>{esc(p['chain'])}</td><td>{esc(where)}</td>"
            f'<td class="hash">{esc(p.get("hash", ""))}</td>'
            f"<td>{esc(p.get('time', ''))}{late}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Chain</th><th>Pinned at</th><th>Hash</th><th>Time</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def leaf_list_html(policy: LeafListPolicy, href_prefix: str) -> str:
    """How the hour's leaf list is published, and what that lets readers check."""
    if policy.mode == "public":
        name = esc(policy.file)
        return (
            f'<p>Public: <a href="{esc(href_prefix)}{name}">{name}</a>, every leaf of the tree '
            "in order. Anyone can rebuild the tree from it: <code>por verify tree "
            f"{name} --manifest manifest.json --public-key KEY</code>.</p>"
        )
    if policy.mode == "auditors":
        n = len(policy.recipients)
        name = esc(policy.file)
        keys = "".join(f'<li class="hash">{esc(r)}</li>' for r in policy.recipients)
        return (
            f"<p>Encrypted for {n} auditor{'s' if n != 1 else ''}: "
            f'<a href="{esc(href_prefix)}{name}">{name}</a> (age, X25519). Only the holders '
            "of these keys can rebuild the tree: <code>por verify bundle DIR --public-key KEY "
            f"--identity AUDITOR.key</code>.</p><ul>{keys}</ul>"
        )
    return (
        '<p class="muted">Withheld by the exchange: no leaf list is published for this hour, '
        "so nobody can rebuild the tree. The signed root and its totals are in the log, and "
        "every customer's own proof still verifies against them.</p>"
    )


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    snapshot_id: str
    coverage_ppm: Mapping[str, int | None]  # asset -> ppm (None: no net liabilities)


def coverage_svg(points: Sequence[CoveragePoint], assets: Sequence[str]) -> str:
    """A line per asset of coverage (reserves / net liabilities) per hour; integer maths.

    The y axis runs from 0 to max(200%, the highest point), at most CHART_MAX_PPM (points
    above are drawn on the top edge as a triangle with their value); the 100% line is
    dashed; hours without net liabilities leave a gap in that asset's line.
    """
    width, height = 960, 300
    left, right, top, bottom = 56, 120, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for p in points for v in p.coverage_ppm.values() if v is not None]
    grid = 250_000 if max([0, *values]) <= 2_000_000 else 500_000
    top_ppm = min(max([2_000_000, *values]), CHART_MAX_PPM)
    top_ppm = -(-top_ppm // grid) * grid  # round up to a grid step
    n = len(points)

    def x(i: int) -> int:
        return left + (plot_w * i // (n - 1) if n > 1 else plot_w // 2)

    def y(ppm: int) -> int:
        return top + plot_h - plot_h * min(ppm, top_ppm) // top_ppm

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="Coverage per asset over time">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#e5e7eb"/>',
    ]
    for ppm in range(0, top_ppm + 1, grid):
        full = ppm == 1_000_000
        stroke = '#9ca3af" stroke-dasharray="4 3' if full else "#eef0f3"
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(ppm)}" y2="{y(ppm)}" '
            f'stroke="{stroke}"/>'
            f'<text x="{left - 6}" y="{y(ppm) + 4}" text-anchor="end">{ppm // 10_000}%</text>'
        )
    step = max(1, n // 8)
    for i in range(0, n, step):
        label = points[i].snapshot_id[5:16].replace("T", " ")
        parts.append(
            f'<text x="{x(i)}" y="{top + plot_h + 18}" text-anchor="middle">{esc(label)}</text>'
        )
    for k, asset in enumerate(assets):
        color = PALETTE[k % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, p in enumerate(points):
            v = p.coverage_ppm.get(asset)
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(i)},{y(v)}")
            if v > top_ppm:  # off the chart: a triangle at the top edge with the value
                parts.append(
                    f'<path d="M{x(i) - 5},{top + 8} L{x(i) + 5},{top + 8} L{x(i)},{top} Z" '
                    f'fill="{color}"><title>{esc(asset)} {esc(ppm_percent(v))}</title></path>'
                    f'<text x="{x(i) + 8}" y="{top + 10}" fill="{color}">'
                    f"{esc(ppm_percent(v))}</text>"
                )
            else:
                parts.append(
                    f'<circle cx="{x(i)}" cy="{y(v)}" r="3" fill="{color}">'
                    f"<title>{esc(asset)} {esc(p.snapshot_id)}: {esc(ppm_percent(v))}</title>"
                    "</circle>"
                )
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" '
                    'stroke-width="2"/>'
                )
        ly = top + 14 + 18 * k
        parts.append(
            f'<rect x="{left + plot_w + 14}" y="{ly - 9}" width="12" height="12" rx="2" '
            f'fill="{color}"/><text x="{left + plot_w + 32}" y="{ly + 1}">{esc(asset)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def index_page(
    rows: Sequence[Mapping[str, Any]],
    chart: str,
    head: Mapping[str, Any] | None,
    exchange: str,
) -> str:
    """The site's front page: chart, the log head, every published hour (newest first)."""
    trs = []
    for r in rows:
        tx = r.get("anchor_tx")
        anchor = (
            f'<span class="hash">{esc(tx[:18])}…</span>'
            if tx
            else '<span class="muted">pending</span>'
        )
        late = (
            f' <span class="late">late: {esc(", ".join(r["late"]))}</span>' if r.get("late") else ""
        )
        trs.append(
            f'<tr><td><a href="{esc(r["href"])}">{esc(r["snapshot_id"])}</a>{late}</td>'
            f"<td>{status_html(r['status'])}</td>"
            f'<td class="num">{esc(r["coverage"])}</td>'
            f'<td class="num">{r["log_index"]}</td><td>{esc(r.get("leaf_list", ""))}</td>'
            f"<td>{anchor}</td></tr>"
        )
    head_html = '<p class="muted">The log is empty.</p>'
    if head is not None:
        head_html = (
            f"<dl><dt>Entries</dt><dd>{esc(head['size'])}</dd>"
            f'<dt>Root</dt><dd class="hash">{esc(head["root"])}</dd>'
            f"<dt>Signed</dt><dd>{esc(head.get('timestamp', ''))}</dd>"
            f'<dt>Public key</dt><dd class="hash">{esc(head["public_key"])}</dd></dl>'
            '<p><a href="log/head.json">log/head.json</a> (signed head) · '
            '<a href="log/entries.jsonl">log/entries.jsonl</a> (every entry, in log order)</p>'
        )
    body = (
        '<nav><a href="verifier.html">Verify your balance (offline)</a>'
        '<a href="log/entries.jsonl">Transparency log</a></nav>'
        "<h2>Coverage per asset (reserves / net liabilities)</h2>"
        f'<section class="card">{chart}</section>'
        f'<h2>Transparency log</h2><section class="card">{head_html}</section>'
        f"<h2>Published hours</h2><section class=card><table><thead><tr><th>Snapshot</th>"
        "<th>Status</th><th class=num>Lowest coverage</th><th class=num>Log entry</th>"
        "<th>Leaf list</th><th>Anchor tx</th></tr></thead>"
        f"<tbody>{''.join(trs)}</tbody></table></section>"
    )
    title = f"{exchange} proof of reserves" if exchange else "Proof of reserves"
    return layout(title, body, subtitle="Hourly, append-only, anchored on Ethereum")


def snapshot_page(
    manifest: Mapping[str, Any],
    report: Mapping[str, Any],
    files_href: str,
    anchor: Mapping[str, Any] | None,
    log_index: int,
) -> str:
    """One published hour on the site: reconciliation, leaf list, files, log, anchor."""
    sid = str(manifest["snapshot_id"])
    try:
        policy = from_manifest(manifest)
        leaf_list, leaf_line = leaf_list_html(policy, files_href), esc(policy.describe())
    except LeafListError as exc:
        leaf_list = f'<p class="fail">The manifest\'s leaf_list field is malformed: {esc(exc)}</p>'
        leaf_line = '<span class="fail">malformed</span>'
    root = manifest["tree"]["root"]
    files = dict(manifest["bundle"]["files"])
    if anchor:
        anchor_html = (
            f"<dl><dt>Transaction</dt><dd class=hash>{esc(anchor['tx'])}</dd>"
            f"<dt>Block</dt><dd>{esc(anchor['block'])}</dd>"
            f"<dt>Contract</dt><dd class=hash>{esc(anchor.get('contract', ''))}</dd></dl>"
        )
    else:
        anchor_html = '<p class="muted">Not anchored (yet).</p>'
    late = manifest.get("late")
    late_html = (
        f'<p class="late">Published late: {esc(", ".join(late))} read after the hour '
        "(chains without archive reads are read when the hour is published).</p>"
        if late
        else ""
    )
    body = (
        '<nav><a href="../index.html">All hours</a><a href="../verifier.html">Verify your '
        "balance</a></nav>"
        f'<section class="card"><dl><dt>Snapshot</dt><dd><b>{esc(sid)}</b></dd>'
        f"<dt>Status</dt><dd>{status_html(str(manifest.get('reconciliation', '')))}</dd>"
        f"<dt>Ledger cut</dt><dd>sequence {esc(manifest['cut']['seq'])}</dd>"
        f"<dt>Tree</dt><dd>height {esc(manifest['tree']['height'])}, "
        f"{esc(manifest.get('leaf_count', ''))} leaves</dd>"
        f"<dt>Leaf list</dt><dd>{leaf_line}</dd>"
        f'<dt>Root hash</dt><dd class="hash">{esc(root["hash"])}</dd>'
        f"<dt>Log</dt><dd>entry {log_index}; size {esc(manifest['log']['size'])}, root "
        f'<span class="hash">{esc(manifest["log"]["root"])}</span></dd>'
        f'<dt>Signed by</dt><dd class="hash">{esc(manifest["public_key"])}</dd>'
        f"<dt>Published</dt><dd>{esc(manifest.get('published_at', ''))}</dd></dl>"
        f"{late_html}</section>"
        f"<h2>Reconciliation</h2><section class=card>{reconciliation_table(report)}</section>"
        f"<h2>Leaf list</h2><section class=card>{leaf_list}</section>"
        f"<h2>Reserves read at</h2><section class=card>"
        f"{pins_table(manifest.get('reserves', []))}</section>"
        f'<h2>Files</h2><section class=card><p>Signed manifest: <a href="'
        f'{esc(files_href)}manifest.json">manifest.json</a> (lists every file below with its '
        "SHA-256; the signature covers them all).</p>"
        f"{files_table(files, files_href)}</section>"
        f"<h2>On-chain anchor</h2><section class=card>{anchor_html}</section>"
    )
    return layout(
        f"Proof of reserves {sid}", body, home="../index.html", subtitle="One published hour"
    )

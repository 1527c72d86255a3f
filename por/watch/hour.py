"""The hour the watch holds reserves against: the site's last published hour, verified.

Edge (reads the site's files). The site's signed log head must verify under the pinned
key and its entries give its root; the last logged hour's bundle must then pass every
check of `por verify bundle` that the watch relies on (manifest, files, reconciliation,
reserves, log; the liabilities rebuild passes, or is skipped when the leaf list is
encrypted or withheld, said so). Only then are its figures used:

- net liabilities per asset: the signed root's liabilities minus debts (the figure the
  verified reconciliation.json states and `por.audit._reconcile` recomputed);
- the wallets and their assets: reserves.json's wallet list, every balance checked
  against the asset registry the manifest signs (`reserve_assets`: contracts and mints);
- per chain, the totals as published (used for a chain the watch is given no node for).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from por.audit.bundle import RESERVES_NAME, reserve_registry, verify_bundle_dir
from por.audit.errors import AuditInputError, LogMismatchError
from por.audit.monitor import read_site_head, read_site_log
from por.audit.source import Site
from por.errors import PorError
from por.log import parse_entry
from por.reserves.values import CHAINS, AssetSpec, Chain, Wallet
from por.reserves.verify import check_reserve_balances

__all__ = [
    "REQUIRED_CHECKS",
    "HourRejectedError",
    "WatchInputError",
    "WatchedHour",
    "load_latest_hour",
    "published_size",
]

SNAPSHOTS_DIR = "snapshots"
# The checks a watched hour must pass; "liabilities" may also be skipped (leaf list
# encrypted for auditors or withheld), "anchor" is not run (no node asked for it).
REQUIRED_CHECKS = ("manifest", "files", "reconciliation", "reserves", "log")


class WatchInputError(AuditInputError):
    """The site cannot be read, or has published no hour yet: nothing to watch (exit 2)."""


class HourRejectedError(PorError):
    """The last published hour fails a check the watch relies on (exit 1)."""


@dataclass(frozen=True, slots=True)
class WatchedHour:
    """What one verified hour says the exchange owes and where it holds it."""

    snapshot_id: str
    log_size: int
    net_liabilities: dict[str, int]  # per manifest asset, in manifest order
    wallets: dict[Chain, tuple[Wallet, ...]]
    assets: dict[Chain, dict[str, AssetSpec]]
    published: dict[Chain, dict[str, int]]  # per chain: totals per asset as published
    pins: dict[Chain, int]  # per chain: the block or slot the hour was read at
    liabilities: str  # the liabilities check: "pass" or why it was skipped


def _site_dir(location: str) -> Path:
    if location.startswith(("http://", "https://")):
        raise WatchInputError(
            f"{location}: the watch reads a site directory (a mirror of the site), not a URL"
        )
    path = Path(location)
    if not path.is_dir():
        raise WatchInputError(f"{location}: not a directory (expected a published site)")
    return path


def published_size(location: str, public_key: bytes) -> int:
    """The size of the site's signed log head (cheap: one small file), to see a new hour."""
    try:
        _doc, head = read_site_head(Site(str(_site_dir(location))), [public_key.hex()])
    except LogMismatchError as exc:
        raise HourRejectedError(f"log: {exc}") from None
    return head.size


def load_latest_hour(location: str, public_key: bytes) -> WatchedHour:
    """The last logged hour of the site, verified (see the module docstring)."""
    root = _site_dir(location)
    try:
        _doc, head, replica = read_site_log(Site(str(root)), [public_key.hex()])
    except LogMismatchError as exc:
        raise HourRejectedError(f"log: {exc}") from None
    if replica.size == 0:
        raise WatchInputError(f"{location}: the site's log holds no hour yet")
    snapshot_id = parse_entry(replica.entries[-1]).snapshot_id
    directory = root / SNAPSHOTS_DIR / snapshot_id.replace(":", "-")  # publish.bundle_name
    if not directory.is_dir():
        raise HourRejectedError(
            f"{snapshot_id}: logged, but its bundle {directory} is not on the site"
        )
    report = verify_bundle_dir(directory, public_key, log=(head, replica))
    status = {c.name: c for c in report.checks}
    for name in REQUIRED_CHECKS:
        check = status.get(name)
        if check is None or check.status != "pass":
            detail = "not run" if check is None else f"{check.status}: {check.detail}"
            raise HourRejectedError(f"{snapshot_id}: check {name} {detail}")
    liabilities = status.get("liabilities")
    if liabilities is None or liabilities.status == "fail":
        raise HourRejectedError(
            f"{snapshot_id}: check liabilities {liabilities.detail if liabilities else 'not run'}"
        )
    manifest, document = report.manifest, report.document
    assert manifest is not None and document is not None  # the manifest check passed
    try:
        reserves = json.loads((directory / RESERVES_NAME).read_bytes())
        registry = reserve_registry(document, None)
        wallets, readings = check_reserve_balances(
            reserves,
            registry=registry,
            ledger_assets={a.symbol: a.decimals for a in manifest.assets},
            signed_pins=document.get("reserves"),
        )
    except Exception as exc:  # the reserves check just passed: only a race gets here
        raise HourRejectedError(f"{snapshot_id}: reserves.json: {exc}") from None
    by_chain: dict[Chain, list[Wallet]] = {c: [] for c in CHAINS}
    for wallet in wallets.values():
        by_chain[wallet.chain].append(wallet)
    assets: dict[Chain, dict[str, AssetSpec]] = {c: {} for c in CHAINS}
    for (chain, symbol), spec in registry.specs.items():
        assets[chain][symbol] = spec
    published: dict[Chain, dict[str, int]] = {}
    pins: dict[Chain, int] = {}
    for reading in readings:
        totals = published.setdefault(reading.chain, {})
        for balance in reading.balances:
            totals[balance.asset] = totals.get(balance.asset, 0) + balance.amount
        pins[reading.chain] = reading.number
    net = {
        asset.symbol: manifest.root.equity[k] - manifest.root.debt[k]
        for k, asset in enumerate(manifest.assets)
    }
    return WatchedHour(
        snapshot_id=snapshot_id,
        log_size=head.size,
        net_liabilities=net,
        wallets={c: tuple(w) for c, w in by_chain.items() if w},
        assets=assets,
        published=published,
        pins=pins,
        liabilities="pass" if liabilities.status == "pass" else f"skipped: {liabilities.detail}",
    )

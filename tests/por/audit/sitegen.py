"""Small published sites for audit tests, built with the library (no publisher, no chain).

Each hour gets a bundle directory `bundles/<name>/` with a manifest signed by the test key
that states the log after its entry was appended, and its leaf list; the site carries
`log/entries.jsonl` and a signed `log/head.json`, exactly as `por.audit.monitor` reads them.
Tests tamper with the result to play a lying exchange.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from por._canonical import canonical_json
from por._fields import node_json
from por.builder.reference import ReferenceTree, account_tag, build_tree
from por.leaves import Leaf, dump_leaves
from por.log import LogHead, entry_from_manifest, sign_head
from por.log._rfc9162 import leaf_hash, mth_reference
from por.manifest import AssetInfo, build_manifest
from por.model import AccountInput, filler_tag, padded_size
from por.operator.signing import SigningKey, generate

ASSETS = (AssetInfo("BTC", 8), AssetInfo("ETH", 18))
ACCOUNTS = ("alice", "bob", "carol")


@dataclass
class Site:
    root: Path
    key: SigningKey
    entries: list[bytes] = field(default_factory=list)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    proofs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # pieces per account (default 1): an account of k pieces gets k leaves, its amounts
    # split across them, and a por-proof-set/1 in `sets` (`proofs` holds its piece 0)
    pieces: dict[str, int] = field(default_factory=dict)
    sets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def public_key(self) -> str:
        return self.key.public_key_hex

    def bundle(self, snapshot_id: str) -> Path:
        return self.root / "bundles" / snapshot_id.replace(":", "-")

    def hour_id(self, hour: int) -> str:
        return f"2026-11-24T{hour:02d}:00:00Z"

    def add_hour(self, hour: int, seed: int | None = None) -> str:
        """Publish one hour: tree, manifest (log after append), bundle, entries, head."""
        sid = self.hour_id(hour)
        rng = random.Random(seed if seed is not None else hour)
        accounts = [
            AccountInput(
                name,
                rng.randbytes(32),
                (rng.randrange(10**9), rng.randrange(10**20)),
                (0, 0),
            )
            for name in ACCOUNTS
        ]
        symbols = [a.symbol for a in ASSETS]
        if self.pieces:
            accounts = [piece for a in accounts for piece in self._split(a, rng)]
            tree = _pieced_tree(sid, symbols, accounts)
        else:
            tree = build_tree(sid, symbols, accounts, filler_secret=b"f" * 32)
        asset_json = [{"symbol": a.symbol, "decimals": a.decimals} for a in ASSETS]
        entry = canonical_json(
            {"snapshot_id": sid, "assets": asset_json, "root": node_json(tree.root)}
        )
        entries = [*self.entries, entry]
        log_root = mth_reference([leaf_hash(e) for e in entries])
        manifest = build_manifest(
            sid,
            ASSETS,
            tree.height,
            tree.root,
            LogHead(len(entries), log_root),
            self.key.private,
        )
        assert entry_from_manifest(manifest) == entry
        self.entries = entries
        self.manifests[sid] = manifest
        directory = self.bundle(sid)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "manifest.json").write_bytes(
            (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
        )
        with open(directory / "liabilities.jsonl", "wb") as stream:
            dump_leaves(tree.leaves, stream)
        for account in accounts:
            proof = tree.proof_json(account)
            self.proofs.setdefault((sid, account.account_id), proof)
            proof_set = self.sets.setdefault(
                (sid, account.account_id),
                {
                    "format": "por-proof-set/1",
                    "snapshot_id": sid,
                    "account_id": account.account_id,
                    "proofs": [],
                },
            )
            proof_set["proofs"].append(proof)
        self.write_log()
        return sid

    def _split(self, account: AccountInput, rng: random.Random) -> list[AccountInput]:
        """The account as its pieces: piece 0 keeps the nonce, each piece a share."""
        k = self.pieces.get(account.account_id, 1)
        if k == 1:
            return [account]
        nonces = [account.nonce] + [rng.randbytes(32) for _ in range(k - 1)]
        return [
            AccountInput(
                account.account_id,
                nonce,
                tuple(v // k + (v % k if j == 0 else 0) for v in account.equity),
                tuple(v // k + (v % k if j == 0 else 0) for v in account.debt),
            )
            for j, nonce in enumerate(nonces)
        ]

    def write_log(
        self,
        entries: list[bytes] | None = None,
        head_key: SigningKey | None = None,
        timestamp: str | None = None,
    ) -> None:
        """Entries and a head signed now (or at `timestamp`), as a publisher's run writes them."""
        entries = self.entries if entries is None else entries
        log = self.root / "log"
        log.mkdir(parents=True, exist_ok=True)
        (log / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in entries))
        root = mth_reference([leaf_hash(e) for e in entries])
        when = timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        head = sign_head(LogHead(len(entries), root, when), head_key or self.key)
        (log / "head.json").write_text(json.dumps(head), encoding="utf-8")

    def write_proof(self, directory: Path, sid: str, account: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{account}.json"
        path.write_text(json.dumps(self.proofs[(sid, account)]), encoding="utf-8")
        return path

    def write_set(self, directory: Path, sid: str, account: str) -> Path:
        """The account's own por-proof-set/1 of hour `sid` (every piece), as a file."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{account}-set.json"
        path.write_text(json.dumps(self.sets[(sid, account)]), encoding="utf-8")
        return path


def _pieced_tree(sid: str, symbols: list[str], pieces: list[AccountInput]) -> ReferenceTree:
    """The tree of accounts in several leaves (the reference builder takes one per id)."""
    leaves = [Leaf(account_tag(sid, p), p.equity, p.debt) for p in pieces]
    zero = (0,) * len(symbols)
    size = padded_size(len(leaves))
    leaves += [Leaf(filler_tag(b"f" * 32, sid, i), zero, zero) for i in range(size - len(leaves))]
    leaves.sort(key=lambda leaf: leaf.tag)
    return ReferenceTree.from_leaves(sid, symbols, leaves)


def make_site(
    root: Path, hours: int, key: SigningKey | None = None, pieces: dict[str, int] | None = None
) -> Site:
    site = Site(root, key or generate(), pieces=dict(pieces or {}))
    for hour in range(hours):
        site.add_hour(hour)
    return site

"""Vector-style test data: a whole snapshot (accounts, leaves, proofs, signed manifest).

Tests, demos and other-language verifiers use this to get fresh, self-consistent data with
a freshly generated Ed25519 key, in the same shape as `../shared/vectors/*.json`. The log
is a one-entry RFC 9162 log (root = H(0x00 || entry)), enough for a manifest that says
what it commits to.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from por._canonical import canonical_json
from por._fields import node_json
from por.builder.reference import ReferenceTree, account_tag, build_tree
from por.leaves import dump_leaves, leaf_to_json, parse_leaf
from por.manifest import AssetInfo, LogHead, build_manifest, manifest_signed_bytes
from por.model import AccountInput

__all__ = [
    "DEFAULT_ASSETS",
    "SnapshotFiles",
    "make_snapshot",
    "random_accounts",
    "shared_vector_files",
    "write_snapshot",
]

DEFAULT_ASSETS = (
    AssetInfo("BTC", 8),
    AssetInfo("ETH", 18),
    AssetInfo("SOL", 9),
    AssetInfo("USDC", 6),
)


def shared_vector_files() -> list[Path]:
    """Every `*.json` of the shared vectors: `$POR_SHARED_VECTORS`, else `<repo>/../shared/vectors`.

    Raises `FileNotFoundError` when the directory or its files are missing: a suite that
    cannot find the vectors must fail, not skip.
    """
    configured = os.environ.get("POR_SHARED_VECTORS")
    if configured:
        directory = Path(configured)
    else:
        directory = Path(__file__).resolve().parents[3] / "shared" / "vectors"  # <repo>/..
    files = sorted(directory.glob("*.json"))
    if not files:
        raise FileNotFoundError(
            f"no shared test vectors (*.json) in {directory}; set POR_SHARED_VECTORS"
        )
    return files


def random_accounts(
    rng: random.Random, count: int, assets: int, max_amount: int = 10**24
) -> list[AccountInput]:
    """`count` accounts with netted vectors (per asset: equity, debt or neither)."""
    accounts = []
    for i in range(count):
        equity = [0] * assets
        debt = [0] * assets
        for k in range(assets):
            side = rng.randrange(4)
            if side in (1, 2):
                equity[k] = rng.randrange(1, max_amount)
            elif side == 3:
                debt[k] = rng.randrange(1, max_amount)
        accounts.append(
            AccountInput(f"acct-{i:05d}", rng.randbytes(32), tuple(equity), tuple(debt))
        )
    return accounts


def make_snapshot(
    snapshot_id: str,
    accounts: Sequence[AccountInput],
    *,
    assets: Sequence[AssetInfo] = DEFAULT_ASSETS,
    signing_key: Ed25519PrivateKey | None = None,
    filler_secret: bytes = b"vectorgen filler secret 0123456",
    min_leaves: int = 0,
) -> tuple[dict[str, Any], ReferenceTree]:
    """A vector-style dict for the snapshot, and the tree it was built from.

    Keys as in the shared vectors: snapshot_id, assets, height, leaf_count, accounts,
    leaves, root, valid_proofs, manifest, log (entries, roots, signed_bytes).
    """
    key = signing_key or Ed25519PrivateKey.generate()
    symbols = [a.symbol for a in assets]
    tree = build_tree(
        snapshot_id, symbols, accounts, filler_secret=filler_secret, min_leaves=min_leaves
    )
    asset_json = [{"symbol": a.symbol, "decimals": a.decimals} for a in assets]
    entry = canonical_json(
        {"snapshot_id": snapshot_id, "assets": asset_json, "root": node_json(tree.root)}
    )
    log_root = hashlib.sha256(b"\x00" + entry).digest()
    manifest = build_manifest(
        snapshot_id, assets, tree.height, tree.root, LogHead(1, log_root), key
    )
    vector = {
        "snapshot_id": snapshot_id,
        "assets": asset_json,
        "height": tree.height,
        "leaf_count": tree.leaf_count,
        "accounts": [
            {
                "account_id": a.account_id,
                "nonce": a.nonce.hex(),
                "equity": [str(v) for v in a.equity],
                "debt": [str(v) for v in a.debt],
                "tag": account_tag(snapshot_id, a).hex(),
            }
            for a in accounts
        ],
        "leaves": [leaf_to_json(leaf) for leaf in tree.leaves],
        "root": node_json(tree.root),
        "valid_proofs": [tree.proof_json(a) for a in accounts],
        "manifest": manifest,
        "log": {
            "entries": [entry.decode("utf-8")],
            "roots": [log_root.hex()],
            "signed_bytes": manifest_signed_bytes(manifest).decode("utf-8"),
        },
    }
    return vector, tree


@dataclass(frozen=True, slots=True)
class SnapshotFiles:
    """Where `write_snapshot` put things."""

    manifest: Path
    leaves: Path
    proofs: tuple[Path, ...]


def _write(path: Path, data: bytes) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def write_snapshot(directory: Path, vector: dict[str, Any]) -> SnapshotFiles:
    """Write manifest.json, leaves.jsonl and proofs/<n>.json (one per account) under a dir."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "proofs").mkdir(exist_ok=True)
    manifest = directory / "manifest.json"
    _write(manifest, canonical_json(vector["manifest"]) + b"\n")
    leaves = directory / "leaves.jsonl"
    temp = leaves.with_name(leaves.name + ".tmp")
    with open(temp, "wb") as stream:
        count = len(vector["assets"])
        dump_leaves((parse_leaf(item, "leaf", count) for item in vector["leaves"]), stream)
    os.replace(temp, leaves)
    proofs = []
    for i, proof in enumerate(vector["valid_proofs"]):
        path = directory / "proofs" / f"{i}.json"
        _write(path, canonical_json(proof) + b"\n")
        proofs.append(path)
    return SnapshotFiles(manifest, leaves, tuple(proofs))

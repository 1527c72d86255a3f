"""Checks shared by the publication tests: what "every hour published exactly once, every
bundle verifies, the log is consistent" means, asserted from the outside."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from por.log import store as log_store
from por.log.entry import entry_from_manifest
from por.log.head import verify_head
from por.publish import Publisher, verify_bundle
from por.publish.bundle import bundle_name


def check_publication(publisher: Publisher, hours: list[str]) -> list[dict[str, Any]]:
    """Assert the published state is exactly `hours`, in order; return the manifests."""
    cfg = publisher.config
    key = bytes.fromhex(cfg.key.public_key_hex)
    pubs = publisher.publications()
    assert [p.snapshot_id for p in pubs] == hours, "each hour once, in order"
    assert [p.log_index for p in pubs] == list(range(len(hours)))
    bundles = sorted(p.name for p in cfg.bundles.iterdir())
    assert bundles == [bundle_name(h) for h in hours], f"one bundle per hour, no temp: {bundles}"
    with publisher.db.connect() as conn:
        state = log_store.state(conn)
        entries = list(log_store.iter_entries(conn))
        assert state.size == len(hours), "one log entry per hour"
        manifests = []
        for i, pub in enumerate(pubs):
            folder = cfg.bundles / bundle_name(pub.snapshot_id)
            raw = (folder / "manifest.json").read_bytes()
            assert raw == pub.manifest, f"{pub.snapshot_id}: bundle manifest is the recorded one"
            assert hashlib.sha256(raw).hexdigest() == pub.manifest_sha256
            parsed = verify_bundle(folder, key)
            doc = json.loads(raw)
            assert entries[i] == entry_from_manifest(doc), "the log holds this manifest's root"
            assert (parsed.log.size, parsed.log.root.hex()) == (i + 1, pub.log_root)
            proof = log_store.prove_consistency(conn, i + 1, state.size)
            proof.verify(parsed.log.root, state.root)
            head = verify_head(json.loads(pub.head), [cfg.key.public_key_hex])
            assert (head.size, head.root) == (i + 1, parsed.log.root)
            if i:
                prev = doc["previous"]
                assert prev["snapshot_id"] == pubs[i - 1].snapshot_id
                assert prev["manifest_sha256"] == pubs[i - 1].manifest_sha256
                if cfg.anchor is not None:
                    assert prev["anchor"]["tx"] == pubs[i - 1].anchor_tx
            else:
                assert "previous" not in doc
            manifests.append(doc)
    return manifests


def scan_for(paths: list[Path], needles: list[bytes]) -> list[str]:
    """Every (file, needle) where a needle occurs in a file (empty when clean)."""
    found = []
    for path in paths:
        data = path.read_bytes()
        for needle in needles:
            if needle in data:
                found.append(f"{path}: {needle[:24]!r}")
    return found


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())

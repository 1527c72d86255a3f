"""What pieces cost: the tree of N accounts split by a policy against the unsplit tree, in one run.

    python bench/pieces.py --accounts 1000000 [--pieces default] [--repeat 3]

The accounts are bench/tree.py's (`generate`: random u128 amounts in every asset, ETH above
2^64 for some, 5% with a BTC debt): every account funded, the worst case for pieces (an
exchange's many empty accounts take one zero leaf each). Builds alternate, unsplit then
split, R times (best of R each, timeit's convention: noise only adds time):

- unsplit_build_s: `build_tree` of one leaf per account (bench/tree.py's build_s);
- split_s: `split_pieces` (policy, exact u128 split, piece nonces), then split_build_s:
  `build_tree` of the pieces; split_total_s = split_s + split_build_s;
- cost_ratio = split_total_s / unsplit_build_s (issue 16's goal: <= 2.5);
- proof_set_ms: one account's whole proof set served from the split tree's store and
  encoded as JSON (mean over 200 random accounts; goal <= 10 ms);
- verify_set_s: `por verify proof SET --manifest M --public-key K` wall time, process start
  included, median of 7, on the proof set with the most pieces among 200 (goal <= 0.3 s);
- gauge_s: a fixed hashlib loop (2^20 SHA-256 of 64 bytes) timed in the same run: the
  host's speed at the time, to read the absolute figures against (this VM's host varies
  25-40% between hours).

Prints ONE line of key=value pairs on stdout; builds, leaf counts and the load on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from tree import ASSETS, SECRET, SNAPSHOT, generate  # noqa: E402

from por.builder import build_tree  # noqa: E402
from por.manifest import AssetInfo, LogHead, build_manifest  # noqa: E402
from por.snapshot.pieces import PiecePolicy, split_pieces  # noqa: E402

DECIMALS = (8, 18, 9, 6, 6, 6, 8, 6)
POR = str(Path(sys.executable).with_name("por"))


def gauge() -> float:
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--accounts", type=int, required=True)
    ap.add_argument("--assets", type=int, default=4)
    ap.add_argument("--pieces", default="default", help="split policy (PiecePolicy.parse)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    policy = PiecePolicy.parse(args.pieces)
    assets = ASSETS[: args.assets]
    batch = generate(args.accounts, args.assets, args.seed)
    root = Path(tempfile.mkdtemp(prefix="por-bench-pieces-"))
    unsplit: list[float] = []
    splits: list[float] = []
    split_builds: list[float] = []
    try:
        for attempt in range(args.repeat):
            start = time.perf_counter()
            plain = build_tree(batch, assets, SNAPSHOT, SECRET, out_dir=root / f"u{attempt}")
            unsplit.append(time.perf_counter() - start)
            plain_leaves = plain.leaf_count
            shutil.rmtree(root / f"u{attempt}")
            start = time.perf_counter()
            pieces = split_pieces(batch, policy, SNAPSHOT, SECRET)
            splits.append(time.perf_counter() - start)
            start = time.perf_counter()
            tree = build_tree(
                pieces.batch, assets, SNAPSHOT, SECRET, out_dir=root / "split", pieces=True
            )
            split_builds.append(time.perf_counter() - start)
            if attempt + 1 < args.repeat:
                shutil.rmtree(root / "split")
        store = tree.open_store()
        rng = random.Random(args.seed)
        sample = [rng.randrange(pieces.accounts) for _ in range(min(200, pieces.accounts))]

        def proof_set(j: int) -> dict[str, object]:
            lo, hi = int(pieces.offsets[j]), int(pieces.offsets[j + 1])
            account = pieces.batch.account_id(lo)
            return {
                "format": "por-proof-set/1",
                "snapshot_id": SNAPSHOT,
                "account_id": account,
                "proofs": store.account_proofs(
                    account, [pieces.batch.nonce(r) for r in range(lo, hi)]
                ),
            }

        start = time.perf_counter()
        texts = [json.dumps(proof_set(j)) for j in sample]
        proof_set_ms = (time.perf_counter() - start) / len(sample) * 1000
        biggest = max(range(len(sample)), key=lambda i: len(texts[i]))
        key = Ed25519PrivateKey.generate()
        manifest = build_manifest(
            SNAPSHOT,
            [AssetInfo(s, d) for s, d in zip(assets, DECIMALS, strict=False)],
            tree.height,
            tree.root,
            LogHead(1, b"\1" * 32),
            key,
        )
        (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        (root / "set.json").write_text(texts[biggest], encoding="utf-8")
        pieces_in_set = len(json.loads(texts[biggest])["proofs"])
        command = [
            POR, "verify", "proof", str(root / "set.json"), "--manifest",
            str(root / "manifest.json"), "--public-key", key.public_key().public_bytes_raw().hex(),
        ]  # fmt: skip
        walls = []
        for _ in range(7):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True)
            walls.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(
                    f"por verify proof on a set: exit {done.returncode}: {done.stderr!r}"
                )
        store.close()
        host = gauge()
        best_unsplit, best_split, best_build = min(unsplit), min(splits), min(split_builds)
        total = best_split + best_build
        print(
            f"accounts={args.accounts} pieces={pieces.count} leaves={tree.leaf_count} "
            f"unsplit_leaves={plain_leaves} unsplit_build_s={best_unsplit:.3f} "
            f"split_s={best_split:.3f} split_build_s={best_build:.3f} split_total_s={total:.3f} "
            f"cost_ratio={total / best_unsplit:.2f} proof_set_ms={proof_set_ms:.2f} "
            f"verify_set_s={statistics.median(walls):.3f} verify_set_pieces={pieces_in_set} "
            f"gauge_s={host:.3f}"
        )
        print(
            f"# policy={policy.describe()} unsplit={[round(b, 3) for b in unsplit]} "
            f"split={[round(b, 3) for b in splits]} "
            f"split_build={[round(b, 3) for b in split_builds]} "
            f"counts={np.bincount(np.diff(pieces.offsets))[:16].tolist()} "
            f"loadavg={os.getloadavg()[0]:.2f}",
            file=sys.stderr,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

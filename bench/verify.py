"""Wall times of the verifier as users and auditors run it (new process each time).

1. `por verify proof P --manifest M --public-key K` (process start included), median of N;
2. `por verify proof P1 .. P1000 --manifest M` (1,000 user proofs in one batch);
3. `por verify tree LEAVES --manifest M --public-key K` of 1M accounts (2^20 leaves x 4
   assets: the whole tree rebuilt from liabilities.jsonl);
4. `por verify bundle DIR --public-key K --json` of the same hour as a bundle (file
   digests, the same rebuild, reconciliation and reserves; the bench bundle holds no
   wallets, so its reserves may fail: the run must pass every other check).

Prints ONE line. Targets (issue 10, issue 17): proof <= 0.3 s, batch of 1,000 <= 1 s,
tree and bundle of 1M accounts <= 10 s each. Other processes on the machine inflate the
figures; quote the load (loadavg_1m, cores).

    .venv/bin/python bench/verify.py [--runs 10] [--accounts 1000000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from por.builder import LeafBatch, build_tree_from_leaves  # noqa: E402
from por.builder.vectorgen import make_snapshot, random_accounts, write_snapshot  # noqa: E402
from por.manifest import AssetInfo, LogHead, build_manifest  # noqa: E402
from por.model import padded_size  # noqa: E402

ASSETS = (("BTC", 8), ("ETH", 18), ("SOL", 9), ("USDC", 6))
POR = str(Path(sys.executable).with_name("por"))


def wall(command: list[str], check: bool = True) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True)
    elapsed = time.perf_counter() - start
    if not check:
        _bundle_checks(done)
    elif done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command[:4])}...: exit {done.returncode}: {done.stderr[:300]!r}"
        )
    return elapsed


def _bundle_checks(done: subprocess.CompletedProcess[bytes]) -> None:
    """verify bundle --json: every check passed but reserves (no wallets), the tree rebuilt."""
    try:
        report = json.loads(done.stdout)
        status = {c["name"]: c["status"] for c in report["checks"]}
    except (ValueError, KeyError, TypeError):
        raise SystemExit(f"verify bundle: exit {done.returncode}: {done.stderr[:300]!r}") from None
    bad = {n: s for n, s in status.items() if s == "fail" and n != "reserves"}
    if bad or status.get("liabilities") != "pass":
        raise SystemExit(f"verify bundle: {status}: {done.stderr[:300]!r}")


def _reconciliation(snapshot_id: str, root: Any) -> dict[str, Any]:
    """A consistent reconciliation.json for reserves of zero (no wallets)."""
    lines = []
    for k, (symbol, decimals) in enumerate(ASSETS):
        owed, owing = root.equity[k], root.debt[k]
        net = owed - owing
        lines.append(
            {
                "asset": symbol,
                "decimals": decimals,
                "liabilities": str(owed),
                "debts": str(owing),
                "net_liabilities": str(net),
                "reserves": "0",
                "ledger_custody": "0",
                "custody_gap": "0",
                "in_flight_withdrawals": "0",
                "system_accounts": "0",
                "coverage": None if net <= 0 else {"reserves": "0", "net_liabilities": str(net)},
                "coverage_ppm": None if net <= 0 else 0,
                "status": "PASS" if net <= 0 else "FAIL",
            }
        )
    collateral = [
        {
            "asset": symbol,
            "debt": str(root.debt[k]),
            "collateral": "0",
            "debt_usd": None,
            "collateral_after_haircut_usd": None,
            "coverage_ppm": None,
            "priced": False,
        }
        for k, (symbol, _) in enumerate(ASSETS)
    ]
    return {
        "format": "por-reconciliation/1",
        "snapshot_id": snapshot_id,
        "status": "PASS" if all(x["status"] == "PASS" for x in lines) else "FAIL",
        "assets": lines,
        "usd": None,
        "collateral": {
            "price_decimals": 6,
            "borrowing_accounts": 0,
            "assets": collateral,
            "debt_usd": None,
            "collateral_after_haircut_usd": None,
            "coverage_ppm": None,
            "under_collateralised_accounts": None,
            "shortfall_usd": None,
            "status": None,
            "notes": [],
        },
        "notes": ["bench bundle: no wallets"],
    }


def write_big_bundle(directory: Path, accounts: int, key: Ed25519PrivateKey) -> int:
    """A bundle with liabilities.jsonl of `accounts` real leaves padded to a power of two."""
    n = padded_size(accounts)
    rng = np.random.default_rng(1)
    tags = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    tags = tags[np.lexsort(tags.T[::-1])]
    amounts = np.zeros((n, 2, 4, 2), dtype=np.uint64)
    real = np.zeros(n, dtype=bool)
    real[rng.choice(n, size=accounts, replace=False)] = True
    kind = np.where(real[:, None], rng.integers(0, 4, size=(n, 4)), 0)
    values = rng.integers(1, 2**62, size=(n, 4), dtype=np.uint64)
    amounts[:, 0, :, 1] = np.where((kind == 1) | (kind == 2), values, 0)
    amounts[:, 1, :, 1] = np.where(kind == 3, values, 0)
    big_eth = (kind[:, 1] == 1) & (rng.integers(0, 2, size=n) == 1)
    amounts[:, 0, 1, 0] = np.where(big_eth, rng.integers(1, 2**20, size=n, dtype=np.uint64), 0)
    built = build_tree_from_leaves(
        LeafBatch(tags, amounts), [s for s, _ in ASSETS], "2026-11-24T16:00:00Z"
    )
    hi = amounts[..., 0].astype(object)
    lo = amounts[..., 1].astype(object)
    full = hi * (1 << 64) + lo
    path = directory / "liabilities.jsonl"
    with open(path, "w", encoding="ascii") as out:
        batch = []
        for i in range(n):
            e = '","'.join(map(str, full[i, 0]))
            d = '","'.join(map(str, full[i, 1]))
            batch.append(f'{{"debt":["{d}"],"equity":["{e}"],"tag":"{tags[i].tobytes().hex()}"}}\n')
            if len(batch) == 65536:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
    snapshot_id = "2026-11-24T16:00:00Z"
    report = _reconciliation(snapshot_id, built.root)
    reserves = {"format": "por-reserves/1", "exchange": "bench", "ownership": [], "readings": []}
    reserves["totals"] = {}
    (directory / "reconciliation.json").write_text(json.dumps(report, indent=1), "utf-8")
    (directory / "reserves.json").write_text(json.dumps(reserves, indent=1), "utf-8")
    files = {}
    for name in ("liabilities.jsonl", "reconciliation.json", "reserves.json"):
        data = (directory / name).read_bytes()
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest = build_manifest(
        "2026-11-24T16:00:00Z",
        [AssetInfo(s, d) for s, d in ASSETS],
        built.height,
        built.root,
        LogHead(1, b"\1" * 32),
        key,
        {
            "bundle": {"format": "por-bundle/1", "files": files},
            "leaf_count": n,
            "leaf_list": {"mode": "public", "file": "liabilities.jsonl"},
            "reconciliation": report["status"],
        },
    )
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        accounts = random_accounts(random.Random(5), args.batch, 4)
        vector, tree = make_snapshot(
            "2026-11-24T16:00:00Z", accounts, signing_key=key, min_leaves=1 << 14
        )
        files = write_snapshot(tmp / "snap", vector)
        public = vector["manifest"]["public_key"]
        single = [
            POR,
            "verify",
            "proof",
            str(files.proofs[0]),
            "--manifest",
            str(files.manifest),
            "--public-key",
            public,
        ]
        one = [wall(single) for _ in range(args.runs)]
        batch_cmd = [
            POR,
            "verify",
            "proof",
            *map(str, files.proofs),
            "--manifest",
            str(files.manifest),
            "--public-key",
            public,
        ]
        batch = [wall(batch_cmd) for _ in range(max(1, args.runs // 3))]
        bundle = tmp / "bundle"
        bundle.mkdir()
        leaves = write_big_bundle(bundle, args.accounts, key)
        tree_cmd = [POR, "verify", "tree", str(bundle / "liabilities.jsonl")]
        tree_cmd += ["--manifest", str(bundle / "manifest.json"), "--public-key", public]
        tree_s = [wall(tree_cmd) for _ in range(2)]
        bundle_cmd = [POR, "verify", "bundle", str(bundle), "--public-key", public, "--json"]
        bundle_s = [wall(bundle_cmd, check=False) for _ in range(2)]
    load = os.getloadavg()[0]
    print(
        f"proof_wall_s_median={statistics.median(one):.3f} proof_wall_s_min={min(one):.3f}"
        f" batch_proofs={args.batch} batch_height={tree.height}"
        f" batch_wall_s_min={min(batch):.3f} bundle_accounts={args.accounts}"
        f" bundle_leaves={leaves} tree_wall_s_min={min(tree_s):.2f}"
        f" tree_wall_s_max={max(tree_s):.2f} bundle_wall_s_min={min(bundle_s):.2f}"
        f" bundle_wall_s_max={max(bundle_s):.2f} loadavg_1m={load:.1f} cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()

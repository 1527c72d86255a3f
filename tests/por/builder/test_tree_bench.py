"""bench/tree.py end to end on a small tree: one key=value line, and a floor that hashed
every byte string the build hashed (the bench asserts the row count itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
KEYS = ["accounts", "build_s", "proof_s", "peak_rss_mb", "hash_floor_s", "ratio"]


def test_tree_bench_prints_one_line_of_its_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "tree.py"), "--accounts", "3000", "--assets", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    pairs = dict(field.split("=", 1) for field in lines[0].split())
    assert list(pairs) == KEYS
    assert pairs["accounts"] == "3000"
    build, floor, ratio = (float(pairs[k]) for k in ("build_s", "hash_floor_s", "ratio"))
    assert build > 0 and floor > 0
    half = 0.0005  # build_s and hash_floor_s are printed to 3 decimals
    assert (build - half) / (floor + half) <= ratio * 1.001
    assert ratio <= (build + half) / max(floor - half, 1e-9) * 1.001

"""bench/tree.py end to end on a small tree: one key=value line; its floors hashed every
leaf and node (the issue's floor) and every byte string the build hashed (the worker
floor): the bench asserts both counts itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
KEYS = [
    "accounts",
    "build_s",
    "proof_s",
    "peak_rss_mb",
    "hash_floor_s",
    "ratio",
    "worker_floor_s",
    "worker_ratio",
]
HALF = 0.0005  # times are printed to 3 decimals


def _consistent(build: float, floor: float, ratio: float) -> bool:
    """`ratio` is build / floor, up to the rounding of the two printed times."""
    low = (build - HALF) / (floor + HALF)
    high = (build + HALF) / max(floor - HALF, 1e-9)
    return low <= ratio * 1.001 and ratio <= high * 1.001


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
    build = float(pairs["build_s"])
    floor, worker_floor = float(pairs["hash_floor_s"]), float(pairs["worker_floor_s"])
    assert build > 0 and floor > 0 and worker_floor > 0
    assert _consistent(build, floor, float(pairs["ratio"]))
    assert _consistent(build, worker_floor, float(pairs["worker_ratio"]))
    assert "repeat=5" in done.stderr  # best of 5 by default at this size

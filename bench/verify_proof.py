"""Wall time of `por verify proof` on a shared vector, as a user runs it (new process each time).

Prints one line: `runs=N vector=NAME wall_s_min=... wall_s_median=... wall_s_max=...`.
Target (issue 4): <= 0.3 s wall. The machine's load inflates the figure; quote it with that.

    .venv/bin/python bench/verify_proof.py [--runs 10] [--vector public-wide]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from por.builder.vectorgen import shared_vector_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--vector", default="public-wide")
    args = parser.parse_args()
    path = next(p for p in shared_vector_files() if p.stem == args.vector)
    vector = json.loads(path.read_text(encoding="utf-8"))
    por = Path(sys.executable).with_name("por")
    with tempfile.TemporaryDirectory() as tmp:
        proof, manifest = Path(tmp, "proof.json"), Path(tmp, "manifest.json")
        proof.write_text(json.dumps(vector["valid_proofs"][0]), encoding="utf-8")
        manifest.write_text(json.dumps(vector["manifest"]), encoding="utf-8")
        command = [str(por), "verify", "proof", str(proof), "--manifest", str(manifest)]
        command += ["--public-key", vector["manifest"]["public_key"]]
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    print(
        f"runs={args.runs} vector={args.vector} wall_s_min={min(times):.3f}"
        f" wall_s_median={statistics.median(times):.3f} wall_s_max={max(times):.3f}"
    )


if __name__ == "__main__":
    main()

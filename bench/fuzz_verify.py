"""Mutation fuzzing of the verifiers: proofs, manifests, leaf lists and whole bundles.

Starts from valid inputs (every shared vector's proofs and manifest; a bundle built here
with a leaf list, signed file digests and a signed manifest), applies random byte-level
and structural JSON mutations, and runs the verifier on each. Counts:

- accepted_invalid: the verifier accepted a mutant that means something else than the
  original (the parsed proof, the signed manifest bytes, the leaf list or a bundle file
  differ). Must be 0.
- tracebacks: any exception other than the library's own `PorError`s. Must be 0.

Prints ONE line of key=value pairs. Seeded: `--seed` reproduces a run.

    .venv/bin/python bench/fuzz_verify.py [--cases 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por._canonical import canonical_json  # noqa: E402
from por.audit._leaflist import fold_leaf_file  # noqa: E402
from por.audit.bundle import verify_bundle_dir  # noqa: E402
from por.errors import PorError  # noqa: E402
from por.leaves import dump_leaves  # noqa: E402
from por.manifest import AssetInfo, LogHead, build_manifest, parse_manifest_bytes  # noqa: E402
from por.proof import parse_proof_bytes  # noqa: E402
from por.vectorgen import make_snapshot, random_accounts, shared_vector_files  # noqa: E402
from por.verify import verify_proof_bytes  # noqa: E402

POOL: list[Any] = [
    0,
    1,
    -1,
    2**64,
    2**128,
    2**128 - 1,
    1.5,
    None,
    True,
    False,
    "",
    "0",
    "00",
    "-1",
    "+1",
    "1e3",
    " 1",
    "340282366920938463463374607431768211456",
    "340282366920938463463374607431768211455",
    "a" * 64,
    "A" * 64,
    "0" * 63,
    [],
    {},
    ["0"],
    {"hash": "0" * 64},
    "por-proof/1",
    "por-manifest/1",
    "\u00e9",
    "\n",
    2**53 + 1,
]


def mutate_value(rng: random.Random, value: Any) -> Any:
    """A random structural change somewhere inside a JSON value (a new object)."""
    doc = copy.deepcopy(value)
    holder: Any = None
    key: Any = None
    node = doc
    for _ in range(rng.randrange(1, 6)):
        if isinstance(node, dict) and node:
            holder, key = node, rng.choice(list(node))
        elif isinstance(node, list) and node:
            holder, key = node, rng.randrange(len(node))
        else:
            break
        node = holder[key]
    if holder is None:
        return rng.choice(POOL)
    op = rng.randrange(7)
    current = holder[key]
    if op == 0:
        holder[key] = rng.choice(POOL)
    elif op == 1 and isinstance(current, str) and current.isdigit():
        holder[key] = str(max(0, int(current) + rng.choice((-1, 1, 2**64))))
    elif op == 2 and isinstance(current, str) and current:
        i = rng.randrange(len(current))
        holder[key] = current[:i] + rng.choice("0123456789abcdef") + current[i + 1 :]
    elif op == 3 and isinstance(holder, dict):
        del holder[key]
    elif op == 4 and isinstance(holder, dict):
        holder[rng.choice(["extra", "account_id", "nonce", "signature", "q"])] = rng.choice(POOL)
    elif op == 5 and isinstance(holder, list) and len(holder) > 1:
        j = rng.randrange(len(holder))
        holder[key], holder[j] = holder[j], holder[key]
    elif op == 6 and isinstance(current, int) and not isinstance(current, bool):
        holder[key] = current + rng.choice((-1, 1, 1 << 20))
    else:
        holder[key] = rng.choice(POOL)
    return doc


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    i = rng.randrange(len(data))
    op = rng.randrange(4)
    if op == 0:
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if op == 1:
        return data[:i] + bytes([rng.randrange(256)]) + data[i:]
    if op == 2:
        return data[:i] + data[i + 1 :]
    return data[:i]


def mutant(rng: random.Random, value: Any, raw: bytes) -> bytes:
    if rng.random() < 0.3:
        return mutate_bytes(rng, raw)
    return json.dumps(mutate_value(rng, value), ensure_ascii=rng.random() < 0.5).encode()


def proof_meaning(raw: bytes) -> Any:
    p = parse_proof_bytes(raw)
    return (p.snapshot_id, p.assets, p.leaf, p.path, p.root)


class Tally:
    def __init__(self) -> None:
        self.counts = {"rejected": 0, "accepted_valid": 0, "accepted_invalid": 0, "tracebacks": 0}
        self.first_problem = ""

    def run(self, check: Any, same_meaning: Any) -> None:
        try:
            check()
        except PorError:
            self.counts["rejected"] += 1
            return
        except Exception:
            self.counts["tracebacks"] += 1
            self.first_problem = self.first_problem or traceback.format_exc(limit=3)
            return
        try:
            ok = bool(same_meaning())
        except Exception:
            ok = False
        self.counts["accepted_valid" if ok else "accepted_invalid"] += 1
        if not ok:
            self.first_problem = self.first_problem or "accepted an invalid input"


def fuzz_proofs(rng: random.Random, tally: Tally, cases: int) -> None:
    vectors = [json.loads(p.read_text(encoding="utf-8")) for p in shared_vector_files()]
    for n in range(cases):
        vector = vectors[n % len(vectors)]
        manifest = canonical_json(vector["manifest"])
        key = bytes.fromhex(vector["manifest"]["public_key"])
        original = rng.choice(vector["valid_proofs"])
        raw = json.dumps(original).encode()
        meaning = proof_meaning(raw)
        bad = mutant(rng, original, raw)
        tally.run(
            lambda bad=bad, manifest=manifest, key=key: verify_proof_bytes(bad, manifest, key),
            lambda bad=bad, meaning=meaning: proof_meaning(bad) == meaning,
        )


def fuzz_manifests(rng: random.Random, tally: Tally, cases: int) -> None:
    vectors = [json.loads(p.read_text(encoding="utf-8")) for p in shared_vector_files()]
    for n in range(cases):
        vector = vectors[n % len(vectors)]
        original = vector["manifest"]
        raw = json.dumps(original).encode()
        signed = parse_manifest_bytes(raw).signed_bytes
        key = bytes.fromhex(original["public_key"])
        proof = json.dumps(rng.choice(vector["valid_proofs"])).encode()
        bad = mutant(rng, original, raw)
        tally.run(
            lambda bad=bad, proof=proof, key=key: verify_proof_bytes(proof, bad, key),
            lambda bad=bad, signed=signed: parse_manifest_bytes(bad).signed_bytes == signed,
        )


def _leaf_list(seed: int) -> tuple[bytes, Any]:
    accounts = random_accounts(random.Random(seed), 11, 4, max_amount=10**22)
    vector, tree = make_snapshot("2026-11-24T16:00:00Z", accounts)
    out = io.BytesIO()
    dump_leaves(tree.leaves, out)
    return out.getvalue(), vector


def fuzz_leaf_lists(rng: random.Random, tally: Tally, cases: int) -> None:
    data, vector = _leaf_list(7)
    manifest = parse_manifest_bytes(canonical_json(vector["manifest"]))
    symbols = manifest.symbols
    lines = data.splitlines(keepends=True)

    def check(bad: bytes) -> None:
        summary = fold_leaf_file(io.BytesIO(bad), symbols)
        if summary.root != manifest.root or summary.height != manifest.height:
            raise PorError("root differs")

    for _ in range(cases):
        if rng.random() < 0.5:
            bad = mutate_bytes(rng, data)
        else:
            i = rng.randrange(len(lines))
            leaf = json.loads(lines[i])
            mutated = (json.dumps(mutate_value(rng, leaf)) + "\n").encode()
            bad = b"".join([*lines[:i], mutated, *lines[i + 1 :]])
        tally.run(lambda bad=bad: check(bad), lambda bad=bad: same_leaves(bad, data))


def same_leaves(a: bytes, b: bytes) -> bool:
    return [json.loads(x) for x in a.split(b"\n") if x.strip()] == [
        json.loads(x) for x in b.split(b"\n") if x.strip()
    ]


def fuzz_bundles(rng: random.Random, tally: Tally, cases: int, tmp: Path) -> None:
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data, vector = _leaf_list(9)
    key = Ed25519PrivateKey.generate()
    m = vector["manifest"]
    assets = [AssetInfo(a["symbol"], a["decimals"]) for a in m["assets"]]
    parsed = parse_manifest_bytes(canonical_json(m))
    files = {"liabilities.jsonl": data, "index.html": b"<html>hour</html>\n"}
    extra = {
        "bundle": {
            "format": "por-bundle/1",
            "files": {
                n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                for n, b in files.items()
            },
        },
        "leaf_count": len(vector["leaves"]),
    }
    manifest = build_manifest(
        parsed.snapshot_id,
        assets,
        parsed.height,
        parsed.root,
        LogHead(1, parsed.log.root),
        key,
        extra,
    )
    manifest_raw = json.dumps(manifest, indent=1).encode()
    signed = parse_manifest_bytes(manifest_raw).signed_bytes
    public = bytes.fromhex(manifest["public_key"])
    originals = {**files, "manifest.json": manifest_raw}
    directory = tmp / "bundle"
    directory.mkdir()

    def check() -> None:
        report = verify_bundle_dir(directory, public)
        if not report.passed:
            raise PorError("bundle rejected")

    def same() -> bool:
        for name, content in originals.items():
            now = (directory / name).read_bytes()
            if name == "manifest.json":
                if parse_manifest_bytes(now).signed_bytes != signed:
                    return False
            elif now != content:
                return False
        return True

    for _ in range(cases):
        for name, content in originals.items():
            (directory / name).write_bytes(content)
        name = rng.choice(list(originals))
        content = originals[name]
        if name == "liabilities.jsonl" or rng.random() < 0.4:
            bad = mutate_bytes(rng, content)
        else:
            bad = mutant(rng, manifest, content)
        (directory / name).write_bytes(bad)
        tally.run(check, same)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    share = {"proofs": 50, "manifests": 25, "leaf_lists": 20, "bundles": 5}
    counts = {k: args.cases * v // 100 for k, v in share.items()}
    counts["proofs"] += args.cases - sum(counts.values())
    tally = Tally()
    start = time.perf_counter()
    fuzz_proofs(rng, tally, counts["proofs"])
    fuzz_manifests(rng, tally, counts["manifests"])
    fuzz_leaf_lists(rng, tally, counts["leaf_lists"])
    with tempfile.TemporaryDirectory() as tmp:
        fuzz_bundles(rng, tally, counts["bundles"], Path(tmp))
    wall = time.perf_counter() - start
    c = tally.counts
    print(
        f"cases={sum(counts.values())} proofs={counts['proofs']} manifests={counts['manifests']}"
        f" leaf_lists={counts['leaf_lists']} bundles={counts['bundles']} rejected={c['rejected']}"
        f" accepted_valid={c['accepted_valid']} accepted_invalid={c['accepted_invalid']}"
        f" tracebacks={c['tracebacks']} seed={args.seed} wall_s={wall:.1f}"
    )
    if tally.first_problem:
        print(tally.first_problem, file=sys.stderr)
    sys.exit(1 if c["accepted_invalid"] or c["tracebacks"] else 0)


if __name__ == "__main__":
    main()

"""Mutation fuzzing of every verifier, one target at a time: proofs, manifests, leaf lists,
bundles, reserves, the log monitor, ledger command logs, and the browser page against the CLI.

Starts from valid inputs (every shared vector; a small `por demo` run's bundle, reserves and
site log; the sample command log), applies structure-aware mutations (`bench/_fuzz_json.py`,
`bench/_fuzz_targets.py`: wrong types, missing and extra fields and files, huge integers,
lone surrogates, deep nesting, control characters, a BOM, duplicate keys, byte damage,
re-signing with the exchange's own key, stale heads, clock jumps) and runs the verifier in
process. Per target, one line of key=value pairs:

- accepted_invalid: the verifier accepted a mutant the target's oracle says is invalid by
  construction (module docstrings say which). Must be 0.
- tracebacks: an exception other than the verifier's own errors (a crash). Must be 0.
- slow: cases over 2 s (the ledger's clock jumps; a case is stopped after 20 s).
- browser target: disagreements between the page and the CLI (`verdict_mismatch`), all
  cases of every vector plus `--cases` mutants; `cli_sample_mismatch`: the in-process
  verdict against the real `por verify proof` exit code on a few cases.

    .venv/bin/python bench/fuzz_verify.py --target bundles --cases 100000 [--seed 1]
    .venv/bin/python bench/fuzz_verify.py --target all --cases 2000

The first problem of each kind is printed on stderr with its reproduction. `--keep DIR`
writes every offending case's inputs in full (up to 50 of each kind per target) to
`DIR/<target>/<kind>-<case>/`: the mutated files as the verifier read them and `case.txt`
(what, seed, the error); a bundle case is a whole bundle directory.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fuzz_json import mutant, mutate_bytes, mutate_value  # noqa: E402
from por._canonical import canonical_json  # noqa: E402
from por.audit._leaflist import fold_leaf_file  # noqa: E402
from por.builder.vectorgen import make_snapshot, random_accounts, shared_vector_files  # noqa: E402
from por.errors import PorError  # noqa: E402
from por.leaves import dump_leaves  # noqa: E402
from por.manifest import parse_manifest_bytes  # noqa: E402
from por.proof import parse_proof_bytes  # noqa: E402
from por.verify import verify_proof_bytes  # noqa: E402

SLOW_S = 2.0
STOP_S = 20


class Stopped(Exception):
    """A case ran past STOP_S seconds."""


def gauge() -> float:
    """Host gauge: 2^20 SHA-256 of 64 bytes, timed in the same run (as bench/pieces.py)."""
    data = [i.to_bytes(64, "big") for i in range(1 << 20)]
    start = time.perf_counter()
    for item in data:
        hashlib.sha256(item).digest()
    return time.perf_counter() - start


def proof_meaning(raw: bytes) -> Any:
    p = parse_proof_bytes(raw)
    return (p.snapshot_id, p.assets, p.leaf, p.path, p.root)


KEEP_PER_KIND = 50
Inputs = Callable[[], dict[str, bytes]]


class Tally:
    def __init__(
        self,
        expected: tuple[type[BaseException], ...] = (PorError,),
        keep: Path | None = None,
    ) -> None:
        self.expected = expected
        self.keep = keep
        self.kept: dict[str, int] = {}
        self.case = 0
        self.counts = {
            "rejected": 0, "accepted_valid": 0, "accepted_invalid": 0, "tracebacks": 0, "slow": 0
        }  # fmt: skip
        self.problems: dict[str, str] = {}

    def _keep(self, kind: str, what: str, inputs: Inputs | None, note: str = "") -> None:
        """The case's inputs in full under keep/<kind>-<case>/ (at most KEEP_PER_KIND)."""
        if self.keep is None or inputs is None or self.kept.get(kind, 0) >= KEEP_PER_KIND:
            return
        self.kept[kind] = self.kept.get(kind, 0) + 1
        out = self.keep / f"{kind}-{self.case}"
        out.mkdir(parents=True, exist_ok=True)
        for name, data in inputs().items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
        (out / "case.txt").write_text(
            f"case {self.case}: {what}\n{note}\n", encoding="utf-8", errors="backslashreplace"
        )

    def run(
        self,
        check: Callable[[], Any],
        invalid: Callable[[], Any],
        what: str = "",
        inputs: Inputs | None = None,
    ) -> None:
        self.case += 1
        start = time.perf_counter()
        signal.alarm(STOP_S)
        accepted: Any = None
        done = False  # a verdict to judge (not stopped, not crashed)
        try:
            accepted = check()
            done = True
        except self.expected:
            accepted, done = False, True
        except Stopped:
            pass
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.counts["tracebacks"] += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            self.problems.setdefault(
                "traceback",
                f"{type(exc).__name__}: {str(exc)[:300]} at {where.filename}:{where.lineno}"
                f" | {what}",
            )
            self._keep("traceback", what, inputs, "".join(traceback.format_exception(exc)))
        finally:
            signal.alarm(0)
        took = time.perf_counter() - start
        if took > SLOW_S:  # counted once, stopped or not
            self.counts["slow"] += 1
            self.problems.setdefault("slow", f"{what}: {took:.1f} s")
            self._keep("slow", what, inputs, f"{took:.1f} s")
        if not done:
            return
        if accepted is False:
            self.counts["rejected"] += 1
            return
        try:
            bad = invalid()
        except Exception:
            bad = True
        if bad:
            self.counts["accepted_invalid"] += 1
            self.problems.setdefault("accepted_invalid", f"accepted an invalid input: {what}")
            self._keep("accepted_invalid", what, inputs)
        else:
            self.counts["accepted_valid"] += 1


def fuzz_proofs(rng: random.Random, tally: Tally, cases: int) -> None:
    """Proofs and proof sets of every vector, mutated, against the vector's manifest and key.
    Oracle: accepted means the parsed proof (or set) is the original one, or a set of some
    of the original set's pieces."""
    from por.audit.batch import verify_document
    from por.proofset import ProofSet, parse_proof_document_bytes

    def meaning(raw: bytes) -> Any:
        """The parsed proof; for a set, its pieces in any order (a set has no order)."""
        document = parse_proof_document_bytes(raw)
        if isinstance(document, ProofSet):
            return (document.snapshot_id, document.account_id, sorted(map(repr, document.proofs)))
        return repr(document)

    def changed(bad: bytes, raw: bytes) -> bool:
        """Not the original proof, nor a set of some of the original set's pieces. The spec
        ("Pieces") makes a set valid with 1 to 256 distinct verifying pieces and tells the
        number of pieces only to the account, so a set with a piece left out is a valid set
        (a smaller claim, for the account to compare with its balance), not a forgery.
        (Oracle was too strict: seed 1 cases 5824, 37149... dropped one piece.)"""
        new, old = meaning(bad), meaning(raw)
        if isinstance(new, tuple) and isinstance(old, tuple):
            pieces = new[2]
            return not (
                new[:2] == old[:2]
                and pieces
                and len(set(pieces)) == len(pieces)
                and set(pieces) <= set(old[2])
            )
        return bool(new != old)

    def verify(proof: bytes, manifest: bytes, key: bytes) -> None:
        verify_document(parse_proof_document_bytes(proof), parse_manifest_bytes(manifest), key)

    vectors = [json.loads(p.read_text(encoding="utf-8")) for p in shared_vector_files()]
    for n in range(cases):
        vector = vectors[n % len(vectors)]
        manifest = canonical_json(vector["manifest"])
        key = bytes.fromhex(vector["manifest"]["public_key"])
        sets = vector.get("proof_sets") or []
        original = (
            rng.choice(sets)["set"]
            if sets and rng.random() < 0.3
            else rng.choice(vector["valid_proofs"])
        )
        raw = json.dumps(original).encode()
        bad = mutant(rng, original, raw)
        tally.run(
            lambda bad=bad, manifest=manifest, key=key: verify(bad, manifest, key),
            lambda bad=bad, raw=raw: changed(bad, raw),
            f"proof mutant {bad!r}",
            lambda bad=bad, manifest=manifest, key=key, raw=raw: {
                "proof.json": bad,
                "original-proof.json": raw,
                "manifest.json": manifest,
                "public_key.hex": key.hex().encode(),
            },  # fmt: skip
        )


_HEX64 = "0123456789abcdef"


def manifest_breaks_spec(doc: Any) -> bool:
    """An independent reading of the spec's manifest rules (proof-format.md, "Manifest"):
    True when a signed manifest must be refused whatever its signature says."""

    def only_allowed(v: Any) -> bool:  # strings (UTF-8 text), integers, lists, objects
        if isinstance(v, bool) or v is None or isinstance(v, float):
            return False
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return False
            return True
        if isinstance(v, int):
            return len(str(v)) <= 40  # the project's documented integer bound (por/_input.py)
        if isinstance(v, list):
            return all(only_allowed(x) for x in v)
        if isinstance(v, dict):
            return all(only_allowed(k) and only_allowed(x) for k, x in v.items())
        return False

    def hex64(v: Any) -> bool:
        return isinstance(v, str) and len(v) == 64 and all(c in _HEX64 for c in v)

    def amount(v: Any) -> bool:
        return (
            isinstance(v, str)
            and v.isascii()
            and v.isdigit()
            and (v == "0" or v[0] != "0")
            and int(v) < 2**128
        )

    def integer(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not isinstance(doc, dict) or not only_allowed(doc):
        return True
    try:
        assets = doc["assets"]
        n = len(assets)
        root = doc["tree"]["root"]
        return not (
            doc["format"] == "por-manifest/1"
            and isinstance(doc["snapshot_id"], str)
            and doc["snapshot_id"]
            and isinstance(assets, list)
            and n >= 1
            and all(
                isinstance(a, dict)
                and isinstance(a["symbol"], str)
                and integer(a["decimals"])
                and a["decimals"] >= 0
                for a in assets
            )
            and integer(doc["tree"]["height"])
            and doc["tree"]["height"] >= 1
            and hex64(root["hash"])
            and set(root) == {"hash", "equity", "debt"}
            and all(
                isinstance(root[k], list) and len(root[k]) == n and all(amount(x) for x in root[k])
                for k in ("equity", "debt")
            )
            and integer(doc["log"]["size"])
            and doc["log"]["size"] >= 1
            and hex64(doc["log"]["root"])
            and hex64(doc["public_key"])
            and isinstance(doc["signature"], str)
        )
    except (KeyError, TypeError):
        return True


def fuzz_manifests(rng: random.Random, tally: Tally, cases: int) -> None:
    """Half: vector manifests changed after signing (oracle: accepted means the signed
    bytes are the original ones). Half: a manifest of our own changed and re-signed with
    its key, as the exchange could (oracle: accepted means it keeps every spec rule)."""
    from bench._proof_corpus import own_snapshot, resign

    vectors = [json.loads(p.read_text(encoding="utf-8")) for p in shared_vector_files()]
    own = own_snapshot()
    own_key = bytes.fromhex(own.key_hex)
    for n in range(cases):
        if n % 2:
            vector = vectors[n % len(vectors)]
            original = vector["manifest"]
            raw = json.dumps(original).encode()
            signed = parse_manifest_bytes(raw).signed_bytes
            key = bytes.fromhex(original["public_key"])
            proof = json.dumps(rng.choice(vector["valid_proofs"])).encode()
            bad = mutant(rng, original, raw)
            tally.run(
                lambda bad=bad, proof=proof, key=key: verify_proof_bytes(proof, bad, key),
                lambda bad=bad, signed=signed: parse_manifest_bytes(bad).signed_bytes != signed,
                f"manifest mutant {bad!r}",
                lambda bad=bad, proof=proof, key=key, raw=raw: {
                    "manifest.json": bad,
                    "original-manifest.json": raw,
                    "proof.json": proof,
                    "public_key.hex": key.hex().encode(),
                },  # fmt: skip
            )
        else:
            changed = resign(
                mutate_value(rng, own.manifest),
                own.key.private if hasattr(own.key, "private") else own.key,
            )
            bad = json.dumps(changed).encode()
            proof = json.dumps(rng.choice(own.proofs)).encode()
            tally.run(
                lambda bad=bad, proof=proof: verify_proof_bytes(proof, bad, own_key),
                lambda changed=changed: manifest_breaks_spec(changed),
                f"re-signed manifest {bad!r}",
                lambda bad=bad, proof=proof: {
                    "manifest.json": bad,
                    "proof.json": proof,
                    "public_key.hex": own_key.hex().encode(),
                },  # fmt: skip
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
        tally.run(
            lambda bad=bad: check(bad),
            lambda bad=bad: not same_leaves(bad, data),
            f"leaf list mutant {bad!r}",
            lambda bad=bad: {
                "liabilities.jsonl": bad,
                "original-liabilities.jsonl": data,
                "manifest.json": canonical_json(vector["manifest"]),
            },  # fmt: skip
        )


def same_leaves(a: bytes, b: bytes) -> bool:
    try:
        return [json.loads(x) for x in a.split(b"\n") if x.strip()] == [
            json.loads(x) for x in b.split(b"\n") if x.strip()
        ]
    except ValueError:
        return False


def run_target(target: Any, rng: random.Random, tally: Tally, cases: int) -> None:
    # One case first, not counted: the verifiers import the chain libraries lazily (about
    # 4 s on first use), which made the first reserves or bundle case "slow" whatever it held.
    with contextlib.suppress(Exception):
        target.case(random.Random(0))[0]()
    for n in range(cases):
        check, invalid = target.case(rng)
        tally.run(check, invalid, f"{type(target).__name__} case {n}: {target.last}", target.inputs)


def fuzz_browser(rng: random.Random, cases: int) -> dict[str, Any]:
    """Every vector case and `cases` corpus mutants through the page and the CLI verifier."""
    import subprocess

    from bench._browser import PageVerifier
    from bench._proof_corpus import cli_verdict, mutant_cases, own_snapshot, vector_cases
    from por.site import verifier_page

    own = own_snapshot()
    corpus = vector_cases() + list(mutant_cases(rng, cases, own))
    with PageVerifier(Path(str(verifier_page()))) as page:
        verdicts = page.verdicts(corpus)
    mismatch = tracebacks = 0
    first = ""
    by_verdict: dict[int, Any] = {}
    for case, (v, code, why) in zip(corpus, verdicts, strict=True):
        mine = cli_verdict(case.proof, case.manifest, case.key)
        by_verdict.setdefault(mine, case)
        tracebacks += mine == 3
        if mine != v:
            mismatch += 1
            first = first or (
                f"{case.label}: cli {mine}, page {v} {code}: {why}\n"
                f"  proof={case.proof[:3000]!r}\n  manifest={case.manifest[:3000]!r}"
            )
    sample_mismatch = 0
    with tempfile.TemporaryDirectory() as tmp:
        for verdict, case in sorted(by_verdict.items()):
            (Path(tmp) / "p.json").write_bytes(case.proof)
            (Path(tmp) / "m.json").write_bytes(case.manifest)
            run = subprocess.run(
                [sys.executable, "-m", "cli.main", "verify", "proof", f"{tmp}/p.json",
                 "--manifest", f"{tmp}/m.json", "--public-key", case.key],
                capture_output=True, cwd=Path(__file__).resolve().parents[1],
            )  # fmt: skip
            sample_mismatch += run.returncode != verdict
    return {
        "cases": len(corpus),
        "verdict_mismatch": mismatch,
        "cli_tracebacks": tracebacks,
        "cli_sample": len(by_verdict),
        "cli_sample_mismatch": sample_mismatch,
        "first": first,
    }


TARGETS = ("proofs", "manifests", "leaf_lists", "bundles", "reserves", "log", "ledger", "browser")


@contextlib.contextmanager
def bounded_memory(limit: int) -> Iterator[None]:
    """A clock jump that builds a list of every job instant fails here, not the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _stop(signum: int, frame: Any) -> None:
    raise Stopped()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=(*TARGETS, "all"), default="all")
    parser.add_argument("--cases", type=int, default=100_000, help="cases per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-gib", type=float, default=4.0, help="address-space cap")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="write each offending case's inputs here"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _stop)
    host = gauge()
    targets = TARGETS if args.target == "all" else (args.target,)
    failed = False
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        work = Path(tmp)
        demo = None
        for name in targets:
            rng = random.Random(f"{args.seed}:{name}")
            start = time.perf_counter()
            if name == "browser":
                r = fuzz_browser(rng, args.cases)
                wall = time.perf_counter() - start
                print(
                    f"target=browser cases={r['cases']} verdict_mismatch={r['verdict_mismatch']}"
                    f" cli_tracebacks={r['cli_tracebacks']} cli_sample={r['cli_sample']}"
                    f" cli_sample_mismatch={r['cli_sample_mismatch']} seed={args.seed}"
                    f" seconds={wall:.1f} gauge_s={host:.3f}",
                    flush=True,
                )
                if r["first"]:
                    print(f"browser first mismatch: {r['first']}", file=sys.stderr)
                failed |= bool(
                    r["verdict_mismatch"] or r["cli_sample_mismatch"] or r["cli_tracebacks"]
                )
                continue
            from exchange.errors import ExchangeError
            from por.reserves.errors import ReservesError

            tally = Tally(
                (PorError, ReservesError)
                if name == "reserves"
                else (PorError, ExchangeError)
                if name == "ledger"
                else (PorError,),
                keep=args.keep / name if args.keep else None,
            )
            if name in ("bundles", "reserves", "log") and demo is None:
                from bench._fuzz_targets import make_demo

                demo = make_demo(work)
            with bounded_memory(int(args.memory_gib * 2**30)):
                if name == "proofs":
                    fuzz_proofs(rng, tally, args.cases)
                elif name == "manifests":
                    fuzz_manifests(rng, tally, args.cases)
                elif name == "leaf_lists":
                    fuzz_leaf_lists(rng, tally, args.cases)
                else:
                    from bench import _fuzz_targets as t

                    target: Any
                    if name == "bundles":
                        target = t.BundleTarget(demo, work)
                    elif name == "reserves":
                        target = t.ReservesTarget(demo)
                    elif name == "log":
                        target = t.LogTarget(demo, work)
                    else:
                        target = t.LedgerTarget()
                    run_target(target, rng, tally, args.cases)
            wall = time.perf_counter() - start
            c = tally.counts
            print(
                f"target={name} cases={args.cases} rejected={c['rejected']}"
                f" accepted_valid={c['accepted_valid']} accepted_invalid={c['accepted_invalid']}"
                f" tracebacks={c['tracebacks']} slow={c['slow']} seed={args.seed}"
                f" seconds={wall:.1f} gauge_s={host:.3f}",
                flush=True,
            )
            for kind, text in tally.problems.items():
                print(f"{name} first {kind}: {text[:4000]}", file=sys.stderr)
            failed |= bool(c["accepted_invalid"] or c["tracebacks"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""The proof-and-manifest corpus: every shared vector case and seeded mutants of them.

One case is (label, proof bytes, manifest bytes, pinned key hex). Both the CLI's verifier
(`cli_verdict`) and the browser page (`bench/_browser.py`) take exactly these bytes, so
their verdicts can be compared one for one: 0 valid, 1 invalid, 2 unusable input (the
CLI's exit codes; the page's "valid" / "invalid" / "error").
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._fuzz_json import dump, mutant, mutate_text, mutate_value
from por._canonical import CanonicalJSONError, canonical_json
from por.builder.vectorgen import make_snapshot, random_accounts, shared_vector_files

__all__ = [
    "TRACEBACK",
    "Case",
    "Snapshot",
    "cli_verdict",
    "mutant_cases",
    "own_snapshot",
    "resign",
    "vector_cases",
    "vectors",
]


TRACEBACK = 3  # the verdict of a crash (the CLI's "internal error")


@dataclass(frozen=True, slots=True)
class Case:
    label: str
    proof: bytes
    manifest: bytes
    key: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot whose signing key we hold, so that mutants can be re-signed."""

    manifest: dict[str, Any]
    proofs: list[dict[str, Any]]
    sets: list[dict[str, Any]]
    key: Ed25519PrivateKey

    @property
    def key_hex(self) -> str:
        return str(self.manifest["public_key"])


def vectors() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, json.loads(p.read_text(encoding="utf-8"))) for p in shared_vector_files()]


def _raw(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def vector_cases() -> list[Case]:
    """Every proof, set and manifest case of every shared vector file."""
    cases: list[Case] = []
    for name, vec in vectors():
        manifest, key = _raw(vec["manifest"]), vec["manifest"]["public_key"]
        proof0 = _raw(vec["valid_proofs"][0])
        for i, p in enumerate(vec["valid_proofs"]):
            cases.append(Case(f"{name} valid_proofs[{i}]", _raw(p), manifest, key))
        for c in vec["invalid_proofs"]:
            cases.append(Case(f"{name} invalid proof {c['why']}", _raw(c["proof"]), manifest, key))
        for c in vec["invalid_manifests"]:
            cases.append(
                Case(f"{name} invalid manifest {c['why']}", proof0, _raw(c["manifest"]), key)
            )
        for i, s in enumerate(vec.get("proof_sets", [])):
            cases.append(Case(f"{name} proof_sets[{i}]", _raw(s["set"]), manifest, key))
        for c in vec.get("invalid_proof_sets", []):
            cases.append(Case(f"{name} invalid set {c['why']}", _raw(c["set"]), manifest, key))
    return cases


def own_snapshot(seed: int = 5) -> Snapshot:
    """A small snapshot signed by a key derived from `seed` (reproducible)."""
    rng = random.Random(seed)
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fuzz key %d" % seed).digest())
    accounts = random_accounts(rng, 6, 4, max_amount=10**20)
    vector, tree = make_snapshot("2026-11-24T16:00:00Z", accounts, signing_key=key)
    sets = []
    for proof in vector["valid_proofs"][:3]:
        sets.append(
            {
                "format": "por-proof-set/1",
                "snapshot_id": vector["snapshot_id"],
                "account_id": proof["account_id"],
                "proofs": [proof],
            }
        )
    return Snapshot(vector["manifest"], vector["valid_proofs"], sets, key)


def resign(manifest: Any, key: Ed25519PrivateKey) -> Any:
    """`manifest` signed again by `key` over its canonical JSON (as the exchange would);
    unchanged when it is not an object or has no canonical form."""
    if not isinstance(manifest, dict):
        return manifest
    body = {k: v for k, v in manifest.items() if k != "signature"}
    body["public_key"] = key.public_key().public_bytes_raw().hex()
    try:
        signed = canonical_json(body)
    except (CanonicalJSONError, UnicodeEncodeError, ValueError):
        return manifest
    return {**body, "signature": key.sign(signed).hex()}


def mutant_cases(rng: random.Random, count: int, own: Snapshot) -> Iterator[Case]:
    """`count` seeded mutants: proofs and sets against vector manifests, vector manifests
    changed after signing, and manifests of `own` changed and re-signed by its key (the
    exchange itself signing something the spec forbids)."""
    vecs = vectors()
    for n in range(count):
        name, vec = vecs[n % len(vecs)]
        manifest, key = vec["manifest"], vec["manifest"]["public_key"]
        roll = rng.random()
        if roll < 0.4:
            proof = rng.choice(vec["valid_proofs"])
            raw = _raw(proof)
            yield Case(f"{name} proof mutant {n}", mutant(rng, proof, raw), _raw(manifest), key)
        elif roll < 0.5 and vec.get("proof_sets"):
            s = rng.choice(vec["proof_sets"])["set"]
            yield Case(f"{name} set mutant {n}", mutant(rng, s, _raw(s)), _raw(manifest), key)
        elif roll < 0.6:
            proof = _raw(rng.choice(vec["valid_proofs"]))
            yield Case(
                f"{name} manifest mutant {n}", proof, mutant(rng, manifest, _raw(manifest)), key
            )
        else:
            k = rng.randrange(len(own.proofs))
            doc: Any = own.sets[k % len(own.sets)] if rng.random() < 0.2 else own.proofs[k]
            proof = _raw(doc)
            changed = resign(mutate_value(rng, own.manifest), own.key)
            raw = dump(changed, rng)
            if rng.random() < 0.15:
                raw = mutate_text(rng, raw)
            yield Case(f"own resigned manifest mutant {n}", proof, raw, own.key_hex)


def cli_verdict(proof: bytes, manifest: bytes, key_hex: str) -> int:
    """What `por verify proof PROOF --manifest MANIFEST --public-key KEY` exits with, in
    process: the same calls as `cli.verify._one_proof`, the same error-to-exit mapping
    (`TRACEBACK` for any other exception)."""
    from por.audit.batch import verify_document
    from por.errors import InputError, ManifestError, PorError, ProofError
    from por.manifest import parse_manifest_bytes, parse_public_key
    from por.proofset import parse_proof_document_bytes

    try:
        pinned = parse_public_key(key_hex)
        document = parse_proof_document_bytes(proof)
        try:
            parsed = parse_manifest_bytes(manifest)
        except ManifestError as exc:
            raise ProofError(5, str(exc)) from None
        verify_document(document, parsed, pinned)
    except InputError:
        return 2
    except PorError:
        return 1
    except Exception:  # a crash: `por` would print "internal error"
        return TRACEBACK
    return 0

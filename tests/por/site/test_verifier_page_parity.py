"""Issue 17, item 6: the browser verifier and `por verify proof` give one verdict per input.

The page and the CLI get the same file bytes (the page decodes them with its own
`por.decodeText`, as its file picker does) and must agree: valid (exit 0), invalid (exit 1)
or unusable input (exit 2). Four disagreements the adversarial review found are named
regressions; then every shared vector case and a seeded sample of the fuzz corpus
(`bench/fuzz_verify.py --target browser` runs the whole corpus) go through both. A few
cases also go through the real `por` executable, so the in-process verdict is the CLI's.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench._browser import VERDICTS_JS, encode_cases
from bench._proof_corpus import (
    Case,
    cli_verdict,
    mutant_cases,
    own_snapshot,
    resign,
    vector_cases,
)

SAMPLE = 400  # fuzz mutants per run of the suite (seeded); the bench runs 100,000


def page_verdicts(offline: Any, cases: list[Case]) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    for start in range(0, len(cases), 200):
        chunk = encode_cases(cases[start : start + 200])
        out.extend(tuple(r) for r in offline.page.evaluate(VERDICTS_JS, chunk))
    return out


def raw(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def disagreements(offline: Any, cases: list[Case]) -> list[str]:
    page = page_verdicts(offline, cases)
    return [
        f"{c.label}: cli {cli_verdict(c.proof, c.manifest, c.key)}, page {v} ({code}: {why})"
        for c, (v, code, why) in zip(cases, page, strict=True)
        if cli_verdict(c.proof, c.manifest, c.key) != v
    ]


@pytest.fixture(scope="module")
def own() -> Any:
    return own_snapshot()


def test_extra_proof_field_is_invalid_in_both(offline: Any, own: Any) -> None:
    proof = dict(own.proofs[0], note="hello")
    leaf = copy.deepcopy(own.proofs[0])
    leaf["leaf"]["extra"] = "1"
    root = copy.deepcopy(own.proofs[0])
    root["path"][0]["x"] = 1
    manifest = raw(own.manifest)
    cases = [Case(n, raw(p), manifest, own.key_hex) for n, p in
             (("top", proof), ("leaf", leaf), ("path node", root))]  # fmt: skip
    assert [cli_verdict(c.proof, c.manifest, c.key) for c in cases] == [1, 1, 1]
    assert [v for v, _, _ in page_verdicts(offline, cases)] == [1, 1, 1]


def test_utf8_bom_is_unusable_input_in_both(offline: Any, own: Any) -> None:
    bom = b"\xef\xbb\xbf"
    proof, manifest = raw(own.proofs[0]), raw(own.manifest)
    cases = [
        Case("bom proof", bom + proof, manifest, own.key_hex),
        Case("bom manifest", proof, bom + manifest, own.key_hex),
    ]
    assert [cli_verdict(c.proof, c.manifest, c.key) for c in cases] == [2, 2]
    verdicts = page_verdicts(offline, cases)
    assert [(v, code) for v, code, _ in verdicts] == [(2, "json_invalid")] * 2, verdicts


def test_signed_manifest_integer_over_40_digits_is_invalid_in_both(offline: Any, own: Any) -> None:
    proof = raw(own.proofs[0])
    forty = resign(dict(own.manifest, extra=10**40 - 1), own.key)
    over = resign(dict(own.manifest, extra=10**40), own.key)
    negative = resign(dict(own.manifest, extra=-(10**40)), own.key)
    cases = [Case(f"extra {n}", proof, raw(m), own.key_hex) for n, m in
             (("40 digits", forty), ("41 digits", over), ("-41 chars", negative))]  # fmt: skip
    assert [cli_verdict(c.proof, c.manifest, c.key) for c in cases] == [0, 1, 1]
    assert [v for v, _, _ in page_verdicts(offline, cases)] == [0, 1, 1]


def test_decimals_39_to_255_are_valid_in_both_and_256_is_not(offline: Any, own: Any) -> None:
    proof = raw(own.proofs[0])
    cases = []
    for decimals in (38, 39, 200, 255, 256):
        manifest = copy.deepcopy(own.manifest)
        manifest["assets"][1]["decimals"] = decimals
        cases.append(
            Case(f"decimals {decimals}", proof, raw(resign(manifest, own.key)), own.key_hex)
        )
    assert [cli_verdict(c.proof, c.manifest, c.key) for c in cases] == [0, 0, 0, 0, 1]
    verdicts = page_verdicts(offline, cases)
    assert [v for v, _, _ in verdicts] == [0, 0, 0, 0, 1], verdicts


def test_every_vector_case_gets_the_same_verdict_in_both(offline: Any) -> None:
    cases = vector_cases()
    assert len(cases) > 400, "the shared vectors went missing"
    assert disagreements(offline, cases) == []


def test_a_sample_of_the_fuzz_corpus_gets_the_same_verdict_in_both(offline: Any, own: Any) -> None:
    cases = list(mutant_cases(random.Random(17), SAMPLE, own))
    verdicts = {cli_verdict(c.proof, c.manifest, c.key) for c in cases}
    assert verdicts >= {0, 1, 2}, f"the sample does not reach every verdict: {verdicts}"
    assert disagreements(offline, cases) == []


def test_in_process_verdict_is_the_exit_code_of_por_verify_proof(tmp_path: Path, own: Any) -> None:
    cases = list(mutant_cases(random.Random(3), 60, own))
    picked: dict[int, Case] = {}
    for c in cases:
        picked.setdefault(cli_verdict(c.proof, c.manifest, c.key), c)
    assert set(picked) >= {0, 1, 2}, picked.keys()
    for verdict, case in sorted(picked.items()):
        (tmp_path / "p.json").write_bytes(case.proof)
        (tmp_path / "m.json").write_bytes(case.manifest)
        run = subprocess.run(
            [sys.executable, "-m", "cli.main", "verify", "proof", str(tmp_path / "p.json"),
             "--manifest", str(tmp_path / "m.json"), "--public-key", case.key],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[3],
        )  # fmt: skip
        assert run.returncode == verdict, f"{case.label}: {run.stderr}"
        assert "Traceback" not in run.stderr


IDENTITY = "01" + "00" * 31
WEAK_KEYS = {
    "identity (order 1)": IDENTITY,
    "y = 0 (order 4)": "00" * 32,
    "y = -1 (order 2)": "ec" + "ff" * 30 + "7f",
    "order 8": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "identity with the sign bit set": "01" + "00" * 30 + "80",
    "y = p": "ed" + "ff" * 30 + "7f",
    "not on the curve": "02" + "00" * 31,
    "mixed order": "b154bd62188ae283dd187fefe8c31f5e276edf083b4cff11c9d5cff856c74440",
}


def test_weak_keys_are_refused_in_both_pinned_or_named_by_the_manifest(
    offline: Any, own: Any
) -> None:
    """Issue 17 item 4 on the page: a weak pinned key is unusable input (exit 2); a manifest
    naming one, "signed" with the trivial signature R = identity, S = 0, is invalid."""
    proof = raw(own.proofs[0])
    cases = []
    for name, key in WEAK_KEYS.items():
        cases.append(Case(f"pinned {name}", proof, raw(own.manifest), key))
        named = dict(own.manifest, public_key=key, signature=IDENTITY + "00" * 32)
        cases.append(Case(f"named {name}", proof, raw(named), own.key_hex))
    cases.append(Case("honest", proof, raw(own.manifest), own.key_hex))
    expected = [2, 1] * len(WEAK_KEYS) + [0]
    assert [cli_verdict(c.proof, c.manifest, c.key) for c in cases] == expected
    verdicts = page_verdicts(offline, cases)
    assert [v for v, _, _ in verdicts] == expected, verdicts
    assert {code for v, code, _ in verdicts if v == 2} == {"key_weak"}

"""The page's verify function, driven through every shared vector and the edge cases.

All cases of one file run in one page.evaluate call against a page opened offline.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from por._canonical import canonical_json


def human(raw: str, decimals: int) -> str:
    """Reference for the page's formatting: exact decimal, trailing zeros dropped."""
    whole, frac = divmod(int(raw), 10**decimals)
    digits = str(frac).rjust(decimals, "0").rstrip("0") if decimals else ""
    return f"{whole}.{digits}" if digits else str(whole)


def sign(manifest: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Re-sign a manifest with our own key over the project's canonical JSON."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    body["public_key"] = key.public_key().public_bytes_raw().hex()
    body["signature"] = key.sign(canonical_json(body)).hex()
    return body


def test_human_reference_formats_exactly() -> None:
    assert human("55952670379", 8) == "559.52670379", "satoshis to BTC"
    assert human("1000000", 6) == "1", "a whole amount has no fraction"
    assert human("5", 18) == "0.000000000000000005", "a tiny amount keeps its leading zeros"
    assert human("120", 0) == "120", "zero decimals"


def test_page_loaded_offline_without_errors_or_requests(offline: Any) -> None:
    assert offline.errors == [], f"page errors: {offline.errors}"
    assert offline.routed == [offline.url], f"requests other than the page: {offline.routed}"
    assert offline.requests == [offline.url], f"requests other than the page: {offline.requests}"


def test_every_valid_vector_proof_is_valid_with_its_balances(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    for name, vec in vector_files:
        manifest, key = vec["manifest"], vec["manifest"]["public_key"]
        results = offline.verify_many([(p, manifest, key) for p in vec["valid_proofs"]])
        assert results, f"{name}: no valid proofs in the vector"
        for i, (proof, result) in enumerate(zip(vec["valid_proofs"], results, strict=True)):
            where = f"{name} valid_proofs[{i}]"
            assert result["status"] == "valid", f"{where}: {result['code']}: {result['reason']}"
            assert [c["state"] for c in result["checks"]] == ["pass"] * 5, f"{where}: checks"
            expected = [
                {
                    "symbol": asset["symbol"],
                    "decimals": asset["decimals"],
                    "equity": proof["leaf"]["equity"][j],
                    "debt": proof["leaf"]["debt"][j],
                    "equity_human": human(proof["leaf"]["equity"][j], asset["decimals"]),
                    "debt_human": human(proof["leaf"]["debt"][j], asset["decimals"]),
                }
                for j, asset in enumerate(vec["assets"])
            ]
            assert result["balances"] == expected, f"{where}: balances"
            assert result["facts"]["account_id"] == proof["account_id"], f"{where}: account"
            assert result["facts"]["log_size"] == str(manifest["log"]["size"]), f"{where}: log"


def test_every_invalid_vector_proof_is_invalid_with_a_reason(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    for name, vec in vector_files:
        manifest, key = vec["manifest"], vec["manifest"]["public_key"]
        cases = vec["invalid_proofs"]
        results = offline.verify_many([(c["proof"], manifest, key) for c in cases])
        assert results, f"{name}: no invalid proofs in the vector"
        for case, result in zip(cases, results, strict=True):
            where = f"{name} invalid proof {case['why']!r}"
            assert result["status"] == "invalid", f"{where}: got {result['status']}"
            assert 1 <= result["check"] <= 5, f"{where}: failing check {result['check']}"
            assert result["code"] != "internal_error", f"{where}: {result['reason']}"
            assert result["reason"], f"{where}: no reason"
            assert result["balances"] == [], f"{where}: balances shown for an invalid proof"


def test_every_invalid_vector_manifest_is_invalid_at_the_manifest_check(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    for name, vec in vector_files:
        key = vec["manifest"]["public_key"]
        proof = vec["valid_proofs"][0]
        cases = vec["invalid_manifests"]
        results = offline.verify_many([(proof, c["manifest"], key) for c in cases])
        assert results, f"{name}: no invalid manifests in the vector"
        for case, result in zip(cases, results, strict=True):
            where = f"{name} invalid manifest {case['why']!r}"
            assert result["status"] == "invalid", f"{where}: got {result['status']}"
            assert result["check"] == 5, f"{where}: failed check {result['check']}"
            assert result["code"] != "internal_error", f"{where}: {result['reason']}"


def test_named_attacks_fail_the_check_the_spec_assigns(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    name, vec = vector_files[0]
    by_why = {c["why"]: c["proof"] for c in vec["invalid_proofs"]}
    manifest, key = vec["manifest"], vec["manifest"]["public_key"]
    expected = {
        "sibling equity lowered (Maxwell sum attack)": (4, "root_hash_mismatch"),
        "amount as JSON number": (1, "amount_must_be_string"),
        "amount not canonical (leading zero)": (1, "amount_not_canonical"),
        "amount beyond u128": (1, "amount_beyond_u128"),
        "wrong nonce": (2, "tag_mismatch"),
        "index beyond tree": (3, "index_beyond_tree"),
        "unknown format": (1, "format_unknown"),
    }
    present = {why: want for why, want in expected.items() if why in by_why}
    assert present, f"{name}: none of the named attacks is in the vector"
    results = offline.verify_many([(by_why[why], manifest, key) for why in present])
    for (why, want), result in zip(present.items(), results, strict=True):
        assert (result["check"], result["code"]) == want, f"{why}: {result['reason']}"


def test_vector_signed_bytes_equal_the_pages_canonical_json(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    for name, vec in vector_files:
        text = json.dumps(
            {k: v for k, v in vec["manifest"].items() if k != "signature"}, ensure_ascii=False
        )
        got = offline.page.evaluate("(t) => por.canonicalJson(por.parseJson(t, 'x'))", text)
        assert got.encode("utf-8") == vec["log"]["signed_bytes"].encode("utf-8"), name


def test_wrong_pinned_key_is_invalid_even_for_a_valid_proof(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    result = offline.verify(vec["valid_proofs"][0], vec["manifest"], other)
    assert result["status"] == "invalid", result["reason"]
    assert (result["check"], result["code"]) == (5, "key_not_pinned"), result["reason"]
    assert [c["state"] for c in result["checks"]] == ["pass"] * 4 + ["fail"]


def test_manifest_resigned_by_another_key_verifies_only_under_that_key(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    ours = Ed25519PrivateKey.generate()
    manifest = sign(vec["manifest"], ours)
    proof = vec["valid_proofs"][0]
    pinned_original, pinned_ours = offline.verify_many(
        [
            (proof, manifest, vec["manifest"]["public_key"]),
            (proof, manifest, manifest["public_key"]),
        ]
    )
    assert pinned_original["code"] == "key_not_pinned", pinned_original["reason"]
    assert pinned_ours["status"] == "valid", pinned_ours["reason"]


def test_pinned_key_is_read_leniently_but_must_be_hex(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    key = vec["manifest"]["public_key"]
    proof, manifest = vec["valid_proofs"][0], vec["manifest"]
    spaced, empty, short = offline.verify_many(
        [(proof, manifest, f"  0x{key.upper()}\n"), (proof, manifest, ""), (proof, manifest, "ab")]
    )
    assert spaced["status"] == "valid", spaced["reason"]
    assert (empty["status"], empty["code"]) == ("error", "key_missing"), empty["reason"]
    assert (short["status"], short["code"]) == ("error", "key_not_hex"), short["reason"]


def test_manifest_integers_beyond_2_pow_53_keep_their_exact_value(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    ours = Ed25519PrivateKey.generate()
    manifest = copy.deepcopy(vec["manifest"])
    manifest["log"]["size"] = 2**60 + 1  # a double would round this to 2^60
    signed = sign(manifest, ours)
    result = offline.verify(vec["valid_proofs"][0], signed, signed["public_key"])
    assert result["status"] == "valid", result["reason"]
    assert result["facts"]["log_size"] == str(2**60 + 1), "log size lost precision"


def test_signed_manifest_with_float_boolean_or_null_is_invalid(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    ours = Ed25519PrivateKey.generate()
    pub = ours.public_key().public_bytes_raw().hex()
    cases = []
    for extra in (1.5, True, None, 1e3):
        body = {k: v for k, v in vec["manifest"].items() if k != "signature"}
        body["public_key"] = pub
        body["extra"] = extra
        signed_text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        body["signature"] = ours.sign(signed_text.encode("utf-8")).hex()
        cases.append((vec["valid_proofs"][0], body, pub))
    for extra, result in zip((1.5, True, None, 1e3), offline.verify_many(cases), strict=True):
        assert result["status"] == "invalid", f"{extra!r}: {result['reason']}"
        assert result["code"] == "manifest_not_canonical", f"{extra!r}: {result['reason']}"
        assert "manifest.extra" in result["reason"], result["reason"]


def test_proof_without_account_id_and_nonce_is_valid_with_the_tag_unchecked(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    proof = {k: v for k, v in vec["valid_proofs"][0].items() if k not in ("account_id", "nonce")}
    half = {k: v for k, v in vec["valid_proofs"][0].items() if k != "nonce"}
    anonymous, half_result = offline.verify_many(
        [
            (proof, vec["manifest"], vec["manifest"]["public_key"]),
            (half, vec["manifest"], vec["manifest"]["public_key"]),
        ]
    )
    assert anonymous["status"] == "valid", anonymous["reason"]
    assert anonymous["checks"][1]["state"] == "skip", "tag check should be skipped"
    assert "not checked" in anonymous["reason"], anonymous["reason"]
    assert (half_result["check"], half_result["code"]) == (1, "account_half_present")


def test_proof_and_manifest_of_different_snapshots_or_heights_are_invalid(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    by_height = {vec["height"]: vec for _, vec in vector_files}
    assert len(by_height) >= 2, "need two vectors of different heights"
    low, high = by_height[min(by_height)], by_height[max(by_height)]
    key = high["manifest"]["public_key"]
    result = offline.verify(low["valid_proofs"][0], high["manifest"], key)
    assert result["status"] == "invalid", result["reason"]
    assert result["check"] == 5, result["reason"]


def test_unreadable_input_is_an_error_not_a_verdict(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    manifest, key = vec["manifest"], vec["manifest"]["public_key"]
    proof_text = json.dumps(vec["valid_proofs"][0])
    cases = [
        ("{not json", manifest, key),
        (proof_text + " x", manifest, key),
        ("\ufeff" + proof_text, manifest, key),
        ("", manifest, key),
        (proof_text, "  ", key),
    ]
    codes = [r["code"] for r in offline.verify_many(cases)]
    assert codes == ["json_invalid"] * 3 + ["proof_missing", "manifest_missing"], codes


def test_json_no_proof_holds_is_invalid_like_the_cli_says(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    """A key twice, nesting deeper than 64 or a 41-digit integer is JSON, but no proof:
    invalid at check 1 (exit 1 of `por verify proof`), not unreadable."""
    _, vec = vector_files[0]
    manifest, key = vec["manifest"], vec["manifest"]["public_key"]
    proof = vec["valid_proofs"][0]
    index = json.dumps(proof).replace('"index": ', '"index": ' + "9" * 41, 1)
    cases = [
        ('{"format": "por-proof/1", "format": "por-proof/1"}', manifest, key),
        ("[" * 5000 + "]" * 5000, manifest, key),
        ("[" * 65 + "]" * 65, manifest, key),
        (index, manifest, key),
    ]
    results = offline.verify_many(cases)
    assert [(r["status"], r["check"]) for r in results] == [("invalid", 1)] * 4, results


def test_failed_check_stops_the_later_ones(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    proof = copy.deepcopy(vec["valid_proofs"][0])
    proof["leaf"]["index"] = 1.0
    result = offline.verify(proof, vec["manifest"], vec["manifest"]["public_key"])
    assert result["code"] == "index_not_integer", result["reason"]
    assert [c["state"] for c in result["checks"]] == ["fail"] + ["not-run"] * 4


def test_path_sums_beyond_u128_are_rejected(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    _, vec = vector_files[0]
    proof = copy.deepcopy(vec["valid_proofs"][0])
    proof["path"][0]["equity"][0] = str(2**128 - 1)
    proof["leaf"]["equity"][0] = "1"
    result = offline.verify(proof, vec["manifest"], vec["manifest"]["public_key"])
    assert (result["check"], result["code"]) == (4, "sum_beyond_u128"), result["reason"]


_BMP_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0xFFFF), max_size=8
)
_VALUES = st.recursive(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
        # at most 40 characters, as the CLI reads integers (por._input)
        st.integers(min_value=-(10**39 - 1), max_value=10**40 - 1),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_BMP_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_VALUES, min_size=1, max_size=8))
def test_pages_canonical_json_equals_the_python_one(offline: Any, values: list[Any]) -> None:
    texts = [json.dumps(v, ensure_ascii=bool(i % 2)) for i, v in enumerate(values)]
    got = offline.page.evaluate(
        "(ts) => ts.map((t) => por.canonicalJson(por.parseJson(t, 'x')))", texts
    )
    want = [canonical_json(v).decode("utf-8") for v in values]
    assert got == want

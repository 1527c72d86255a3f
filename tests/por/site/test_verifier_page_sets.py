"""The page on `por-proof-set/1` (spec "Pieces: one account in several leaves").

Every `proof_sets[]` of every vector file must verify and report its `claim` to the unit;
every `invalid_proof_sets[]` must be rejected naming the set rule (and the element) that
failed. The page is opened from file:// with the network off, as in the other page tests.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from por.amounts import format_units

REPORT_SCREENSHOT = Path("/tmp/verifier-set.png")

# The rule (and code) the spec assigns to each named invalid set of the vectors.
EXPECTED_REJECTIONS = {
    "a piece of another account": (2, "piece_account_id_mismatch"),
    "the same piece twice": (3, "piece_tag_repeated"),
    "empty proofs": (1, "proofs_count_out_of_range"),
    "257 elements (pieces repeated)": (1, "proofs_count_out_of_range"),
    "element with another snapshot_id (its leaf is in this tree)": (2, "snapshot_id_mismatch"),
    "element without nonce": (2, "account_half_present"),
    "element without account_id and nonce (the public copy)": (2, "piece_without_account"),
    "set account_id differs from its elements'": (2, "piece_account_id_mismatch"),
    "set snapshot_id differs from its elements'": (2, "piece_snapshot_id_mismatch"),
    "one element's sibling equity lowered (Maxwell sum attack)": (2, "root_hash_mismatch"),
    "unknown set format": (1, "set_format_unknown"),
    "element is a valid proof of another snapshot's tree": (2, "snapshot_id_mismatch"),
}


@pytest.fixture(scope="module")
def split_vectors(vector_files: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, Any]]:
    """The vector files that hold proof sets; at least one must (public-split.json)."""
    found = [(name, vec) for name, vec in vector_files if vec.get("proof_sets")]
    assert found, "no vector file with proof_sets: expected public-split.json"
    return found


def claim_rows(vec: dict[str, Any], claim: dict[str, list[str]]) -> list[dict[str, Any]]:
    """What the page must report for a claim: exact units and human units per asset."""
    return [
        {
            "symbol": asset["symbol"],
            "decimals": asset["decimals"],
            "equity": claim["equity"][j],
            "debt": claim["debt"][j],
            "equity_human": format_units(int(claim["equity"][j]), asset["decimals"]),
            "debt_human": format_units(int(claim["debt"][j]), asset["decimals"]),
        }
        for j, asset in enumerate(vec["assets"])
    ]


def a_multi_piece_set(split_vectors: list[tuple[str, Any]]) -> tuple[dict[str, Any], Any]:
    """(vector, proof_sets entry) of the first set with more than one piece."""
    for _, vec in split_vectors:
        for entry in vec["proof_sets"]:
            if len(entry["set"]["proofs"]) > 1:
                return vec, entry
    raise AssertionError("no proof set with several pieces in the vectors")


def test_every_vector_proof_set_is_valid_and_reports_its_claim_to_the_unit(
    offline: Any, split_vectors: list[tuple[str, Any]]
) -> None:
    for name, vec in split_vectors:
        manifest, key = vec["manifest"], vec["manifest"]["public_key"]
        entries = vec["proof_sets"]
        results = offline.verify_many([(e["set"], manifest, key) for e in entries])
        for i, (entry, result) in enumerate(zip(entries, results, strict=True)):
            where = f"{name} proof_sets[{i}] ({entry['account_id']!r})"
            assert result["status"] == "valid", f"{where}: {result['code']}: {result['reason']}"
            assert result["kind"] == "set", where
            assert [c["state"] for c in result["checks"]] == ["pass"] * 3, f"{where}: rules"
            assert result["pieces"] == len(entry["set"]["proofs"]), f"{where}: piece count"
            assert result["balances"] == claim_rows(vec, entry["claim"]), f"{where}: claim"
            assert result["facts"]["account_id"] == entry["account_id"], f"{where}: account"
            assert result["facts"]["pieces"] == str(len(entry["set"]["proofs"])), where
    assert offline.errors == [], offline.errors


def test_every_invalid_vector_proof_set_is_invalid_naming_the_rule_and_element(
    offline: Any, split_vectors: list[tuple[str, Any]]
) -> None:
    for name, vec in split_vectors:
        manifest, key = vec["manifest"], vec["manifest"]["public_key"]
        cases = vec["invalid_proof_sets"]
        assert cases, f"{name}: no invalid proof sets in the vector"
        results = offline.verify_many([(c["set"], manifest, key) for c in cases])
        for case, result in zip(cases, results, strict=True):
            where = f"{name} invalid set {case['why']!r}"
            assert result["status"] == "invalid", f"{where}: got {result['status']}"
            assert result["kind"] == "set", where
            assert 1 <= result["check"] <= 3, f"{where}: failed rule {result['check']}"
            assert result["code"] != "internal_error", f"{where}: {result['reason']}"
            assert result["reason"], f"{where}: no reason"
            assert result["balances"] == [], f"{where}: a claim shown for an invalid set"
            states = [c["state"] for c in result["checks"]]
            assert states[result["check"] - 1] == "fail", f"{where}: {states}"
            if result["check"] > 1:
                element = result["element"]
                assert isinstance(element, int), f"{where}: no failing element named"
                assert f"proofs[{element}]" in result["reason"], f"{where}: {result['reason']}"
    assert offline.errors == [], offline.errors


def test_named_invalid_sets_fail_the_rule_the_spec_assigns(
    offline: Any, split_vectors: list[tuple[str, Any]]
) -> None:
    for name, vec in split_vectors:
        by_why = {c["why"]: c["set"] for c in vec["invalid_proof_sets"]}
        present = {why: want for why, want in EXPECTED_REJECTIONS.items() if why in by_why}
        assert len(present) >= len(EXPECTED_REJECTIONS) // 2, f"{name}: named cases renamed?"
        manifest, key = vec["manifest"], vec["manifest"]["public_key"]
        results = offline.verify_many([(by_why[why], manifest, key) for why in present])
        for (why, want), result in zip(present.items(), results, strict=True):
            assert (result["check"], result["code"]) == want, f"{why}: {result['reason']}"


def test_a_failing_piece_names_its_index_and_its_own_failed_check(
    offline: Any, split_vectors: list[tuple[str, Any]]
) -> None:
    vec, entry = a_multi_piece_set(split_vectors)
    broken = copy.deepcopy(entry["set"])
    last = len(broken["proofs"]) - 1
    broken["proofs"][last]["path"][0]["equity"][0] = "0"  # lower a sibling sum
    broken["proofs"][last]["path"][0]["hash"] = "00" * 32
    result = offline.verify(broken, vec["manifest"], vec["manifest"]["public_key"])
    assert (result["check"], result["element"], result["element_check"]) == (2, last, 4), result
    assert [c["state"] for c in result["element_checks"]] == ["pass"] * 3 + ["fail", "not-run"]
    assert result["reason"].startswith(f"proofs[{last}] (piece {last + 1} of {last + 1})")
    assert [c["state"] for c in result["checks"]] == ["pass", "fail", "not-run"]


def test_one_piece_set_reports_the_same_balances_as_the_proof_alone(
    offline: Any, vector_files: list[tuple[str, dict[str, Any]]]
) -> None:
    for name, vec in vector_files:
        proof = vec["valid_proofs"][0]
        wrapped = {
            "format": "por-proof-set/1",
            "snapshot_id": proof["snapshot_id"],
            "account_id": proof["account_id"],
            "proofs": [proof],
        }
        key = vec["manifest"]["public_key"]
        alone, as_set = offline.verify_many(
            [(proof, vec["manifest"], key), (wrapped, vec["manifest"], key)]
        )
        assert (alone["status"], as_set["status"]) == ("valid", "valid"), (name, as_set["reason"])
        assert (alone["kind"], as_set["kind"], as_set["pieces"]) == ("proof", "set", 1), name
        assert as_set["balances"] == alone["balances"], name


def test_256_pieces_pass_the_count_rule_and_257_do_not(
    offline: Any, split_vectors: list[tuple[str, Any]]
) -> None:
    vec, entry = a_multi_piece_set(split_vectors)
    pieces = entry["set"]["proofs"]
    at_bound = dict(entry["set"], proofs=[pieces[k % len(pieces)] for k in range(256)])
    beyond = dict(entry["set"], proofs=[pieces[k % len(pieces)] for k in range(257)])
    key = vec["manifest"]["public_key"]
    ok_count, too_many = offline.verify_many(
        [(at_bound, vec["manifest"], key), (beyond, vec["manifest"], key)]
    )
    # 256 repeated pieces get past the count (rule 1) and fail as repeated leaves (rule 3).
    assert (ok_count["check"], ok_count["code"]) == (3, "piece_tag_repeated"), ok_count["reason"]
    assert ok_count["element"] == len(pieces), ok_count["reason"]
    assert (too_many["check"], too_many["code"]) == (1, "proofs_count_out_of_range")
    assert [c["state"] for c in too_many["checks"]] == ["fail", "not-run", "not-run"]


def test_malformed_sets_are_rejected_at_rule_1_or_unreadable(
    offline: Any, split_vectors: list[tuple[str, Any]]
) -> None:
    vec, entry = a_multi_piece_set(split_vectors)
    good = entry["set"]
    key = vec["manifest"]["public_key"]
    lone = json.dumps(dict(good, account_id="x"), ensure_ascii=False).replace(
        '"account_id": "x"', '"account_id": "\\ud800"', 1
    )
    cases: list[tuple[Any, str]] = [
        (dict(good, account_id=7), "string_expected"),
        (dict(good, proofs={"0": good["proofs"][0]}), "proofs_not_list"),
        (dict(good, proofs=[good["proofs"][0], "not a proof"]), "piece_not_object"),
        ({k: v for k, v in good.items() if k != "snapshot_id"}, "field_missing"),
        ({"proofs": good["proofs"]}, "field_missing"),
    ]
    results = offline.verify_many([(s, vec["manifest"], key) for s, _ in cases])
    for (_, code), result in zip(cases, results, strict=True):
        assert (result["status"], result["kind"], result["check"]) == ("invalid", "set", 1), code
        assert result["code"] == code, result["reason"]
    text = json.dumps(good, ensure_ascii=False)
    unreadable = offline.verify_many(
        [(text[:-1], vec["manifest"], key), (text + text, vec["manifest"], key)]
    )
    assert [r["code"] for r in unreadable] == ["json_invalid", "json_invalid"]
    # a lone surrogate in a set is unusable input, as `por verify proof` says (exit 2)
    surrogate = offline.verify(lone, vec["manifest"], key)
    assert (surrogate["status"], surrogate["code"]) == ("error", "string_not_unicode"), surrogate
    assert offline.errors == [], offline.errors


def verify_in_page(page: Any, proof_text: str) -> None:
    """Paste the proof, press Verify, wait for a fresh verdict."""
    page.evaluate("() => { document.querySelector('#verdict').className = ''; }")
    page.fill("#proof-text", proof_text)
    page.click("#verify")
    page.wait_for_selector("#verdict.valid, #verdict.invalid, #verdict.error")


def test_pasted_sets_show_valid_and_the_claim_in_exact_units(
    open_page: Any, page_url: str, split_vectors: list[tuple[str, Any]], tmp_path: Path
) -> None:
    ui = open_page(page_url)
    page = ui.page
    page.set_viewport_size({"width": 900, "height": 1300})
    page.click("summary >> nth=0")
    page.click("summary >> nth=1")
    shot = tmp_path / "verifier-set.png"
    for name, vec in split_vectors:
        page.fill("#manifest-text", json.dumps(vec["manifest"]))
        page.fill("#key", vec["manifest"]["public_key"])
        for i, entry in enumerate(vec["proof_sets"]):
            where = f"{name} proof_sets[{i}]"
            verify_in_page(page, json.dumps(entry["set"], ensure_ascii=False))
            assert page.text_content("#verdict") == "VALID", page.text_content("#reason")
            assert page.locator("#checks > li[data-state=pass]").count() == 3, where
            pieces = len(entry["set"]["proofs"])
            assert page.get_attribute("#balances", "data-pieces") == str(pieces), where
            for j, asset in enumerate(vec["assets"]):
                row = page.locator(f"#balance-rows tr[data-symbol='{asset['symbol']}']")
                for side in ("equity", "debt"):
                    units = row.locator(f"td.{side}").get_attribute("data-units")
                    assert units == entry["claim"][side][j], f"{where} {asset['symbol']} {side}"
                human = format_units(int(entry["claim"]["equity"][j]), asset["decimals"])
                shown = row.locator("td.equity").text_content() or ""
                assert shown.startswith(f"{human} {asset['symbol']}"), f"{where}: {shown!r}"
            facts = page.text_content("#facts") or ""
            assert entry["account_id"] in facts and "Pieces" in facts, f"{where}: {facts!r}"
            if pieces > 1:
                title = page.text_content("#balances-title") or ""
                assert f"sum of your {pieces} pieces" in title, title
                if not shot.exists():
                    page.screenshot(path=str(shot), full_page=True)
    with contextlib.suppress(OSError):  # a copy for humans; best effort outside tmp_path
        shutil.copyfile(shot, REPORT_SCREENSHOT)
    assert ui.routed == [ui.url] and ui.requests == [ui.url], f"network use: {ui.requests}"
    assert ui.errors == [], ui.errors


def test_pasted_invalid_set_shows_the_rule_the_piece_and_its_failed_check(
    open_page: Any, page_url: str, split_vectors: list[tuple[str, Any]], tmp_path: Path
) -> None:
    _, vec = split_vectors[0]
    by_why = {c["why"]: c["set"] for c in vec["invalid_proof_sets"]}
    attack = by_why.get("one element's sibling equity lowered (Maxwell sum attack)")
    assert attack is not None, "the Maxwell case is missing from the vector"
    ui = open_page(page_url)
    page = ui.page
    page.click("summary >> nth=0")
    page.click("summary >> nth=1")
    page.fill("#manifest-text", json.dumps(vec["manifest"]))
    page.fill("#key", vec["manifest"]["public_key"])
    verify_in_page(page, json.dumps(attack, ensure_ascii=False))
    assert page.text_content("#verdict") == "INVALID"
    reason = page.text_content("#reason") or ""
    assert reason.startswith("Proof set check 2 failed: proofs["), reason
    assert "failed check 4" in reason, reason
    assert page.locator("#checks > li[data-check='2'][data-state=fail]").count() == 1
    nested = page.locator("#checks ol[data-element] li[data-check='4'][data-state=fail]")
    assert nested.count() == 1, "the failing piece's own check 4 is shown as failed"
    assert page.is_hidden("#balances"), "no claim for an invalid set"
    page.screenshot(path=str(tmp_path / "verifier-set-invalid.png"), full_page=True)
    with contextlib.suppress(OSError):
        shutil.copyfile(
            tmp_path / "verifier-set-invalid.png",
            REPORT_SCREENSHOT.with_name("verifier-set-invalid.png"),
        )
    assert ui.errors == [], ui.errors


def test_dropped_set_file_is_taken_as_the_proof(
    open_page: Any, page_url: str, split_vectors: list[tuple[str, Any]]
) -> None:
    vec, entry = a_multi_piece_set(split_vectors)
    page = open_page(page_url).page
    transfer = page.evaluate_handle(
        """([proofSet, manifest]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([proofSet], "my-proof-set.json", {type: "application/json"}));
            dt.items.add(new File([manifest], "manifest.json", {type: "application/json"}));
            return dt;
        }""",
        [json.dumps(entry["set"], ensure_ascii=False), json.dumps(vec["manifest"])],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_function(
        "() => document.querySelector('#manifest-loaded').textContent.includes('manifest.json')"
    )
    assert "my-proof-set.json" in (page.text_content("#proof-loaded") or "")
    page.fill("#key", vec["manifest"]["public_key"])
    page.click("#verify")
    page.wait_for_selector("#verdict.valid")
    assert page.get_attribute("#balances", "data-pieces") == str(len(entry["set"]["proofs"]))

"""The recomputation of reconciliation.json and the reserves checks, field by field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from por.audit.bundle import _Fail, check_reconciliation, check_reserves
from por.manifest import parse_manifest_bytes
from tests.por.audit.published import Published


def load(p: Published, name: str) -> Any:
    return json.loads((p.bundle() / name).read_text())


def inputs(p: Published) -> tuple[Any, Any, Any, Any]:
    raw = (p.bundle() / "manifest.json").read_bytes()
    return (
        parse_manifest_bytes(raw),
        json.loads(raw),
        load(p, "reconciliation.json"),
        load(p, "reserves.json"),
    )


def test_the_published_reconciliation_recomputes_exactly(published: Published) -> None:
    manifest, doc, report, reserves = inputs(published)
    assert check_reconciliation(report, manifest, doc, reserves).endswith(": PASS")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("liabilities", "1", "the signed root has"),
        ("reserves", "999999999999999999999", "reserves.json totals"),
        ("coverage_ppm", 999, "coverage_ppm 999, expected"),
        ("status", "FAIL", "reserves vs net give PASS"),
        ("custody_gap", "0", "custody gap 0, expected"),
        ("net_liabilities", "-1", "net liabilities -1"),
        ("debts", "01", "leading zero"),
    ],
)
def test_each_changed_reconciliation_number_is_caught(
    published: Published, field: str, value: Any, message: str
) -> None:
    manifest, doc, report, reserves = inputs(published)
    bad = copy.deepcopy(report)
    bad["assets"][0][field] = value
    with pytest.raises(_Fail, match=message):
        check_reconciliation(bad, manifest, doc, reserves)


def test_an_overall_verdict_that_contradicts_the_lines_is_caught(published: Published) -> None:
    manifest, doc, report, reserves = inputs(published)
    with pytest.raises(_Fail, match="overall status FAIL, the lines give PASS"):
        check_reconciliation({**report, "status": "FAIL"}, manifest, doc, reserves)
    with pytest.raises(_Fail, match="the manifest says FAIL"):
        check_reconciliation(report, manifest, {**doc, "reconciliation": "FAIL"}, reserves)


def test_the_published_reserves_verify_every_ownership_signature(published: Published) -> None:
    manifest, doc, _, reserves = inputs(published)
    assert "ownership signatures bound to the pinned key verify" in check_reserves(
        reserves, manifest, doc
    )


def test_a_signature_of_another_address_or_snapshot_is_caught(published: Published) -> None:
    manifest, doc, _, reserves = inputs(published)
    swapped = copy.deepcopy(reserves)
    eth = [i for i, o in enumerate(swapped["ownership"]) if o["chain"] == "ethereum"]
    a, b = swapped["ownership"][eth[0]], swapped["ownership"][eth[1]]
    a["signature"], b["signature"] = b["signature"], a["signature"]
    with pytest.raises(_Fail, match="recovers to"):
        check_reserves(swapped, manifest, doc)
    sol = next(o for o in reserves["ownership"] if o["chain"] == "solana")
    stale = copy.deepcopy(reserves)
    target = next(o for o in stale["ownership"] if o["address"] == sol["address"])
    target["message"] = target["message"].replace("2026-11-24T01", "2026-11-24T00")
    target["period"] = "2026-11-24T00:00:00Z"
    with pytest.raises(_Fail, match="signed for period '2026-11-24T00:00:00Z', expected"):
        check_reserves(stale, manifest, doc)
    text_only = copy.deepcopy(reserves)
    target = next(o for o in text_only["ownership"] if o["address"] == sol["address"])
    target["message"] = target["message"].replace("2026-11-24T01", "2026-11-24T00")
    with pytest.raises(_Fail, match="the signed text is not the text these fields give"):
        check_reserves(text_only, manifest, doc)


def test_a_wallet_with_reserves_but_no_proof_and_wrong_totals_are_caught(
    published: Published,
) -> None:
    manifest, doc, _, reserves = inputs(published)
    unproven = copy.deepcopy(reserves)
    unproven["ownership"] = unproven["ownership"][1:]
    with pytest.raises(_Fail, match="has no ownership proof"):
        check_reserves(unproven, manifest, doc)
    inflated = copy.deepcopy(reserves)
    inflated["totals"]["BTC"] = str(int(inflated["totals"]["BTC"]) + 1)
    with pytest.raises(_Fail, match="differ from the sum of the balances"):
        check_reserves(inflated, manifest, doc)
    moved = copy.deepcopy(reserves)
    moved["readings"][0]["pin"]["block"] += 1
    with pytest.raises(_Fail, match="is not the signed one"):
        check_reserves(moved, manifest, doc)


@pytest.mark.parametrize(
    ("view", "value"),
    [("collateral", 2**64), ("collateral", 37), ("collateral", 5), ("usd", 5)],
)
def test_price_decimals_are_bounded_and_one_scale_for_both_views(
    published: Published, view: str, value: int
) -> None:
    """Fuzz regression (bench/fuzz_verify.py --target bundles --seed 7, case 395): a re-signed
    reconciliation.json with collateral.price_decimals 2^64 passed. Both views are in USD x
    10^price_decimals of the same index prices (por.snapshot.reconcile), so the collateral
    view's scale is bounded like the USD view's and equal to it."""
    manifest, doc, report, reserves = inputs(published)
    assert report["usd"] is not None
    bad = copy.deepcopy(report)
    bad[view]["price_decimals"] = value
    with pytest.raises(_Fail, match="price_decimals"):
        check_reconciliation(bad, manifest, doc, reserves)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("exchange", "x\ud800"),
        ("wallets/0/nonce", "\udc00y"),
        ("x\ud800", "1"),
        ("readings/1/method", "\ud800"),
    ],
)
def test_a_lone_surrogate_in_reserves_is_refused_by_the_pure_check_not_a_crash(
    published: Published, where: str, value: str
) -> None:
    """Fuzz regressions (bench/fuzz_verify.py --target reserves --seed 1, cases 110 and
    322): given parsed reserves (as `verify reserves` parses them), a lone surrogate in
    `exchange` raised UnicodeEncodeError in por.reserves.ownership; in another string or
    key it passed. Such a string has no UTF-8 form: refused, whoever loaded the file."""
    manifest, doc, _, reserves = inputs(published)
    bad = copy.deepcopy(reserves)
    *path, last = where.split("/")
    node = bad
    for step in path:
        node = node[int(step)] if isinstance(node, list) else node[step]
    node[last] = value
    with pytest.raises(_Fail, match="not UTF-8 text"):
        check_reserves(bad, manifest, doc)


def test_a_reading_total_that_is_not_the_sum_of_its_balances_is_caught(
    published: Published,
) -> None:
    """Fuzz regression (bench/fuzz_verify.py --target reserves --seed 1, case 2319): each
    reading's `totals` (per chain) were never read, so any figure passed there."""
    manifest, doc, _, reserves = inputs(published)
    reading = reserves["readings"][0]
    assert reading["totals"], "the published reading states its totals"
    bad = copy.deepcopy(reserves)
    asset = sorted(reading["totals"])[0]
    bad["readings"][0]["totals"][asset] = str(int(reading["totals"][asset]) + 1)
    with pytest.raises(_Fail, match="totals .* differ from the sum of its balances"):
        check_reserves(bad, manifest, doc)
    missing = copy.deepcopy(reserves)
    del missing["readings"][0]["totals"][asset]
    with pytest.raises(_Fail, match="totals .* differ from the sum of its balances"):
        check_reserves(missing, manifest, doc)

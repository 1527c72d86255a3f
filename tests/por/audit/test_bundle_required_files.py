"""Issue 17 item 1: a bundle must carry every file its format requires, each in the
signed list, and every reconciliation figure is recomputed from the files.

Each bundle here is what a dishonest exchange can publish: files dropped or changed and
the manifest re-signed with its own (pinned) key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from por.audit.bundle import verify_bundle_dir
from tests.por.audit.dishonest import claim_reserves, json_bytes, resigned
from tests.por.audit.published import Published


def key(p: Published) -> bytes:
    return bytes.fromhex(p.public_key)


def statuses(report: Any) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def detail(report: Any, name: str) -> str:
    return next(c.detail for c in report.checks if c.name == name)


def reconciliation(p: Published) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((p.bundle() / "reconciliation.json").read_text())
    return data


def test_bundle_without_reserves_is_refused(published: Published, tmp_path: Path) -> None:
    claimed = claim_reserves(reconciliation(published), 10)
    bundle = resigned(
        published,
        tmp_path / "site",
        {"reserves.json": None, "reconciliation.json": json_bytes(claimed)},
    )
    report = verify_bundle_dir(bundle, key(published))
    assert not report.passed
    assert statuses(report)["reserves"] == "fail"
    assert "reserves.json" in detail(report, "reserves")
    assert statuses(report)["reconciliation"] == "fail"


def test_bundle_with_only_index_html_is_refused(published: Published, tmp_path: Path) -> None:
    names = [p.name for p in published.bundle().iterdir() if p.name != "manifest.json"]
    bundle = resigned(
        published,
        tmp_path / "site",
        {n: None for n in names if n != "index.html"},
        lambda doc: doc.pop("leaf_list"),
    )
    report = verify_bundle_dir(bundle, key(published))
    assert not report.passed
    assert {n for n, s in statuses(report).items() if s == "fail"} >= {
        "liabilities",
        "reconciliation",
        "reserves",
    }
    assert "reconciliation.json" in detail(report, "reconciliation")


def test_bundle_with_only_index_html_and_a_withheld_list_is_refused(
    published: Published, tmp_path: Path
) -> None:
    names = [p.name for p in published.bundle().iterdir() if p.name != "manifest.json"]
    bundle = resigned(
        published,
        tmp_path / "site",
        {n: None for n in names if n != "index.html"},
        lambda doc: doc.update(leaf_list={"mode": "none"}),
    )
    report = verify_bundle_dir(bundle, key(published))
    assert statuses(report)["liabilities"] == "skip"  # withheld, and said so: allowed
    assert statuses(report)["reconciliation"] == "fail"
    assert statuses(report)["reserves"] == "fail"


def test_bundle_without_leaf_list_or_a_withheld_statement_is_refused(
    published: Published, tmp_path: Path
) -> None:
    bundle = resigned(
        published,
        tmp_path / "site",
        {"liabilities.jsonl": None},
        lambda doc: doc.pop("leaf_list"),
    )
    report = verify_bundle_dir(bundle, key(published))
    assert statuses(report)["liabilities"] == "fail"
    assert "liabilities.jsonl" in detail(report, "liabilities")


def test_bundle_with_a_withheld_leaf_list_still_passes_every_other_check(
    published: Published, tmp_path: Path
) -> None:
    bundle = resigned(
        published,
        tmp_path / "site",
        {"liabilities.jsonl": None},
        lambda doc: doc.update(leaf_list={"mode": "none"}),
    )
    report = verify_bundle_dir(bundle, key(published))
    assert report.passed, report.checks
    assert statuses(report)["liabilities"] == "skip"


def _usd_reserves_inflated(report: dict[str, Any]) -> None:
    report["usd"]["reserves_usd"] = str(int(report["usd"]["reserves_usd"]) * 10)
    report["usd"]["surplus_usd"] = str(
        int(report["usd"]["reserves_usd"]) - int(report["usd"]["net_liabilities_usd"])
    )


def _usd_line_inflated(report: dict[str, Any]) -> None:
    report["usd"]["assets"][0]["reserves_usd"] = "1" + report["usd"]["assets"][0]["reserves_usd"]


def _coverage_object_inflated(report: dict[str, Any]) -> None:
    line = next(x for x in report["assets"] if x["coverage"] is not None)
    line["coverage"]["reserves"] = "1" + line["coverage"]["reserves"]


def _extra_figure(report: dict[str, Any]) -> None:
    report["assets"][0]["reserves_elsewhere"] = "1000000000"


def _collateral_total_inflated(report: dict[str, Any]) -> None:
    report["collateral"]["collateral_after_haircut_usd"] = "999999999999"


def _collateral_debt_understated(report: dict[str, Any]) -> None:
    report["collateral"]["assets"][0]["debt"] = "1"


@pytest.mark.parametrize(
    "edit",
    [
        _usd_reserves_inflated,
        _usd_line_inflated,
        _coverage_object_inflated,
        _extra_figure,
        _collateral_total_inflated,
        _collateral_debt_understated,
    ],
)
def test_reconciliation_figures_are_recomputed_not_trusted(
    published: Published, tmp_path: Path, edit: Any
) -> None:
    report = copy.deepcopy(reconciliation(published))
    edit(report)
    bundle = resigned(published, tmp_path / "site", {"reconciliation.json": json_bytes(report)})
    result = verify_bundle_dir(bundle, key(published))
    assert statuses(result)["reconciliation"] == "fail", result.checks
    assert {n for n, s in statuses(result).items() if s == "fail"} == {"reconciliation"}


def _tags_62_and_66(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    k = len(lines) - 3  # tags near the end start with "f": no leading "0" moves
    a = lines[k].split(b'"tag":"')[1][:64]
    b = lines[k + 1].split(b'"tag":"')[1][:64]
    assert b"0" not in a[:1] + a[62:63] + b[:1]
    lines[k] = lines[k].replace(a, a[:62])
    lines[k + 1] = lines[k + 1].replace(b, a[62:] + b)
    return b"".join(lines)


def test_bundle_with_62_and_66_char_tags_is_refused(published: Published, tmp_path: Path) -> None:
    data = (published.bundle() / "liabilities.jsonl").read_bytes()
    bundle = resigned(published, tmp_path / "site", {"liabilities.jsonl": _tags_62_and_66(data)})
    report = verify_bundle_dir(bundle, key(published))
    assert statuses(report)["liabilities"] == "fail"
    assert "tag" in detail(report, "liabilities")


def _put(doc: Any, where: str, value: Any) -> None:
    *path, last = where.split("/")
    for step in path:
        doc = doc[int(step)] if isinstance(doc, list) else doc[step]
    doc[last] = value


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("exchange", "x\ud800"),
        ("wallets/0/nonce", "\udc00y"),
        ("x\ud800", "1"),
        ("readings/1/method", "\ud800"),
    ],
)
def test_a_lone_surrogate_in_reserves_json_fails_the_bundle_not_a_crash(
    published: Published, tmp_path: Path, where: str, value: str
) -> None:
    """Fuzz regressions (bench/fuzz_verify.py --target bundles --seed 7 case 124, --target
    reserves --seed 1 cases 110, 322): a lone surrogate escape in reserves.json's
    `exchange` raised UnicodeEncodeError in por.reserves.ownership (a traceback of `verify
    bundle`); in another string or key, re-signed, the bundle passed. Such a string has
    no UTF-8 form (por._input.load_json_text): the signed file is refused, naming it."""
    reserves = json.loads((published.bundle() / "reserves.json").read_text())
    _put(reserves, where, value)
    bundle = resigned(published, tmp_path / "site", {"reserves.json": json_bytes(reserves)})
    report = verify_bundle_dir(bundle, key(published))
    assert not report.passed
    assert statuses(report)["reserves"] == "fail"
    assert "reserves.json: not UTF-8 text" in detail(report, "reserves")

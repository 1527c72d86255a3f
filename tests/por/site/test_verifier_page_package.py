"""The page as the package ships it: one self-contained file, script pinned by the CSP."""

from __future__ import annotations

import re
from pathlib import Path

from por.site import VERIFIER_PAGE, copy_verifier_page, verifier_page, verifier_page_bytes
from por.site._csp import csp_script_hash


def test_page_is_a_package_resource_with_the_spec_checks() -> None:
    page = verifier_page_bytes()
    assert page == verifier_page().read_bytes()
    assert page.startswith(b"<!doctype html>"), "not an HTML page"
    for needle in (b'{ name: "Ed25519" }', b'crypto.subtle.digest("SHA-256"', b"BigInt"):
        assert needle in page, f"{needle!r} missing"


def test_page_references_nothing_outside_itself() -> None:
    page = verifier_page_bytes().decode("utf-8")
    assert not re.search(r"https?://(?!127\.0\.0\.1)", page.replace("e.g.", "")), "absolute URL"
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(?!data:)", page), "ref"
    assert "@import" not in page and "url(" not in page, "CSS import"
    assert "default-src 'none'" in page, "CSP must forbid loading anything by default"


def test_csp_pins_the_inline_script_by_its_current_hash() -> None:
    page = verifier_page_bytes()
    expected = csp_script_hash(page)
    assert f"script-src '{expected}'".encode() in page, (
        f"CSP hash is stale: run `python -m por.site._csp` (expected {expected})"
    )
    assert b"unsafe-inline'; img" not in page.split(b"script-src")[1][:80], "script unpinned"


def test_copy_writes_the_exact_page_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = copy_verifier_page(tmp_path / "site")
    assert target == tmp_path / "site" / VERIFIER_PAGE
    assert target.read_bytes() == verifier_page_bytes()
    assert [p.name for p in target.parent.iterdir()] == [VERIFIER_PAGE], "temp file left"

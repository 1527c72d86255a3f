"""The verifier page as a user meets it: file pickers, paste, drag and drop, pinned key.

Opened from file:// with the network off; one screenshot is kept at /tmp/verifier.png for
the report (and one per run under tmp_path).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from por.site import copy_verifier_page

REPORT_SCREENSHOT = Path("/tmp/verifier.png")


def write_inputs(tmp_path: Path, vec: dict[str, Any], proof: dict[str, Any]) -> tuple[Path, Path]:
    proof_file = tmp_path / "my-proof.json"
    manifest_file = tmp_path / "manifest.json"
    proof_file.write_text(json.dumps(proof, ensure_ascii=False, indent=2), encoding="utf-8")
    manifest_file.write_text(json.dumps(vec["manifest"], indent=2), encoding="utf-8")
    return proof_file, manifest_file


@pytest.fixture
def basic(vector_files: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The smallest vector with an account id that is not plain ASCII, if any."""
    vec = min((v for _, v in vector_files), key=lambda v: v["leaf_count"])
    return vec


def test_picking_files_and_pinning_the_key_shows_valid_and_balances(
    open_page: Any, page_url: str, basic: dict[str, Any], tmp_path: Path
) -> None:
    ui = open_page(page_url)
    page = ui.page
    page.set_viewport_size({"width": 900, "height": 1200})
    proof = basic["valid_proofs"][0]
    proof_file, manifest_file = write_inputs(tmp_path, basic, proof)
    page.set_input_files("#proof-file", str(proof_file))
    page.set_input_files("#manifest-file", str(manifest_file))
    page.wait_for_function("() => document.querySelector('#manifest-loaded').textContent !== ''")
    page.fill("#key", basic["manifest"]["public_key"])
    page.click("#verify")
    page.wait_for_selector("#verdict.valid")
    assert page.text_content("#verdict") == "VALID"
    assert page.locator("#checks li[data-state=pass]").count() == 5, "all five checks pass"
    first = basic["assets"][0]
    row = page.locator(f"#balance-rows tr[data-symbol='{first['symbol']}']")
    raw = int(proof["leaf"]["equity"][0])
    whole, frac = divmod(raw, 10 ** first["decimals"])
    shown = row.locator("td.equity").text_content() or ""
    assert shown.startswith(f"{whole}"), f"equity shown as {shown!r}"
    assert f"{raw} smallest units" in shown, f"raw units missing in {shown!r}"
    assert proof["account_id"] in (page.text_content("#facts") or ""), "account id shown"
    page.screenshot(path=str(tmp_path / "verifier-valid.png"), full_page=True)
    with contextlib.suppress(OSError):  # a copy for humans; best effort outside tmp_path
        shutil.copyfile(tmp_path / "verifier-valid.png", REPORT_SCREENSHOT)
    assert ui.routed == [ui.url] and ui.requests == [ui.url], f"network use: {ui.requests}"
    assert ui.errors == [], ui.errors


def test_tampered_manifest_shows_invalid_with_the_failed_check(
    open_page: Any, page_url: str, basic: dict[str, Any], tmp_path: Path
) -> None:
    ui = open_page(page_url)
    page = ui.page
    tampered = basic["invalid_manifests"][0]["manifest"]
    page.click("summary >> nth=0")
    page.fill("#proof-text", json.dumps(basic["valid_proofs"][0], ensure_ascii=False))
    page.click("summary >> nth=1")
    page.fill("#manifest-text", json.dumps(tampered))
    page.fill("#key", basic["manifest"]["public_key"])
    page.press("#key", "Enter")
    page.wait_for_selector("#verdict.invalid")
    assert page.text_content("#verdict") == "INVALID"
    reason = page.text_content("#reason") or ""
    assert reason.startswith("Check 5 failed:"), reason
    assert page.locator("#checks li[data-check='5'][data-state=fail]").count() == 1
    assert page.is_hidden("#balances"), "no balances for an invalid proof"
    page.screenshot(path=str(tmp_path / "verifier-invalid.png"), full_page=True)
    with contextlib.suppress(OSError):
        shutil.copyfile(
            tmp_path / "verifier-invalid.png", REPORT_SCREENSHOT.with_name("verifier-invalid.png")
        )


def test_dropping_both_files_at_once_sorts_them_and_remembers_the_key(
    open_page: Any, page_url: str, basic: dict[str, Any]
) -> None:
    ui = open_page(page_url)
    page = ui.page
    transfer = page.evaluate_handle(
        """([manifest, proof]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([manifest], "a.json", {type: "application/json"}));
            dt.items.add(new File([proof], "b.json", {type: "application/json"}));
            return dt;
        }""",
        [json.dumps(basic["manifest"]), json.dumps(basic["valid_proofs"][1], ensure_ascii=False)],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_function(
        "() => document.querySelector('#proof-loaded').textContent.includes('b.json')"
    )
    assert "a.json" in (page.text_content("#manifest-loaded") or ""), "manifest recognised"
    page.fill("#key", basic["manifest"]["public_key"])
    page.check("#remember")
    page.click("#verify")
    page.wait_for_selector("#verdict.valid")
    key = basic["manifest"]["public_key"]
    assert reload_until_key(page, key) == key, "key not remembered"
    assert page.is_checked("#remember")
    page.uncheck("#remember")
    assert reload_until_key(page, "") == "", "key still remembered after unticking"


def reload_until_key(page: Any, expected: str, patience_s: float = 10.0) -> str:
    """Reload until the key field shows `expected`, or `patience_s` passes; returns what it shows.

    Chromium sends a localStorage write to the browser process over its own channel, so a reload
    issued at once may, rarely, read the store before the write lands (CI saw it once). What the
    page must do is remember the key across a reload, not win that race.
    """
    deadline = time.monotonic() + patience_s
    while True:
        page.reload()
        page.wait_for_function("() => window.por !== undefined")
        shown: str = page.input_value("#key")
        if shown == expected or time.monotonic() >= deadline:
            return shown
        time.sleep(0.2)


def test_verifying_without_a_key_asks_for_one(open_page: Any, page_url: str) -> None:
    page = open_page(page_url).page
    page.click("#verify")
    page.wait_for_selector("#verdict.error")
    assert page.text_content("#verdict") == "CANNOT VERIFY"
    assert "public key" in (page.text_content("#reason") or "")


@pytest.fixture
def served_site(tmp_path: Path, basic: dict[str, Any]) -> Iterator[str]:
    """The page and manifest served over http://127.0.0.1 (a secure context) on a free port."""
    copy_verifier_page(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(basic["manifest"]), encoding="utf-8")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_served_page_reads_the_manifest_from_its_own_site_only(
    browser: Any, served_site: str, basic: dict[str, Any], tmp_path: Path
) -> None:
    context = browser.new_context()
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        page = context.new_page()
        page.goto(f"{served_site}/verifier.html?manifest=manifest.json")
        page.wait_for_function(
            "() => document.querySelector('#manifest-loaded').textContent !== ''"
        )
        proof_file, _ = write_inputs(tmp_path, basic, basic["valid_proofs"][0])
        page.set_input_files("#proof-file", str(proof_file))
        page.wait_for_function("() => document.querySelector('#proof-loaded').textContent !== ''")
        page.fill("#key", basic["manifest"]["public_key"])
        page.click("#verify")
        page.wait_for_selector("#verdict.valid")
        page.goto(f"{served_site}/verifier.html?manifest=http://127.0.0.2:9/manifest.json")
        page.wait_for_function(
            "() => document.querySelector('#manifest-loaded').textContent !== ''"
        )
        assert "refused" in (page.text_content("#manifest-loaded") or "")
    finally:
        context.close()
    assert requests == [
        f"{served_site}/verifier.html?manifest=manifest.json",
        f"{served_site}/manifest.json",
        f"{served_site}/verifier.html?manifest=http://127.0.0.2:9/manifest.json",
    ], requests

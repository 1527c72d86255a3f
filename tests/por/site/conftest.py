"""Shared fixtures for the verifier page tests: Debian chromium driven by Playwright.

One browser per test module; pages are opened from file:// with the network switched off
and every request recorded, so a test can assert the page fetched nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from por.site import verifier_page

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[3]


def shared_vectors_dir() -> Path:
    """POR_SHARED_VECTORS, else the shared vectors beside the repository."""
    return Path(os.environ.get("POR_SHARED_VECTORS") or REPO.parent / "shared" / "vectors")


@pytest.fixture(scope="session")
def vector_files() -> list[tuple[str, dict[str, Any]]]:
    """Every vector file (name, parsed JSON); fails loudly when there are none."""
    directory = shared_vectors_dir()
    files = sorted(directory.glob("*.json"))
    if not files:
        pytest.fail(f"no test vectors at {directory} (set POR_SHARED_VECTORS to their directory)")
    return [(f.name, json.loads(f.read_text(encoding="utf-8"))) for f in files]


@pytest.fixture(scope="session")
def page_url() -> str:
    page = Path(str(verifier_page()))
    assert page.is_file(), f"verifier page missing at {page}"
    return page.resolve().as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: the in-browser verifier tests need Debian chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class OfflinePage:
    """A page loaded from file:// in an offline context that aborts every routed request."""

    page: Any
    context: Any
    url: str
    requests: list[str] = field(default_factory=list)
    routed: list[str] = field(default_factory=list)  # everything the route guard saw
    errors: list[str] = field(default_factory=list)

    def verify(self, proof: Any, manifest: Any, key: str) -> dict[str, Any]:
        return self.verify_many([(proof, manifest, key)])[0]

    def verify_many(self, cases: list[tuple[Any, Any, str]]) -> list[dict[str, Any]]:
        """Run por.verify on each (proof, manifest, key); dicts are sent as JSON text."""
        texts = [[as_text(p), as_text(m), k] for p, m, k in cases]
        results: list[dict[str, Any]] = self.page.evaluate(
            """async (cases) => {
                const out = [];
                for (const [p, m, k] of cases) out.push(await window.por.verify(p, m, k));
                return out;
            }""",
            texts,
        )
        return results


def as_text(value: Any) -> str:
    """Inputs as the user's file would hold them: JSON text, non-ASCII left as is."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)


def open_offline(browser: Any, url: str) -> OfflinePage:
    context = browser.new_context()
    context.set_offline(True)
    holder = OfflinePage(page=None, context=context, url=url)

    def guard(route: Any) -> None:
        holder.routed.append(route.request.url)
        if route.request.url == url and route.request.resource_type == "document":
            route.continue_()  # the page itself, read from disk
        else:
            route.abort()

    context.route("**/*", guard)
    context.on("request", lambda request: holder.requests.append(request.url))
    page = context.new_page()
    page.on("pageerror", lambda error: holder.errors.append(str(error)))
    page.on("console", lambda msg: holder.errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url)
    page.wait_for_function("() => window.por !== undefined")
    holder.page = page
    return holder


@pytest.fixture(scope="module")
def offline(browser: Any, page_url: str) -> Iterator[OfflinePage]:
    holder = open_offline(browser, page_url)
    try:
        yield holder
    finally:
        holder.context.close()


@pytest.fixture(scope="module")
def open_page(browser: Any) -> Iterator[Any]:
    """Factory for extra offline pages in this module's browser; closes them afterwards."""
    opened: list[OfflinePage] = []

    def _open(url: str) -> OfflinePage:
        holder = open_offline(browser, url)
        opened.append(holder)
        return holder

    yield _open
    for holder in opened:
        holder.context.close()

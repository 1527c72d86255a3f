"""The public site in a real browser (Debian chromium via Playwright), offline: the index
with its coverage chart and a snapshot page render, every link resolves to a file of the
site, and no request leaves the site's directory. Screenshots: /tmp/site-index.png and
/tmp/site-snapshot.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from por.chain.anvil import Anvil
from tests.por.publish.publish_world import DELAY, START, FakeClock, World, iso

HOURS = 8
SCREENSHOT_INDEX = Path("/tmp/site-index.png")
SCREENSHOT_SNAPSHOT = Path("/tmp/site-snapshot.png")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A site after ten published hours: seven on time, then three caught up late."""
    tmp = tmp_path_factory.mktemp("site")
    with Anvil(timestamp=int((START - timedelta(hours=3)).timestamp())) as node:
        world = World(
            tmp, f"sqlite:///{tmp / 'ledger.db'}", f"sqlite:///{tmp / 'log.db'}", node.url
        )
        clock = FakeClock(START + DELAY, world.advance_to)
        world.advance_to(clock.t)
        publisher = world.publisher(clock)
        with publisher.lock():
            for _ in range(HOURS - 3):
                publisher.publish_due(clock.now(), DELAY, since=START)
                clock.sleep(3600)
            clock.sleep(2 * 3600)  # the publisher was down
            publisher.publish_due(clock.now(), DELAY)
        assert len(publisher.publications()) == HOURS
        yield tmp / "site"


def _offline(browser: Any, root: Path) -> tuple[Any, list[str]]:
    """A context that serves only file:// URLs inside `root`; everything else is aborted."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_offline(True)
    refused: list[str] = []
    inside = root.resolve().as_uri()

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(inside + "/"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", guard)
    return context, refused


def _local_links(page: Any, base: Path) -> list[Path]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    out = []
    for href in hrefs:
        parsed = urlparse(href)
        assert parsed.scheme == "file", f"only links within the site: {href}"
        out.append(Path(unquote(parsed.path)))
    assert out, f"no links on {base}"
    return out


def test_the_index_renders_its_chart_and_every_hour_offline(browser: Any, site: Path) -> None:
    context, refused = _offline(browser, site)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((site / "index.html").resolve().as_uri())
        assert "proof of reserves" in page.title().lower()
        rows = page.locator("table tbody tr")
        assert rows.count() == HOURS, "one row per published hour"
        assert rows.first.inner_text().startswith(iso(START + timedelta(hours=HOURS - 1)))
        lines = page.locator("svg polyline")
        assert lines.count() >= 4, "a coverage line per asset"
        box = page.locator("svg").first.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 150
        assert page.locator("text=late: solana").count() >= 1, "caught-up hours are marked"
        for path in _local_links(page, site):
            assert path.exists(), f"broken link {path}"
        page.screenshot(path=str(SCREENSHOT_INDEX), full_page=True)
        assert errors == [] and refused == [], f"errors {errors}, requests {refused}"
    finally:
        context.close()


def test_a_snapshot_page_shows_its_reconciliation_files_and_anchor(
    browser: Any, site: Path
) -> None:
    context, refused = _offline(browser, site)
    try:
        page = context.new_page()
        page.goto((site / "index.html").resolve().as_uri())
        page.locator("table tbody tr a").nth(1).click()
        page.wait_for_load_state()
        sid = iso(START + timedelta(hours=HOURS - 2))
        assert page.url.endswith(f"snapshots/{sid.replace(':', '-')}.html")
        text = page.inner_text("main")
        for needle in (
            "Reconciliation",
            "BTC",
            "ETH",
            "SOL",
            "USDC",
            "manifest.json",
            "liabilities.jsonl",
            "reserves.json",
            "On-chain anchor",
            "Transaction",
        ):
            assert needle in text, f"{needle!r} missing from the snapshot page"
        for path in _local_links(page, site):
            assert path.exists(), f"broken link {path}"
        page.screenshot(path=str(SCREENSHOT_SNAPSHOT), full_page=True)
        assert refused == [], f"requests outside the site: {refused}"
    finally:
        context.close()

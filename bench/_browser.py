"""The offline verifier page (por/site/verifier.html) in Debian Chromium, as a function.

`PageVerifier.verdicts(cases)` hands each case's file bytes to the page as a user's file
would reach it (decoded by the page's own `por.decodeText`, then `por.verify`) and returns
0 valid, 1 invalid, 2 unusable input, in the CLI's terms.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from bench._proof_corpus import Case

__all__ = ["CHROMIUM", "PageVerifier", "VERDICTS_JS"]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

# (proof b64, manifest b64, key) -> 0/1/2 per case; unreadable bytes are an "error".
VERDICTS_JS = """async (cases) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const out = [];
  for (const [p, m, k] of cases) {
    let proof, manifest;
    try { proof = por.decodeText(bytes(p)); manifest = por.decodeText(bytes(m)); }
    catch (e) { out.push([2, "undecodable", String(e.message)]); continue; }
    const r = await por.verify(proof, manifest, k);
    out.push([{valid: 0, invalid: 1, error: 2}[r.status], r.code, r.reason]);
  }
  return out;
}"""


def encode_cases(cases: Sequence[Case]) -> list[list[str]]:
    return [
        [base64.b64encode(c.proof).decode(), base64.b64encode(c.manifest).decode(), c.key]
        for c in cases
    ]


class PageVerifier:
    """One offline page of the verifier in one headless Chromium (a context manager)."""

    def __init__(self, page_path: Path) -> None:
        self.url = page_path.resolve().as_uri()
        self._pw: Any = None
        self._browser: Any = None
        self.page: Any = None

    def __enter__(self) -> PageVerifier:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = self._browser.new_context()
        context.set_offline(True)
        self.page = context.new_page()
        self.page.goto(self.url)
        self.page.wait_for_function("() => window.por !== undefined")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()

    def verdicts(self, cases: Sequence[Case], batch: int = 200) -> list[tuple[int, str, str]]:
        """(verdict, code, reason) per case, in order."""
        out: list[tuple[int, str, str]] = []
        for start in range(0, len(cases), batch):
            chunk = encode_cases(cases[start : start + batch])
            out.extend(tuple(r) for r in self.page.evaluate(VERDICTS_JS, chunk))
        return out

"""The verifier page's Content-Security-Policy pins its one inline script by hash.

`script-src 'sha256-…'` (no 'unsafe-inline') means no injected markup can run script, and
`default-src 'none'` means the page cannot load anything from anywhere. After editing the
script, refresh the hash with `python -m por.site._csp` (the tests fail until you do).
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from pathlib import Path

__all__ = ["csp_script_hash", "inline_script", "update_page"]

_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_CSP_HASH = re.compile(rb"script-src 'sha256-[^']*'")


def inline_script(page: bytes) -> bytes:
    """The text of the page's only inline script (exactly what the browser hashes)."""
    scripts = _SCRIPT.findall(page)
    if len(scripts) != 1:
        raise ValueError(f"expected exactly one inline <script>, found {len(scripts)}")
    return bytes(scripts[0])


def csp_script_hash(page: bytes) -> str:
    """The CSP source expression for the inline script: base64 of its SHA-256."""
    digest = hashlib.sha256(inline_script(page)).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def update_page(path: Path) -> bool:
    """Rewrite the CSP hash in place; True when it changed."""
    page = path.read_bytes()
    fresh = _CSP_HASH.sub(f"script-src '{csp_script_hash(page)}'".encode(), page, count=1)
    if fresh == page:
        return False
    path.write_bytes(fresh)
    return True


if __name__ == "__main__":
    page_path = Path(__file__).with_name("verifier.html")
    changed = update_page(page_path)
    state = "updated" if changed else "already current"
    print(f"{page_path}: CSP script hash {state}", file=sys.stderr)

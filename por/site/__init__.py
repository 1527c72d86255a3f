"""The static pages shipped with the package (the offline in-browser verifier).

The site builder copies them from here; `importlib.resources` finds them whether the
package is installed from a wheel, a zip or a source checkout.
"""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["VERIFIER_PAGE", "copy_verifier_page", "verifier_page", "verifier_page_bytes"]

VERIFIER_PAGE = "verifier.html"


def verifier_page() -> Traversable:
    """The verifier page as a package resource (a real file in a normal install)."""
    return resources.files(__name__).joinpath(VERIFIER_PAGE)


def verifier_page_bytes() -> bytes:
    """The page's exact bytes: one self-contained HTML file, no external references."""
    return verifier_page().read_bytes()


def copy_verifier_page(directory: Path, name: str = VERIFIER_PAGE) -> Path:
    """Write the page into `directory` (temp file then rename, so a reader never sees half)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(verifier_page_bytes())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target

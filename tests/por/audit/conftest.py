"""The published site shared by the audit tests of one worker (built once: ~2 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.por.audit.published import Published, published_site


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    with published_site(tmp_path_factory.mktemp("published")) as site:
        yield site

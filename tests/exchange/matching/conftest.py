"""Fixtures for matching tests (helpers live in matching_venue.py)."""

from __future__ import annotations

import pytest
from matching_venue import Venue


@pytest.fixture
def venue() -> Venue:
    return Venue()

"""Fixtures for pricing tests (helpers live in pricing_venue.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pricing_venue import PriceVenue  # noqa: E402


@pytest.fixture
def venue() -> PriceVenue:
    return PriceVenue()

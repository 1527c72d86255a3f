"""Live price feeds: the adapter interface and the command they become.

A feed adapter (an exchange's ticker, an oracle) only has to say its latest price of an
asset; `index_command` turns a set of adapters into one `index_price` command line, which is
how prices enter the ledger (time and prices come only from the command log). Network
adapters live at the edge (the CLI or a daemon), never inside the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from exchange.model import format_time

__all__ = ["PriceFeed", "RecordedFeed", "index_command"]


class PriceFeed(Protocol):
    """One price source. `price` returns quote smallest units per whole unit of `asset`
    (USDC micro-units per BTC), or None when the source has no fresh price."""

    name: str

    def price(self, asset: str, at_ms: int) -> int | None: ...


class RecordedFeed:
    """A recorded price path: (ms, price) points per asset; the latest point at or before
    `at_ms` is the price (None before the first). Used by the sample data and tests."""

    def __init__(self, name: str, path: Mapping[str, Iterable[tuple[int, int]]]) -> None:
        self.name = name
        self._path = {asset: sorted(points) for asset, points in path.items()}

    def price(self, asset: str, at_ms: int) -> int | None:
        found = None
        for ms, price in self._path.get(asset, ()):
            if ms > at_ms:
                break
            found = price
        return found


def index_command(asset: str, feeds: Iterable[PriceFeed], at_ms: int) -> dict[str, Any]:
    """The `index_price` command for `asset` at `at_ms` from every feed that has a price."""
    sources: dict[str, str] = {}
    for feed in feeds:
        price = feed.price(asset, at_ms)
        if price is not None:
            sources[feed.name] = str(price)
    return {"cmd": "index_price", "ts": format_time(at_ms), "asset": asset, "sources": sources}

"""The watch's decision: per asset, do the reserves just read cover the last hour's net
liabilities, and did that change since the last reading?

Pure: totals in, events out. Reserves of an asset are the sum over every chain of its
latest reading (USDC held on Ethereum and Solana counts once, in full); an asset is
*short* when its reserves are below its net liabilities (liabilities minus debts, from the
last verified hour's signed root), the same rule as the reconciliation's PASS/FAIL. An
asset with net liabilities of zero or less is covered by any reserves.

Events (`WatchEvent`): the first judgement of a run is one `covered` line or one
`shortfall` line per short asset (the baseline); after it, only changes are reported:
`shortfall` when an asset falls short, `recovered` when it is covered again. A new hour
is judged against the same state, so an asset short under the old hour and covered under
the new one is `recovered` there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Coverage", "CoverageTracker", "WatchEvent", "coverage"]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One JSON line of the watch: `kind` and its fields (amounts as decimal strings)."""

    kind: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.fields}


@dataclass(frozen=True, slots=True)
class Coverage:
    """One asset's reserves against its net liabilities."""

    asset: str
    reserves: int
    net_liabilities: int

    @property
    def short(self) -> bool:
        return self.reserves < self.net_liabilities

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "asset": self.asset,
            "reserves": str(self.reserves),
            "net_liabilities": str(self.net_liabilities),
        }
        if self.short:
            out["deficit"] = str(self.net_liabilities - self.reserves)
        return out


def coverage(
    net_liabilities: Mapping[str, int], totals: Mapping[str, Mapping[str, int]]
) -> list[Coverage]:
    """Per asset of the hour (in its order): the sum over chains of `totals[chain][asset]`
    against the hour's net liabilities."""
    out = []
    for asset, net in net_liabilities.items():
        held = sum(per_chain.get(asset, 0) for per_chain in totals.values())
        out.append(Coverage(asset, held, net))
    return out


class CoverageTracker:
    """Remembers which assets are short and turns each judgement into the changes."""

    def __init__(self) -> None:
        self.short: set[str] = set()
        self.judged = False
        self.shortfalls = 0  # shortfall events reported in this run

    def judge(self, lines: list[Coverage], where: Mapping[str, Any]) -> list[WatchEvent]:
        """Events for this judgement; `where` (hour, chain, block/slot, pins) goes into each."""
        events = []
        now_short = {c.asset for c in lines if c.short}
        if not self.judged:
            for line in lines:
                if line.short:
                    events.append(WatchEvent("shortfall", {**line.to_json(), **where}))
            if not now_short:
                events.append(
                    WatchEvent("covered", {"assets": [c.to_json() for c in lines], **where})
                )
        else:
            for line in lines:
                if line.short and line.asset not in self.short:
                    events.append(WatchEvent("shortfall", {**line.to_json(), **where}))
                elif not line.short and line.asset in self.short:
                    events.append(WatchEvent("recovered", {**line.to_json(), **where}))
        self.shortfalls += sum(1 for e in events if e.kind == "shortfall")
        self.short = now_short
        self.judged = True
        return events

"""Every order reject has a code and a detail (docs/matching.md), also the ones the book
raises itself: `post_only_would_take`, `fok_not_fillable` (both branches) and
`post_only_requires_limit` were stored with a NULL detail before issue 21."""

from __future__ import annotations

import json

import sqlalchemy as sa
from matching_venue import MARKETS, MODULES, STEP, P

from exchange.commandlog import run_lines
from exchange.ledger import open_ledger
from exchange.registry import build_registry

REJECTS = [
    # (order fields, reason, detail)
    ({"account": "bob", "side": "buy", "quantity": str(STEP), "price": str(P + 200_000),
      "post_only": True},
     "post_only_would_take", f"buy at {P + 200_000} would take the best ask at {P + 100_000}"),
    ({"account": "bob", "side": "buy", "quantity": str(3 * STEP), "price": str(P + 100_000),
      "tif": "FOK"},
     "fok_not_fillable", f"{2 * STEP} of {3 * STEP} fillable at {P + 100_000} or better"),
    ({"account": "bob", "side": "buy", "quantity": str(STEP), "price": str(P), "tif": "FOK"},
     "fok_not_fillable", f"0 of {STEP} fillable at {P} or better"),
    ({"account": "bob", "side": "buy", "quantity": str(STEP), "type": "market", "tif": "IOC",
      "post_only": True},
     "post_only_requires_limit", "a market order cannot be post-only"),
]  # fmt: skip


def _log() -> list[str]:
    lines = [json.dumps(raw) for raw in MARKETS]
    for account, asset, amount in (("alice", "BTC", 10**8), ("bob", "USDC", 10**12)):
        lines.append(json.dumps({"cmd": "deposit", "account": account, "asset": asset,
                                 "amount": str(amount), "tx": account}))  # fmt: skip
    lines.append(json.dumps({"cmd": "order", "account": "alice", "market": "BTC/USDC",
                             "side": "sell", "quantity": str(2 * STEP),
                             "price": str(P + 100_000)}))  # fmt: skip
    for fields, _, _ in REJECTS:
        lines.append(json.dumps({"cmd": "order", "market": "BTC/USDC", **fields}))
    return lines


def test_book_rejects_are_stored_with_their_code_and_a_detail(db_url: str) -> None:
    ledger = open_ledger(db_url, create=True, registry=build_registry(MODULES))
    run_lines(ledger.load(), [line.encode() for line in _log()], "log", batch=100)
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT reason, detail FROM events WHERE status = 'rejected' ORDER BY seq")
        ).all()
    assert [tuple(r) for r in rows] == [(reason, detail) for _, reason, detail in REJECTS]
    assert ledger.check().ok
    assert ledger.replay_check().ok

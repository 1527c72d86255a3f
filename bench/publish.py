"""Benchmark: publishing one hour of N accounts after its snapshot -- bundle, log append,
signed manifest, on-chain anchor, site update -- as `por publish` does it.

Outside the timing: an in-memory ledger (a `LedgerSource` of N accounts x 4 assets),
`take_snapshot` of it into the publisher's work directory (reported as snapshot_s), a
local Anvil with the PorAnchor contract, and a log database already holding `--history`
earlier hours. Timed (publish_s): `Publisher.publish_hour` on that finished snapshot:
hard-linking the leaf list into the bundle, SHA-256 of every bundle file (the leaf list
is ~150 MB for 1M accounts), the bundle page, the log append + manifest + signed head +
publication record in one SQLite transaction with fsyncs, the rename, the anchor
transaction (mined by Anvil), and the site update (pages, log/entries.jsonl, hard links).
No wallet registry: reserves are not read (their reading is benchmarked in
bench/reserves.py). Prints ONE line:

    accounts=... leaves=... bundle_mb=... publish_s=... snapshot_s=... history=... load_avg=...

Target: 1M accounts in <= 20 s.

    .venv/bin/python bench/publish.py [--accounts 1000000] [--history 0] [--engine local]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por.chain.anvil import Anvil  # noqa: E402
from por.chain.ethereum_world import deploy_world  # noqa: E402
from por.log import store as log_store  # noqa: E402
from por.log.entry import entry_from_manifest  # noqa: E402
from por.operator.signing import generate  # noqa: E402
from por.publish import AnchorConfig, Publisher, PublisherConfig, open_publication_db  # noqa: E402
from por.snapshot import take_snapshot  # noqa: E402

AT = datetime(2026, 11, 24, 16, tzinfo=UTC)
ASSETS = (("BTC", 8), ("ETH", 18), ("SOL", 9), ("USDC", 6))


def _claim(i: int, k: int) -> int:
    base = (i * 2_654_435_761 + k * 40_503) % 1_000_000_007 + 1
    return base * 10 ** max(0, ASSETS[k][1] - 6)


class MemoryCut:
    """N customers, each with a claim in every asset; custody equals their sum."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seq = 4 * n + 5
        self.time_ms = int(AT.timestamp()) * 1000 - 1
        self._totals = [sum(_claim(i, k) for i in range(n)) for k in range(len(ASSETS))]

    def assets(self) -> list[tuple[str, int]]:
        return list(ASSETS)

    def claims(self) -> Iterator[tuple[str, list[int]]]:
        for i in range(self.n):
            yield f"u{i:08d}", [_claim(i, k) for k in range(len(ASSETS))]

    def customer_totals(self) -> Mapping[str, tuple[int, int]]:
        return {s: (self._totals[k], 0) for k, (s, _) in enumerate(ASSETS)}

    custody_account = "@custody"

    def system_balances(self) -> Mapping[tuple[str, str], int]:
        return {("@custody", s): -self._totals[k] for k, (s, _) in enumerate(ASSETS)}

    def custody(self) -> Mapping[str, int]:
        return {s: self._totals[k] for k, (s, _) in enumerate(ASSETS)}

    def in_flight(self) -> Mapping[str, int]:
        return {}

    def price_decimals(self) -> int:
        return 6

    def index_prices(self) -> Mapping[str, int] | None:
        return None

    def borrower_collateral(self) -> Mapping[str, tuple[int, int, int, int]] | None:
        return None

    def borrower_shortfall(self) -> tuple[int, int, int] | None:
        return None


class MemorySource:
    def __init__(self, n: int) -> None:
        self.n = n

    @contextlib.contextmanager
    def cut(self, boundary_ms: int) -> Iterator[MemoryCut]:
        yield MemoryCut(self.n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=0, help="earlier hours in the log")
    parser.add_argument("--engine", default="local", choices=["serial", "local", "dask"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="por-bench-publish-"))
    try:
        key = generate()
        secret = bytes(range(32))
        source = MemorySource(args.accounts)
        out = tmp / "pub"
        t0 = time.perf_counter()
        take_snapshot(
            source, "2026-11-24T16:00:00Z", out / "work", secret=secret, engine=args.engine
        )  # type: ignore[arg-type]
        snapshot_s = time.perf_counter() - t0
        db = open_publication_db(f"sqlite:///{tmp / 'log.db'}")
        if args.history:
            with db.begin() as conn:
                log_store.extend(conn, [
                    entry_from_manifest({
                        "snapshot_id": f"h{i:06d}",
                        "assets": [{"symbol": "BTC", "decimals": 8}],
                        "tree": {"root": {"hash": "ab" * 32, "equity": ["1"], "debt": ["0"]}},
                    })
                    for i in range(args.history)
                ])  # fmt: skip
        with Anvil() as node:
            world = deploy_world(node.url, with_multicall=False)
            config = PublisherConfig(
                out=out, key=key, secret=secret, site=tmp / "site",
                anchor=AnchorConfig(node.url, world.anchor), engine=args.engine,
            )  # fmt: skip
            publisher = Publisher(db, source, config)  # type: ignore[arg-type]
            with publisher.lock():
                publisher.recover()
                t0 = time.perf_counter()
                outcome = publisher.publish_hour(AT)
                publish_s = time.perf_counter() - t0
        assert outcome.status == "published" and outcome.anchor_tx
        bundle = out / "bundles" / "2026-11-24T16-00-00Z"
        size = sum(p.stat().st_size for p in bundle.iterdir())
        with open(bundle / "liabilities.jsonl", "rb") as fh:
            leaves = sum(1 for _ in fh)
        print(
            f"accounts={args.accounts} leaves={leaves} bundle_mb={size // 1_000_000} "
            f"publish_s={publish_s:.2f} snapshot_s={snapshot_s:.1f} history={args.history} "
            f"target_s=20 ok={'yes' if publish_s <= 20 else 'no'} "
            f"load_avg={os.getloadavg()[0]:.1f}"  # float-ok: load average for context
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

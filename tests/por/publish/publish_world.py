"""A small exchange world for publication tests: a persisted ledger (SQLite or PostgreSQL)
that trades on through a fake day, Anvil with the PorAnchor contract and funded custody
wallets, LiteSVM for Solana, and a fake clock whose `sleep` moves all of them forward.

Every hour the world records a few deposits, sets the on-chain reserves to the ledger's
custody times a coverage ratio that varies per hour (so the site's chart has a shape),
mines an Ethereum block just before the hour and finalizes it, and advances the ledger
clock past the hour (which makes the hour's cut final).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from por.chain.ethereum_world import _rpc, connect, mint_tokens, set_eth_balances
from por.chain.reserve_world import ReserveWorld, build_reserve_world, split
from por.chain.solana_world import fund_sol, fund_usdc, set_clock
from por.operator.signing import SigningKey, signing_key_from_hex
from por.publish import AnchorConfig, Publisher, PublisherConfig, open_publication_db
from por.snapshot import ReserveSetup
from tests.por.snapshot.snapshot_ledger import append, cmd, make_ledger

START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # the first hour published
DELAY = timedelta(minutes=5)
SECRET = bytes(range(32))
KEY_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"  # RFC 8032 test 1
ASSETS = (("BTC", 8), ("ETH", 18), ("SOL", 9), ("USDC", 6))
CUSTOMERS = tuple(f"cust{i:02d}" for i in range(12))
UNIT = {"BTC": 10**6, "ETH": 10**16, "SOL": 10**8, "USDC": 10**6}


def ms(at: datetime) -> int:
    return int(at.timestamp()) * 1000


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def ratio_ppm(hour_index: int, asset_index: int) -> int:
    """Coverage the world funds for an hour: 100% .. 150%, different per asset."""
    return 1_000_000 + ((hour_index * 7 + asset_index * 3) % 11) * 50_000


@dataclass
class FakeClock:
    """An injectable clock: `sleep` advances time at once and lets the world catch up."""

    t: datetime
    on_advance: Callable[[datetime], None] = field(default=lambda _t: None)
    slept: list[int] = field(default_factory=list)

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: int) -> None:
        self.slept.append(seconds)
        self.t += timedelta(seconds=seconds)
        self.on_advance(self.t)


class World:
    """Ledger + chains + the publisher's configuration, all in `tmp`."""

    def __init__(self, tmp: Path, ledger_url: str, log_url: str, anvil_url: str) -> None:
        self.tmp = tmp
        self.ledger_url = ledger_url
        self.log_url = log_url
        self.key: SigningKey = signing_key_from_hex(KEY_HEX, "test key")
        lines = [cmd("asset", symbol=s, decimals=d) for s, d in ASSETS]
        lines += [cmd("clock", time=iso(START - timedelta(hours=2)))]
        lines += [cmd("account", id=c) for c in CUSTOMERS]
        self.ledger = make_ledger(ledger_url, lines)
        self.custody = {s: 0 for s, _ in ASSETS}
        self.deposits = 0
        self.ledger_until = START - timedelta(hours=2)
        self.reserve: ReserveWorld = build_reserve_world(
            anvil_url,
            tmp / "reserve",
            exchange="Example Exchange",
            holdings={},
            solana_time=int((START - timedelta(hours=2)).timestamp()),
        )
        self.w3 = connect(anvil_url)
        self.minted_btc = 0
        self.anvil_url = anvil_url
        self.hours_done = 0

    # -- the publisher -------------------------------------------------------------------
    def config(self, **overrides: Any) -> PublisherConfig:
        base: dict[str, Any] = {
            "out": self.tmp / "pub",
            "key": self.key,
            "secret": SECRET,
            "site": self.tmp / "site",
            "reserves": ReserveSetup(
                self.reserve.registry, self.reserve.readers(), self.reserve.keystore
            ),
            "anchor": AnchorConfig(self.anvil_url, self.reserve.ethereum.anchor),
            "engine": "serial",
        }
        base.update(overrides)
        return PublisherConfig(**base)

    def publisher(self, clock: FakeClock, **overrides: Any) -> Publisher:
        from exchange.export import SqlLedgerExport

        return Publisher(
            open_publication_db(self.log_url),
            SqlLedgerExport(self.ledger.engine),
            self.config(**overrides),
            clock=clock.now,
        )

    # -- time passes ---------------------------------------------------------------------
    def advance_to(self, now: datetime) -> None:
        """Move ledger and chains to `now`: every hour boundary passed gets its activity."""
        boundary = self.ledger_until.replace(minute=0, second=0) + timedelta(hours=1)
        while boundary <= now:
            self._hour(boundary)
            boundary += timedelta(hours=1)
        self.ledger_until = now
        set_clock(self.reserve.solana.svm, 1_000 + int(now.timestamp()) // 60, int(now.timestamp()))

    def _hour(self, boundary: datetime) -> None:
        """Deposits before `boundary`, reserves funded, block mined, ledger clock past it."""
        k = self.hours_done
        before = boundary - timedelta(minutes=10)
        lines = [cmd("clock", time=iso(before))]
        for j in range(3):
            self.deposits += 1
            who = CUSTOMERS[(k * 5 + j) % len(CUSTOMERS)]
            symbol = ASSETS[(k + j) % len(ASSETS)][0]
            amount = UNIT[symbol] * (1 + (k * 13 + j * 7) % 9)
            lines.append(
                cmd(
                    "deposit", account=who, asset=symbol, amount=str(amount), tx=f"d{self.deposits}"
                )
            )
            self.custody[symbol] += amount
        append(self.ledger, lines)
        self._fund(k)
        _rpc(self.w3, "evm_mine", [int(boundary.timestamp()) - 30])
        append(self.ledger, [cmd("clock", time=iso(boundary + timedelta(seconds=1)))])
        _rpc(self.w3, "evm_mine", [int(boundary.timestamp()) + 12])
        _rpc(self.w3, "anvil_mine", ["0x2"])
        self.hours_done += 1

    def _fund(self, k: int) -> None:
        world = self.reserve
        eth_wallets = [w.address for w in world.registry.on("ethereum")]
        sol_wallets = [w.address for w in world.registry.on("solana")]
        want = {
            s: self.custody[s] * ratio_ppm(k, i) // 1_000_000 for i, (s, _) in enumerate(ASSETS)
        }
        set_eth_balances(
            self.w3, dict(zip(eth_wallets, split(want["ETH"], len(eth_wallets)), strict=True))
        )
        more_btc = max(0, want["BTC"] - self.minted_btc)
        if more_btc:
            mint_tokens(
                self.w3, world.ethereum.wbtc, {eth_wallets[0]: more_btc}, world.ethereum.deployer
            )
            self.minted_btc += more_btc
        fund_sol(
            world.solana.svm,
            dict(zip(sol_wallets, split(want["SOL"], len(sol_wallets)), strict=True)),
        )
        fund_usdc(
            world.solana, dict(zip(sol_wallets, split(want["USDC"], len(sol_wallets)), strict=True))
        )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))

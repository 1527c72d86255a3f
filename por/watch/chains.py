"""Following one chain: each new block (Ethereum) or slot (Solana), the balances of the
hour's wallets read again with the reserves readers, or a gap saying why not.

Edge (JSON-RPC). Ethereum: every block from the one after the last read up to the node's
head, in order, each in one JSON-RPC batch (`por.reserves.block_totals`: Multicall3
chunks encoded once, the block attested from inside the EVM and re-checked after the
read; or, as the reference, `EthereumReader.read_at`); more than `backlog` blocks
behind, the oldest are skipped and reported as a gap. Solana cannot be read in the
past: each poll reads the current finalized slot (`SolanaRpcReader.read`, one batch of
getMultipleAccounts from one slot); slots that passed between two polls are not gaps, a
poll that fails is.

Any failure of a remote read (timeout, refused connection, an answer that is not what
JSON-RPC promises) is a `ChainGap` carrying its reason: the watch goes on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from por.reserves.block_totals import MulticallTotals
from por.reserves.ethereum import EthereumReader
from por.reserves.solana import SolanaRpcReader
from por.reserves.values import AssetSpec, BlockPin, Chain, Wallet

__all__ = ["ChainGap", "ChainReading", "EthereumFollower", "Follower", "SolanaFollower"]


@dataclass(frozen=True, slots=True)
class ChainReading:
    """The totals per asset of one chain's wallets at one block or slot."""

    chain: Chain
    number: int
    time: int  # the block's or slot's Unix time
    head: int  # the node's head when it was read (lag = head - number)
    totals: dict[str, int]
    read_s: float  # float-ok: seconds the read took


@dataclass(frozen=True, slots=True)
class ChainGap:
    """Blocks or slots that could not be checked, and why."""

    chain: Chain
    first: int | None  # the first unchecked block/slot (None: not known yet)
    last: int | None
    reason: str


def _totals(balances: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for b in balances:
        out[b.asset] = out.get(b.asset, 0) + b.amount
    return out


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


class Follower:
    """What the watch loop needs of a chain: poll for new readings or gaps."""

    chain: Chain
    last: int | None

    def poll(self) -> list[ChainReading | ChainGap]:
        raise NotImplementedError


class EthereumFollower(Follower):
    """`method`: "batch" (one JSON-RPC batch per block, `por.reserves.block_totals`) or
    "reader" (`EthereumReader.read_at`, the reference the batch path is tested against)."""

    chain: Chain = "ethereum"

    def __init__(
        self,
        url: str,
        wallets: Sequence[Wallet],
        assets: Mapping[str, AssetSpec],
        *,
        timeout_s: float = 10.0,  # float-ok: seconds
        backlog: int = 64,
        start: int | None = None,
        method: str = "batch",
    ) -> None:
        used = {a: spec for a, spec in assets.items() if any(a in w.assets for w in wallets)}
        self.reader = EthereumReader(url, used, retries=0, timeout_s=timeout_s)
        self.batch = MulticallTotals(url, wallets, used, timeout_s=timeout_s)
        self.method = method
        self.prepared = False
        self.wallets = tuple(wallets)
        self.backlog = backlog
        self.last = None if start is None else start - 1

    def _block(self, tag: str | int) -> BlockPin:
        param = hex(tag) if isinstance(tag, int) else tag
        response = self.reader.w3.provider.make_request(
            "eth_getBlockByNumber",  # type: ignore[arg-type]
            [param, False],
        )
        if "error" in response:
            raise ValueError(f"eth_getBlockByNumber({param}): node error {response['error']}")
        block = response.get("result")
        if not isinstance(block, dict):
            raise ValueError(f"eth_getBlockByNumber({param}) returned {str(block)[:80]!r}")
        return BlockPin(
            "ethereum",
            int(block["number"], 16),
            str(block["hash"]),
            int(block["timestamp"], 16),
            parent_hash=str(block["parentHash"]),
        )

    def poll(self) -> list[ChainReading | ChainGap]:
        try:
            if not self.prepared and self.method == "batch":
                self.batch.prepare()
                self.prepared = True
            head = self.batch.head()
        except Exception as exc:  # any failure of the node is a gap, never the watch's end
            after = None if self.last is None else self.last + 1
            return [ChainGap("ethereum", after, None, f"latest block: {_why(exc)}")]
        out: list[ChainReading | ChainGap] = []
        first = head if self.last is None else self.last + 1
        if head - first + 1 > self.backlog:
            skipped_to = head - self.backlog
            out.append(
                ChainGap(
                    "ethereum",
                    first,
                    skipped_to,
                    f"{skipped_to - first + 1} blocks skipped: more than {self.backlog} behind",
                )
            )
            first = skipped_to + 1
        for number in range(first, head + 1):
            out.append(self._read(number, head))
            self.last = number
        return out

    def _read(self, number: int, head: int) -> ChainReading | ChainGap:
        started = time.perf_counter()
        try:
            if self.method == "batch":
                _n, _hash, stamp, totals = self.batch.at(number)
            else:
                reading = self.reader.read_at(self.wallets, self._block(number))
                stamp, totals = reading.pin.time, _totals(reading.balances)
        except Exception as exc:  # a timeout or garbage: this block is a gap
            return ChainGap("ethereum", number, number, _why(exc))
        return ChainReading("ethereum", number, stamp, head, totals, time.perf_counter() - started)


class SolanaFollower(Follower):
    chain: Chain = "solana"

    def __init__(
        self,
        url: str,
        wallets: Sequence[Wallet],
        assets: Mapping[str, AssetSpec],
        *,
        timeout_s: float = 10.0,  # float-ok: seconds
    ) -> None:
        used = {a for w in wallets for a in w.assets}
        self.reader = SolanaRpcReader(
            url,
            {s: spec for s, spec in assets.items() if s in used},
            retries=0,
            timeout_s=timeout_s,
        )
        self.wallets = tuple(wallets)
        self.last = None

    def poll(self) -> list[ChainReading | ChainGap]:
        started = time.perf_counter()
        try:
            reading = self.reader.read(self.wallets)
        except Exception as exc:  # any failure of the node is a gap
            after = None if self.last is None else self.last + 1
            return [ChainGap("solana", after, None, _why(exc))]
        slot = reading.pin.number
        if self.last is not None and slot <= self.last:
            return []  # no new finalized slot since the last poll
        self.last = slot
        return [
            ChainReading(
                "solana",
                slot,
                reading.pin.time,
                slot,
                _totals(reading.balances),
                time.perf_counter() - started,
            )
        ]

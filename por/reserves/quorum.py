"""Two (or more) nodes must agree: one reader per node, the readings compared at one pin.

Why: a single RPC node (or a proxy in front of it) can lie about a balance; the pin's
self-attestation (`por.reserves.ethereum`) catches a node answering for another block, not
one that changes an answer. `AgreeingReader` lets the first node pick the pin, then reads
every node *at that pin*: Ethereum by the pinned block's number and hash, all nodes at
once (threads: the wait is the nodes'); Solana, which cannot read the past, at a slot at
or after it, and when a node answers from a later slot the first node is re-read there,
until all answer from one slot (a bounded number of rounds). The chain ids must be equal,
and every balance. Any difference raises ReaderError naming the chain, the block or slot,
the asset, the address and what each node said: the hour is not published (the scheduler
retries it), never published with one node's word.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Protocol, runtime_checkable

from por.reserves.errors import ReaderError
from por.reserves.values import BlockPin, Chain, ReserveReading, Wallet

__all__ = ["MAX_SLOT_ROUNDS", "AgreeingReader", "PinnedReader"]

MAX_SLOT_ROUNDS = 4


@runtime_checkable
class PinnedReader(Protocol):
    """A reserve reader that can also read at another reader's pin."""

    chain: Chain
    url: str

    def read(self, wallets: Sequence[Wallet], at: datetime | None = None) -> ReserveReading: ...

    def read_at(self, wallets: Sequence[Wallet], pin: BlockPin) -> ReserveReading: ...


class AgreeingReader:
    """A `ReserveReader` over several nodes of one chain that must all agree."""

    def __init__(self, readers: Sequence[PinnedReader]) -> None:
        if not readers:
            raise ReaderError("no reader given")
        chains = {r.chain for r in readers}
        if len(chains) != 1:
            raise ReaderError(f"readers of several chains {sorted(chains)} cannot agree")
        self.readers = tuple(readers)
        self.chain: Chain = readers[0].chain
        self.url = ", ".join(r.url for r in readers)

    def read(self, wallets: Sequence[Wallet], at: datetime | None = None) -> ReserveReading:
        """The first node's reading, once every other node gave the same at its pin."""
        first, *others = self.readers
        pin = getattr(first, "pin", None)
        if callable(pin) and others:  # a chain with history: every node at one block
            chosen: BlockPin = pin(at)
            with ThreadPoolExecutor(len(self.readers)) as pool:
                readings: list[ReserveReading] = list(
                    pool.map(lambda r: r.read_at(wallets, chosen), self.readers)
                )
            for other, theirs in zip(others, readings[1:], strict=True):
                _compare(readings[0], theirs, first.url, other.url)
            return readings[0]
        reading = first.read(wallets, at)
        for other in others:
            theirs = other.read_at(wallets, reading.pin)
            rounds = 1
            while self.chain == "solana" and theirs.pin.number != reading.pin.number:
                if rounds >= MAX_SLOT_ROUNDS:
                    raise ReaderError(
                        f"solana: {first.url} and {other.url} never answered from one slot"
                        f" ({reading.pin.number} vs {theirs.pin.number} after {rounds} rounds)"
                    )
                if theirs.pin.number > reading.pin.number:
                    reading = first.read_at(wallets, theirs.pin)
                else:
                    theirs = other.read_at(wallets, reading.pin)
                rounds += 1
            _compare(reading, theirs, first.url, other.url)
        return reading


def _compare(mine: ReserveReading, theirs: ReserveReading, url: str, other: str) -> None:
    chain, pin = mine.chain, mine.pin
    where = f"{'block' if chain == 'ethereum' else 'slot'} {pin.number}"
    if theirs.pin.chain_id != pin.chain_id:
        raise ReaderError(
            f"{chain}: nodes are on different chains: {url} on {pin.chain_id}, {other} on"
            f" {theirs.pin.chain_id}"
        )
    if (theirs.pin.number, theirs.pin.hash) != (pin.number, pin.hash):
        raise ReaderError(
            f"{chain}: nodes disagree on the pin: {url} has {where} {pin.hash}, {other}"
            f" {theirs.pin.number} {theirs.pin.hash}"
        )
    ours, their = mine.by_key(), theirs.by_key()
    if len(ours) != len(mine.balances) or len(their) != len(theirs.balances):
        raise ReaderError(f"{chain}: a node returned a balance twice at {where}")
    for (address, asset), amount in ours.items():
        other_amount = their.get((address, asset))
        if other_amount != amount:
            raise ReaderError(
                f"{chain}: nodes disagree at {where}: {asset} of {address}: {url} says"
                f" {amount}, {other} says {other_amount}; not published"
            )
    if set(their) != set(ours):
        raise ReaderError(f"{chain}: nodes returned different balances at {where}")

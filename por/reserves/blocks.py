"""Recent blocks for attestation challenges, and the check that a block is of a chain.

A per-period ownership message names a recent finalized block (Ethereum: number and
hash; Solana: slot and blockhash), so the signature cannot have been made before that
block existed. `recent()` gives the block a challenge names; `find(number, hash)` says
whether that block is on this node's chain (Ethereum: the canonical block at that
number has that hash; Solana: `getBlock(slot)` has that blockhash) and when it was made.
Plain JSON-RPC over HTTP (httpx); a node that cannot be asked raises ReaderError, a
block it does not know is None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from por.reserves.errors import ReaderError
from por.reserves.values import Chain

__all__ = ["BlockSource", "EthereumBlocks", "RecentBlock", "SolanaBlocks", "block_source"]

_NOT_FOUND_CODES = (-32004, -32007, -32009)  # Solana: block not available / skipped / missing


@dataclass(frozen=True, slots=True)
class RecentBlock:
    """A block (Ethereum) or slot (Solana) by number, its hash and its time (Unix s)."""

    number: int
    hash: str
    time: int


class BlockSource(Protocol):
    chain: Chain

    def chain_id(self) -> str: ...

    def recent(self) -> RecentBlock: ...

    def find(self, number: int, block_hash: str) -> RecentBlock | None: ...


class _JsonRpc:
    def __init__(self, url: str, chain: str, timeout_s: float = 30.0) -> None:  # float-ok: s
        self.url = url
        self.what = chain
        self.timeout_s = timeout_s

    def call(self, method: str, params: list[Any]) -> tuple[Any, dict[str, Any] | None]:
        """(result, error object or None); ReaderError if the node cannot be asked."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            response = httpx.post(self.url, json=body, timeout=self.timeout_s)
            response.raise_for_status()
            doc = json.loads(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise ReaderError(f"{self.what} RPC {self.url}: {method}: {exc}") from exc
        if not isinstance(doc, dict):
            raise ReaderError(f"{self.what} RPC {self.url}: {method}: malformed answer")
        error = doc.get("error")
        return doc.get("result"), error if isinstance(error, dict) else None

    def result(self, method: str, params: list[Any]) -> Any:
        result, error = self.call(method, params)
        if error is not None:
            raise ReaderError(f"{self.what} RPC {self.url}: {method}: node error {error}")
        return result


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value), 16) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise ReaderError(f"{what}: not a number: {str(value)[:60]!r}") from exc


class EthereumBlocks:
    """Finalized blocks of an Ethereum node."""

    chain: Chain = "ethereum"

    def __init__(self, url: str) -> None:
        self._rpc = _JsonRpc(url, "ethereum")

    def chain_id(self) -> str:
        return f"eip155:{_int(self._rpc.result('eth_chainId', []), 'eth_chainId')}"

    def _block(self, block: Any) -> RecentBlock:
        if not isinstance(block, dict):
            raise ReaderError(f"ethereum RPC {self._rpc.url}: no such block")
        return RecentBlock(
            _int(block.get("number"), "block number"),
            str(block.get("hash")),
            _int(block.get("timestamp"), "block timestamp"),
        )

    def recent(self) -> RecentBlock:
        return self._block(self._rpc.result("eth_getBlockByNumber", ["finalized", False]))

    def find(self, number: int, block_hash: str) -> RecentBlock | None:
        found = self._rpc.result("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(found, dict) or str(found.get("hash")).lower() != block_hash.lower():
            return None
        return self._block(found)


class SolanaBlocks:
    """Finalized slots of a Solana node (`getBlock` needs the slot in the node's history)."""

    chain: Chain = "solana"

    def __init__(self, url: str) -> None:
        self._rpc = _JsonRpc(url, "solana")

    def chain_id(self) -> str:
        genesis = self._rpc.result("getGenesisHash", [])
        if not isinstance(genesis, str) or not 32 <= len(genesis) <= 44:
            raise ReaderError(f"solana RPC {self._rpc.url}: getGenesisHash: {genesis!r}")
        return f"solana:{genesis}"

    def _get_block(self, slot: int) -> dict[str, Any] | None:
        config = {
            "commitment": "finalized",
            "transactionDetails": "none",
            "rewards": False,
            "maxSupportedTransactionVersion": 0,
        }
        result, error = self._rpc.call("getBlock", [slot, config])
        if error is not None:
            if error.get("code") in _NOT_FOUND_CODES:
                return None
            raise ReaderError(f"solana RPC {self._rpc.url}: getBlock: node error {error}")
        return result if isinstance(result, dict) else None

    def recent(self) -> RecentBlock:
        slot = _int(self._rpc.result("getSlot", [{"commitment": "finalized"}]), "getSlot")
        block = self._get_block(slot)
        if block is None or not isinstance(block.get("blockhash"), str):
            raise ReaderError(f"solana RPC {self._rpc.url}: no block at finalized slot {slot}")
        return RecentBlock(slot, block["blockhash"], _int(block.get("blockTime"), "blockTime"))

    def find(self, number: int, block_hash: str) -> RecentBlock | None:
        block = self._get_block(number)
        if block is None or block.get("blockhash") != block_hash:
            return None
        return RecentBlock(number, block_hash, _int(block.get("blockTime"), "blockTime"))


def block_source(chain: Chain, url: str) -> BlockSource:
    """The block source of `chain` at `url`."""
    return EthereumBlocks(url) if chain == "ethereum" else SolanaBlocks(url)

"""Ethereum reserves: native ETH and ERC-20 balances at one pinned, finalized block.

Why this shape:
- One block for everything. The pin is the latest finalized block at or before the
  snapshot time; every request names it by hash (EIP-1898), and after the read the block
  number must still map to that hash, or the reading is thrown away and retried (reorg).
- Fast. Multicall3 `aggregate3` reads thousands of balances per `eth_call`. Where
  Multicall3 is not deployed, the same call runs with a state override that places its
  code at the canonical address; where overrides are unsupported, JSON-RPC batches of
  `eth_getBalance`/`eth_call` are the fall-back. `method="naive"` (one web3 call per
  balance) is the plain reference the others are tested against.
- Self-attesting. Each aggregate3 chunk also returns `block.number`, the parent hash and
  the timestamp from inside the EVM; a node (or proxy) that answers for another block is
  caught, even if it lies about the block parameter.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import requests
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import RPCEndpoint

from por.reserves import _abi
from por.reserves.contracts import MULTICALL3_ADDRESS, load_artifact
from por.reserves.errors import ReaderError
from por.reserves.reader import snapshot_unix
from por.reserves.values import AssetSpec, Balance, BlockPin, Chain, ReserveReading, Wallet, iso_utc

__all__ = [
    "CALLS_PER_CHUNK",
    "JSONRPC_BATCH_SIZE",
    "READ_METHODS",
    "EthereumReader",
    "ReadMethod",
]

ReadMethod = Literal["auto", "multicall3", "state-override", "batch", "naive"]
READ_METHODS: tuple[ReadMethod, ...] = ("auto", "multicall3", "state-override", "batch", "naive")
CALLS_PER_CHUNK = 1500  # balance calls per aggregate3 eth_call (~10M gas, under geth's 50M cap)
JSONRPC_BATCH_SIZE = 1000  # requests per HTTP batch (geth's default BatchRequestLimit)
_ATTESTATION_CALLS = 3


class _Retry(Exception):
    """A transient or consistency failure: try again from a fresh pin."""


@dataclass(frozen=True, slots=True)
class _Item:
    """One balance to read: which wallet/asset, and how."""

    address: str
    asset: str
    token: str | None  # ERC-20 contract, None for native ETH


class EthereumReader:
    """Reads ETH and ERC-20 balances over HTTP JSON-RPC (see the module docstring)."""

    chain: Chain = "ethereum"

    def __init__(
        self,
        url: str,
        assets: Mapping[str, AssetSpec],
        *,
        method: ReadMethod = "auto",
        multicall_address: str = MULTICALL3_ADDRESS,
        calls_per_chunk: int = CALLS_PER_CHUNK,
        retries: int = 3,
        backoff_s: float = 0.25,  # float-ok: seconds of delay, not money
        timeout_s: float = 60.0,  # float-ok: HTTP timeout in seconds
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if method not in READ_METHODS:
            raise ReaderError(f"unknown read method {method!r}: expected one of {READ_METHODS}")
        if not 1 <= calls_per_chunk <= 10_000:
            raise ReaderError(f"calls_per_chunk must be 1..10000, got {calls_per_chunk}")
        for symbol, spec in assets.items():
            if spec.chain != "ethereum" or spec.kind not in ("native", "erc20"):
                raise ReaderError(f"asset {symbol} is not an Ethereum native or ERC-20 asset")
            if spec.kind == "erc20" and not spec.contract:
                raise ReaderError(f"ERC-20 asset {symbol} has no token contract address")
        provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None
        )
        self.url = url
        self.w3 = Web3(provider)
        self._provider = provider
        self.assets = dict(assets)
        self.method: ReadMethod = method
        self.multicall_address = to_checksum_address(multicall_address)
        self.calls_per_chunk = calls_per_chunk
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._chain_id: str | None = None

    # -- JSON-RPC -----------------------------------------------------------------------

    def _rpc(self, method: str, params: Sequence[Any]) -> Any:
        try:
            response = self.w3.provider.make_request(RPCEndpoint(method), list(params))
        except (requests.RequestException, OSError, ValueError) as exc:
            raise _Retry(f"{method}: {type(exc).__name__}: {exc}") from exc
        if "error" in response:
            raise _Retry(f"{method}: node error {response['error']}")
        return response.get("result")

    def _batch(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results in request order; any error fails the whole batch."""
        results: list[Any] = []
        for start in range(0, len(requests_), JSONRPC_BATCH_SIZE):
            chunk = [
                (RPCEndpoint(m), list(p)) for m, p in requests_[start : start + JSONRPC_BATCH_SIZE]
            ]
            try:
                responses = self._provider.make_batch_request(chunk)
            except (requests.RequestException, OSError, ValueError) as exc:
                raise _Retry(f"JSON-RPC batch: {type(exc).__name__}: {exc}") from exc
            if not isinstance(responses, list) or len(responses) != len(chunk):
                raise _Retry(f"JSON-RPC batch: malformed response {str(responses)[:200]}")
            for (method, _), response in zip(chunk, responses, strict=True):
                if "error" in response:
                    raise _Retry(f"{method} in batch: node error {response['error']}")
                results.append(response.get("result"))
        return results

    # -- pinning ------------------------------------------------------------------------

    def chain_id(self) -> str:
        """`eip155:<chain id>` of this node (asked once, then kept)."""
        if self._chain_id is None:
            raw = self._rpc("eth_chainId", [])
            try:
                number = int(str(raw), 16)
            except ValueError as exc:
                raise _Retry(f"eth_chainId returned {str(raw)[:80]!r}") from exc
            self._chain_id = f"eip155:{number}"
        return self._chain_id

    def _block(self, tag: str | int) -> dict[str, Any] | None:
        param = hex(tag) if isinstance(tag, int) else tag
        return cast(dict[str, Any] | None, self._rpc("eth_getBlockByNumber", [param, False]))

    @staticmethod
    def _pin_of(block: Mapping[str, Any], requested_at: int | None) -> BlockPin:
        return BlockPin(
            chain="ethereum",
            number=int(block["number"], 16),
            hash=str(block["hash"]),
            time=int(block["timestamp"], 16),
            requested_at=requested_at,
            parent_hash=str(block["parentHash"]),
        )

    def pin_block(self, at: datetime | None = None) -> BlockPin:
        """The latest finalized block at or before `at` (the finalized head if None)."""
        at_unix = snapshot_unix(at)
        final = self._block("finalized")
        if final is None:
            raise _Retry("the node reports no finalized block yet")
        if at_unix is None or int(final["timestamp"], 16) <= at_unix:
            return self._pin_of(final, at_unix)
        lo, hi = 0, int(final["number"], 16)  # invariant: answer in [lo, hi) or none
        genesis = self._block(0)
        if genesis is None or int(genesis["timestamp"], 16) > at_unix:
            raise ReaderError(f"ethereum: no block at or before {iso_utc(at_unix)}")
        best = genesis
        lo = 1
        while lo < hi:
            mid = (lo + hi) // 2
            block = self._block(mid)
            if block is None:
                raise _Retry(f"block {mid} below the finalized head is missing")
            if int(block["timestamp"], 16) <= at_unix:
                best, lo = block, mid + 1
            else:
                hi = mid
        return self._pin_of(best, at_unix)

    def _check_still_canonical(self, pin: BlockPin) -> None:
        block = self._block(pin.number)
        now = None if block is None else str(block["hash"])
        if now != pin.hash:
            raise _Retry(
                f"block {pin.number} hash changed during the read: pinned {pin.hash}, "
                f"now {now} (reorg or inconsistent node)"
            )

    # -- reading ------------------------------------------------------------------------

    def read(self, wallets: Sequence[Wallet], at: datetime | None = None) -> ReserveReading:
        """Balances of every (wallet, asset) at one pinned block; see the module docstring."""
        items = self._items(wallets)
        last = ""
        for attempt in range(1, self.retries + 2):
            try:
                pin = dataclasses.replace(self.pin_block(at), chain_id=self.chain_id())
                balances, method = self._read_at(pin, items)
                self._check_still_canonical(pin)
                return ReserveReading("ethereum", pin, balances, method, attempts=attempt)
            except _Retry as exc:
                last = str(exc)
                if attempt <= self.retries:
                    self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise ReaderError(
            f"ethereum: no consistent reading after {_attempts(self.retries + 1)}: {last}"
        )

    def pin(self, at: datetime | None = None) -> BlockPin:
        """The block `read` would pin, with this node's chain id (retried like a read)."""
        last = ""
        for attempt in range(1, self.retries + 2):
            try:
                return dataclasses.replace(self.pin_block(at), chain_id=self.chain_id())
            except _Retry as exc:
                last = str(exc)
                if attempt <= self.retries:
                    self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise ReaderError(f"ethereum: no block to pin after {_attempts(self.retries + 1)}: {last}")

    def read_at(self, wallets: Sequence[Wallet], pin: BlockPin) -> ReserveReading:
        """The same balances at another node's pin (a second node checking the first).

        This node must know the block by number with the same hash (a lagging node is
        retried); the reading carries this node's own view of the block and chain id, so
        a caller compares them with the pin it asked for.
        """
        items = self._items(wallets)
        last = ""
        for attempt in range(1, self.retries + 2):
            try:
                block = self._block(pin.number)
                if block is None or str(block["hash"]) != pin.hash:
                    got = None if block is None else block["hash"]
                    raise _Retry(f"this node's block {pin.number} is {got}, not {pin.hash}")
                mine = dataclasses.replace(
                    self._pin_of(block, pin.requested_at), chain_id=self.chain_id()
                )
                balances, method = self._read_at(mine, items)
                self._check_still_canonical(mine)
                return ReserveReading("ethereum", mine, balances, method, attempts=attempt)
            except _Retry as exc:
                last = str(exc)
                if attempt <= self.retries:
                    self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise ReaderError(
            f"ethereum: {self.url} gave no reading at block {pin.number} after"
            f" {_attempts(self.retries + 1)}: {last}"
        )

    def _items(self, wallets: Sequence[Wallet]) -> list[_Item]:
        items = []
        for wallet in wallets:
            if wallet.chain != "ethereum":
                raise ReaderError(f"wallet {wallet.address} is on {wallet.chain}, not ethereum")
            for asset in wallet.assets:
                spec = self.assets.get(asset)
                if spec is None:
                    raise ReaderError(f"wallet {wallet.address}: asset {asset} is not configured")
                items.append(_Item(wallet.address, asset, spec.contract))
        return items

    def _read_at(self, pin: BlockPin, items: Sequence[_Item]) -> tuple[tuple[Balance, ...], str]:
        method = self.method
        block = {"blockHash": pin.hash}
        if method == "auto":
            code = self._rpc("eth_getCode", [self.multicall_address, block])
            if code not in (None, "0x", "0x0"):
                method = "multicall3"
            else:
                try:
                    return self._read_multicall(pin, items, override=True), "state-override"
                except _OverrideUnsupported:
                    method = "batch"
        if method == "multicall3":
            return self._read_multicall(pin, items, override=False), method
        if method == "state-override":
            try:
                return self._read_multicall(pin, items, override=True), method
            except _OverrideUnsupported as exc:
                raise _Retry(str(exc)) from exc
        if method == "batch":
            return self._read_batch(pin, items), method
        return self._read_naive(pin, items), method

    def _read_multicall(
        self, pin: BlockPin, items: Sequence[_Item], *, override: bool
    ) -> tuple[Balance, ...]:
        target = bytes.fromhex(self.multicall_address[2:])
        attest: list[_abi.Call3] = [
            (target, False, _abi.GET_BLOCK_NUMBER),
            (target, False, _abi.GET_LAST_BLOCK_HASH),
            (target, False, _abi.GET_CURRENT_BLOCK_TIMESTAMP),
        ]
        token_bytes: dict[str, bytes] = {}
        block = {"blockHash": pin.hash}
        extra: list[Any] = []
        if override:
            code = load_artifact("Multicall3").deployed_bytecode
            extra = [{self.multicall_address: {"code": code}}]
        balances: list[Balance] = []
        for start in range(0, len(items), self.calls_per_chunk):
            chunk = items[start : start + self.calls_per_chunk]
            calls = list(attest)
            for item in chunk:
                holder = bytes.fromhex(item.address[2:])
                if item.token is None:
                    calls.append((target, True, _abi.address_call(_abi.GET_ETH_BALANCE, holder)))
                else:
                    token = token_bytes.get(item.token)
                    if token is None:
                        token = token_bytes[item.token] = bytes.fromhex(item.token[2:])
                    calls.append((token, True, _abi.address_call(_abi.BALANCE_OF, holder)))
            tx = {"to": self.multicall_address, "data": "0x" + _abi.encode_aggregate3(calls).hex()}
            try:
                raw = self._rpc("eth_call", [tx, block, *extra])
            except _Retry as exc:
                if override and "node error" in str(exc):
                    raise _OverrideUnsupported(
                        f"eth_call with state override failed: {exc}"
                    ) from exc
                raise
            balances.extend(self._decode_chunk(pin, chunk, raw, len(calls)))
        return tuple(balances)

    def _decode_chunk(
        self, pin: BlockPin, chunk: Sequence[_Item], raw: Any, count: int
    ) -> list[Balance]:
        try:
            results = _abi.decode_aggregate3(bytes.fromhex(str(raw)[2:]), count)
            number = _abi.decode_uint256(results[0][1], "getBlockNumber")
            parent = "0x" + results[1][1].hex()
            stamp = _abi.decode_uint256(results[2][1], "getCurrentBlockTimestamp")
        except (_abi.AbiError, ValueError) as exc:
            raise _Retry(f"aggregate3 at {self.multicall_address}: bad return data: {exc}") from exc
        if (number, parent, stamp) != (pin.number, pin.parent_hash, pin.time):
            raise _Retry(
                f"aggregate3 executed at block {number} (parent {parent}, time {stamp}), not at "
                f"the pinned block {pin.number} (parent {pin.parent_hash}, time {pin.time}): "
                "the node answered for another block"
            )
        out = []
        for item, (ok, data) in zip(chunk, results[_ATTESTATION_CALLS:], strict=True):
            what = f"{item.asset} balance of {item.address}"
            if not ok:
                where = "getEthBalance" if item.token is None else f"balanceOf on {item.token}"
                raise ReaderError(
                    f"ethereum: {where} reverted for {item.address} at block {pin.number}"
                )
            try:
                amount = _abi.decode_uint256(data, what)
            except _abi.AbiError as exc:
                raise ReaderError(f"ethereum: {exc} (is {item.token} an ERC-20?)") from exc
            out.append(Balance(item.address, item.asset, amount, item.token or item.address))
        return out

    def _read_batch(self, pin: BlockPin, items: Sequence[_Item]) -> tuple[Balance, ...]:
        block = {"blockHash": pin.hash}
        reqs: list[tuple[str, Sequence[Any]]] = []
        for item in items:
            if item.token is None:
                reqs.append(("eth_getBalance", [item.address, block]))
            else:
                holder = bytes.fromhex(item.address[2:])
                data = "0x" + _abi.address_call(_abi.BALANCE_OF, holder).hex()
                reqs.append(("eth_call", [{"to": item.token, "data": data}, block]))
        out = []
        for item, result in zip(items, self._batch(reqs), strict=True):
            try:
                raw = bytes.fromhex(str(result)[2:]) if item.token else None
                amount = (
                    int(str(result), 16) if raw is None else _abi.decode_uint256(raw, item.asset)
                )
            except (ValueError, _abi.AbiError) as exc:
                raise ReaderError(
                    f"ethereum: bad {item.asset} balance for {item.address}: {exc}"
                ) from exc
            out.append(Balance(item.address, item.asset, amount, item.token or item.address))
        return tuple(out)

    def _read_naive(self, pin: BlockPin, items: Sequence[_Item]) -> tuple[Balance, ...]:
        """Reference path: one web3 call per balance, by block number."""
        abi = load_artifact("PorToken").abi
        contracts = {
            spec.contract: self.w3.eth.contract(address=to_checksum_address(spec.contract), abi=abi)
            for spec in self.assets.values()
            if spec.contract
        }
        out = []
        try:
            for item in items:
                holder = to_checksum_address(item.address)
                if item.token is None:
                    amount = int(self.w3.eth.get_balance(holder, block_identifier=pin.number))
                else:
                    fn = contracts[item.token].functions.balanceOf(holder)
                    amount = int(fn.call(block_identifier=pin.number))
                out.append(Balance(item.address, item.asset, amount, item.token or item.address))
        except (requests.RequestException, OSError) as exc:
            raise _Retry(f"naive read: {type(exc).__name__}: {exc}") from exc
        return tuple(out)


class _OverrideUnsupported(Exception):
    """The node rejected eth_call's state-override parameter."""


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"

"""One JSON-RPC batch per block: every balance of the hour's Ethereum wallets, summed per
asset (the watch needs totals, not a reading to publish).

Why not `EthereumReader.read_at` at every block: it encodes the same 30,000 calls again
for each block and builds a `Balance` per call, ~1 s per block at 10,000 addresses x 3
assets on this machine (bench/watch.py); the watch must finish a block in under one.
Here the `aggregate3` calldata is encoded once per hour, and each block costs one
JSON-RPC batch (split into HTTP requests of `CALLS_PER_REQUEST` calls, since nodes cap
a request's size): the block header, every chunk's `eth_call` at that block number, the
header again. The two headers must be the same block, and each chunk attests from inside the
EVM the block number, parent hash and time it ran at (as the reader does), so a node
that answers for another block, or reorganises mid-batch, is caught. Every call must
succeed and return one uint256; anything else is a `WatchReadError` (a gap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from por.reserves import _abi
from por.reserves.contracts import MULTICALL3_ADDRESS, load_artifact
from por.reserves.ethereum import CALLS_PER_CHUNK
from por.reserves.values import AssetSpec, Wallet

__all__ = ["BlockTotals", "MulticallTotals", "WatchReadError"]

_ATTESTATION_CALLS = 3
# eth_calls of one chunk (~0.6 MB of calldata hex) per HTTP request: Anvil refuses bodies
# of ~10 MB ("Invalid request"); 8 chunks (~5 MB) pass. 10,000 x 3 balances: 3 requests.
CALLS_PER_REQUEST = 2


class WatchReadError(Exception):
    """The node's answer for a block cannot be used (timeout, error, garbage)."""


BlockTotals = tuple[int, str, int, dict[str, int]]  # (number, hash, time, totals per asset)


class MulticallTotals:
    """Per-asset totals of fixed wallets at any block, in one batch request."""

    def __init__(
        self,
        url: str,
        wallets: Sequence[Wallet],
        assets: Mapping[str, AssetSpec],
        *,
        timeout_s: float = 10.0,  # float-ok: seconds
        calls_per_chunk: int = CALLS_PER_CHUNK,
        multicall: str = MULTICALL3_ADDRESS,
    ) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout_s)
        self.multicall = multicall
        target = bytes.fromhex(multicall[2:])
        attest: list[_abi.Call3] = [
            (target, False, _abi.GET_BLOCK_NUMBER),
            (target, False, _abi.GET_LAST_BLOCK_HASH),
            (target, False, _abi.GET_CURRENT_BLOCK_TIMESTAMP),
        ]
        items: list[tuple[str, _abi.Call3]] = []
        for wallet in wallets:
            holder = bytes.fromhex(wallet.address[2:])
            for asset in wallet.assets:
                spec = assets[asset]
                if spec.contract is None:
                    call = (target, True, _abi.address_call(_abi.GET_ETH_BALANCE, holder))
                else:
                    token = bytes.fromhex(spec.contract[2:])
                    call = (token, True, _abi.address_call(_abi.BALANCE_OF, holder))
                items.append((asset, call))
        self.symbols = sorted({a for a, _ in items})
        self.chunks: list[tuple[list[str], str]] = []  # (asset of each call, calldata hex)
        for start in range(0, len(items), calls_per_chunk):
            chunk = items[start : start + calls_per_chunk]
            data = _abi.encode_aggregate3(attest + [c for _, c in chunk])
            self.chunks.append(([a for a, _ in chunk], "0x" + data.hex()))
        self._layouts = [
            _Layout([self.symbols.index(a) for a in assets]) for assets, _ in self.chunks
        ]
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="watch-rpc")
        self.override: list[Any] = []  # a state override placing Multicall3, if not deployed
        self.calls = len(items)

    def prepare(self) -> None:
        """Look once whether Multicall3 is deployed; else run it by state override."""
        code = self._call([("eth_getCode", [self.multicall, "latest"])])[0]
        if code in (None, "0x", "0x0"):
            self.override = [
                {self.multicall: {"code": load_artifact("Multicall3").deployed_bytecode}}
            ]

    def head(self) -> int:
        raw = self._call([("eth_blockNumber", [])])[0]
        try:
            return int(str(raw), 16)
        except ValueError:
            raise WatchReadError(f"eth_blockNumber returned {str(raw)[:80]!r}") from None

    def _call(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        body = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        try:
            response = self.client.post(self.url, json=body)
            answers = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise WatchReadError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if not isinstance(answers, list) or len(answers) != len(calls):
            raise WatchReadError(f"{self.url}: not a batch answer: {str(answers)[:200]}")
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        out = []
        for i, (method, _) in enumerate(calls):
            answer = by_id.get(i)
            if answer is None or "error" in answer or "result" not in answer:
                detail = None if answer is None else answer.get("error")
                raise WatchReadError(f"{method}: {detail or 'no answer'}")
            out.append(answer["result"])
        return out

    def at(self, number: int) -> BlockTotals:
        """Totals per asset at block `number` (see the module docstring)."""
        tag = hex(number)
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [tag, False])]
        calls += [
            ("eth_call", [{"to": self.multicall, "data": data}, tag, *self.override])
            for _, data in self.chunks
        ]
        groups = [calls[i : i + CALLS_PER_REQUEST] for i in range(0, len(calls), CALLS_PER_REQUEST)]
        # the node runs the requests in parallel; the header is read again after all of them
        results = [r for part in self.pool.map(self._call, groups) for r in part]
        results += self._call([("eth_getBlockByNumber", [tag, False])])
        before, after = results[0], results[-1]
        try:
            block_hash, parent = str(before["hash"]), str(before["parentHash"])
            stamp = int(before["timestamp"], 16)
            if int(before["number"], 16) != number or after["hash"] != block_hash:
                raise WatchReadError(
                    f"block {number} changed during the read ({block_hash} -> {after['hash']})"
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise WatchReadError(f"block {number}: malformed header: {exc!r}") from None
        totals: dict[str, int] = {}
        for (assets, _), raw in zip(self.chunks, results[1:-1], strict=True):
            try:
                decoded = _abi.decode_aggregate3(
                    bytes.fromhex(str(raw)[2:]), len(assets) + _ATTESTATION_CALLS
                )
                attested = (
                    _abi.decode_uint256(decoded[0][1], "getBlockNumber"),
                    "0x" + decoded[1][1].hex(),
                    _abi.decode_uint256(decoded[2][1], "getCurrentBlockTimestamp"),
                )
            except ValueError as exc:  # AbiError is one
                raise WatchReadError(
                    f"aggregate3 at block {number}: bad return data: {exc}"
                ) from None
            if attested != (number, parent, stamp):
                raise WatchReadError(
                    f"aggregate3 ran at block {attested[0]} (parent {attested[1]}), not at"
                    f" block {number} (parent {parent}): the node answered for another block"
                )
            for asset, (ok, data) in zip(assets, decoded[_ATTESTATION_CALLS:], strict=True):
                if not ok or len(data) != 32:
                    raise WatchReadError(
                        f"a {asset} balance call at block {number} reverted or returned"
                        f" {len(data)} bytes"
                    )
                totals[asset] = totals.get(asset, 0) + int.from_bytes(data, "big")
        return number, block_hash, stamp, totals

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()


_RESULT_ROW = 128  # (bool success, offset 64, length 32, uint256): one balance result


class _Layout:
    """The one return shape of a chunk whose every call succeeded with 32 bytes: checked
    whole against its expected bytes (numpy, not a Python loop over 1,500 results), the
    values summed per asset in 32-bit limbs (1,500 x 2^32 fits a uint64)."""

    def __init__(self, asset_index: list[int]) -> None:
        count = len(asset_index) + _ATTESTATION_CALLS
        self.count = count
        self.asset_index = np.asarray(asset_index, dtype=np.intp)
        self.assets = int(self.asset_index.max(initial=-1)) + 1
        heads = [32 * count + _RESULT_ROW * i for i in range(count)]
        self.prefix = b"".join(w.to_bytes(32, "big") for w in (32, count, *heads))
        row = b"".join(w.to_bytes(32, "big") for w in (1, 64, 32))
        self.row = np.frombuffer(row, dtype=np.uint8)

    def decode(self, data: bytes) -> tuple[tuple[int, str, int], np.ndarray[Any, Any]]:
        size = len(self.prefix) + _RESULT_ROW * self.count
        if len(data) != size or data[: len(self.prefix)] != self.prefix:
            raise _abi.AbiError(
                f"not {self.count} successful 32-byte results ({len(data)} bytes): a call"
                " reverted, or the answer is not aggregate3's"
            )
        rows = np.frombuffer(data, dtype=np.uint8, offset=len(self.prefix)).reshape(
            self.count, _RESULT_ROW
        )
        if not (rows[:, :96] == self.row).all():
            raise _abi.AbiError("a call failed or returned other than 32 bytes")
        values = rows[:, 96:]
        attested = (
            int.from_bytes(values[0].tobytes(), "big"),
            "0x" + values[1].tobytes().hex(),
            int.from_bytes(values[2].tobytes(), "big"),
        )
        limbs = values[_ATTESTATION_CALLS:].copy().view(">u4").astype(np.uint64)
        sums = np.zeros((max(self.assets, 1), 8), dtype=np.uint64)
        np.add.at(sums, self.asset_index, limbs)
        return attested, sums

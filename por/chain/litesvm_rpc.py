"""A small Solana JSON-RPC endpoint over a LiteSVM instance (tests, demo, benchmarks).

No Solana validator can be installed here, so the RPC reader is exercised against this
real HTTP JSON-RPC server serving real account data out of `solders.litesvm`. It answers
the methods the reader and simple tools use: getSlot, getMultipleAccounts, getAccountInfo,
getBalance, getBlockTime, getBlock (blockhash and time of a slot this server has seen: LiteSVM
keeps no history), getLatestBlockhash, getGenesisHash (a fixed hash: LiteSVM has no
genesis), getHealth, getVersion; single and batch
requests. Every method sees the SVM's current slot as finalized.

`before_call(method)` runs before each method (under the lock): tests use it to advance
the slot between the requests of one batch and so produce mismatched context slots.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from por.chain.errors import ChainError
from por.reserves.solana import LITESVM_GENESIS_HASH

__all__ = ["LiteSvmRpcServer"]

_MIN_SLOT_NOT_REACHED = -32016  # Solana's "Minimum context slot has not been reached"


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LiteSvmRpcServer:
    """Serves JSON-RPC for `svm` on 127.0.0.1 (free port); a context manager."""

    def __init__(
        self,
        svm: LiteSVM,
        before_call: Callable[[str], None] | None = None,
        genesis: str = LITESVM_GENESIS_HASH,
    ) -> None:
        self.svm = svm
        self.before_call = before_call
        self.genesis = genesis
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self._slot_times: dict[int, int] = {}
        self._slot_hashes: dict[int, str] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise ChainError("LiteSVM RPC server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LiteSvmRpcServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("content-length", "0"))
                body = server.handle(self.rfile.read(length))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LiteSvmRpcServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- JSON-RPC -----------------------------------------------------------------------

    def handle(self, raw: bytes) -> bytes:
        """One HTTP body in, one out (single request or batch)."""
        try:
            request = json.loads(raw)
        except ValueError:
            return json.dumps(_error(None, -32700, "Parse error")).encode()
        if isinstance(request, list):
            if not request:
                return json.dumps(_error(None, -32600, "Invalid request: empty batch")).encode()
            return json.dumps([self._one(r) for r in request]).encode()
        return json.dumps(self._one(request)).encode()

    def _one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, -32600, "Invalid request")
        rid = request.get("id")
        method = request["method"]
        params = request.get("params") or []
        with self.lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            if self.before_call is not None:
                self.before_call(method)
            try:
                result = self._dispatch(method, params)
            except _RpcError as exc:
                return _error(rid, exc.code, exc.message)
            except (ValueError, TypeError, IndexError, KeyError) as exc:
                return _error(rid, -32602, f"Invalid params: {exc}")
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _slot(self, config: Any) -> int:
        clock = self.svm.get_clock()
        slot = clock.slot
        self._slot_times[slot] = clock.unix_timestamp
        self._slot_hashes.setdefault(slot, str(self.svm.latest_blockhash()))
        if isinstance(config, dict):
            wanted = config.get("minContextSlot")
            if isinstance(wanted, int) and slot < wanted:
                raise _RpcError(
                    _MIN_SLOT_NOT_REACHED,
                    f"Minimum context slot has not been reached: context slot {slot}, "
                    f"minContextSlot {wanted}",
                )
        return slot

    def _account_json(self, key: str) -> dict[str, Any] | None:
        account = self.svm.get_account(Pubkey.from_string(key))
        if account is None or account.lamports == 0:
            return None
        return {
            "lamports": account.lamports,
            "owner": str(account.owner),
            "data": [base64.b64encode(bytes(account.data)).decode(), "base64"],
            "executable": account.executable,
            "rentEpoch": account.rent_epoch,
            "space": len(account.data),
        }

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        config = params[-1] if params and isinstance(params[-1], dict) else None
        if method == "getSlot":
            return self._slot(config)
        if method == "getMultipleAccounts":
            keys = params[0]
            if len(keys) > 100:
                raise _RpcError(-32602, "Too many inputs provided; max 100")
            slot = self._slot(config)
            return {"context": {"slot": slot}, "value": [self._account_json(k) for k in keys]}
        if method == "getAccountInfo":
            slot = self._slot(config)
            return {"context": {"slot": slot}, "value": self._account_json(params[0])}
        if method == "getBalance":
            slot = self._slot(config)
            account = self.svm.get_account(Pubkey.from_string(params[0]))
            return {"context": {"slot": slot}, "value": 0 if account is None else account.lamports}
        if method == "getBlockTime":
            self._slot(None)
            stamp = self._slot_times.get(int(params[0]))
            if stamp is None:
                raise _RpcError(
                    -32009, f"Slot {params[0]} was skipped, or missing in long-term storage"
                )
            return stamp
        if method == "getBlock":
            self._slot(None)
            slot = int(params[0])
            if slot not in self._slot_hashes:
                raise _RpcError(-32009, f"Slot {slot} was skipped, or missing in long-term storage")
            return {
                "blockhash": self._slot_hashes[slot],
                "blockTime": self._slot_times[slot],
                "parentSlot": max(slot - 1, 0),
                "blockHeight": slot,
            }
        if method == "getLatestBlockhash":
            slot = self._slot(config)
            return {
                "context": {"slot": slot},
                "value": {
                    "blockhash": str(self.svm.latest_blockhash()),
                    "lastValidBlockHeight": slot + 150,
                },
            }
        if method == "getGenesisHash":
            return self.genesis
        if method == "getHealth":
            return "ok"
        if method == "getVersion":
            return {"solana-core": "litesvm", "feature-set": 0}
        raise _RpcError(-32601, f"Method not found: {method}")


def _error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}

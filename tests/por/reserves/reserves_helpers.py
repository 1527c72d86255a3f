"""Test helpers for the reserve readers: a JSON-RPC proxy that can lie, raw RPC calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from por.chain.ethereum_world import connect

RequestHook = Callable[[dict[str, Any]], dict[str, Any]]
ResponseHook = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class RpcProxy:
    """Forwards JSON-RPC to `upstream`, letting a test rewrite requests and responses."""

    def __init__(
        self,
        upstream: str,
        on_request: RequestHook | None = None,
        on_response: ResponseHook | None = None,
    ) -> None:
        self.upstream = upstream
        self.on_request = on_request
        self.on_response = on_response
        self.client = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                batch = isinstance(body, list)
                out = [proxy.forward(r) for r in (body if batch else [body])]
                raw = json.dumps(out if batch else out[0]).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(self, request: dict[str, Any]) -> dict[str, Any]:
        sent = self.on_request(request) if self.on_request else request
        if "error" in sent:  # the hook answered by itself
            return sent
        response: dict[str, Any] = self.client.post(self.upstream, json=sent).json()
        return self.on_response(request, response) if self.on_response else response

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


def rpc(url: str, method: str, *params: Any) -> Any:
    """One raw JSON-RPC call (cheat codes, mining)."""
    w3 = connect(url)
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, f"{method} failed: {response}"
    return response["result"]

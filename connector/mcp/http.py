"""One streamable-HTTP exchange, served by the SDK from inside a WSGI request.

``serve`` runs Flask under gunicorn's threaded workers, where no event loop runs. Each POST
to ``/mcp`` therefore gets a short-lived loop of its own (``anyio.run`` in the worker's
thread) and a fresh SDK session manager in stateless JSON-response mode: one JSON-RPC
message in, one JSON answer out, nothing kept between requests, so any worker of any
replica can answer any request. The request and answer cross as a minimal ASGI scope; the
SDK does all protocol work (both eras: the ``initialize`` handshake and 2026-07-28's
self-contained requests).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

__all__ = ["Exchange", "Reply", "serve_exchange"]

# The SDK logs its manager's start and stop at INFO; here that is every request, not a session.
for _name in ("mcp.server.streamable_http_manager", "mcp.server.streamable_http"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class Exchange:
    """One HTTP request as the WSGI server received it."""

    method: str
    path: str
    query_string: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    client: tuple[str, int] | None = None
    server: tuple[str, int] | None = None
    scheme: str = "http"


@dataclass
class Reply:
    """The answer the SDK wrote."""

    status: int = 500
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def serve_exchange(server: Server[Any], exchange: Exchange) -> Reply:
    """Let the SDK answer ``exchange`` (blocking; runs its own event loop)."""
    return anyio.run(_serve, server, exchange)


async def _serve(server: Server[Any], exchange: Exchange) -> Reply:
    manager = StreamableHTTPSessionManager(app=server, json_response=True, stateless=True)
    reply = Reply()
    answered = anyio.Event()
    body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": exchange.body, "more_body": False}
        await answered.wait()  # the client stays connected until the answer is complete
        return {"type": "http.disconnect"}

    chunks: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            reply.status = int(message["status"])
            reply.headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
            ]
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": exchange.method,
        "scheme": exchange.scheme,
        "path": exchange.path,
        "raw_path": exchange.path.encode(),
        "root_path": "",
        "query_string": exchange.query_string,
        "headers": [(k.lower(), v) for k, v in exchange.headers],
        "client": exchange.client,
        "server": exchange.server,
    }
    async with manager.run():
        await manager.handle_request(scope, receive, send)
    answered.set()
    reply.body = b"".join(chunks)
    return reply

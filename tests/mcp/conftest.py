"""The MCP tools against a real connector on loopback and the Retell sandbox.

Clients are the SDK's own: ``mcp.Client`` over its streamable-HTTP and stdio transports, and,
to resend one JSON-RPC request under the same id (what a retrying client does), the SDK's
``JSONRPCDispatcher`` over the same transports (``Wire``).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from flask import Flask
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher

from connector import manifest
from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import TOKEN, make_settings

KEY = "sandbox-key"
SALES_LINE = "+14157774444"
# Tools every MCP surface must offer: a call action, a lookup, both dropdown lists, the poll.
CORE_TOOLS = frozenset(
    {"create_phone_call", "get_call", "list_phone_numbers", "list_agents", "recent_call_events"}
)


@dataclass
class Rig:
    """The Retell sandbox and a connector on loopback, pointed at it."""

    url: str
    sandbox: SandboxServer
    app: Flask

    def calls_to(self, number: str) -> list[dict[str, Any]]:
        """The calls the sandbox placed to ``number`` (its own record, through list-calls)."""
        body = {"limit": 1000}  # a module places a few dozen calls at most
        with httpx.Client(
            base_url=self.sandbox.url, headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            page = http.post("/v3/list-calls", json=body).json()
        return [c for c in page["items"] if c.get("to_number") == number]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    server = LoopbackServer()
    config = SandboxConfig.fast(api_key=KEY, webhook_url=f"{server.url}/v1/webhooks/retell")
    with SandboxServer(config) as sandbox:
        settings = make_settings(
            tmp_path_factory.mktemp("mcp"), retell_api_key=KEY, retell_base_url=sandbox.url
        )
        app = create_app(settings, configure_logs=False)
        server.app = app
        try:
            with server:
                yield Rig(server.url, sandbox, app)
        finally:
            app.extensions["connector"].engine.dispose()


@asynccontextmanager
async def http_transport(url: str, token: str = TOKEN) -> AsyncIterator[Any]:
    """The SDK's streamable-HTTP transport to ``url``/mcp with a bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as streams,
    ):
        yield streams


@asynccontextmanager
async def client(
    transport: AbstractAsyncContextManager[Any], mode: str = "auto"
) -> AsyncIterator[Client]:
    async with Client(transport, mode=mode) as connected:
        yield connected


@dataclass
class Wire:
    """A legacy MCP session driven request by request, ids chosen by the test."""

    dispatcher: JSONRPCDispatcher[Any]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], request_id: int | str
    ) -> types.CallToolResult:
        raw = await self.dispatcher.send_raw_request(
            "tools/call", {"name": name, "arguments": arguments}, {"request_id": request_id}
        )
        return types.CallToolResult.model_validate(raw, by_name=False)


async def _refuse(_ctx: Any, method: str, _params: Any) -> dict[str, Any]:
    raise MCPError(code=types.METHOD_NOT_FOUND, message=method)


async def _ignore(_ctx: Any, _method: str, _params: Any) -> None:
    return None


@asynccontextmanager
async def wire(transport: AbstractAsyncContextManager[Any]) -> AsyncIterator[Wire]:
    """Open a session with the ``initialize`` handshake over ``transport``."""
    async with transport as (read, write), anyio.create_task_group() as tasks:
        dispatcher: JSONRPCDispatcher[Any] = JSONRPCDispatcher(read, write)
        await tasks.start(dispatcher.run, _refuse, _ignore)
        await dispatcher.send_raw_request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "retell-connector-tests", "version": "0"},
            },
            {"cancel_on_abandon": False},
        )
        await dispatcher.notify("notifications/initialized", None)
        yield Wire(dispatcher)
        tasks.cancel_scope.cancel()


def texts(result: types.CallToolResult) -> list[str]:
    return [block.text for block in result.content if isinstance(block, types.TextContent)]


def run(coroutine: Any, *args: Any) -> Any:
    """Run an async test body to its end (the suite has no async plugin)."""
    return anyio.run(coroutine, *args)


CAMPAIGN_ACTIONS = [
    {
        "key": "queue_phone_call",
        "kind": "create",
        "noun": "Queued Call",
        "label": "Queue Phone Call",
        "description": "Queues a call for the dialer, inside calling hours and capacity.",
        "method": "POST",
        "path": "/v1/actions/queue-phone-call",
        "input": "schemas/queue-phone-call.input.json",
        "output": "schemas/queued-call.json",
        "idempotency": {"header": "Idempotency-Key", "field": "idempotency_key"},
        "hints": {"read_only": False, "destructive": False, "idempotent": True, "open_world": True},
    },
    {
        "key": "find_queued_call",
        "kind": "search",
        "noun": "Queued Call",
        "label": "Find Queued Call",
        "description": "Finds a queued call by its ID.",
        "method": "GET",
        "path": "/v1/actions/find-queued-call",
        "input": "schemas/find-queued-call.input.json",
        "output": "schemas/queued-call.json",
        "hints": {"read_only": True, "destructive": False, "idempotent": True, "open_world": False},
    },
    {
        "key": "cancel_queued_call",
        "kind": "create",
        "noun": "Queued Call",
        "label": "Cancel Queued Call",
        "description": "Cancels a queued call that has not been dialled yet.",
        "method": "POST",
        "path": "/v1/actions/cancel-queued-call",
        "input": "schemas/cancel-queued-call.input.json",
        "output": "schemas/queued-call.json",
        "hints": {"read_only": False, "destructive": True, "idempotent": True, "open_world": False},
    },
]


def with_campaign_actions() -> dict[str, Any]:
    """The manifest plus the campaign actions (the routes and schemas campaigns serve), as
    the manifest will declare them; those it already declares are kept as they are."""
    document = manifest.load_manifest()
    keys = {a["key"] for a in document["actions"]}
    document["actions"] += [copy.deepcopy(a) for a in CAMPAIGN_ACTIONS if a["key"] not in keys]
    return document

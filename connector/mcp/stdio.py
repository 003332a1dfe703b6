"""``retell-connector mcp --url URL --token T``: the tools over stdio, for desktop assistants.

The process is one MCP session (its own random id, so retried requests derive the same
idempotency key) and talks to a remote connector over its public API. It checks the token
and reads the connector's manifest before serving, so a wrong token or an unreachable
connector stops it with one line on stderr rather than tools that all fail. stdout carries
the protocol and nothing else.
"""

from __future__ import annotations

import secrets
import sys

import anyio
import httpx
from mcp.server.stdio import stdio_server
from referencing.exceptions import Unresolvable

from connector.mcp.remote import ConnectorApi, remote_catalog
from connector.mcp.server import build_server
from connector.problems import Problem

__all__ = ["StartupRefused", "run_stdio"]


class StartupRefused(RuntimeError):
    """The connector refused the token or could not be read; the message is one line."""


def _check_token(api: ConnectorApi) -> str:
    """The connection's label from ``/v1/me``; StartupRefused for a token it refuses."""
    try:
        response = api.send("GET", "/v1/me")
    except httpx.HTTPError as exc:
        raise StartupRefused(f"cannot reach the connector at {api.base_url} ({exc!r})") from None
    if response.status_code == 401:
        raise StartupRefused(f"the connector at {api.base_url} refused the token (401)")
    if response.status_code != 200:
        raise StartupRefused(f"{api.base_url}/v1/me answered HTTP {response.status_code}")
    body = response.json()
    return str(body.get("label", "")) if isinstance(body, dict) else ""


def run_stdio(url: str, token: str, *, transport: httpx.BaseTransport | None = None) -> int:
    """Serve until stdin closes; 0, or 2 after one line on stderr when start-up is refused."""
    if not url.startswith(("http://", "https://")):
        print(f"error: --url must be the connector's http(s) URL, not {url!r}", file=sys.stderr)
        return 2
    api = ConnectorApi(url, token, transport=transport)
    try:
        _check_token(api)
        catalog = remote_catalog(api)
    except (StartupRefused, Problem) as exc:
        api.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (LookupError, TypeError, ValueError, Unresolvable) as exc:  # a manifest we cannot use
        api.close()
        print(f"error: cannot read the tools of the connector at {url}: {exc!r}", file=sys.stderr)
        return 2
    server = build_server(catalog, api, session=secrets.token_hex(16))

    async def serve() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(serve)
    finally:
        api.close()
    return 0

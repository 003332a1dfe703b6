"""MCP: ``server.json`` for the MCP registry and config snippets for common MCP clients.

Two ways in, both from the manifest: the ``retell-connector mcp`` command over stdio (the
PyPI package, run by the client with the connector's URL and a token from the environment)
and the connector's own streamable-HTTP endpoint ``/mcp`` with a bearer token.

Written files:
- ``server.json``: the MCP registry's format (schema 2025-12-11), with both ways in.
- ``claude_desktop_config.json``: Claude Desktop's ``mcpServers`` (stdio).
- ``.mcp.json``: the ``mcpServers`` map read by Claude Code and Cursor, over HTTP to ``/mcp``.
- ``.vscode/mcp.json``: VS Code's ``servers`` over HTTP, prompting once for the token.
No token is ever written: each file names where it goes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector.platforms.source import ConnectorSource

__all__ = ["SERVER_SCHEMA", "TOKEN_ENV", "export"]

SERVER_SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
TOKEN_ENV = "RETELL_CONNECTOR_TOKEN"
PACKAGE = "retell-connector"  # the PyPI distribution, whose console script has the same name
_TOKEN_HINT = "<your connector API token>"


def _reverse_dns(url: str) -> str:
    """``https://calls.acme.com`` → ``com.acme.calls``: the registry's namespace for a server."""
    host = urlsplit(url).hostname or "example.com"
    return ".".join(reversed(host.split(".")))


def server_json(source: ConnectorSource) -> dict[str, Any]:
    manifest, base = source.manifest, source.base_url
    token_help = manifest["auth"]["description"]
    description = manifest["description"]
    short = description if len(description) <= 100 else description[:99].rsplit(" ", 1)[0] + "…"
    return {
        "$schema": SERVER_SCHEMA,
        "name": f"{_reverse_dns(base)}/{manifest['name']}",
        "title": manifest["label"],
        "description": short,
        "version": manifest["version"],
        "packages": [
            {
                "registryType": "pypi",
                "identifier": PACKAGE,
                "version": manifest["version"],
                "runtimeHint": "uvx",
                "transport": {"type": "stdio"},
                "packageArguments": [
                    {"type": "positional", "value": "mcp"},
                    {
                        "type": "named",
                        "name": "--url",
                        "value": base,
                        "description": "Where the connector runs.",
                        "isRequired": True,
                    },
                ],
                "environmentVariables": [
                    {
                        "name": TOKEN_ENV,
                        "description": token_help,
                        "isRequired": True,
                        "isSecret": True,
                    }
                ],
            }
        ],
        "remotes": [
            {
                "type": "streamable-http",
                "url": f"{base}/mcp",
                "headers": [
                    {
                        "name": "Authorization",
                        "description": f"Bearer and a connector API token. {token_help}",
                        "value": "Bearer {token}",
                        "isRequired": True,
                        "isSecret": True,
                        "variables": {
                            "token": {
                                "description": token_help,
                                "isRequired": True,
                                "isSecret": True,
                            }
                        },
                    }
                ],
            }
        ],
    }


def claude_desktop(source: ConnectorSource) -> dict[str, Any]:
    name = source.manifest["name"]
    return {
        "mcpServers": {
            name: {
                "command": PACKAGE,
                "args": ["mcp", "--url", source.base_url],
                "env": {TOKEN_ENV: _TOKEN_HINT},
            }
        }
    }


def http_clients(source: ConnectorSource) -> dict[str, Any]:
    """``.mcp.json``: ``${VAR}`` is read from the environment by Claude Code and Cursor."""
    return {
        "mcpServers": {
            source.manifest["name"]: {
                "type": "http",
                "url": f"{source.base_url}/mcp",
                "headers": {"Authorization": f"Bearer ${{{TOKEN_ENV}}}"},
            }
        }
    }


def vscode(source: ConnectorSource) -> dict[str, Any]:
    name = source.manifest["name"]
    return {
        "inputs": [
            {
                "type": "promptString",
                "id": f"{name}-token",
                "description": source.manifest["auth"]["description"],
                "password": True,
            }
        ],
        "servers": {
            name: {
                "type": "http",
                "url": f"{source.base_url}/mcp",
                "headers": {"Authorization": f"Bearer ${{input:{name}-token}}"},
            }
        },
    }


def export(source: ConnectorSource, out: Path) -> list[Path]:
    files = {
        "server.json": server_json(source),
        "claude_desktop_config.json": claude_desktop(source),
        ".mcp.json": http_clients(source),
        ".vscode/mcp.json": vscode(source),
    }
    written = []
    for name, document in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written

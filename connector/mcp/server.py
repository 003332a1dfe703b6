"""The MCP server: the catalog's tools listed and called, on the SDK's low-level ``Server``.

The low-level server is used (not ``MCPServer``'s decorated functions) because the tools are
data: their names, schemas and requests come from the manifest. Arguments are not checked
against the schema here: the connector checks them and answers a problem naming each field,
which becomes the tool error, so an assistant reads the same words a platform user does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from connector.mcp.catalog import Catalog, ToolSpec
from connector.mcp.keys import derived_key
from connector.mcp.remote import ConnectorApi, ToolAnswer, run_tool

__all__ = ["build_server", "tool_of"]

NAME = "retell-connector"


def tool_of(spec: ToolSpec) -> types.Tool:
    """The MCP description of one tool."""
    hints = spec.hints
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema,
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=hints.get("read_only"),
            destructive_hint=hints.get("destructive"),
            idempotent_hint=hints.get("idempotent"),
            open_world_hint=hints.get("open_world"),
        ),
    )


def _result(answer: ToolAnswer) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text) for text in answer.text],
        structured_content=answer.structured,
        is_error=answer.is_error,
    )


def _instructions(catalog: Catalog) -> str:
    names = set(catalog.names)
    lines = ["Phone calls with Retell AI voice agents, through the user's Retell connector."]
    if {"list_phone_numbers", "list_agents"} & names:
        lines.append("list_phone_numbers and list_agents give the values for from_number and")
        lines.append("override_agent_id.")
    if "create_phone_call" in names:
        lines.append("create_phone_call dials at once and really calls a person: confirm the")
        lines.append("number with the user first.")
    if "queue_phone_call" in names:
        lines.append("queue_phone_call dials later, inside calling hours and capacity.")
    if "get_call" in names:
        lines.append("get_call tells how a call went (summary, transcript, sentiment).")
    return " ".join(lines)


def build_server(
    catalog: Catalog, api: ConnectorApi, *, session: str | None, version: str = ""
) -> Server[Any]:
    """A server for one connector: ``session`` names the MCP session keys are derived in
    (None: no session, so tools that need a key ask the assistant for one)."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool_of(spec) for spec in catalog.tools])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = catalog.get(params.name)
        if spec is None:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"Unknown tool {params.name!r}; the tools are {', '.join(catalog.names)}.",
            )
        derive: Callable[[], str | None] = functools.partial(
            _derive, session, ctx.request_id, spec.name
        )
        call = functools.partial(run_tool, api, spec, dict(params.arguments or {}), derive)
        answer = await anyio.to_thread.run_sync(call)
        return _result(answer)

    return Server(
        NAME,
        version=version,
        title="Retell AI",
        instructions=_instructions(catalog),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _derive(session: str | None, request_id: int | str | None, tool: str) -> str | None:
    if session is None or request_id is None:
        return None
    return derived_key(session, request_id, tool)

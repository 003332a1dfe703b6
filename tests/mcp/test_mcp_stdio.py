"""``retell-connector mcp`` over stdio, launched by the SDK's stdio client, against a connector."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client

from connector import manifest
from connector.mcp.schemas import inline_refs
from tests.conftest import TOKEN
from tests.mcp.conftest import SALES_LINE, Rig, client, run, texts, wire

pytestmark = pytest.mark.slow
COMMAND = str(Path(sys.executable).with_name("retell-connector"))


def launch(rig: Rig, token: str = TOKEN) -> Any:
    params = StdioServerParameters(
        command=COMMAND, args=["mcp", "--url", rig.url, "--token", token]
    )
    return stdio_client(params)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stdio_lists_the_tools_with_the_manifest_schemas(rig: Rig, mode: str) -> None:
    """The tools come from the remote connector's manifest; schemas equal the manifest's."""

    async def body() -> list[types.Tool]:
        async with client(launch(rig), mode) as connected:
            return (await connected.list_tools()).tools

    tools = {tool.name: tool for tool in run(body)}
    actions = manifest.load_manifest()["actions"]
    assert {a["key"] for a in actions} | {
        "list_phone_numbers",
        "list_agents",
        "recent_call_events",
    } == set(tools)
    for action in actions:
        expected = inline_refs(manifest.load_schema(action["input"]), manifest.registry())
        assert tools[action["key"]].input_schema == expected


def test_stdio_tools_reach_the_sandbox(rig: Rig) -> None:
    """Listing numbers and placing a call over stdio work end to end."""
    number = "+14155551301"

    async def body() -> tuple[types.CallToolResult, types.CallToolResult]:
        async with client(launch(rig)) as connected:
            numbers = await connected.call_tool("list_phone_numbers", {})
            created = await connected.call_tool(
                "create_phone_call", {"from_number": SALES_LINE, "to_number": number}
            )
            return numbers, created

    numbers, created = run(body)
    assert SALES_LINE in [item["value"] for item in numbers.structured_content["items"]]
    assert not created.is_error, texts(created)
    assert [c["call_id"] for c in rig.calls_to(number)] == [created.structured_content["call_id"]]


def test_stdio_retried_request_dials_once(rig: Rig) -> None:
    """The process is one session: a request resent under its id dials once, a new id again."""
    number = "+14155551302"
    arguments = {"from_number": SALES_LINE, "to_number": number}

    async def body() -> list[types.CallToolResult]:
        async with wire(launch(rig)) as session:
            first = await session.call_tool("create_phone_call", arguments, request_id=41)
            retried = await session.call_tool("create_phone_call", arguments, request_id=41)
            assert len(rig.calls_to(number)) == 1
            other = await session.call_tool("create_phone_call", arguments, request_id=42)
            return [first, retried, other]

    first, retried, other = run(body)
    assert retried.structured_content == first.structured_content
    assert other.structured_content["call_id"] != first.structured_content["call_id"]
    assert len(rig.calls_to(number)) == 2


def test_stdio_bad_input_is_a_tool_error_naming_the_field(rig: Rig) -> None:
    """A number that is not one comes back as the connector's problem, field named."""

    async def body() -> types.CallToolResult:
        async with client(launch(rig)) as connected:
            return await connected.call_tool(
                "create_phone_call", {"from_number": SALES_LINE, "to_number": "+1 415"}
            )

    result = run(body)
    assert result.is_error
    assert [e["path"] for e in result.structured_content["errors"]] == ["to_number"]
    assert "to_number" in texts(result)[0]


def test_stdio_refuses_to_start_with_a_wrong_token(rig: Rig) -> None:
    """A token the connector refuses stops the command at once: exit 2, one line, no token."""
    wrong = "wrong-token-0123456789"
    done = subprocess.run(
        [COMMAND, "mcp", "--url", rig.url, "--token", wrong],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == f"error: the connector at {rig.url} refused the token (401)"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "calls.acme.com",
            "error: --url must be the connector's http(s) URL, not 'calls.acme.com'",
        ),
        ("http://127.0.0.1:9", "error: cannot reach the connector at http://127.0.0.1:9"),
    ],
)
def test_stdio_refuses_to_start_without_a_connector(url: str, message: str) -> None:
    """No URL or nothing listening there: exit 2 with one line saying so."""
    done = subprocess.run(
        [COMMAND, "mcp", "--url", url, "--token", TOKEN],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1

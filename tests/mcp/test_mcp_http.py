"""``POST /mcp`` with the SDK's own client: tools, results, idempotency, errors, auth."""

from __future__ import annotations

import time
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from connector import manifest
from connector.app import create_app
from connector.mcp.catalog import build_catalog
from connector.mcp.schemas import inline_refs
from tests.conftest import AUTH, TOKEN, make_settings
from tests.mcp.conftest import SALES_LINE, Rig, client, http_transport, run, texts, wire

pytestmark = pytest.mark.slow
MODES = ["auto", "legacy"]  # auto: 2026-07-28 self-contained requests; legacy: initialize


def call(
    rig: Rig, name: str, arguments: dict[str, Any], mode: str = "auto"
) -> types.CallToolResult:
    async def body() -> types.CallToolResult:
        async with client(http_transport(rig.url), mode) as connected:
            return await connected.call_tool(name, arguments)

    result: types.CallToolResult = run(body)
    return result


def leaves(error: BaseException) -> list[BaseException]:
    """The errors inside (nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def create(to_number: str, **extra: Any) -> dict[str, Any]:
    return {"from_number": SALES_LINE, "to_number": to_number, **extra}


@pytest.mark.parametrize("mode", MODES)
def test_tools_are_listed_with_the_manifest_input_schemas(rig: Rig, mode: str) -> None:
    """Every tool is listed; each action's input schema equals the manifest's (refs resolved)."""

    async def body() -> list[types.Tool]:
        async with client(http_transport(rig.url), mode) as connected:
            return (await connected.list_tools()).tools

    tools = {tool.name: tool for tool in run(body)}
    catalog = build_catalog(manifest.load_manifest(), manifest.load_schema)
    assert list(tools) == catalog.names
    for action in manifest.load_manifest()["actions"]:
        expected = inline_refs(manifest.load_schema(action["input"]), manifest.registry())
        assert tools[action["key"]].input_schema == expected
    assert tools["create_phone_call"].annotations.idempotent_hint is True  # type: ignore[union-attr]
    assert tools["get_call"].annotations.read_only_hint is True  # type: ignore[union-attr]


def test_list_phone_numbers_gives_the_account_numbers(rig: Rig) -> None:
    """The sandbox's numbers, values in full in the JSON, masked in the paragraph."""
    result = call(rig, "list_phone_numbers", {})
    assert not result.is_error
    values = [item["value"] for item in result.structured_content["items"]]
    assert SALES_LINE in values
    assert texts(result)[0].startswith(f"Phone numbers ({len(values)}): ")
    assert "+1 415-••• 4444" in texts(result)[0] and SALES_LINE not in texts(result)[0]


def test_list_agents_gives_the_voice_agents(rig: Rig) -> None:
    """The sandbox's voice agents with their ids, as the Agent dropdown has them."""
    result = call(rig, "list_agents", {})
    assert not result.is_error
    items = result.structured_content["items"]
    assert items and all(item["value"] in texts(result)[0] for item in items[:5])


def wait_until_analysed(rig: Rig, call_id: str) -> types.CallToolResult:
    deadline = time.monotonic() + 15
    while True:
        result = call(rig, "get_call", {"call_id": call_id})
        if result.is_error or "call_analysis" in result.structured_content:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"call {call_id} was not analysed in time")
        time.sleep(0.1)


def test_create_then_get_call_tells_how_the_call_went(rig: Rig) -> None:
    """create_phone_call dials (the sandbox has the call); get_call then quotes its outcome."""
    created = call(rig, "create_phone_call", create("+14155551201", idempotency_key="http-get-1"))
    assert not created.is_error, texts(created)
    call_id = created.structured_content["call_id"]
    assert [c["call_id"] for c in rig.calls_to("+14155551201")] == [call_id]
    assert texts(created)[0].startswith("Call to +1 415-••• 1201 from +1 415-••• 4444 placed")
    found = wait_until_analysed(rig, call_id)
    assert not found.is_error and found.structured_content["call_id"] == call_id
    paragraph = texts(found)[0]
    assert paragraph.startswith("Call to +1 415-••• 1201 ended after ")
    assert "; summary: " in paragraph and "+14155551201" not in paragraph


def test_recent_call_events_lists_a_finished_call(rig: Rig) -> None:
    """The newest events include those of a call that just ended, newest first."""
    created = call(
        rig, "create_phone_call", create("+14155551202", idempotency_key="http-recent-1")
    )
    call_id = created.structured_content["call_id"]
    wait_until_analysed(rig, call_id)
    result = call(
        rig, "recent_call_events", {"events": ["call_ended", "call_analyzed"], "limit": 5}
    )
    assert not result.is_error, texts(result)
    items = result.structured_content["items"]
    assert {i["event"] for i in items if i["call"]["call_id"] == call_id} == {
        "call_ended",
        "call_analyzed",
    }
    assert texts(result)[0].startswith(f"{len(items)} call events, newest first")


def test_the_same_key_twice_dials_once(rig: Rig) -> None:
    """Two create_phone_call with one idempotency_key: one call, the same answer twice."""
    number = "+14155551203"
    first = call(rig, "create_phone_call", create(number, idempotency_key="http-dup-1"))
    again = call(rig, "create_phone_call", create(number, idempotency_key="http-dup-1"))
    assert not first.is_error and not again.is_error
    assert again.structured_content == first.structured_content
    assert len(rig.calls_to(number)) == 1


def test_a_retried_request_in_a_session_dials_once(rig: Rig) -> None:
    """No key: a request resent under the same id in the same session derives the same key,
    so it dials once; a new request id is a new call."""
    number = "+14155551204"

    async def body() -> list[types.CallToolResult]:
        async with wire(http_transport(rig.url)) as session:
            first = await session.call_tool(
                "create_phone_call", create(number), request_id="call-1"
            )
            retried = await session.call_tool(
                "create_phone_call", create(number), request_id="call-1"
            )
            calls_after_retry = len(rig.calls_to(number))
            other = await session.call_tool(
                "create_phone_call", create(number), request_id="call-2"
            )
            assert calls_after_retry == 1
            return [first, retried, other]

    first, retried, other = run(body)
    assert retried.structured_content == first.structured_content
    assert other.structured_content["call_id"] != first.structured_content["call_id"]
    assert len(rig.calls_to(number)) == 2


def test_without_a_session_the_key_is_asked_for(rig: Rig) -> None:
    """2026-07-28 requests carry no session: create_phone_call without a key dials nothing
    and says idempotency_key is needed."""
    number = "+14155551205"
    result = call(rig, "create_phone_call", create(number), mode="auto")
    assert result.is_error
    assert [e["path"] for e in result.structured_content["errors"]] == ["idempotency_key"]
    assert rig.calls_to(number) == []


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("create_phone_call", create("12", idempotency_key="bad-1"), "to_number"),
        (
            "create_phone_call",
            {"to_number": "+14155551206", "idempotency_key": "bad-2"},
            "from_number",
        ),
        ("get_call", {}, "call_id"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_bad_input_is_a_tool_error_naming_the_field(
    rig: Rig, mode: str, tool: str, arguments: dict[str, Any], field: str
) -> None:
    """The connector's problem comes back as the tool error, its field list and message."""
    result = call(rig, tool, arguments, mode)
    assert result.is_error
    problem = result.structured_content
    assert problem["status"] == 422 and problem["type"].endswith("/validation-error")
    assert field in [e["path"] for e in problem["errors"]]
    assert field in texts(result)[0]


def test_an_unknown_tool_is_a_protocol_error(rig: Rig) -> None:
    """Calling a tool that is not listed is an MCP error naming the tools."""

    async def body() -> str:
        async with client(http_transport(rig.url)) as connected:
            try:
                await connected.call_tool("delete_everything", {})
            except MCPError as exc:
                return str(exc)
        return "no error"

    message = run(body)
    assert "delete_everything" in message and "create_phone_call" in message


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_token_is_refused(rig: Rig, mode: str) -> None:
    """A token the connector does not know gets nothing: the client cannot even connect."""

    async def body() -> None:
        async with Client(
            http_transport(rig.url, token="wrong-token-0123456789"), mode=mode
        ) as connected:
            await connected.list_tools()

    with pytest.raises(Exception) as caught:
        run(body)
    assert {type(error) for error in leaves(caught.value)} == {MCPError}
    answer = httpx.post(
        f"{rig.url}/mcp", json={}, headers={"Authorization": "Bearer wrong-token-0123456789"}
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_get_and_delete_are_not_offered(rig: Rig) -> None:
    """No server-to-client stream and no session to end: 405, as MCP allows, in problem+json."""
    for method in ("GET", "DELETE"):
        answer = httpx.request(method, f"{rig.url}/mcp", headers=AUTH)
        assert answer.status_code == 405
        assert answer.headers["content-type"] == "application/problem+json"


def test_the_endpoint_can_be_turned_off(tmp_path: Any) -> None:
    """CONNECTOR_MCP_ENABLED=false: no /mcp at all."""
    app = create_app(make_settings(tmp_path, connector_mcp_enabled=False), configure_logs=False)
    answer = app.test_client().post("/mcp", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"not json", "application/json", 400),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}', "text/plain", 400),
        (b"[" * 2_000_000, "application/json", 413),
    ],
)
def test_a_malformed_post_is_refused_without_a_server_error(
    rig: Rig, body: bytes, content_type: str, status: int
) -> None:
    """Garbage, a wrong media type or an oversized body gets a 4xx, never a 500."""
    headers = {
        **AUTH,
        "Content-Type": content_type,
        "Accept": "application/json, text/event-stream",
    }
    answer = httpx.post(f"{rig.url}/mcp", content=body, headers=headers)
    assert answer.status_code == status

"""Campaign actions as tools, from a manifest that declares them, against the real queue API."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from connector import manifest
from connector.mcp.catalog import build_catalog
from connector.mcp.remote import ConnectorApi
from connector.mcp.server import build_server
from tests.conftest import TOKEN
from tests.mcp.conftest import SALES_LINE, Rig, run, texts, with_campaign_actions

pytestmark = pytest.mark.slow


def calls(rig: Rig, *requests: tuple[str, dict[str, Any]]) -> list[types.CallToolResult]:
    """Each (tool, arguments) in one session of a server built from the campaign manifest."""
    catalog = build_catalog(with_campaign_actions(), manifest.load_schema)
    api = ConnectorApi(rig.url, TOKEN)
    server = build_server(catalog, api, session="campaign-tests")

    async def body() -> list[types.CallToolResult]:
        async with Client(server, mode="legacy") as connected:
            return [await connected.call_tool(name, arguments) for name, arguments in requests]

    try:
        results: list[types.CallToolResult] = run(body)
    finally:
        api.close()
    return results


def queue(to_number: str, key: str) -> dict[str, Any]:
    return {
        "from_number": SALES_LINE,
        "to_number": to_number,
        "call_window": "anytime",
        "idempotency_key": key,
    }


def test_queue_phone_call_queues_once_per_key(rig: Rig) -> None:
    """queue_phone_call answers with the queued call; the same key again, the same one."""
    first, again = calls(
        rig,
        ("queue_phone_call", queue("+14155551501", "mcp-queue-1")),
        ("queue_phone_call", queue("+14155551501", "mcp-queue-1")),
    )
    assert not first.is_error, texts(first)
    assert first.structured_content["state"] == "queued"
    assert again.structured_content["id"] == first.structured_content["id"]
    assert texts(first)[0].startswith(
        f"Queued call {first.structured_content['id']} to +1 415-••• 1501 in campaign default is "
    )


def test_find_queued_call_finds_it_and_names_a_missing_id(rig: Rig) -> None:
    """find_queued_call gives the queued call; an unknown id is a 404, none the field named."""
    (queued,) = calls(rig, ("queue_phone_call", queue("+14155551502", "mcp-queue-2")))
    queued_id = queued.structured_content["id"]
    found, missing, empty = calls(
        rig,
        ("find_queued_call", {"queued_call_id": queued_id}),
        ("find_queued_call", {"queued_call_id": "qc_000000000000000000000000"}),
        ("find_queued_call", {}),
    )
    assert found.structured_content == queued.structured_content
    assert missing.is_error and missing.structured_content["status"] == 404
    assert empty.is_error
    assert [e["path"] for e in empty.structured_content["errors"]] == ["queued_call_id"]


def test_cancel_queued_call_cancels_before_dialling(rig: Rig) -> None:
    """cancel_queued_call, a destructive tool, cancels a call not dialled yet and says so."""
    (queued,) = calls(rig, ("queue_phone_call", queue("+14155551503", "mcp-queue-3")))
    (cancelled,) = calls(
        rig, ("cancel_queued_call", {"queued_call_id": queued.structured_content["id"]})
    )
    assert not cancelled.is_error, texts(cancelled)
    assert cancelled.structured_content["state"] == "cancelled"
    assert " is cancelled" in texts(cancelled)[0]

"""Tool calls as connector requests, with the connector's answers scripted at the transport."""

from __future__ import annotations

import json
from typing import Any

import httpx

from connector import manifest
from connector.mcp.catalog import ToolSpec, build_catalog
from connector.mcp.remote import ConnectorApi, run_tool

CATALOG = build_catalog(manifest.load_manifest(), manifest.load_schema)
CREATE = CATALOG.get("create_phone_call")
ARGUMENTS = {"from_number": "+14157774444", "to_number": "+14155550123"}


def api_answering(handler: Any, seen: list[httpx.Request]) -> ConnectorApi:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)  # type: ignore[no-any-return]

    return ConnectorApi(
        "https://connector.test", "token-0123456789abcdef", transport=httpx.MockTransport(record)
    )


def test_a_derived_key_goes_in_the_idempotency_header() -> None:
    """Without idempotency_key the derived key is sent as Idempotency-Key, not in the body."""
    seen: list[httpx.Request] = []
    api = api_answering(
        lambda _r: httpx.Response(201, json={"call_id": "c1", "call_status": "registered"}), seen
    )
    assert CREATE is not None
    answer = run_tool(api, CREATE, ARGUMENTS, lambda: "mcp-derived")
    assert not answer.is_error
    assert seen[0].headers["Idempotency-Key"] == "mcp-derived"
    assert json.loads(seen[0].content) == ARGUMENTS
    assert seen[0].headers["Authorization"] == "Bearer token-0123456789abcdef"


def test_a_given_key_stays_in_the_body() -> None:
    """A key the assistant gives travels as the action's own field, with no header."""
    seen: list[httpx.Request] = []
    api = api_answering(lambda _r: httpx.Response(201, json={"call_id": "c1"}), seen)
    assert CREATE is not None
    run_tool(api, CREATE, {**ARGUMENTS, "idempotency_key": "lead-7"}, lambda: "unused")
    assert "Idempotency-Key" not in seen[0].headers
    assert json.loads(seen[0].content)["idempotency_key"] == "lead-7"


def test_no_answer_to_a_create_is_an_unknown_outcome_with_the_key_to_retry() -> None:
    """A timeout after sending: the call may exist; the assistant is told the key to repeat."""

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    api = api_answering(timeout, [])
    assert CREATE is not None
    answer = run_tool(api, CREATE, ARGUMENTS, lambda: "mcp-derived")
    assert answer.is_error
    assert answer.structured["type"].endswith("/call-outcome-unknown")
    assert answer.structured["retry_safe"] is True
    assert "idempotency_key='mcp-derived'" in answer.text[-1]


def test_a_refused_connection_is_not_an_unknown_outcome() -> None:
    """Nothing was sent when the connection is refused: connector-unreachable, no advice."""

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api = api_answering(refused, [])
    assert CREATE is not None
    answer = run_tool(api, CREATE, ARGUMENTS, lambda: "mcp-derived")
    assert answer.structured["type"].endswith("/connector-unreachable")
    assert len(answer.text) == 1


def test_an_answer_without_a_problem_is_still_a_problem() -> None:
    """A proxy's HTML error page becomes a problem naming the status, never a crash."""
    api = api_answering(lambda _r: httpx.Response(502, text="<html>Bad gateway</html>"), [])
    tool = CATALOG.get("get_call")
    assert tool is not None
    answer = run_tool(api, tool, {"call_id": "c1"}, lambda: None)
    assert answer.is_error and "HTTP 502" in answer.text[0]


def test_get_arguments_go_in_the_query_and_lists_repeat() -> None:
    """GET tools send their arguments as query parameters, a list as repeated names."""
    seen: list[httpx.Request] = []
    api = api_answering(lambda _r: httpx.Response(200, json=[]), seen)
    tool = CATALOG.get("recent_call_events")
    assert tool is not None
    run_tool(api, tool, {"events": ["call_ended", "call_analyzed"]}, lambda: None)
    assert seen[0].url.params.get_list("events") == ["call_ended", "call_analyzed"]
    assert seen[0].url.params["limit"] == "10"


def test_path_parameters_are_filled_from_the_arguments() -> None:
    """An action path with {name} takes that argument, URL-encoded; the rest is the query."""
    seen: list[httpx.Request] = []
    api = api_answering(lambda _r: httpx.Response(200, json={"id": "qc_1"}), seen)
    tool = ToolSpec(
        name="find", title="Find", description="", input_schema={}, method="GET",
        path="/v1/queue/{id}", output="queued-call.json",
    )  # fmt: skip
    run_tool(api, tool, {"id": "qc 1/2", "verbose": True}, lambda: None)
    assert seen[0].url.raw_path == b"/v1/queue/qc%201%2F2?verbose=true"
    missing = run_tool(api, tool, {}, lambda: None)
    assert missing.is_error and [e["path"] for e in missing.structured["errors"]] == ["id"]

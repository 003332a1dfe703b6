"""Retell's request validation, list-calls filters, pagination and error bodies."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from connector.sandbox import SandboxServer

CREATE = "/v2/create-phone-call"
OK = {"from_number": "+14157774444", "to_number": "+14155550123"}
FORMAT = "Invalid request format, please check API reference."


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, FORMAT),
        ({"from_number": "+14157774444"}, 400, FORMAT),
        ({**OK, "to_number": 14155550123}, 400, FORMAT),
        ({**OK, "to_number": ""}, 400, FORMAT),
        ({**OK, "to_number": "4155550123"}, 400, "E.164"),
        ({**OK, "from_number": "+19995550000"}, 422, "from_number is not a phone number"),
        ({**OK, "override_agent_id": "agent_missing"}, 422, "override_agent_id"),
        ({**OK, "override_agent_version": 99}, 422, "override_agent_version"),
        ({**OK, "metadata": "lead-1"}, 400, FORMAT),
        ({**OK, "metadata": {"blob": "x" * 50_001}}, 400, "50kB"),
        ({**OK, "retell_llm_dynamic_variables": {"age": 42}}, 400, FORMAT),
        ({**OK, "custom_sip_headers": ["X-A"]}, 400, FORMAT),
        ({**OK, "ignore_e164_validation": "yes"}, 400, FORMAT),
        ({**OK, "override_agent_version": True}, 400, FORMAT),
        ({**OK, "to_number": "+14155550009", "honor_internal_dnc": True}, 400, "do_not_call"),
    ],
)
def test_invalid_create_is_refused_and_places_nothing(
    http: httpx.Client, body: dict[str, Any], status: int, message: str
) -> None:
    """Each bad body gets Retell's status and error shape, and no call is created."""
    before = http.get("/_sandbox/stats").json()["calls_created"]
    response = http.post(CREATE, json=body)
    assert response.status_code == status
    assert response.json()["status"] == "error" and message in response.json()["message"]
    assert http.get("/_sandbox/stats").json()["calls_created"] == before


def test_non_json_body_is_400(http: httpx.Client) -> None:
    """A body that is not JSON gets Retell's 400."""
    response = http.post(CREATE, content=b"from_number=1", headers={"content-type": "text/plain"})
    assert response.status_code == 400 and response.json() == {"status": "error", "message": FORMAT}


def test_dnc_number_is_called_when_dnc_is_not_honoured(http: httpx.Client) -> None:
    """The internal DNC list only matters when honor_internal_dnc is true."""
    assert http.post(CREATE, json={**OK, "to_number": "+14155550009"}).status_code == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", CREATE),
        ("GET", "/v2/get-call/x"),
        ("POST", "/v3/list-calls"),
        ("GET", "/v2/list-phone-numbers"),
        ("POST", "/v2/list-agents"),
        ("GET", "/list-agent-versions/agent_5b8f3c1e9d2a4f6b8c0d1e2f3a"),
        ("GET", "/get-api-key-info"),
        ("GET", "/get-concurrency"),
    ],
)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "sandbox-key", "Basic sandbox-key"]
)
def test_every_retell_endpoint_needs_the_key(
    anonymous: httpx.Client, method: str, path: str, authorization: str | None
) -> None:
    """Without the exact bearer key every Retell endpoint answers 401."""
    headers = {"Authorization": authorization} if authorization else {}
    response = anonymous.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "API key is missing or invalid."}


def test_unknown_path_is_a_retell_style_404(http: httpx.Client) -> None:
    """Routing errors use Retell's error body too."""
    response = http.get("/v2/list-calls-please")
    assert response.status_code == 404 and response.json()["status"] == "error"


@pytest.fixture(scope="module")
def batch(server: SandboxServer) -> dict[str, str]:
    """Three analyzed calls tagged with one fresh metadata batch: answered, no answer, busy."""
    tag = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {server.config.api_key}"}
    ids = {}
    for name, to_number in (
        ("answered", "+14155550123"),
        ("no_answer", "+14155550001"),
        ("busy", "+14155550002"),
    ):
        body = {**OK, "to_number": to_number, "metadata": {"batch": tag, "name": name}}
        ids[name] = httpx.post(f"{server.url}{CREATE}", json=body, headers=headers).json()[
            "call_id"
        ]
    for call_id in ids.values():
        server.state.wait_for(call_id, "analyzed")
    return {"tag": tag, **ids}


def list_batch(http: httpx.Client, batch: dict[str, str], **body: Any) -> dict[str, Any]:
    criteria = {"metadata": [{"key": "batch", "type": "string", "op": "eq", "value": batch["tag"]}]}
    criteria.update(body.pop("filter_criteria", {}))
    response = http.post("/v3/list-calls", json={"filter_criteria": criteria, **body})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def names(page: dict[str, Any]) -> list[str]:
    return [c["metadata"]["name"] for c in page["items"]]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({}, ["busy", "no_answer", "answered"]),
        ({"call_status": {"type": "enum", "op": "in", "value": ["ended"]}}, ["answered"]),
        (
            {"call_status": {"type": "enum", "op": "in", "value": ["not_connected"]}},
            ["busy", "no_answer"],
        ),
        ({"disconnection_reason": {"type": "enum", "op": "in", "value": ["dial_busy"]}}, ["busy"]),
        ({"to_number": {"type": "string", "op": "ew", "value": "0001"}}, ["no_answer"]),
        ({"duration_ms": {"type": "number", "op": "gt", "value": 0}}, ["answered"]),
        ({"start_timestamp": {"type": "range", "op": "bt", "value": [0, 1]}}, []),
        (
            {"end_timestamp": {"type": "number", "op": "ge", "value": 1}},
            ["busy", "no_answer", "answered"],
        ),
        ({"call_successful": {"type": "boolean", "op": "eq", "value": True}}, ["answered"]),
        (
            {"agent": [{"agent_id": "agent_1c7e2d9b4a6f8e0c2b4d6f8a0c"}]},
            ["busy", "no_answer", "answered"],
        ),
        ({"agent": [{"agent_id": "agent_1c7e2d9b4a6f8e0c2b4d6f8a0c", "version": [1]}]}, []),
        ({"metadata": [{"key": "name", "type": "string", "op": "eq", "value": "busy"}]}, ["busy"]),
        (
            {"dynamic_variables": [{"key": "customer_name", "type": "present", "op": "np"}]},
            ["busy", "no_answer", "answered"],
        ),
    ],
)
def test_list_calls_filters(
    http: httpx.Client, batch: dict[str, str], criteria: dict[str, Any], expected: list[str]
) -> None:
    """filter_criteria narrows list-calls as Retell documents, newest first."""
    assert names(list_batch(http, batch, filter_criteria=criteria)) == expected


def test_list_calls_by_call_id(http: httpx.Client, batch: dict[str, str]) -> None:
    """call_id takes a string filter too."""
    criteria = {"call_id": {"type": "string", "op": "eq", "value": batch["busy"]}}
    assert names(list_batch(http, batch, filter_criteria=criteria)) == ["busy"]


def test_list_calls_items_omit_transcripts(http: httpx.Client, batch: dict[str, str]) -> None:
    """v3 list items leave out the transcript fields (get-call has them)."""
    answered = list_batch(http, batch, sort_order="ascending")["items"][0]
    assert answered["call_id"] == batch["answered"] and "call_analysis" in answered
    for field in ("transcript", "transcript_object", "transcript_with_tool_calls"):
        assert field not in answered
    assert "transcript" in http.get(f"/v2/get-call/{batch['answered']}").json()


def walk(
    http: httpx.Client, criteria: dict[str, Any], sort_order: str, between: Any = None
) -> list[str]:
    """Page through list-calls with limit=1, calling ``between()`` after each page."""
    seen, key = [], None
    while True:
        body = {"filter_criteria": criteria, "limit": 1, "sort_order": sort_order}
        page = http.post(
            "/v3/list-calls", json={**body, **({"pagination_key": key} if key else {})}
        ).json()
        seen += [c["call_id"] for c in page["items"]]
        if between:
            between()
        if not page["has_more"]:
            assert "pagination_key" not in page
            return seen
        key = page["pagination_key"]


def tagged(tag: str) -> dict[str, Any]:
    return {"metadata": [{"key": "batch", "type": "string", "op": "eq", "value": tag}]}


@pytest.mark.parametrize("sort_order", ["descending", "ascending"])
def test_list_calls_pages_one_by_one(
    http: httpx.Client, batch: dict[str, str], sort_order: str
) -> None:
    """limit=1 with pagination_key visits every matching call exactly once, in order."""
    expected = [batch["busy"], batch["no_answer"], batch["answered"]]
    seen = walk(http, tagged(batch["tag"]), sort_order)
    assert seen == (expected if sort_order == "descending" else expected[::-1])


def test_descending_pages_ignore_calls_placed_meanwhile(http: httpx.Client) -> None:
    """Calls placed during a newest-first walk never shift the pages still to come."""
    tag = uuid.uuid4().hex

    def place() -> str:
        return str(http.post(CREATE, json={**OK, "metadata": {"batch": tag}}).json()["call_id"])

    ids = [place() for _ in range(3)]
    assert walk(http, tagged(tag), "descending", between=place) == ids[::-1]


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "ten"},
        {"sort_order": "newest"},
        {"pagination_key": "not-a-key"},
        {"skip": -1},
        {"filter_criteria": []},
        {"filter_criteria": {"colour": {"type": "string", "op": "eq", "value": "red"}}},
        {"filter_criteria": {"call_status": {"type": "enum", "op": "eq", "value": ["ended"]}}},
        {"filter_criteria": {"duration_ms": {"type": "number", "op": "gt", "value": "5"}}},
        {"filter_criteria": {"metadata": {"key": "a"}}},
        {"filter_criteria": {"agent": [{"version": [1]}]}},
    ],
)
def test_bad_list_calls_request_is_400(http: httpx.Client, body: dict[str, Any]) -> None:
    """Malformed paging or filters get 400 instead of a silently wrong list."""
    response = http.post("/v3/list-calls", json=body)
    assert response.status_code == 400 and response.json()["status"] == "error"


def test_phone_numbers_page_by_query_string(http: httpx.Client) -> None:
    """list-phone-numbers pages with limit and pagination_key query parameters."""
    first = http.get("/v2/list-phone-numbers", params={"limit": 2}).json()
    rest = http.get(
        "/v2/list-phone-numbers", params={"limit": 2, "pagination_key": first["pagination_key"]}
    ).json()
    numbers = [n["phone_number"] for n in first["items"] + rest["items"]]
    assert numbers == ["+14157774444", "+16505550123", "+13125550188"]
    assert first["has_more"] is True and rest["has_more"] is False


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"query": "sales"}, ["Sales agent"]),
        ({"query": "agent_9a3d"}, ["Appointment reminders"]),
        ({"channel": {"type": "string", "op": "eq", "value": "chat"}}, ["Website chat"]),
        (
            {"channel": {"type": "string", "op": "eq", "value": "voice"}},
            ["Support agent", "Sales agent", "Appointment reminders", "Winter promo"],
        ),
        (
            {"is_transfer_agent": {"type": "boolean", "op": "eq", "value": False}},
            [
                "Support agent",
                "Sales agent",
                "Appointment reminders",
                "Website chat",
                "Winter promo",
            ],
        ),
    ],
)
def test_list_agents_filters(
    http: httpx.Client, criteria: dict[str, Any], expected: list[str]
) -> None:
    """list-agents honours filter_criteria's query, channel and is_transfer_agent."""
    body = http.post("/v2/list-agents", json={"filter_criteria": criteria}).json()
    assert [a["agent_name"] for a in body["items"]] == expected


@pytest.mark.parametrize(
    "criteria",
    [
        {"channel": {"type": "boolean", "op": "eq", "value": True}},
        {"is_transfer_agent": {"type": "string", "op": "eq", "value": "no"}},
        {"query": 3},
        {"colour": "red"},
    ],
)
def test_bad_list_agents_filter_is_400(http: httpx.Client, criteria: dict[str, Any]) -> None:
    """A list-agents filter outside the SDK's types gets 400, not a silently full list."""
    response = http.post("/v2/list-agents", json={"filter_criteria": criteria})
    assert response.status_code == 400 and response.json()["status"] == "error"


def test_agent_versions_page_newest_first(http: httpx.Client) -> None:
    """list-agent-versions lists versions newest first, paging with the query string."""
    path = "/list-agent-versions/agent_5b8f3c1e9d2a4f6b8c0d1e2f3a"
    first = http.get(path, params={"limit": 3}).json()
    rest = http.get(path, params={"limit": 3, "pagination_key": first["pagination_key"]}).json()
    assert [v["version"] for v in first["items"] + rest["items"]] == [3, 2, 1, 0]
    assert first["items"][0]["version_title"] == "Spanish handoff"
    ascending = http.get(path, params={"sort_order": "ascending"}).json()
    assert [v["version"] for v in ascending["items"]] == [0, 1, 2, 3]


def test_versions_of_an_unknown_agent_are_422(http: httpx.Client) -> None:
    """An agent id the account does not have gets Retell's not-found 422."""
    response = http.get("/list-agent-versions/agent_missing")
    assert response.status_code == 422
    assert response.json()["message"] == "Cannot find requested asset under given api key."


def test_chat_agent_cannot_place_a_phone_call(http: httpx.Client) -> None:
    """override_agent_id naming a chat agent is refused with 422 and places nothing."""
    body = {**OK, "override_agent_id": "agent_4e6a8c0b2d4f6a8c0e2b4d6f8a"}
    response = http.post(CREATE, json=body)
    assert response.status_code == 422 and "chat agent" in response.json()["message"]


def test_stats_and_config_controls(http: httpx.Client) -> None:
    """/_sandbox/stats counts requests; /_sandbox/config reads and changes the clock."""
    stats = http.get("/_sandbox/stats").json()
    assert {"create_requests", "calls_created", "webhooks_sent", "webhooks_failed"} <= set(stats)
    changed = http.patch("/_sandbox/config", json={"talk_seconds": 0.12}).json()
    assert changed["talk_seconds"] == 0.12 and "api_key" not in changed
    assert http.patch("/_sandbox/config", json={"api_key": "x"}).status_code == 400
    assert http.patch("/_sandbox/config", json={"ring_seconds": -1}).status_code == 400
    http.patch("/_sandbox/config", json={"talk_seconds": 0.1})

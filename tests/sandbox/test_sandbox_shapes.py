"""Every sandbox answer has exactly the shape the official SDK's types declare, field for field.

Each body is validated by retell-sdk's pydantic model in strict mode, and every model in the
result, however deep, must have no extra fields: Stainless models accept unknown fields
silently (``extra="allow"``), so a field Retell does not send would otherwise pass and the
connector could come to depend on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest
from retell.types import (
    AgentListResponse,
    AgentListVersionsResponse,
    CallListResponse,
    PhoneCallResponse,
    PhoneNumberListResponse,
)
from retell.types.concurrency_retrieve_response import ConcurrencyRetrieveResponse
from retell.types.identity_retrieve_response import IdentityRetrieveResponse

from connector.sandbox import SandboxConfig, SandboxServer, WebhookRecorder
from connector.sandbox.catalog import AGENTS
from connector.sandbox.receiver import Received

SALES_LINE = "+14157774444"
# One of each scripted outcome (see the sandbox README's table).
OUTCOMES = {
    "answered": "+14155550123",
    "no_answer": "+14155550001",
    "busy": "+14155550002",
    "voicemail": "+14155550003",
    "dial_failed": "+14155550004",
    "declined": "+14155550005",
}
FULL = {
    "metadata": {"lead_id": "L-1", "score": 3, "tags": ["a"]},
    "retell_llm_dynamic_variables": {"customer_name": "Ada", "company_name": "Acme"},
    "custom_sip_headers": {"X-Lead": "L-1"},
}


def extra_fields(value: Any, path: str = "$") -> list[str]:
    """Where a validated model (or any model inside it) kept fields its type does not declare."""
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        found += [f"{path}.{name}" for name in value.model_extra or {}]
        for name in type(value).model_fields:
            found += extra_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += extra_fields(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += extra_fields(item, f"{path}.{key}")
    return found


def assert_shape(model: type[pydantic.BaseModel], body: Any) -> None:
    """``body`` validates strictly as ``model`` and carries nothing the model does not declare."""
    validated = model.model_validate(body, strict=True)
    assert extra_fields(validated) == []


@pytest.mark.parametrize(
    ("model", "body", "extras"),
    [
        (IdentityRetrieveResponse, {"org_id": "o", "org_name": "n", "version": 1}, ["$.version"]),
        (
            AgentListResponse,
            {
                "has_more": False,
                "items": [
                    {
                        "agent_id": "a",
                        "agent_name": "n",
                        "channel": "voice",
                        "is_suspended": False,
                        "tags": {"production": {"version": 3, "colour": "red"}},
                        "user_modified_timestamp": 1,
                        "version": 3,
                    }
                ],
            },
            ["$.items[0].version", "$.items[0].tags.production.colour"],
        ),
    ],
)
def test_extra_fields_are_found_at_any_depth(
    model: type[pydantic.BaseModel], body: Any, extras: list[str]
) -> None:
    """The checker itself: undeclared fields are reported, nested ones included."""
    assert sorted(extra_fields(model.model_validate(body, strict=True))) == sorted(extras)


@pytest.fixture(scope="module")
def recorder() -> Iterator[WebhookRecorder]:
    with WebhookRecorder() as running:
        yield running


@pytest.fixture(scope="module")
def server(recorder: WebhookRecorder) -> Iterator[SandboxServer]:
    config = SandboxConfig.fast(webhook_url=recorder.url, transcript_updates=True)
    with SandboxServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def placed(http: httpx.Client, server: SandboxServer) -> dict[str, dict[str, Any]]:
    """Create-phone-call's 201 body for each outcome, with and without the optional fields."""
    bodies: dict[str, dict[str, Any]] = {}
    for name, to_number in OUTCOMES.items():
        for extra in ("bare", "full"):
            body: dict[str, Any] = {"from_number": SALES_LINE, "to_number": to_number}
            if extra == "full":
                body |= {**FULL, "override_agent_id": AGENTS[0].agent_id}
            response = http.post("/v2/create-phone-call", json=body)
            assert response.status_code == 201, response.text
            bodies[f"{name}-{extra}"] = response.json()
    inbound = http.post(
        "/_sandbox/inbound-calls", json={"from_number": "+14155550199", "to_number": SALES_LINE}
    )
    assert inbound.status_code == 201, inbound.text
    bodies["inbound"] = inbound.json()["call"]
    for call in bodies.values():
        server.state.wait_for(call["call_id"], "analyzed")
    return bodies


def test_create_phone_call_answers_the_sdk_shape(placed: dict[str, dict[str, Any]]) -> None:
    """Every create-phone-call body is exactly a PhoneCallResponse."""
    for body in placed.values():
        assert_shape(PhoneCallResponse, body)


@pytest.mark.parametrize(
    "name", [*(f"{n}-{e}" for n in OUTCOMES for e in ("bare", "full")), "inbound"]
)
def test_get_call_answers_the_sdk_shape(
    http: httpx.Client, placed: dict[str, dict[str, Any]], name: str
) -> None:
    """get-call of an analyzed call of every outcome, inbound too, is a PhoneCallResponse."""
    response = http.get(f"/v2/get-call/{placed[name]['call_id']}")
    assert response.status_code == 200
    assert_shape(PhoneCallResponse, response.json())


def test_webhook_calls_answer_the_sdk_shape(
    recorder: WebhookRecorder, placed: dict[str, dict[str, Any]]
) -> None:
    """The call in every webhook (each event, each phase) is exactly a PhoneCallResponse."""
    ids = {call["call_id"] for call in placed.values()}

    def analyzed(hook: Received) -> bool:
        return bool(
            hook.json()["event"] == "call_analyzed" and hook.json()["call"]["call_id"] in ids
        )

    recorder.wait_for(len(ids), timeout=10, where=analyzed)  # each call's last event
    ours = [h.json() for h in recorder.received if h.json()["call"]["call_id"] in ids]
    events = {h["event"] for h in ours}
    assert {"call_started", "call_ended", "call_analyzed", "transcript_updated"} <= events
    for hook in ours:
        assert set(hook) == {"event", "call"}
        assert_shape(PhoneCallResponse, hook["call"])


@pytest.mark.parametrize(
    "body", [{}, {"sort_order": "ascending", "limit": 3}, {"include_total": True}]
)
def test_list_calls_answers_the_sdk_shape(
    http: httpx.Client, placed: dict[str, dict[str, Any]], body: dict[str, Any]
) -> None:
    """v3 list-calls pages are exactly a CallListResponse."""
    response = http.post("/v3/list-calls", json=body)
    assert response.status_code == 200 and response.json()["items"]
    assert_shape(CallListResponse, response.json())


@pytest.mark.parametrize(
    ("method", "path", "model"),
    [
        ("GET", "/v2/list-phone-numbers", PhoneNumberListResponse),
        ("GET", "/v2/list-phone-numbers?limit=1", PhoneNumberListResponse),
        ("POST", "/v2/list-agents", AgentListResponse),
        ("POST", "/v2/list-agents?limit=2", AgentListResponse),
        *(
            ("GET", f"/list-agent-versions/{agent.agent_id}", AgentListVersionsResponse)
            for agent in AGENTS
        ),
        ("GET", "/get-concurrency", ConcurrencyRetrieveResponse),
        ("GET", "/get-api-key-info", IdentityRetrieveResponse),
    ],
)
def test_account_endpoints_answer_the_sdk_shape(
    http: httpx.Client, method: str, path: str, model: type[pydantic.BaseModel]
) -> None:
    """Numbers, agents, agent versions, concurrency and key info are exactly the SDK types."""
    response = http.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 200
    assert_shape(model, response.json())


def test_a_call_over_the_concurrency_limit_has_the_sdk_shape() -> None:
    """A call ended with concurrency_limit_reached, and its webhooks, are PhoneCallResponses."""
    with (
        WebhookRecorder() as hooks,
        SandboxServer(
            SandboxConfig.fast(webhook_url=hooks.url, concurrency_limit=1, ring_seconds=1.0)
        ) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.config.api_key}"}
        ) as http,
    ):
        body = {"from_number": SALES_LINE, "to_number": OUTCOMES["answered"]}
        calls = [http.post("/v2/create-phone-call", json=body).json() for _ in range(2)]
        over = server.state.wait_for(calls[1]["call_id"], "analyzed")
        assert over["disconnection_reason"] == "concurrency_limit_reached"
        for call in calls:
            assert_shape(PhoneCallResponse, call)
        assert_shape(PhoneCallResponse, http.get(f"/v2/get-call/{over['call_id']}").json())
        mine = hooks.wait_for(2, where=lambda h: h.json()["call"]["call_id"] == over["call_id"])
        for hook in mine:
            assert_shape(PhoneCallResponse, hook.json()["call"])

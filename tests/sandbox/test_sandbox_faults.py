"""Injected faults: error statuses, hung answers and dropped connections."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from retell import Retell

from connector.sandbox import SandboxConfig, SandboxServer
from connector.sandbox.catalog import AGENTS

CREATE = "/v2/create-phone-call"
BODY = {"from_number": "+14157774444", "to_number": "+14155550123"}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig.fast()) as running:
        yield running


@pytest.fixture
def http(server: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.config.api_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
        yield client


def inject(http: httpx.Client, **fault: Any) -> None:
    response = http.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text


def created(http: httpx.Client) -> int:
    return int(http.get("/_sandbox/stats").json()["calls_created"])


@pytest.mark.parametrize(
    ("fault", "status", "retry_after", "message"),
    [
        ({"status": 500}, 500, None, "An unexpected server error occurred."),
        ({"status": 429}, 429, "1", "Account rate limited, please throttle your requests."),
        ({"status": 503, "retry_after": 7}, 503, "7", "An unexpected server error occurred."),
        ({"status": 402}, 402, None, "Trial has ended, please add payment method."),
        ({"status": 400, "message": "nope"}, 400, None, "nope"),
    ],
)
def test_status_fault_answers_without_placing_the_call(
    http: httpx.Client, fault: dict[str, Any], status: int, retry_after: str | None, message: str
) -> None:
    """A status fault answers Retell's error body (and Retry-After) and creates nothing."""
    inject(http, **fault)
    response = http.post(CREATE, json=BODY)
    assert response.status_code == status
    assert response.json() == {"status": "error", "message": message}
    assert response.headers.get("retry-after") == retry_after
    assert created(http) == 0
    assert http.post(CREATE, json=BODY).status_code == 201  # the fault is used up


def test_faults_match_their_path_and_count(http: httpx.Client) -> None:
    """A fault for get-call leaves create alone and hits the next two get-calls only."""
    inject(http, status=500, count=2, path="/v2/get-call")
    call_id = http.post(CREATE, json=BODY).json()["call_id"]
    statuses = [http.get(f"/v2/get-call/{call_id}").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_hang_places_the_call_but_answers_too_late(
    http: httpx.Client, server: SandboxServer
) -> None:
    """A hung create times out at the client, yet the call exists: the ambiguous case."""
    inject(http, mode="hang", seconds=2, path=CREATE)
    with pytest.raises(httpx.ReadTimeout):
        http.post(CREATE, json={**BODY, "metadata": {"tag": "hung"}}, timeout=0.3)
    found = http.post(
        "/v3/list-calls",
        json={
            "filter_criteria": {
                "metadata": [{"key": "tag", "type": "string", "op": "eq", "value": "hung"}]
            }
        },
    ).json()
    assert len(found["items"]) == 1 and created(http) == 1


@pytest.mark.parametrize("status", [408, 409, 504])
def test_acted_fault_places_the_call_then_answers_the_status(
    http: httpx.Client, status: int
) -> None:
    """An acted fault does the work (the call exists) but answers Retell's error status."""
    inject(http, mode="acted", status=status, path=CREATE)
    response = http.post(CREATE, json=BODY)
    assert response.status_code == status and response.json()["status"] == "error"
    assert created(http) == 1
    assert http.post("/v3/list-calls", json={}).json()["items"][0]["to_number"] == BODY["to_number"]


def test_close_drops_the_connection_before_acting(http: httpx.Client) -> None:
    """A close fault ends the connection with no response and no call."""
    inject(http, mode="close", path=CREATE)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(CREATE, json=BODY)
    assert created(http) == 0
    assert http.get("/_sandbox/stats").json()["create_requests"] == 1


def test_delete_clears_pending_faults(http: httpx.Client) -> None:
    """DELETE /_sandbox/faults drops every queued fault."""
    inject(http, status=500, count=3)
    assert len(http.get("/_sandbox/faults").json()["pending"]) == 3
    assert http.delete("/_sandbox/faults").json() == {"cleared": 3}
    assert http.post(CREATE, json=BODY).status_code == 201


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "explode"},
        {"status": 200},
        {"status": "500"},
        {"count": 0},
        {"path": "v2"},
        {"seconds": -1},
        {"retry_after": True},
    ],
)
def test_malformed_fault_is_400(http: httpx.Client, fault: dict[str, Any]) -> None:
    """A fault the sandbox can't apply is refused with a Retell-style 400."""
    response = http.post("/_sandbox/faults", json=fault)
    assert response.status_code == 400 and response.json()["status"] == "error"


def test_sdk_honours_the_sandbox_retry_after(server: SandboxServer, http: httpx.Client) -> None:
    """The SDK reads the sandbox's Retry-After on 429 and succeeds on its third try."""
    inject(http, status=429, count=2, retry_after=0.05, path="/v2/list-agents")
    with Retell(api_key=server.config.api_key, base_url=server.url, max_retries=2) as sdk:
        assert len(sdk.agent.list().items) == len(AGENTS)
    assert http.get("/_sandbox/stats").json()["faults_injected"] == 2


def test_latency_delays_every_api_answer(http: httpx.Client, server: SandboxServer) -> None:
    """latency_ms holds each Retell answer back at least that long; controls are exempt."""
    server.state.configure(latency_ms=150)
    started = time.monotonic()
    assert http.get("/get-api-key-info").status_code == 200
    assert time.monotonic() - started >= 0.15

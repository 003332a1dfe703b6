"""Sandbox → connector → subscriber over real loopback HTTP, verified with standardwebhooks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import AUTH, make_settings
from tests.subscriber import Subscriber

pytestmark = pytest.mark.slow

KEY = "sandbox-key"
SALES_LINE = "+14157774444"


@dataclass
class Loop:
    connector: httpx.Client
    sandbox: SandboxServer


@pytest.fixture
def loop(engine: Engine, tmp_path: Path) -> Iterator[Loop]:
    server = LoopbackServer()
    config = SandboxConfig.fast(api_key=KEY, webhook_url=f"{server.url}/v1/webhooks/retell")
    with SandboxServer(config) as sandbox:
        settings = make_settings(
            tmp_path,
            retell_api_key=KEY,
            retell_base_url=sandbox.url,
            connector_allow_private_targets=True,
        )
        app = create_app(settings, engine=engine, run_delivery=True, configure_logs=False)
        server.app = app
        with server, httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
            yield Loop(http, sandbox)
        app.extensions["connector"].stop_background()


def subscribe(loop: Loop, url: str, **body: Any) -> dict[str, Any]:
    response = loop.connector.post(
        "/v1/triggers/call-events/subscriptions", json={"target_url": url, **body}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def place(loop: Loop, to_number: str, key: str) -> str:
    body = {
        "from_number": SALES_LINE,
        "to_number": to_number,
        "retell_llm_dynamic_variables": {"customer_name": "Ada"},
    }
    response = loop.connector.post(
        "/v1/actions/create-phone-call", json=body, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["call_id"])


def test_every_event_arrives_verified_and_filtered(loop: Loop) -> None:
    """Each matching event reaches each subscriber once, signed, with webhook-id = event id."""
    agents = loop.connector.get("/v1/options/agents").json()
    with Subscriber() as analyzed, Subscriber() as started, Subscriber() as other_agent:
        a = subscribe(loop, analyzed.url)
        s = subscribe(loop, started.url, events=["call_started"])
        subscribe(loop, other_agent.url, agent_id="agent_that_does_not_exist")
        calls = [
            place(loop, "+14155550123", "e2e-1"),
            place(loop, "+14155550001", "e2e-2"),
            place(loop, "+14155550003", "e2e-3"),
        ]

        payloads = _verified(analyzed, a["secret"], expected=6)
        started_payloads = _verified(
            started, s["secret"], expected=2
        )  # the no-answer call never starts

    assert {(p["call"]["call_id"], p["event"]) for p in payloads} == {
        (call_id, event) for call_id in calls for event in ("call_ended", "call_analyzed")
    }
    assert {p["event"] for p in started_payloads} == {"call_started"}
    assert other_agent.hits == []
    answered = next(
        p for p in payloads if p["call"]["call_id"] == calls[0] and p["event"] == "call_analyzed"
    )
    assert answered["flat"]["call_summary"]
    assert "Ada" in answered["flat"]["transcript_text"]
    assert answered["flat"]["to_number"] == "+14155550123"
    ended = next(p for p in payloads if p["event"] == "call_ended")
    assert "call_analysis" not in ended["call"]
    assert agents  # the dropdown had agents to offer


def _verified(subscriber: Subscriber, secret: str, *, expected: int) -> list[dict[str, Any]]:
    subscriber.wait_for(expected, timeout=15)
    time.sleep(0.3)  # anything sent twice would arrive now
    payloads = subscriber.verified(secret)
    ids = [hit.headers["webhook-id"] for hit in subscriber.hits]
    assert ids == [p["id"] for p in payloads]
    assert len(set(ids)) == expected == len(payloads)
    return payloads

"""Responders on loopback: a used answer, late / failed / invalid answers falling back to
the defaults (logged, in the delivery log), one call per inbound request, the SSRF guard."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector.delivery.ssrf import guarded_transport
from connector.inbound.responder import Responders
from connector.manifest import schema_validator
from connector.services import Services
from connector.store.subscriptions import Subscription
from tests.inbound.conftest import AUTH, CALLER, Clock, inbound_body, signed_post
from tests.subscriber import Reply, Subscriber

DEFAULTS = {"override_agent_id": "agent_sales", "dynamic_variables": {"first_name": "there"}}


@pytest.fixture(autouse=True)
def _rule_and_real_time(client: FlaskClient, clock: Clock) -> None:
    """A catch-all rule for the defaults; the real clock, as the delivery log reads it."""
    clock.now = time.time()
    response = client.post("/v1/inbound/rules", json=DEFAULTS, headers=AUTH)
    assert response.status_code == 201


def respond_with(client: FlaskClient, url: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/triggers/call-events/subscriptions",
        json={"target_url": url, "mode": "respond", **body},
        headers=AUTH,
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def answer_json(fields: dict[str, Any]) -> str:
    return json.dumps({"call_inbound": fields})


def log_entries(client: FlaskClient, subscription_id: str) -> list[dict[str, Any]]:
    query = f"/v1/deliveries?subscription_id={subscription_id}"
    return list(client.get(query, headers=AUTH).json["items"])


def test_answer_in_time_is_used(client: FlaskClient) -> None:
    """The responder gets the signed call_inbound event with the defaults, and its answer
    is merged over them; the delivery log shows it succeeded."""
    reply = answer_json({"dynamic_variables": {"first_name": "Ada", "vip": True}})
    with Subscriber(Reply(body=reply)) as responder:
        sub = respond_with(client, responder.url)
        answer = signed_post(client, inbound_body()).json
        (request,) = responder.verified(sub["secret"])
    assert answer == {
        "call_inbound": {
            "override_agent_id": "agent_sales",
            "dynamic_variables": {"first_name": "Ada", "vip": "true"},
        }
    }
    assert schema_validator("inbound-event.json").is_valid(request)
    assert request["answer"] == {"call_inbound": DEFAULTS}
    assert request["call_inbound"]["from_number"] == CALLER
    (entry,) = log_entries(client, sub["id"])
    assert (entry["state"], entry["event"], entry["last_status"]) == (
        "succeeded",
        "call_inbound",
        200,
    )


@pytest.mark.slow
@pytest.mark.alone  # 250 ms of slack: other workers' tests share the two cores meanwhile
def test_late_answer_falls_back_within_the_budget(client: FlaskClient) -> None:
    """A responder sleeping past its budget: the defaults are answered within budget + 250 ms,
    not after the responder's 3 s."""
    budget = 0.5
    with Subscriber(Reply(body=answer_json({"override_agent_id": "x"}), delay=3)) as responder:
        sub = respond_with(client, responder.url, respond_timeout_seconds=budget)
        started = time.perf_counter()
        answer = signed_post(client, inbound_body()).json
        elapsed = time.perf_counter() - started
        responder.wait_for(1)
    assert answer == {"call_inbound": DEFAULTS}
    assert elapsed < budget + 0.25, f"answered after {elapsed:.3f} s"
    (entry,) = log_entries(client, sub["id"])
    assert entry["state"] == "dead" and "within 0.5 s" in entry["last_error"]


def test_server_error_falls_back(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    """A 500 from the responder: defaults answered, the failure logged and in the log."""
    with Subscriber(Reply(status=500, body="boom")) as responder:
        sub = respond_with(client, responder.url)
        with caplog.at_level(logging.WARNING, logger="connector.inbound"):
            answer = signed_post(client, inbound_body()).json
    assert answer == {"call_inbound": DEFAULTS}
    assert any("HTTP 500" in r.getMessage() and sub["id"] in r.getMessage() for r in caplog.records)
    (entry,) = log_entries(client, sub["id"])
    assert (entry["state"], entry["last_status"], entry["last_error"]) == ("dead", 500, "HTTP 500")
    assert entry["history"][0]["response_body"] == "boom"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "the answer is not JSON"),
        (
            answer_json({"dynamic_variables": {"slots": ["10:00", "11:00"]}}),
            "dynamic_variables.slots",
        ),
        (answer_json({"override_agent_version": -1}), "override_agent_version"),
        (json.dumps({"agent": "agent_2"}), "agent is not a known field"),
        (answer_json({"metadata": {"blob": "x" * 50_001}}), "metadata"),
    ],
)
def test_invalid_answer_ignored_with_reason(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, body: str, reason: str
) -> None:
    """An answer Retell would reject is never sent: defaults instead, the reason logged."""
    with Subscriber(Reply(body=body)) as responder:
        sub = respond_with(client, responder.url)
        with caplog.at_level(logging.WARNING, logger="connector.inbound"):
            answer = signed_post(client, inbound_body()).json
    assert answer == {"call_inbound": DEFAULTS}
    messages = [r.getMessage() for r in caplog.records]
    assert any("answer ignored" in m and reason in m for m in messages), messages
    (entry,) = log_entries(client, sub["id"])
    assert entry["state"] == "dead" and reason in entry["last_error"]


def test_retry_gets_identical_answer_and_responder_called_once(
    client: FlaskClient, svc: Services
) -> None:
    """Retell's retry of one inbound request: the same answer, the responder asked once,
    and a responder never gets queued (asynchronous) deliveries."""
    with Subscriber(Reply(body=answer_json({"dynamic_variables": {"first_name": "Ada"}}))) as r:
        respond_with(client, r.url)
        first = signed_post(client, inbound_body()).json
        second = signed_post(client, inbound_body()).json
        third = signed_post(client, inbound_body(), path="/v1/webhooks/retell").json
        svc.worker.drain()
        assert len(r.hits) == 1
    assert first == second == third
    assert first["call_inbound"]["dynamic_variables"] == {"first_name": "Ada"}


def test_declined_calls_do_not_ask_responders(client: FlaskClient) -> None:
    """A declining rule answers at once; the responder is not asked."""
    declining = client.post(
        "/v1/inbound/rules", json={"position": 0, "decline": True}, headers=AUTH
    )
    assert declining.status_code == 201
    with Subscriber() as responder:
        respond_with(client, responder.url)
        assert signed_post(client, inbound_body()).json == {"call_inbound": {}}
        assert responder.hits == []


def test_several_responders_merge_in_subscription_order(client: FlaskClient) -> None:
    """Two responders: both asked, the later subscription's fields win."""
    first = Subscriber(Reply(body=answer_json({"dynamic_variables": {"a": "1", "b": "1"}})))
    second = Subscriber(Reply(body=json.dumps({"dynamic_variables": {"b": "2"}})))
    with first, second:
        respond_with(client, first.url)
        respond_with(client, second.url)
        answer = signed_post(client, inbound_body()).json
    variables = answer["call_inbound"]["dynamic_variables"]
    assert variables == {"first_name": "there", "a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "respond", "events": ["call_ended"]}, "events"),
        ({"mode": "respond", "respond_timeout_seconds": 9}, "respond_timeout_seconds"),
        ({"mode": "respond", "respond_timeout_seconds": 0.1}, "respond_timeout_seconds"),
        ({"respond_timeout_seconds": 3}, "respond_timeout_seconds"),
        ({"mode": "answer"}, "mode"),
    ],
)
def test_responder_subscription_input(
    client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    """A responder takes only call_inbound and a budget of 0.5 to 8 s; errors name the field."""
    response = client.post(
        "/v1/triggers/call-events/subscriptions",
        json={"target_url": "https://n8n.example.com/webhook/x", **body},
        headers=AUTH,
    )
    assert response.status_code == 422
    assert [e["path"] for e in response.json["errors"]] == [field]


def test_responder_subscription_view(client: FlaskClient) -> None:
    """A responder is listed with its mode, budget and the one event it takes."""
    created = respond_with(client, "https://n8n.example.com/webhook/x", respond_timeout_seconds=3)
    assert (created["mode"], created["respond_timeout_seconds"], created["events"]) == (
        "respond",
        3,
        ["call_inbound"],
    )
    assert schema_validator("subscription.json").is_valid(created)


def test_guard_refuses_private_responders() -> None:
    """Without the private-targets setting a loopback responder is refused at connect time."""
    responders = Responders(guarded_transport(allow_private=False))
    sub = Subscription(
        "sub_1", "o", "http://127.0.0.1:9/hook", ("call_inbound",), None, "whsec_" + "A" * 32,
        "active", None, 0.0, mode="respond",
    )  # fmt: skip
    try:
        (reply,) = responders.ask([sub], "evt_1", "{}")
    finally:
        responders.close()
    assert reply.fields is None and reply.error is not None and reply.error.startswith("refused")


def test_overlapping_retries_share_one_answer(app: Flask) -> None:
    """A retry that arrives while the first request still waits for the responder waits for
    that answer instead of asking again."""
    reply = Reply(body=answer_json({"dynamic_variables": {"first_name": "Ada"}}), delay=0.6)
    with Subscriber(reply) as responder:
        respond_with(app.test_client(), responder.url)
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(lambda: signed_post(app.test_client(), inbound_body()).json)
            time.sleep(0.2)  # the first has claimed the request and is waiting
            second = pool.submit(lambda: signed_post(app.test_client(), inbound_body()).json)
            answers = [first.result(timeout=10), second.result(timeout=10)]
        assert len(responder.hits) == 1
    assert answers[0] == answers[1]
    assert answers[0]["call_inbound"]["dynamic_variables"] == {"first_name": "Ada"}

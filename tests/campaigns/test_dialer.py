"""The dialer against a scripted Retell: what each answer of Retell does to a queued call."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from connector.campaigns.capacity import Reading, budget_from
from connector.campaigns.dialer import Dialer
from connector.retell.signature import sign
from connector.services import Services
from tests.campaigns.conftest import SALES_LINE
from tests.conftest import AUTH, RETELL_KEY, FakeRetell, build_app, make_settings, sample_call

CONCURRENCY = {"concurrency_limit": 5, "current_concurrency": 0, "reserved_inbound_concurrency": 0}


@pytest.fixture(autouse=True)
def _account(retell: FakeRetell) -> None:
    retell.reply("GET", "/get-concurrency", 200, CONCURRENCY)
    retell.reply("POST", "/v3/list-calls", 200, {"items": []})


def queue(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    body = {"from_number": SALES_LINE, "to_number": "+12125550123", "call_window": "anytime"}
    response = client.post("/v1/actions/queue-phone-call", json={**body, **fields}, headers=AUTH)
    assert response.status_code == 202, response.text
    return response.json  # type: ignore[no-any-return]


def state_of(client: FlaskClient, queued_id: str) -> dict[str, Any]:
    return client.get(f"/v1/queue/{queued_id}", headers=AUTH).json  # type: ignore[no-any-return]


def run_until(svc: Services, client: FlaskClient, queued_id: str, state: str) -> dict[str, Any]:
    svc.dialer.drain(10, until=lambda: state_of(client, queued_id)["state"] == state)
    return state_of(client, queued_id)


def created_with_metadata(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    call = sample_call(call_id="call_" + body["idempotency_key"], metadata=body["metadata"])
    return httpx.Response(201, json=call)


def ended(call_id: str, metadata: dict[str, Any], reason: str) -> dict[str, Any]:
    return sample_call(
        call_id=call_id, call_status="ended", disconnection_reason=reason, metadata=metadata
    )


def post_webhook(client: FlaskClient, event: str, call: dict[str, Any]) -> None:
    raw = json.dumps({"event": event, "call": call})
    response = client.post(
        "/v1/webhooks/retell",
        data=raw,
        headers={"x-retell-signature": sign(raw, RETELL_KEY), "content-type": "application/json"},
    )
    assert response.status_code == 204, response.text


def test_dial_sends_key_and_tags_and_the_end_event_completes_it(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """The create carries the attempt's key and the queue tags; call_ended settles it."""
    retell.on("POST", "/v2/create-phone-call", created_with_metadata)
    queued = queue(client, campaign="spring", metadata={"lead": "L-7"})
    calling = run_until(svc, client, queued["id"], "calling")
    (sent,) = retell.sent("POST", "/v2/create-phone-call")
    body = json.loads(sent.content)
    key = f"rq-{queued['id']}-1"
    assert body["idempotency_key"] == key
    assert body["metadata"]["retell_connector_queued_call_id"] == queued["id"]
    assert body["metadata"]["retell_connector_campaign"] == "spring"
    assert body["metadata"]["lead"] == "L-7"
    assert calling["call_id"] == f"call_{key}"
    assert svc.dialer.queue.in_flight() == 1
    assert b'connector_campaign_dials_total{result="placed"}' in client.get("/metrics").data
    post_webhook(client, "call_ended", ended(calling["call_id"], body["metadata"], "user_hangup"))
    done = state_of(client, queued["id"])
    assert done["state"] == "completed" and done["last_outcome"] == "user_hangup"
    assert svc.dialer.queue.in_flight() == 0


def test_the_call_event_flat_names_queue_and_campaign(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """The forwarded call event's flat carries the queued call id and campaign."""
    retell.on("POST", "/v2/create-phone-call", created_with_metadata)
    queued = queue(client, campaign="spring")
    calling = run_until(svc, client, queued["id"], "calling")
    metadata = json.loads(retell.sent("POST", "/v2/create-phone-call")[0].content)["metadata"]
    post_webhook(client, "call_ended", ended(calling["call_id"], metadata, "agent_hangup"))
    (event,) = svc.inbox.recent(["call_ended"])
    assert event["flat"]["queued_call_id"] == queued["id"]
    assert event["flat"]["campaign"] == "spring"


def test_no_answer_then_answered_through_webhooks(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """A no-answer is retried with the next key; the answered retry completes the call."""
    retell.on("POST", "/v2/create-phone-call", created_with_metadata)
    queued = queue(
        client, retry={"outcomes": ["dial_no_answer"], "max_retries": 1, "wait_minutes": 0}
    )
    first = run_until(svc, client, queued["id"], "calling")
    meta = json.loads(retell.sent("POST", "/v2/create-phone-call")[0].content)["metadata"]
    post_webhook(client, "call_ended", ended(first["call_id"], meta, "dial_no_answer"))
    second = run_until(svc, client, queued["id"], "calling")
    assert second["call_id"] == f"call_rq-{queued['id']}-2"
    meta = json.loads(retell.sent("POST", "/v2/create-phone-call")[1].content)["metadata"]
    post_webhook(client, "call_analyzed", ended(second["call_id"], meta, "agent_hangup"))
    done = state_of(client, queued["id"])
    assert done["state"] == "completed" and done["attempts_used"] == 2


def test_429_requeues_without_using_an_attempt(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """Retell's 429 puts the call back with its Retry-After; no attempt is used."""
    answers = iter([httpx.Response(429, json={"message": "slow"}, headers={"Retry-After": "0"})])
    retell.on(
        "POST",
        "/v2/create-phone-call",
        lambda r: next(answers, None) or created_with_metadata(r),
    )
    queued = queue(client)
    calling = run_until(svc, client, queued["id"], "calling")
    assert calling["attempts"][0]["state"] == "requeued"
    assert "429" in calling["attempts"][0]["error"]
    assert calling["attempts_used"] == 0
    assert calling["attempts"][1]["state"] == "placed"


@pytest.mark.parametrize("status", [400, 422])
def test_a_refused_call_fails_with_an_event(
    client: FlaskClient, svc: Services, retell: FakeRetell, status: int
) -> None:
    """Retell refusing the call for good fails it and queues queued_call.failed."""
    retell.reply("POST", "/v2/create-phone-call", status, {"message": "number is on the DNC list"})
    created = client.post(
        "/v1/triggers/call-events/subscriptions",
        json={"target_url": "https://example.com/hook", "events": ["queued_call.failed"]},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    queued = queue(client)
    failed = run_until(svc, client, queued["id"], "failed")
    assert "DNC" in failed["reason"]
    assert svc.queue.pending_count() == 1


def test_an_ambiguous_dial_is_found_not_dialled_again(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """After a 500 the dialer looks the call up by its key and does not create it again."""
    retell.reply("POST", "/v2/create-phone-call", 500, {"message": "upstream broke"})
    queued = queue(client)
    key = f"rq-{queued['id']}-1"

    def listed(request: httpx.Request) -> httpx.Response:
        criteria = json.loads(request.content)["filter_criteria"]["metadata"][0]
        assert criteria["value"] == key
        return httpx.Response(200, json={"items": [sample_call(call_id="call_found")]})

    retell.on("POST", "/v3/list-calls", listed)
    retell.reply("GET", "/v2/get-call/call_found", 200, sample_call(call_id="call_found"))
    svc.dialer.drain(10, until=lambda: len(retell.sent("POST", "/v3/list-calls")) > 0)
    calling = run_until(svc, client, queued["id"], "calling")
    assert calling["call_id"] == "call_found"
    assert len(retell.sent("POST", "/v2/create-phone-call")) == 1


def test_an_ambiguous_dial_not_found_is_resent_with_the_same_key(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """Not found after a timeout-like failure: re-sent with the same key, never a new one."""
    answers = iter([httpx.Response(502, json={"message": "bad gateway"})])
    retell.on(
        "POST",
        "/v2/create-phone-call",
        lambda r: next(answers, None) or created_with_metadata(r),
    )
    queued = queue(client)
    run_until(svc, client, queued["id"], "calling")
    keys = [
        json.loads(r.content)["idempotency_key"]
        for r in retell.sent("POST", "/v2/create-phone-call")
    ]
    assert keys == [f"rq-{queued['id']}-1"] * 2


@pytest.fixture
def polling_app(tmp_path: Path, retell: FakeRetell, engine: Engine) -> Flask:
    settings = make_settings(tmp_path, call_poll_seconds=0.05, call_safety_seconds=0.3)
    return build_app(settings, retell, engine)


def test_without_webhooks_the_end_is_found_by_polling(
    polling_app: Flask, retell: FakeRetell
) -> None:
    """A call whose end never reaches the webhook is settled from get-call."""
    retell.on("POST", "/v2/create-phone-call", created_with_metadata)
    client, svc = polling_app.test_client(), polling_app.extensions["connector"]
    queued = queue(client, retry={"outcomes": ["dial_busy"], "max_retries": 0})
    calling = run_until(svc, client, queued["id"], "calling")
    retell.reply(
        "GET",
        f"/v2/get-call/{calling['call_id']}",
        200,
        sample_call(
            call_id=calling["call_id"],
            call_status="not_connected",
            disconnection_reason="dial_busy",
        ),
    )
    failed = run_until(svc, client, queued["id"], "failed")
    assert failed["last_outcome"] == "dial_busy"


def test_a_call_that_never_reports_frees_its_slot(polling_app: Flask, retell: FakeRetell) -> None:
    """Past the safety timeout an unreported call stops holding a slot."""
    retell.on("POST", "/v2/create-phone-call", created_with_metadata)
    retell.on("GET", "/v2/get-call/x", lambda _r: httpx.Response(200, json={}))
    client, svc = polling_app.test_client(), polling_app.extensions["connector"]
    queued = queue(client)
    calling = run_until(svc, client, queued["id"], "calling")
    retell.reply(
        "GET", f"/v2/get-call/{calling['call_id']}", 200, sample_call(call_status="ongoing")
    )
    done = run_until(svc, client, queued["id"], "completed")
    assert done["last_outcome"] == "no_end_reported"
    assert svc.dialer.queue.in_flight() == 0


def test_budget_follows_retells_figures(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """Only the room Retell reports is used: 5 - 1 reserved - 2 foreign = 2 calls at once."""
    retell.reply(
        "GET",
        "/get-concurrency",
        200,
        {"concurrency_limit": 5, "current_concurrency": 2, "reserved_inbound_concurrency": 1},
    )
    retell.on("POST", "/v2/create-phone-call", created_with_metadata)
    ids = [queue(client)["id"] for _ in range(4)]
    svc.dialer.drain(10, until=lambda: svc.dialer.queue.in_flight() == 2)
    svc.dialer.run_once()
    states = [state_of(client, i)["state"] for i in ids]
    assert states.count("queued") == 2


@pytest.mark.parametrize(
    ("reading", "maximum", "budget"),
    [
        (Reading(limit=20, reserved_inbound=0, current=0, ours=0), None, 20),
        (Reading(limit=20, reserved_inbound=5, current=0, ours=0), None, 15),
        (Reading(limit=20, reserved_inbound=5, current=7, ours=4), None, 12),
        (Reading(limit=20, reserved_inbound=0, current=3, ours=9), None, 20),
        (Reading(limit=20, reserved_inbound=0, current=0, ours=0), 8, 8),
        (Reading(limit=4, reserved_inbound=0, current=0, ours=0), 8, 4),
        (Reading(limit=4, reserved_inbound=2, current=9, ours=0), None, 0),
        (None, 8, 8),
        (None, None, 0),
    ],
)
def test_budget_formula(reading: Reading | None, maximum: int | None, budget: int) -> None:
    """min(max setting, limit - reserved inbound - foreign calls), never below zero."""
    assert budget_from(reading, maximum) == budget


def test_an_idle_dialer_never_asks_retell(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """With nothing due, Retell's concurrency is not read; a due call makes the dialer ask."""
    for _ in range(3):
        svc.dialer.run_once()
    assert retell.sent("GET", "/get-concurrency") == []
    retell.on("POST", "/v2/create-phone-call", created_with_metadata)
    queued = queue(client)
    run_until(svc, client, queued["id"], "calling")
    assert retell.sent("GET", "/get-concurrency") != []


def test_an_ambiguous_dial_past_retells_key_window_fails_rather_than_dial_again(
    client: FlaskClient, svc: Services, retell: FakeRetell
) -> None:
    """Not found and older than Retell's one-hour key window: the queued call fails as
    outcome unknown, and no second create is sent."""
    retell.reply("POST", "/v2/create-phone-call", 500, {"message": "upstream broke"})
    queued = queue(client)
    svc.dialer.drain(10, until=lambda: retell.sent("POST", "/v2/create-phone-call") != [])
    late = Dialer(svc.dialer.queue, svc.retell, svc.dialer.gauge, clock=lambda: time.time() + 3600)
    try:
        late.drain(10, until=lambda: state_of(client, queued["id"])["state"] == "failed")
    finally:
        late.stop()
    failed = state_of(client, queued["id"])
    assert "will not dial again" in failed["reason"]
    assert len(retell.sent("POST", "/v2/create-phone-call")) == 1

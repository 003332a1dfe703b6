"""Fixtures for the console: an app with two tokens on both stores, signed-in clients, and
helpers that make real subscriptions, deliveries and queued calls through the API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from connector.services import Services
from tests.conftest import TOKEN, FakeRetell, build_app, make_settings, sample_call
from tests.subscriber import Reply, Subscriber
from tests.trigger.test_ingest import post_event

OTHER_TOKEN = "other-token-0123456789abcdef"
CALLEE = "+14155550123"


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, token: str = TOKEN) -> str:
    """Sign ``client`` in with ``token``; returns the session's CSRF token."""
    form = client.get("/console/sign-in")
    response = client.post(
        "/console/sign-in", data={"token": token, "csrf_token": csrf_of(form.text)}
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/console/").text)


def fake_retell_reads(fake: FakeRetell) -> None:
    """The Retell reads the console makes, answered as Retell would."""
    analyzed = sample_call(
        call_status="ended",
        start_timestamp=1_795_541_405_000,
        end_timestamp=1_795_541_465_000,
        call_analysis={
            "call_summary": "The caller booked a visit for Tuesday.",
            "user_sentiment": "Positive",
            "call_successful": True,
            "custom_analysis_data": {"appointment_day": "Tuesday"},
        },
        transcript_object=[
            {"role": "agent", "content": "Hello, this is Acme."},
            {"role": "user", "content": "Hi, I'd like to book a visit."},
        ],
        recording_url="https://retell.test/recordings/call_abc123.wav",
    )
    fake.reply("GET", "/get-concurrency", 200, {"current_concurrency": 3, "concurrency_limit": 20})
    fake.reply("GET", "/get-api-key-info", 200, {"org_name": "Acme", "api_key_name": "prod"})
    listed = {k: v for k, v in analyzed.items() if k != "transcript_object"}
    fake.reply("POST", "/v3/list-calls", 200, {"items": [listed], "has_more": False})
    fake.reply("GET", "/v2/get-call/call_abc123", 200, analyzed)


@pytest.fixture
def console_app(tmp_path: Path, retell: FakeRetell, engine: Engine) -> Flask:
    fake_retell_reads(retell)
    settings = make_settings(
        tmp_path,
        connector_api_tokens=f"{TOKEN},{OTHER_TOKEN}",
        connector_allow_private_targets=True,
        connector_retry_schedule="0,0",
        delivery_timeout_seconds=2,
    )
    return build_app(settings, retell, engine)


@pytest.fixture
def svc(console_app: Flask) -> Services:
    found: Services = console_app.extensions["connector"]
    return found


@pytest.fixture
def user(console_app: Flask) -> FlaskClient:
    """A browser signed in with the first token."""
    client = console_app.test_client()
    client.csrf = sign_in(client)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def other(console_app: Flask) -> FlaskClient:
    """A browser signed in with the second token."""
    client = console_app.test_client()
    client.csrf = sign_in(client, OTHER_TOKEN)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def api(console_app: Flask) -> FlaskClient:
    return console_app.test_client()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    with Subscriber() as running:
        yield running


def subscribe(api: FlaskClient, url: str, token: str = TOKEN, **body: Any) -> dict[str, Any]:
    response = api.post(
        "/v1/triggers/call-events/subscriptions",
        json={"target_url": url, **body},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json
    return found


def deliver_event(api: FlaskClient, svc: Services, call_id: str, event: str = "call_ended") -> None:
    """Retell sends one signed event; the worker delivers what it queued."""
    body = json.dumps({"event": event, "call": sample_call(call_id=call_id)})
    assert post_event(api, body).status_code == 204
    settle(svc)


def settle(svc: Services) -> None:
    """Deliver until nothing is queued (retries are immediate in these tests)."""
    for _ in range(20):
        svc.worker.drain(timeout=10)
        if not svc.queue.pending_count():
            return
    raise AssertionError("deliveries still queued after 20 drains")


def failing(subscriber: Subscriber, times: int) -> None:
    subscriber.script(*[Reply(status=500, body="subscriber exploded") for _ in range(times)])


def queue_call(
    api: FlaskClient, campaign: str, token: str = TOKEN, **fields: Any
) -> dict[str, Any]:
    body = {
        "campaign": campaign,
        "from_number": "+14157774444",
        "to_number": CALLEE,
        "call_window": "anytime",
        **fields,
    }
    response = api.post("/v1/actions/queue-phone-call", json=body, headers=bearer(token))
    assert response.status_code == 202, response.text
    found: dict[str, Any] = response.json
    return found


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report

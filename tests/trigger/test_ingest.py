"""POST /v1/webhooks/retell: signature, limits, shape, dedupe, and matching subscriptions."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from retell.lib import webhook_auth
from sqlalchemy import func, select

from connector.api import webhooks
from connector.log_sampling import SampledLog
from connector.services import services
from connector.store.tables import deliveries, events
from tests.conftest import AUTH, RETELL_KEY, sample_call

URL = "/v1/webhooks/retell"


def retell_body(event: str = "call_ended", **call: Any) -> str:
    return json.dumps({"event": event, "call": sample_call(**call)})


def signed(body: str, key: str = RETELL_KEY, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time() * 1000) if ts is None else ts
    return {
        "x-retell-signature": webhook_auth.symmetric["sign"](body, key, ts),
        "Content-Type": "application/json",
    }


def post_event(client: FlaskClient, body: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(URL, data=body, headers=signed(body) if headers is None else headers)


def count(client: FlaskClient, table: Any) -> int:
    with client.application.app_context(), services().engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def subscribe(client: FlaskClient, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/triggers/call-events/subscriptions",
        json={"target_url": "https://hooks.example.com/catch/1", **body},
        headers=AUTH,
    )
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


BODY = retell_body()
MINUTE_MS = 60 * 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _uppercase_hex() -> dict[str, str]:
    header = signed(BODY)["x-retell-signature"]
    return {"x-retell-signature": header.upper().replace("V=", "v=").replace(",D=", ",d=")}


# Headers are made when each case runs (not when the module is collected), so "valid" is
# still within the five minutes however long the suite takes to reach it.
SIGNATURES: list[tuple[str, Callable[[], dict[str, str]], bool]] = [
    ("valid", lambda: signed(BODY), True),
    ("tampered", lambda: signed(BODY[:-1] + " }"), False),
    ("wrong-key", lambda: signed(BODY, key="wrong-key"), False),
    ("stale", lambda: signed(BODY, ts=_now_ms() - 10 * MINUTE_MS), False),
    ("future", lambda: signed(BODY, ts=_now_ms() + 10 * MINUTE_MS), False),
    ("missing", lambda: {}, False),
    ("garbled", lambda: {"x-retell-signature": "garbled"}, False),
    ("uppercase-hex", _uppercase_hex, False),
]


@pytest.mark.parametrize(
    ("make_headers", "accepted"),
    [(make, accepted) for _, make, accepted in SIGNATURES],
    ids=[name for name, _, _ in SIGNATURES],
)
def test_signature_table(
    client: FlaskClient, make_headers: Callable[[], dict[str, str]], accepted: bool
) -> None:
    """Only a signature Retell's own SDK would produce, within five minutes, is accepted."""
    response = client.post(URL, data=BODY, headers=make_headers())
    assert response.status_code == (204 if accepted else 401)
    assert count(client, events) == (1 if accepted else 0)
    if not accepted:
        assert response.mimetype == "application/problem+json"


def test_oversize_is_413_without_storing(client: FlaskClient) -> None:
    """A body over 256 KiB is refused with 413 and nothing is stored."""
    body = retell_body(transcript="x" * (256 * 1024))
    response = post_event(client, body)
    assert response.status_code == 413
    assert count(client, events) == 0


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"event": "call_ended"}',
        '{"call": {}}',
        '{"event": "call_ended", "call": {"agent_id": "a"}}',
        '{"event": 5, "call": {}}',
    ],
)
def test_malformed_or_unknown_shape_is_400(client: FlaskClient, body: str) -> None:
    """Signed but malformed or shapeless bodies are 400 problems, not stored."""
    response = post_event(client, body)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert count(client, events) == 0


def test_retell_retry_is_acknowledged_not_forwarded_again(client: FlaskClient) -> None:
    """A second delivery of the same (call_id, event) is a 204 with no new delivery."""
    subscribe(client)
    assert post_event(client, BODY).status_code == 204
    assert post_event(client, BODY).status_code == 204
    assert count(client, events) == 1
    assert count(client, deliveries) == 1


def test_transcript_updates_are_distinct_per_turn(client: FlaskClient) -> None:
    """Each transcript_updated turn is its own event; a retried turn is deduped."""
    subscribe(client, events=["transcript_updated"])
    for turns in (1, 2, 2):
        body = retell_body(
            "transcript_updated", transcript_object=[{"role": "agent", "content": "hi"}] * turns
        )
        assert post_event(client, body).status_code == 204
    assert count(client, events) == 2
    assert count(client, deliveries) == 2


@pytest.mark.parametrize(
    ("subscription", "event", "agent", "matches"),
    [
        ({}, "call_ended", "agent_1", True),
        ({}, "call_analyzed", "agent_1", True),
        ({}, "call_started", "agent_1", False),
        ({}, "transcript_updated", "agent_1", False),
        ({"events": ["call_started"]}, "call_started", "agent_1", True),
        ({"agent_id": "agent_1"}, "call_ended", "agent_1", True),
        ({"agent_id": "agent_2"}, "call_ended", "agent_1", False),
    ],
)
def test_deliveries_follow_event_and_agent_filters(
    client: FlaskClient, subscription: dict[str, Any], event: str, agent: str, matches: bool
) -> None:
    """A delivery is queued exactly for subscriptions whose filters match."""
    subscribe(client, **subscription)
    assert post_event(client, retell_body(event, agent_id=agent)).status_code == 204
    assert count(client, deliveries) == (1 if matches else 0)


def test_ingest_is_open_but_other_trigger_routes_are_not(client: FlaskClient) -> None:
    """The webhook needs no bearer token (the signature is its auth); subscriptions do."""
    assert post_event(client, BODY).status_code == 204
    assert client.get("/v1/triggers/call-events/subscriptions").status_code == 401


def test_each_event_is_logged_while_few(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At INFO a lone event gets its own line (stored, then its retry as a duplicate)."""
    monkeypatch.setattr(webhooks, "event_lines", SampledLog(webhooks.log, "call events"))
    caplog.set_level(logging.INFO, logger=webhooks.log.name)
    body = retell_body(call_id="call_logged")
    assert post_event(client, body).status_code == 204
    assert post_event(client, body).status_code == 204
    lines = [r.getMessage() for r in caplog.records if r.name == webhooks.log.name]
    assert lines == [
        "retell call_ended for call call_logged: stored, 0 deliveries",
        "retell call_ended for call call_logged: duplicate, 0 deliveries",
    ]

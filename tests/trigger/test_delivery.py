"""Forwarding to a real loopback subscriber: signing, retries, 410, timeouts, redirects, replay."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.services import Services
from tests.conftest import AUTH
from tests.subscriber import Reply, Subscriber
from tests.trigger.test_ingest import post_event, retell_body


def subscribe(client: FlaskClient, url: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/triggers/call-events/subscriptions", json={"target_url": url, **body}, headers=AUTH
    )
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def deliveries(client: FlaskClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/deliveries", query_string=params, headers=AUTH)
    assert response.status_code == 200
    return response.json["items"]  # type: ignore[no-any-return]


@pytest.fixture
def subscriber() -> Any:
    with Subscriber() as sub:
        yield sub


def test_event_arrives_signed_with_stable_id(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """The payload verifies with standardwebhooks; webhook-id is the event id."""
    sub = subscribe(client, subscriber.url)
    post_event(
        client,
        retell_body(
            "call_analyzed", call_analysis={"call_summary": "Booked.", "user_sentiment": "Positive"}
        ),
    )
    svc.worker.drain()
    (payload,) = subscriber.verified(sub["secret"])
    (hit,) = subscriber.hits
    assert hit.headers["webhook-id"] == payload["id"]
    assert payload["event"] == "call_analyzed"
    assert payload["call"]["call_id"] == "call_abc123"
    assert payload["flat"]["call_summary"] == "Booked."
    assert deliveries(client)[0]["state"] == "succeeded"


def test_500_then_200_is_retried_then_delivered(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """A failed attempt is retried on the schedule and then succeeds, with both in history."""
    subscriber.script(Reply(500))
    subscribe(client, subscriber.url)
    post_event(client, retell_body())
    svc.worker.drain()
    (item,) = deliveries(client)
    assert item["state"] == "succeeded"
    assert [h["status_code"] for h in item["history"]] == [500, 200]
    assert len({h.headers["webhook-id"] for h in subscriber.hits}) == 1


def test_retry_after_is_honoured(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """A 429 with Retry-After is not retried before the given delay."""
    subscriber.script(Reply(429, headers={"Retry-After": "1"}))
    subscribe(client, subscriber.url)
    post_event(client, retell_body())
    svc.worker.drain()
    (item,) = deliveries(client)
    assert item["state"] == "pending" and len(subscriber.hits) == 1
    time.sleep(1.05)
    svc.worker.drain()
    assert deliveries(client)[0]["state"] == "succeeded"
    assert len(subscriber.hits) == 2


def test_410_deletes_the_subscription(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """410 Gone unsubscribes at once: no retry, no later deliveries."""
    subscriber.script(Reply(410))
    subscribe(client, subscriber.url)
    post_event(client, retell_body())
    svc.worker.drain()
    assert client.get("/v1/triggers/call-events/subscriptions", headers=AUTH).json["items"] == []
    post_event(client, retell_body("call_analyzed"))
    svc.worker.drain()
    assert len(subscriber.hits) == 1


def test_timeouts_count_as_failures(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """A subscriber slower than the timeout is a failed attempt, then retried."""
    subscriber.script(Reply(200, delay=1.0))
    subscribe(client, subscriber.url)
    post_event(client, retell_body())
    svc.worker.drain()
    (item,) = deliveries(client)
    assert item["history"][0]["error"] == "timed out"
    assert item["state"] == "succeeded"


def test_redirect_is_not_followed(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """A 3xx is a failure and its Location is never requested."""
    with Subscriber() as elsewhere:
        subscriber.script(*[Reply(302, headers={"Location": elsewhere.url})] * 4)
        subscribe(client, subscriber.url)
        post_event(client, retell_body())
        svc.worker.drain()
        assert elsewhere.hits == []
    (item,) = deliveries(client)
    assert item["state"] == "dead"
    assert "redirect" in item["last_error"]


def test_dead_letter_then_replay(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """After the last attempt the delivery is dead; a replay delivers it with the same id."""
    subscriber.script(*[Reply(503)] * 4)
    subscribe(client, subscriber.url)
    post_event(client, retell_body())
    svc.worker.drain()
    (dead,) = deliveries(client, state="dead")
    assert dead["attempts"] == 4
    replay = client.post(f"/v1/deliveries/{dead['id']}/retry", headers=AUTH)
    assert replay.status_code == 202 and replay.json["state"] == "pending"
    svc.worker.drain()
    (item,) = deliveries(client)
    assert item["state"] == "succeeded" and item["attempts"] == 5
    assert len({h.headers["webhook-id"] for h in subscriber.hits}) == 1


@pytest.mark.parametrize(("delivery_id", "status"), [("dlv_missing", 404)])
def test_replay_unknown_delivery_is_404(client: FlaskClient, delivery_id: str, status: int) -> None:
    """Replaying a delivery that does not exist is a 404 problem."""
    assert client.post(f"/v1/deliveries/{delivery_id}/retry", headers=AUTH).status_code == status


def test_replay_of_pending_delivery_conflicts(client: FlaskClient, subscriber: Subscriber) -> None:
    """A delivery still queued cannot be replayed (409)."""
    subscribe(client, subscriber.url)
    post_event(client, retell_body())
    (item,) = deliveries(client)
    assert client.post(f"/v1/deliveries/{item['id']}/retry", headers=AUTH).status_code == 409


def test_response_bodies_are_truncated(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """Only the first KiB of a subscriber's response is kept."""
    subscriber.script(Reply(200, body="y" * 5000))
    subscribe(client, subscriber.url)
    post_event(client, retell_body())
    svc.worker.drain()
    assert len(deliveries(client)[0]["history"][0]["response_body"]) == 1024


def test_private_target_refused_at_connect_time(tmp_path: Any, subscriber: Subscriber) -> None:
    """Without the private-targets setting, a loopback target is refused (before any connect)."""
    from connector.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, connector_retry_schedule="0"), configure_logs=False)
    c = app.test_client()
    refused = c.post(
        "/v1/triggers/call-events/subscriptions", json={"target_url": subscriber.url}, headers=AUTH
    )
    assert refused.status_code == 422
    assert refused.json["errors"][0]["path"] == "target_url"

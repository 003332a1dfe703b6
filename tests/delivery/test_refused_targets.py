"""A target the SSRF guard refuses at connect time is a permanent failure: a dead letter at
once, with the reason in the delivery log, not retried through the whole schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from connector.app import create_app
from connector.delivery.sender import Sender
from connector.delivery.ssrf import Resolver, guarded_transport
from connector.retell.retry import RetryPolicy
from connector.services import services
from connector.store.inbox import EventInbox
from connector.store.outbox import DeliveryQueue, Job, Outcome
from connector.store.subscriptions import SubscriptionStore
from tests.conftest import AUTH, FakeRetell, make_settings, sample_call
from tests.trigger.test_ingest import post_event, retell_body

JOB = Job("dlv_1", "evt_1", "sub_1", "https://hooks.example.com/h", "whsec_" + "A" * 32, "{}", 1)


def resolving_to(*addresses: str) -> Resolver:
    """DNS at the edge: every name resolves to ``addresses`` (a rebinding answer, say)."""
    return lambda _host, _port: list(addresses)


def failing_resolver(_host: str, _port: int) -> list[str]:
    raise OSError("Name or service not known")


# (label, resolver, permanent, a fragment of the logged error)
ATTEMPTS: list[tuple[str, Resolver, bool, str]] = [
    ("resolves to loopback", resolving_to("127.0.0.1"), True, "loopback"),
    ("resolves to metadata", resolving_to("169.254.169.254"), True, "metadata"),
    ("one of two answers private", resolving_to("93.184.215.14", "10.0.0.7"), True, "private"),
    ("does not resolve", failing_resolver, False, "could not resolve"),
]


@pytest.mark.parametrize(
    ("label", "resolver", "permanent", "reason"), ATTEMPTS, ids=[a[0] for a in ATTEMPTS]
)
def test_only_a_guard_refusal_is_permanent(
    label: str, resolver: Resolver, permanent: bool, reason: str
) -> None:
    """A refused address is a permanent failure; a name that does not resolve may recover."""
    sender = Sender(guarded_transport(allow_private=False, resolver=resolver))
    outcome = sender.send(JOB)
    assert outcome.status_code is None and not outcome.ok
    assert outcome.permanent is permanent
    assert outcome.error is not None and reason in outcome.error


def test_a_permanent_failure_is_dead_at_once(engine: Engine) -> None:
    """On either store, a permanent failure ends the delivery on its first attempt."""
    queue = DeliveryQueue(engine, schedule=(60.0, 600.0), jitter=lambda: 1.0)
    SubscriptionStore(engine).create("owner", "https://hooks.example.com/a", ["call_ended"], None)
    EventInbox(engine).accept("call_ended", sample_call())
    (job,) = queue.claim("w1", 1)
    refused = Outcome(None, 1.0, error="refused: target resolves to loopback", permanent=True)
    assert queue.record(job, "w1", refused) == "dead"
    assert queue.claim("w1", 10) == []


@pytest.fixture
def guarded_client(tmp_path: Path, retell: FakeRetell) -> FlaskClient:
    """The connector with its real SSRF-guarded delivery transport, DNS answering loopback,
    and the default retry schedule (hours of retries if a refusal were retried)."""
    settings = make_settings(tmp_path)
    app = create_app(
        settings,
        retell_transport=retell.transport,
        retry=RetryPolicy.testing(),
        delivery_transport=guarded_transport(
            allow_private=False, resolver=resolving_to("127.0.0.1")
        ),
        configure_logs=False,
    )
    return app.test_client()


def test_connect_time_refusal_is_a_dead_letter_with_its_reason(
    guarded_client: FlaskClient,
) -> None:
    """A target that resolves to loopback is dead after one attempt; the log says why."""
    subscribed = guarded_client.post(
        "/v1/triggers/call-events/subscriptions",
        json={"target_url": "https://hooks.example.com/catch/1"},
        headers=AUTH,
    )
    assert subscribed.status_code == 201
    assert post_event(guarded_client, retell_body()).status_code == 204
    with guarded_client.application.app_context():
        services().worker.drain()
    listed = guarded_client.get("/v1/deliveries", headers=AUTH)
    (item,) = listed.json["items"]  # type: ignore[index]
    assert (item["state"], item["attempts"]) == ("dead", 1)
    assert "refused" in item["last_error"] and "loopback" in item["last_error"]
    assert "127.0.0.1" in item["history"][0]["error"]


@pytest.mark.parametrize(
    "target",
    [
        "https://127\u30020\u30020\u30021:8443/",
        "https://127\uff0e0\uff0e0\uff0e1/",
        "https://127\uff610\uff610\uff611/",
    ],
)
def test_subscribe_refuses_unicode_dots_naming_target_url(client: FlaskClient, target: str) -> None:
    """``127。0。0。1`` and its kin are refused when subscribing, naming ``target_url``."""
    response = client.post(
        "/v1/triggers/call-events/subscriptions", json={"target_url": target}, headers=AUTH
    )
    assert response.status_code == 422
    error: Any = response.json
    assert error["errors"][0]["path"] == "target_url"
    assert "loopback" in error["errors"][0]["message"]

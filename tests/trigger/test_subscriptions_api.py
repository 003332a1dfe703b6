"""REST-hook subscriptions and the delivery log over HTTP: answers, scoping and validation.

Every answer is checked against its published schema in ``schemas/``: a platform builds
its integration from those files, so an answer that drifts from them breaks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from connector import manifest
from connector.app import create_app
from connector.services import Services
from tests.conftest import AUTH, TOKEN, make_settings
from tests.subscriber import Subscriber
from tests.trigger.test_ingest import post_event, retell_body

URL = "/v1/triggers/call-events/subscriptions"
TARGET = "https://hooks.example.com/catch/1"
OTHER_TOKEN = "other-token-0123456789abcdef"


def schema_errors(schema: str, instance: object) -> list[str]:
    """Messages from validating ``instance`` against ``file.json`` or ``file.json#/pointer``."""
    wrapper = {"$id": manifest.SCHEMA_BASE_URI + "test.json", "$ref": schema}
    validator = Draft202012Validator(wrapper, registry=manifest.registry())
    return [error.message for error in validator.iter_errors(instance)]


def subscribe(client: FlaskClient, headers: dict[str, str] = AUTH, **body: Any) -> dict[str, Any]:
    response = client.post(URL, json={"target_url": TARGET, **body}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def listed(client: FlaskClient, headers: dict[str, str] = AUTH) -> list[dict[str, Any]]:
    response = client.get(URL, headers=headers)
    assert response.status_code == 200
    return response.json["items"]  # type: ignore[no-any-return]


def assert_problem(response: Any, status: int, path: str | None = None) -> None:
    """A problem+json answer with ``status`` that fits problem.json and names ``path``."""
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert schema_errors("problem.json", response.json) == []
    if path is not None:
        assert [e["path"] for e in response.json["errors"]] == [path], response.json


@pytest.fixture
def strict(tmp_path: Path) -> FlaskClient:
    """An app as deployed: private and plain-http targets refused."""
    return create_app(make_settings(tmp_path), configure_logs=False).test_client()


@pytest.fixture
def two_tokens(tmp_path: Path) -> FlaskClient:
    """An app serving two platform tokens (two agencies on one connector)."""
    settings = make_settings(tmp_path, connector_api_tokens=f"{TOKEN},{OTHER_TOKEN}")
    return create_app(settings, configure_logs=False).test_client()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    with Subscriber() as sub:
        yield sub


# --- create, list, delete ---------------------------------------------------------------


def test_create_answers_201_with_defaults_and_a_secret(client: FlaskClient) -> None:
    """A new subscription: sub_ id, default events, no agent filter, active, its secret."""
    created = subscribe(client)
    assert created["id"].startswith("sub_")
    assert created["events"] == ["call_ended", "call_analyzed"]
    assert (created["target_url"], created["agent_id"], created["status"]) == (
        TARGET,
        None,
        "active",
    )
    assert created["secret"].startswith("whsec_")


def test_create_keeps_given_events_and_agent(client: FlaskClient) -> None:
    """Explicit events and agent_id are stored as given."""
    created = subscribe(client, events=["call_started", "transcript_updated"], agent_id="ag_1")
    assert (created["events"], created["agent_id"]) == (
        ["call_started", "transcript_updated"],
        "ag_1",
    )


def test_created_subscription_fits_its_schema(client: FlaskClient) -> None:
    """The 201 answer validates against subscription.json."""
    assert schema_errors("subscription.json", subscribe(client)) == []


def test_each_subscription_has_its_own_secret(client: FlaskClient) -> None:
    """Two subscriptions never share an id or a secret."""
    first, second = subscribe(client), subscribe(client)
    assert first["id"] != second["id"]
    assert first["secret"] != second["secret"]


def test_list_is_oldest_first_without_secrets(client: FlaskClient) -> None:
    """The list shows every subscription of the token, oldest first, never a secret."""
    ids = [subscribe(client)["id"], subscribe(client, events=["call_analyzed"])["id"]]
    items = listed(client)
    assert [item["id"] for item in items] == ids
    assert all("secret" not in item for item in items)


def test_list_fits_its_schema(client: FlaskClient) -> None:
    """GET answers subscription.json#/$defs/list (which forbids secrets)."""
    subscribe(client)
    response = client.get(URL, headers=AUTH)
    assert schema_errors("subscription.json#/$defs/list", response.json) == []


def test_delete_answers_200_with_a_body(client: FlaskClient) -> None:
    """DELETE answers 200 {id, deleted: true} (per $defs/deleted) and the hook is gone."""
    sub_id = subscribe(client)["id"]
    response = client.delete(f"{URL}/{sub_id}", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {"id": sub_id, "deleted": True}
    assert schema_errors("subscription.json#/$defs/deleted", response.json) == []
    assert listed(client) == []


def test_second_delete_is_a_404_problem(client: FlaskClient) -> None:
    """Deleting a subscription that is already gone is a 404 problem."""
    sub_id = subscribe(client)["id"]
    client.delete(f"{URL}/{sub_id}", headers=AUTH)
    assert_problem(client.delete(f"{URL}/{sub_id}", headers=AUTH), 404)


def test_another_token_cannot_see_the_subscription(two_tokens: FlaskClient) -> None:
    """A token lists only its own subscriptions."""
    subscribe(two_tokens)
    assert listed(two_tokens, {"Authorization": f"Bearer {OTHER_TOKEN}"}) == []


def test_another_token_cannot_delete_the_subscription(two_tokens: FlaskClient) -> None:
    """Deleting another token's subscription is a 404, and it stays."""
    sub_id = subscribe(two_tokens)["id"]
    other = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    assert_problem(two_tokens.delete(f"{URL}/{sub_id}", headers=other), 404)
    assert [item["id"] for item in listed(two_tokens)] == [sub_id]


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "target_url"),
        ({"target_url": ""}, "target_url"),
        ({"target_url": 42}, "target_url"),
        ({"target_url": "not a url"}, "target_url"),
        ({"target_url": "hooks.example.com/catch"}, "target_url"),
        ({"target_url": "ftp://hooks.example.com/catch"}, "target_url"),
        ({"target_url": "http://hooks.example.com/catch"}, "target_url"),
        ({"target_url": "https://127.0.0.1/hook"}, "target_url"),
        ({"target_url": "https://localhost:8080/hook"}, "target_url"),
        ({"target_url": "https://10.1.2.3/hook"}, "target_url"),
        ({"target_url": "https://192.168.0.10/hook"}, "target_url"),
        ({"target_url": "https://100.64.0.1/hook"}, "target_url"),
        ({"target_url": "https://169.254.169.254/latest/meta-data/"}, "target_url"),
        ({"target_url": "https://metadata.google.internal/"}, "target_url"),
        ({"target_url": "https://[::1]/hook"}, "target_url"),
        ({"target_url": "https://[::ffff:127.0.0.1]/hook"}, "target_url"),
        ({"target_url": "https://2130706433/hook"}, "target_url"),
        ({"target_url": "https://user:pw@hooks.example.com/catch"}, "target_url"),
        ({"target_url": TARGET, "events": []}, "events"),
        ({"target_url": TARGET, "events": "call_ended"}, "events"),
        ({"target_url": TARGET, "events": ["call_exploded"]}, "events.0"),
        ({"target_url": TARGET, "events": ["call_ended", "call_ended"]}, "events"),
        ({"target_url": TARGET, "agent_id": 42}, "agent_id"),
        ({"target_url": TARGET, "agent_id": []}, "agent_id"),
        ({"target_url": TARGET, "agent_id": "a" * 129}, "agent_id"),
        ({"target_url": TARGET, "secret": "whsec_mine"}, "secret"),
        ([TARGET], "body"),
        ("https://hooks.example.com/catch", "body"),
    ],
    ids=[
        "missing-target",
        "empty-target",
        "number-target",
        "not-a-url",
        "no-scheme",
        "ftp",
        "plain-http",
        "loopback",
        "localhost",
        "private-10",
        "private-192",
        "cgnat",
        "metadata-ip",
        "metadata-name",
        "ipv6-loopback",
        "ipv4-mapped-loopback",
        "decimal-loopback",
        "credentials",
        "no-events",
        "events-not-a-list",
        "unknown-event",
        "duplicate-events",
        "numeric-agent",
        "empty-agent",
        "agent-past-column-width",
        "unknown-field",
        "array-body",
        "string-body",
    ],
)
def test_invalid_subscription_is_422_naming_the_field(
    strict: FlaskClient, body: Any, path: str
) -> None:
    """Each invalid subscribe request is a 422 problem naming the field; nothing is stored."""
    assert_problem(strict.post(URL, json=body, headers=AUTH), 422, path)
    assert listed(strict) == []


def test_refused_subscription_says_what_did_not_happen_and_why(strict: FlaskClient) -> None:
    """A too-long agent_id: the detail says the subscription was not created, naming the field."""
    response = strict.post(URL, json={"target_url": TARGET, "agent_id": "a" * 129}, headers=AUTH)
    assert_problem(response, 422, "agent_id")
    assert (
        response.json["detail"]
        == "The subscription was not created: 1 field is invalid (agent_id)."
    )
    assert response.json["errors"] == [
        {"path": "agent_id", "message": "must be at most 128 characters"}
    ]


@pytest.mark.parametrize("length", [1, 128], ids=["one-character", "column-width"])
def test_agent_id_up_to_the_column_width_is_stored(client: FlaskClient, length: int) -> None:
    """An agent filter of 1 to 128 characters (the store's column) is stored as given."""
    agent_id = "a" * length
    assert subscribe(client, agent_id=agent_id)["agent_id"] == agent_id
    assert [item["agent_id"] for item in listed(client)] == [agent_id]


def test_malformed_json_is_400(strict: FlaskClient) -> None:
    """A body that is not JSON at all is a 400 problem naming the body."""
    response = strict.post(URL, data="{", headers={**AUTH, "Content-Type": "application/json"})
    assert_problem(response, 400, "body")


def test_public_https_target_is_accepted_when_strict(strict: FlaskClient) -> None:
    """The deployed app accepts an ordinary public https URL, normalised."""
    created = subscribe(strict, target_url="HTTPS://Hooks.Example.com:443/catch/1#frag")
    assert created["target_url"] == TARGET


def test_metadata_address_is_refused_even_when_private_targets_are_allowed(
    client: FlaskClient,
) -> None:
    """Allowing private targets (development) never opens the cloud metadata service."""
    response = client.post(URL, json={"target_url": "http://169.254.169.254/latest/"}, headers=AUTH)
    assert_problem(response, 422, "target_url")


# --- the delivery log -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"state": "lost"}, "state"),
        ({"state": "SUCCEEDED"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"limit": "\u00b2"}, "limit"),
    ],
)
def test_delivery_log_rejects_bad_filters(
    client: FlaskClient, query: dict[str, str], path: str
) -> None:
    """An unknown state or a limit outside 1..500 is a 422 problem naming the parameter."""
    assert_problem(client.get("/v1/deliveries", query_string=query, headers=AUTH), 422, path)


def test_delivery_log_fits_its_schema(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """After a delivery, GET /v1/deliveries answers delivery.json#/$defs/list."""
    subscribe(client, target_url=subscriber.url)
    post_event(client, retell_body("call_analyzed", call_analysis={"call_summary": "Booked."}))
    svc.worker.drain()
    response = client.get("/v1/deliveries", headers=AUTH)
    assert response.status_code == 200
    assert schema_errors("delivery.json#/$defs/list", response.json) == []
    assert [item["state"] for item in response.json["items"]] == ["succeeded"]


def test_replay_answer_fits_its_schema(
    client: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """POST /v1/deliveries/<id>/retry answers 202 with a delivery.json object."""
    subscribe(client, target_url=subscriber.url)
    post_event(client, retell_body())
    svc.worker.drain()
    (item,) = client.get("/v1/deliveries", headers=AUTH).json["items"]
    response = client.post(f"/v1/deliveries/{item['id']}/retry", headers=AUTH)
    assert response.status_code == 202
    assert schema_errors("delivery.json", response.json) == []
    assert (response.json["id"], response.json["state"]) == (item["id"], "pending")


def test_delivery_log_is_scoped_per_token(two_tokens: FlaskClient) -> None:
    """Another token's deliveries are not listed and cannot be replayed."""
    subscribe(two_tokens)
    post_event(two_tokens, retell_body())
    (item,) = two_tokens.get("/v1/deliveries", headers=AUTH).json["items"]
    other = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    assert two_tokens.get("/v1/deliveries", headers=other).json == {"items": []}
    assert_problem(two_tokens.post(f"/v1/deliveries/{item['id']}/retry", headers=other), 404)


@pytest.mark.parametrize("blank", [None, ""])
def test_blank_optional_fields_mean_not_given(client: FlaskClient, blank: object) -> None:
    """A platform's empty optional inputs (null or "") subscribe with the defaults."""
    body = {"target_url": TARGET, "agent_id": blank, "events": blank}
    response = client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 201, response.json
    assert response.json["agent_id"] is None
    assert response.json["events"] == ["call_ended", "call_analyzed"]


def test_subscribe_answers_with_location_of_the_subscription(client: FlaskClient) -> None:
    """The 201 names the subscription's URL, which a DELETE removes (Power Automate's way)."""
    response = client.post(URL, json={"target_url": TARGET}, headers=AUTH)
    location = response.headers["Location"]
    assert location.endswith(f"/v1/triggers/call-events/subscriptions/{response.json['id']}")
    assert client.delete(location.removeprefix("http://localhost"), headers=AUTH).status_code == 200

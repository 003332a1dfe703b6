"""The queue's HTTP surface: queue, look up, list, cancel, pause and resume, per token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector import manifest
from connector.services import Services
from tests.campaigns.conftest import OTHER_TOKEN, SALES_LINE
from tests.conftest import AUTH, FakeRetell, build_app, make_settings

OTHER = {"Authorization": f"Bearer {OTHER_TOKEN}"}


def body(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "from_number": SALES_LINE,
        "to_number": "+1 (212) 555-0123",
        "call_window": "anytime",
    }
    base.update(fields)
    return base


def queue(client: FlaskClient, headers: dict[str, str] | None = None, **fields: Any) -> Any:
    return client.post(
        "/v1/actions/queue-phone-call", json=body(**fields), headers={**AUTH, **(headers or {})}
    )


def schema_errors(name: str, instance: object) -> list[str]:
    return [e.message for e in manifest.schema_validator(name).iter_errors(instance)]


def test_queue_answers_202_with_the_queued_call(client: FlaskClient) -> None:
    """A queued call comes back at once, normalised, valid against queued-call.json."""
    response = queue(client, campaign="spring", retry={"max_retries": 2})
    assert response.status_code == 202, response.text
    queued = response.json
    assert queued["state"] == "queued"
    assert queued["campaign"] == "spring"
    assert queued["to_number"] == "+12125550123"
    assert queued["attempts"] == [] and queued["call_id"] is None
    assert queued["next_attempt_at"] is not None
    assert queued["max_attempts"] == 3
    assert schema_errors("queued-call.json", queued) == []
    again = client.get(f"/v1/queue/{queued['id']}", headers=AUTH)
    assert again.status_code == 200 and again.json == queued


def test_campaign_defaults_to_default(client: FlaskClient) -> None:
    """Without a campaign the call joins the campaign named default."""
    assert queue(client).json["campaign"] == "default"


BAD_INPUT = [
    ({"call_window": {"start": "20:00", "end": "09:00"}}, "call_window.end"),
    (
        {"call_window": {"start": "09:00", "end": "17:00", "timezone": "Mars/Base"}},
        "call_window.timezone",
    ),
    ({"call_window": {"start": "9am", "end": "17:00"}}, "call_window.start"),
    ({"call_window": {"start": "09:00", "end": "17:00", "days": ["funday"]}}, "call_window.days.0"),
    ({"call_window": 5}, "call_window"),
    (
        {"not_before": "2027-01-02T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z"},
        "expires_at",
    ),
    ({"not_before": "tomorrow"}, "not_before"),
    ({"not_before": "2027-01-02T09:00:00"}, "not_before"),
    ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ({"retry": {"max_retries": 6}}, "retry.max_retries"),
    ({"retry": {"outcomes": ["agent_hangup"]}}, "retry.outcomes.0"),
    ({"retry": {"wait_minutes": -1}}, "retry.wait_minutes"),
    ({"retry": {"tries": 2}}, "retry.tries"),
    ({"campaign": " leading-space"}, "campaign"),
    ({"campaign": "x" * 101}, "campaign"),
    ({"to_number": "+1 555"}, "to_number"),
    ({"agent": "x"}, "agent"),
]


@pytest.mark.parametrize(("fields", "path"), BAD_INPUT)
def test_bad_input_names_the_field_and_queues_nothing(
    client: FlaskClient, fields: dict[str, Any], path: str
) -> None:
    """Each kind of bad input is a 422 problem naming the field; nothing is queued."""
    response = queue(client, **fields)
    assert response.status_code == 422, response.text
    assert response.content_type == "application/problem+json"
    assert path in [e["path"] for e in response.json["errors"]]
    assert client.get("/v1/queue", headers=AUTH).json["items"] == []


def test_not_json_object_is_a_problem(client: FlaskClient) -> None:
    """A body that is not an object is refused with a problem naming body."""
    response = client.post("/v1/actions/queue-phone-call", json=[1], headers=AUTH)
    assert response.status_code == 422
    assert response.json["errors"][0]["path"] == "body"


def test_same_key_same_body_replays_without_queueing_twice(client: FlaskClient) -> None:
    """The same Idempotency-Key and body answer the first 202 again; one call is queued."""
    first = queue(client, {"Idempotency-Key": "lead-1"})
    second = queue(client, {"Idempotency-Key": "lead-1"})
    assert first.status_code == second.status_code == 202
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json == first.json
    assert len(client.get("/v1/queue", headers=AUTH).json["items"]) == 1


def test_body_key_is_honoured_like_the_header(client: FlaskClient) -> None:
    """idempotency_key in the body works as the header does."""
    first = queue(client, idempotency_key="lead-2")
    second = queue(client, idempotency_key="lead-2")
    assert second.json["id"] == first.json["id"]


def test_same_key_other_body_is_422(client: FlaskClient) -> None:
    """Reusing a key for a different call is refused."""
    queue(client, {"Idempotency-Key": "lead-3"})
    response = queue(client, {"Idempotency-Key": "lead-3"}, campaign="other")
    assert response.status_code == 422
    assert "idempotency-key-reused" in response.json["type"]


def test_header_and_body_keys_must_agree(client: FlaskClient) -> None:
    """Two different keys are a 422 naming idempotency_key."""
    response = queue(client, {"Idempotency-Key": "a"}, idempotency_key="b")
    assert response.status_code == 422
    assert response.json["errors"][0]["path"] == "idempotency_key"


def test_keys_are_scoped_to_the_token(client: FlaskClient) -> None:
    """Another token's same key queues its own call."""
    mine = queue(client, {"Idempotency-Key": "shared"})
    theirs = queue(client, {**OTHER, "Idempotency-Key": "shared"})
    assert mine.json["id"] != theirs.json["id"]


def test_another_token_cannot_see_or_cancel(client: FlaskClient) -> None:
    """Queued calls and campaigns belong to the token that queued them."""
    queued = queue(client, campaign="private").json
    assert client.get(f"/v1/queue/{queued['id']}", headers=OTHER).status_code == 404
    assert client.delete(f"/v1/queue/{queued['id']}", headers=OTHER).status_code == 404
    assert client.get("/v1/queue", headers=OTHER).json["items"] == []
    assert client.get("/v1/campaigns", headers=OTHER).json["items"] == []


def test_unknown_id_is_404(client: FlaskClient) -> None:
    """An id that is not a queued call's is a 404 problem."""
    for path in ("/v1/queue/qc_000000000000000000000000", "/v1/queue/nonsense"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"


def test_cancel_a_waiting_call(client: FlaskClient) -> None:
    """DELETE cancels a call not dialled yet; cancelling again answers the same."""
    queued = queue(client).json
    cancelled = client.delete(f"/v1/queue/{queued['id']}", headers=AUTH)
    assert cancelled.status_code == 200
    assert cancelled.json["state"] == "cancelled"
    assert cancelled.json["next_attempt_at"] is None
    assert client.delete(f"/v1/queue/{queued['id']}", headers=AUTH).json["state"] == "cancelled"


def test_cancel_after_the_dial_is_a_409(client: FlaskClient, svc: Services) -> None:
    """A call already dialled cannot be cancelled: a 409 problem saying why."""
    queued = queue(client).json
    jobs, _ = svc.dialer.queue.claim("test", budget=5)
    assert [j.queued_id for j in jobs] == [queued["id"]]
    response = client.delete(f"/v1/queue/{queued['id']}", headers=AUTH)
    assert response.status_code == 409
    assert response.json["state"] == "dialing"
    assert "being dialled" in response.json["detail"]
    assert client.get(f"/v1/queue/{queued['id']}", headers=AUTH).json["state"] == "dialing"


def test_list_filters_and_pages(client: FlaskClient) -> None:
    """GET /v1/queue filters by campaign and state and pages oldest first with a cursor."""
    ids = [queue(client, campaign="a").json["id"] for _ in range(5)]
    queue(client, campaign="b")
    client.delete(f"/v1/queue/{ids[0]}", headers=AUTH)
    first = client.get("/v1/queue?campaign=a&state=queued&limit=3", headers=AUTH).json
    assert [i["id"] for i in first["items"]] == ids[1:4]
    rest = client.get(
        f"/v1/queue?campaign=a&state=queued&limit=3&cursor={first['next_cursor']}", headers=AUTH
    ).json
    assert [i["id"] for i in rest["items"]] == ids[4:]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "path"),
    [("state=sleeping", "state"), ("limit=0", "limit"), ("cursor=%%%", "cursor")],
)
def test_bad_list_query_is_422(client: FlaskClient, query: str, path: str) -> None:
    """A bad filter is a 422 naming the parameter."""
    response = client.get(f"/v1/queue?{query}", headers=AUTH)
    assert response.status_code == 422
    assert response.json["errors"][0]["path"] == path


def test_campaigns_count_by_state(client: FlaskClient) -> None:
    """GET /v1/campaigns shows each campaign's counts, valid against campaign.json."""
    for _ in range(3):
        queue(client, campaign="spring")
    cancelled = queue(client, campaign="spring").json
    client.delete(f"/v1/queue/{cancelled['id']}", headers=AUTH)
    queue(client, campaign="autumn")
    items = {c["name"]: c for c in client.get("/v1/campaigns", headers=AUTH).json["items"]}
    assert set(items) == {"spring", "autumn"}
    spring = items["spring"]
    assert spring["counts"]["queued"] == 3 and spring["counts"]["cancelled"] == 1
    assert spring["total"] == 4 and spring["remaining"] == 3
    assert spring["paused"] is False and spring["eta"] is None
    for item in items.values():
        assert schema_errors("campaign.json", item) == []


def test_pause_stops_dialling_and_resume_restarts(client: FlaskClient, svc: Services) -> None:
    """A paused campaign's calls wait; other campaigns dial; resume lets them go."""
    held = queue(client, campaign="held").json
    other = queue(client, campaign="other").json
    paused = client.post("/v1/campaigns/held/pause", headers=AUTH)
    assert paused.status_code == 200 and paused.json["paused"] is True
    jobs, _ = svc.dialer.queue.claim("test", budget=5)
    assert [j.queued_id for j in jobs] == [other["id"]]
    resumed = client.post("/v1/campaigns/held/resume", headers=AUTH)
    assert resumed.json["paused"] is False
    jobs, _ = svc.dialer.queue.claim("test", budget=5)
    assert [j.queued_id for j in jobs] == [held["id"]]


def test_bad_campaign_name_in_path_is_422(client: FlaskClient) -> None:
    """A campaign name that could never exist is refused, naming campaign."""
    response = client.post("/v1/campaigns/%20x/pause", headers=AUTH)
    assert response.status_code == 422
    assert response.json["errors"][0]["path"] == "campaign"


def test_routes_need_a_token(client: FlaskClient) -> None:
    """Every campaign route is behind the bearer token."""
    for method, path in [
        ("post", "/v1/actions/queue-phone-call"),
        ("get", "/v1/queue"),
        ("get", "/v1/campaigns"),
        ("post", "/v1/campaigns/x/pause"),
    ]:
        assert getattr(client, method)(path).status_code == 401


def test_campaign_window_can_be_set_and_cleared(client: FlaskClient) -> None:
    """PATCH sets a campaign's default calling hours; null clears them."""
    window = {"start": "10:00", "end": "18:00", "days": ["mon-fri"], "timezone": "Europe/London"}
    response = client.patch("/v1/campaigns/spring", json={"call_window": window}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json["call_window"] == {
        "start": "10:00",
        "end": "18:00",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "timezone": "Europe/London",
    }
    cleared = client.patch("/v1/campaigns/spring", json={"call_window": None}, headers=AUTH)
    assert cleared.json["call_window"] is None


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"call_window": {"start": "18:00", "end": "10:00"}}, "call_window.end"),
        ({}, "call_window"),
        ({"window": "anytime"}, "window"),
    ],
)
def test_bad_campaign_window_is_422(client: FlaskClient, payload: Any, path: str) -> None:
    """A bad campaign window is refused naming the field, and changes nothing."""
    response = client.patch("/v1/campaigns/spring", json=payload, headers=AUTH)
    assert response.status_code == 422
    assert path in [e["path"] for e in response.json["errors"]]
    assert client.get("/v1/campaigns", headers=AUTH).json["items"] == []


def test_bad_campaign_change_says_the_campaign_was_not_changed(client: FlaskClient) -> None:
    """The refusal's detail says what did not happen in the campaign's words, not a call's."""
    response = client.patch("/v1/campaigns/spring", json={"window": "anytime"}, headers=AUTH)
    assert response.json["detail"].startswith("The campaign was not changed:")


def test_find_and_cancel_actions(client: FlaskClient) -> None:
    """The platform actions find and cancel a queued call by queued_call_id."""
    queued = queue(client).json
    found = client.get(f"/v1/actions/find-queued-call?queued_call_id={queued['id']}", headers=AUTH)
    assert found.status_code == 200 and found.json == queued
    cancelled = client.post(
        "/v1/actions/cancel-queued-call", json={"queued_call_id": queued["id"]}, headers=AUTH
    )
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"


@pytest.mark.parametrize("value", ["", "call_123", "qc_zz"])
def test_find_and_cancel_need_a_queued_call_id(client: FlaskClient, value: str) -> None:
    """A missing or malformed queued_call_id is a 422 naming it."""
    found = client.get(f"/v1/actions/find-queued-call?queued_call_id={value}", headers=AUTH)
    cancel = client.post(
        "/v1/actions/cancel-queued-call", json={"queued_call_id": value}, headers=AUTH
    )
    for response in (found, cancel):
        assert response.status_code == 422
        assert response.json["errors"][0]["path"] == "queued_call_id"


@pytest.mark.parametrize("event", ["queued_call.failed", "queued_call.expired"])
def test_sample_of_queued_call_events(client: FlaskClient, event: str) -> None:
    """The trigger's sample offers a valid built-in queued-call event for field mapping."""
    response = client.get(f"/v1/triggers/call-events/sample?event={event}", headers=AUTH)
    assert response.status_code == 200, response.text
    (item,) = response.json
    assert item["event"] == event
    assert schema_errors("queued-call-event.json", item) == []


def test_national_numbers_use_the_default_region(tmp_path: Path, retell: FakeRetell) -> None:
    """CONNECTOR_DEFAULT_REGION reads national numbers for Queue Phone Call as for Create."""
    app = build_app(make_settings(tmp_path, connector_default_region="GB"), retell)
    national = {"from_number": "020 7946 0000", "to_number": "07911 123456"}
    response = queue(app.test_client(), **national)
    assert response.status_code == 202, response.text
    assert response.json["to_number"] == "+447911123456"

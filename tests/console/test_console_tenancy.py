"""Tenancy: a second token sees none of the first token's objects in the console's pages and
can change none of them with its forms."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from connector.services import Services
from tests.conftest import TOKEN
from tests.console.conftest import bearer, deliver_event, failing, queue_call, subscribe
from tests.subscriber import Subscriber

PAGES = [
    "/console/",
    "/console/subscriptions",
    "/console/deliveries",
    "/console/deliveries?state=dead",
    "/console/campaigns",
]


@pytest.fixture
def owned(api: FlaskClient, svc: Services, subscriber: Subscriber) -> dict[str, str]:
    """The first token's subscription, dead letter and queued call."""
    failing(subscriber, 3)
    sub = subscribe(api, subscriber.url + "?first=1")
    deliver_event(api, svc, "call_first_1")
    queued = queue_call(api, "first-campaign")
    dead = api.get("/v1/deliveries?state=dead", headers=bearer()).json["items"][0]["id"]
    return {"sub": sub["id"], "delivery": dead, "queued": queued["id"]}


def test_the_first_token_sees_its_objects(user: FlaskClient, owned: dict[str, str]) -> None:
    """The owner's pages list each object (so the next test's absence means something)."""
    seen = "".join(user.get(page).text for page in PAGES)
    assert owned["sub"] in seen and owned["delivery"] in seen and "first-campaign" in seen


def test_a_second_token_sees_none_of_them(other: FlaskClient, owned: dict[str, str]) -> None:
    """None of the first token's ids, URL or campaign appear on the second token's pages."""
    for page in PAGES:
        text = other.get(page).text
        for marker in (*owned.values(), "first-campaign", "first=1", "127.0.0.1"):
            assert marker not in text, (page, marker)
    assert ">0<" in other.get("/console/").text  # no dead letters of its own


@pytest.mark.parametrize(
    "path",
    [
        "/console/deliveries/{delivery}",
        "/console/campaigns/first-campaign",
        "/console/deliveries?subscription={sub}",
    ],
)
def test_a_second_token_cannot_open_them(
    other: FlaskClient, owned: dict[str, str], path: str
) -> None:
    """Opening the first token's objects by address is a 404 (or a refused filter)."""
    response = other.get(path.format(**owned))
    assert response.status_code in (400, 404)
    assert owned["delivery"] not in response.text


@pytest.mark.parametrize(
    "action",
    [
        "/console/subscriptions/{sub}/disable",
        "/console/subscriptions/{sub}/delete",
        "/console/subscriptions/{sub}/test",
        "/console/subscriptions/{sub}/replay-dead",
        "/console/deliveries/{delivery}/replay",
        "/console/campaigns/first-campaign/pause",
        "/console/queue/{queued}/cancel",
    ],
)
def test_a_second_token_cannot_change_them(
    other: FlaskClient, api: FlaskClient, owned: dict[str, str], action: str
) -> None:
    """Every form post at the first token's objects is a 404 and changes nothing."""
    response = other.post(action.format(**owned), data={"csrf_token": other.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 404
    subs = api.get("/v1/triggers/call-events/subscriptions", headers=bearer(TOKEN)).json["items"]
    assert [(s["id"], s["status"]) for s in subs] == [(owned["sub"], "active")]
    dead = api.get("/v1/deliveries?state=dead", headers=bearer(TOKEN)).json["items"]
    assert [d["id"] for d in dead] == [owned["delivery"]]
    queued = api.get(f"/v1/queue/{owned['queued']}", headers=bearer(TOKEN)).json
    assert queued["state"] == "queued"
    campaigns = api.get("/v1/campaigns", headers=bearer(TOKEN)).json
    text = str(campaigns)
    assert "'paused': False" in text
    assert len(re.findall("first-campaign", text)) == 1

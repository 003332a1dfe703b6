"""What each console page shows and what its buttons do, on real deliveries and queued calls."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from connector.console.views import overview
from connector.services import Services
from connector.tenancy import owner_of
from tests.conftest import TOKEN
from tests.console.conftest import (
    CALLEE,
    deliver_event,
    failing,
    queue_call,
    settle,
    subscribe,
)
from tests.subscriber import Subscriber

OWNER = owner_of(TOKEN)


def post(client: FlaskClient, path: str) -> object:
    return client.post(path, data={"csrf_token": client.csrf})  # type: ignore[attr-defined]


def delivery_ids(html: str) -> list[str]:
    return re.findall(r"/console/deliveries/(dlv_[0-9a-f]+)", html)


def test_a_delivered_event_appears_in_the_log(
    user: FlaskClient, api: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """An event forwarded to a subscriber is listed as succeeded, and opens with its attempt."""
    subscribe(api, subscriber.url)
    deliver_event(api, svc, "call_delivered_1")
    page = user.get("/console/deliveries")
    assert page.status_code == 200
    assert "call_ended" in page.text and "state-succeeded" in page.text
    (delivery_id,) = delivery_ids(page.text)
    detail = user.get(f"/console/deliveries/{delivery_id}")
    assert "call_delivered_1" in detail.text
    assert "HTTP 200" in detail.text


def test_a_failing_subscriber_shows_every_attempt_and_replay_adds_one(
    user: FlaskClient, api: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """Three failed attempts make a dead letter; replay queues it and a new attempt appears."""
    failing(subscriber, 3)
    subscribe(api, subscriber.url)
    deliver_event(api, svc, "call_failing_1")
    settle(svc)
    (delivery_id,) = delivery_ids(user.get("/console/deliveries?state=dead").text)
    detail = user.get(f"/console/deliveries/{delivery_id}").text
    assert detail.count("HTTP 500") == 3
    assert "subscriber exploded" in detail
    response = post(user, f"/console/deliveries/{delivery_id}/replay")
    assert response.status_code == 303  # type: ignore[attr-defined]
    settle(svc)
    detail = user.get(f"/console/deliveries/{delivery_id}").text
    assert "HTTP 200" in detail and "state-succeeded" in detail
    assert len(re.findall(r"<td>\d+</td>\s*<td>\d{4}-", detail)) == 4


def test_replaying_a_delivery_in_flight_says_why_not(
    user: FlaskClient, api: FlaskClient, svc: Services
) -> None:
    """A delivery still queued cannot be replayed: 409 with the reason, nothing changes."""
    subscribe(api, "http://127.0.0.1:9/never")
    from tests.trigger.test_ingest import post_event, retell_body

    post_event(api, retell_body(call_id="call_waiting_1"))
    (delivery_id,) = delivery_ids(user.get("/console/deliveries").text)
    response = post(user, f"/console/deliveries/{delivery_id}/replay")
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert "still queued" in response.text  # type: ignore[attr-defined]


def test_the_deliveries_filters_narrow_the_log(
    user: FlaskClient, api: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """State, event and subscription filters each narrow the list."""
    first = subscribe(api, subscriber.url, events=["call_ended"])
    subscribe(api, subscriber.url + "?key=secret", events=["call_analyzed"])
    deliver_event(api, svc, "call_f1", "call_ended")
    deliver_event(api, svc, "call_f2", "call_analyzed")
    assert len(delivery_ids(user.get("/console/deliveries").text)) == 2
    assert len(delivery_ids(user.get("/console/deliveries?event=call_analyzed").text)) == 1
    assert len(delivery_ids(user.get(f"/console/deliveries?subscription={first['id']}").text)) == 1
    assert delivery_ids(user.get("/console/deliveries?state=dead").text) == []
    assert delivery_ids(user.get("/console/deliveries?until=2000-01-01T00:00").text) == []


@pytest.mark.parametrize(
    "query",
    ["state=exploded", "event=nope", "subscription=sub_other", "since=yesterday", "cursor=%%%"],
)
def test_a_bad_filter_is_a_400_page_naming_it(user: FlaskClient, query: str) -> None:
    """Bad filter values get 400 with a message, never a 500."""
    response = user.get(f"/console/deliveries?{query}")
    assert response.status_code == 400
    assert 'class="error"' in response.text


def test_the_subscriptions_page_masks_the_query_string(user: FlaskClient, api: FlaskClient) -> None:
    """A target URL's query string (often a key) is shown as ?…."""
    subscribe(api, "http://127.0.0.1:9/catch?api_key=hunter2")
    page = user.get("/console/subscriptions").text
    assert "http://127.0.0.1:9/catch?…" in page
    assert "hunter2" not in page
    assert "whsec_" not in page


def test_send_test_event_reaches_the_subscriber(
    user: FlaskClient, api: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """Send test event queues one delivery to that subscription only, and it is delivered."""
    sub = subscribe(api, subscriber.url)
    response = post(user, f"/console/subscriptions/{sub['id']}/test")
    assert response.status_code == 303  # type: ignore[attr-defined]
    settle(svc)
    assert len(subscriber.hits) == 1
    assert '"call_id":"call_test_' in subscriber.hits[0].body.replace(" ", "")


def test_disable_and_enable_a_subscription(
    user: FlaskClient, api: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """Disabled: events are not queued for it and the page says why; enabled: they are again."""
    sub = subscribe(api, subscriber.url)
    post(user, f"/console/subscriptions/{sub['id']}/disable")
    assert "disabled in the console" in user.get("/console/subscriptions").text
    deliver_event(api, svc, "call_while_off")
    assert subscriber.hits == []
    post(user, f"/console/subscriptions/{sub['id']}/enable")
    assert "state-active" in user.get("/console/subscriptions").text
    deliver_event(api, svc, "call_after_on")
    assert len(subscriber.hits) == 1


def test_replay_all_dead_letters_of_a_subscription(
    user: FlaskClient, api: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """Every dead letter of the subscription is queued again and delivered."""
    failing(subscriber, 6)
    sub = subscribe(api, subscriber.url)
    deliver_event(api, svc, "call_dead_1")
    deliver_event(api, svc, "call_dead_2")
    assert len(delivery_ids(user.get("/console/deliveries?state=dead").text)) == 2
    response = post(user, f"/console/subscriptions/{sub['id']}/replay-dead")
    assert response.status_code == 303  # type: ignore[attr-defined]
    settle(svc)
    assert delivery_ids(user.get("/console/deliveries?state=dead").text) == []
    assert len(delivery_ids(user.get("/console/deliveries?state=succeeded").text)) == 2


def test_delete_a_subscription(user: FlaskClient, api: FlaskClient) -> None:
    """Delete removes it from the page (and the API's list)."""
    sub = subscribe(api, "http://127.0.0.1:9/bye")
    post(user, f"/console/subscriptions/{sub['id']}/delete")
    assert sub["id"] not in user.get("/console/subscriptions").text


def test_pause_resume_and_cancel_in_a_campaign(user: FlaskClient, api: FlaskClient) -> None:
    """Pause and resume show on the page; cancel turns a waiting call cancelled."""
    queued = queue_call(api, "spring")
    post(user, "/console/campaigns/spring/pause")
    assert "Resume campaign" in user.get("/console/campaigns/spring").text
    post(user, "/console/campaigns/spring/resume")
    page = user.get("/console/campaigns/spring").text
    assert "Pause campaign" in page
    assert CALLEE not in page  # masked in lists
    post(user, f"/console/queue/{queued['id']}/cancel")
    page = user.get("/console/campaigns").text
    # Queued, in flight, completed, failed, expired, cancelled: the one call moved to cancelled.
    assert re.search(r"(<td>0</td>\s*){5}<td>1</td>", page), page
    queue_page = api.get(f"/v1/queue/{queued['id']}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert queue_page.json["state"] == "cancelled"


def test_steering_an_unknown_campaign_is_404_and_creates_nothing(user: FlaskClient) -> None:
    """Pausing a campaign that does not exist does not create it."""
    assert post(user, "/console/campaigns/ghost/pause").status_code == 404  # type: ignore[attr-defined]
    assert "ghost" not in user.get("/console/campaigns").text


def test_calls_are_listed_masked_and_shown_in_full_on_their_page(user: FlaskClient) -> None:
    """The list masks both numbers; a call's page has them, its transcript and analysis."""
    listing = user.get("/console/calls").text
    assert "+14155550123" not in listing and "+1••••••••23" in listing
    assert "Positive" in listing
    page = user.get("/console/calls/call_abc123").text
    assert "+14155550123" in page
    assert "The caller booked a visit for Tuesday." in page
    assert "appointment_day" in page
    assert "Hi, I&#39;d like to book a visit." in page
    assert "https://retell.test/recordings/call_abc123.wav" in page


def test_an_unknown_call_is_a_404_page(user: FlaskClient) -> None:
    """Retell's 404 for a call is the console's 404 page."""
    assert user.get("/console/calls/call_missing").status_code == 404


def test_the_overview_draws_the_day(
    user: FlaskClient, api: FlaskClient, svc: Services, subscriber: Subscriber
) -> None:
    """The overview has the three charts, the concurrency meter and campaign progress."""
    subscribe(api, subscriber.url)
    deliver_event(api, svc, "call_overview_1")
    queue_call(api, "autumn")
    page = user.get("/console/").text
    assert page.count("<svg") >= 5
    assert "Events received per hour" in page and "events: 1" in page
    assert "succeeded: 1; failed: 0" in page
    assert '3 <span class="of">of 20</span>' in page
    assert "autumn" in page


def test_setup_shows_the_webhook_url_and_the_checks(
    user: FlaskClient, api: FlaskClient, svc: Services
) -> None:
    """Setup names the webhook URL, the key check and whether webhooks arrive."""
    page = user.get("/console/setup").text
    assert "http://localhost/v1/webhooks/retell" in page
    assert "The Retell API key works (Acme)." in page
    assert "no event from Retell yet" in page
    deliver_event(api, svc, "call_setup_1")
    assert "the newest event arrived" in user.get("/console/setup").text


@pytest.mark.parametrize(
    ("platform", "member"),
    [
        ("zapier", "index.js"),
        ("n8n", "package.json"),
        ("make", ".json"),
        ("power-automate", "apiDefinition.swagger.json"),
        ("openapi", "openapi.json"),
    ],
)
def test_each_platform_download_is_a_zip_for_this_address(
    user: FlaskClient, platform: str, member: str
) -> None:
    """Each download is a zip of that platform's export, built for the connector's URL."""
    response = user.get(f"/console/setup/{platform}.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert any(name.endswith(member) for name in names), names
    text = b"".join(archive.read(n) for n in names)
    assert b"localhost" in text  # the host the request reached (swagger 2 names only the host)


def test_an_unknown_download_is_404(user: FlaskClient) -> None:
    """Setup offers only the platforms' exports; any other download name is a 404."""
    assert user.get("/console/setup/myspace.zip").status_code == 404


def test_the_overview_still_shows_when_retell_fails(user: FlaskClient, retell: Any) -> None:
    """Retell erring on the concurrency read leaves the rest of the overview intact."""
    retell.reply("GET", "/get-concurrency", 500, {"status": "error", "message": "down"})
    page = user.get("/console/")
    assert page.status_code == 200
    assert "Retell did not say right now" in page.text
    assert "Events received per hour" in page.text


def test_a_slow_retell_delays_the_overview_by_the_wait_bound_only(
    user: FlaskClient, retell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retell not answering the concurrency read in time leaves it out of the overview."""
    monkeypatch.setattr(overview, "RETELL_WAIT_SECONDS", 0.05)
    release = threading.Event()

    def slow(_request: httpx.Request) -> httpx.Response:
        release.wait(5)
        return httpx.Response(200, json={"current_concurrency": 1, "concurrency_limit": 20})

    retell.on("GET", "/get-concurrency", slow)
    started = time.monotonic()
    try:
        page = user.get("/console/")
    finally:
        release.set()
    assert time.monotonic() - started < 1.5  # not Retell's 5 s, nor the default 2 s bound
    assert page.status_code == 200
    assert "Retell did not say right now" in page.text

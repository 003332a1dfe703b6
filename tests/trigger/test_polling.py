"""GET /v1/triggers/call-events (polling) and /sample, against a scripted Retell.

Retell's ``/v3/list-calls`` leaves transcripts out, so the connector fetches each listed
call with ``/v2/get-call``; the scripted list answers accordingly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector import manifest
from connector.events import DEFAULT_EVENTS, event_id
from connector.samples import sample_events
from tests.conftest import AUTH, FakeRetell, sample_call
from tests.trigger.test_ingest import post_event, retell_body

URL = "/v1/triggers/call-events"
LIST = ("POST", "/v3/list-calls")
T0 = 1_795_541_405_000
TRANSCRIPT_FIELDS = ("transcript", "transcript_object", "transcript_with_tool_calls")


def ended_call(call_id: str, start: int, **fields: Any) -> dict[str, Any]:
    """A full ended call as get-call returns it, with a transcript."""
    return sample_call(
        call_id=call_id,
        call_status="ended",
        start_timestamp=start,
        end_timestamp=start + 30_000,
        duration_ms=30_000,
        disconnection_reason="user_hangup",
        transcript=f"Agent: Hello from {call_id}",
        transcript_object=[{"role": "agent", "content": f"Hello from {call_id}", "words": []}],
        recording_url=f"https://example.com/{call_id}.wav",
        **fields,
    )


ANALYZED = ended_call(
    "call_old",
    T0,
    call_analysis={
        "call_summary": "Booked a cleaning.",
        "user_sentiment": "Positive",
        "call_successful": True,
        "in_voicemail": False,
        "custom_analysis_data": {"booked": True},
    },
)
ENDED = ended_call("call_new", T0 + 100_000)
CALLS = [ENDED, ANALYZED]  # as list-calls sorts them: newest start first
ALL = [("call_new", "call_ended"), ("call_old", "call_analyzed"), ("call_old", "call_ended")]


def listed_item(call: dict[str, Any]) -> dict[str, Any]:
    """A list-calls item: the call without what v3 leaves out."""
    return {k: v for k, v in call.items() if k not in (*TRANSCRIPT_FIELDS, "recording_url")}


@pytest.fixture(autouse=True)
def calls(retell: FakeRetell) -> list[dict[str, Any]]:
    """Retell knows ``CALLS``: listed without transcripts, fetched in full."""
    page = {"items": [listed_item(c) for c in CALLS], "has_more": False}
    retell.reply(*LIST, 200, page)
    for call in CALLS:
        retell.reply("GET", f"/v2/get-call/{call['call_id']}", 200, call)
    return CALLS


def poll(client: FlaskClient, query: Any = None) -> list[dict[str, Any]]:
    response = client.get(URL, query_string=query or {}, headers=AUTH)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


def keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["call"]["call_id"], item["event"]) for item in items]


def list_request(retell: FakeRetell) -> dict[str, Any]:
    (request,) = retell.sent(*LIST)
    return json.loads(request.content)  # type: ignore[no-any-return]


def schema_errors(instance: object, name: str = "call-event.json") -> list[str]:
    return [e.message for e in manifest.schema_validator(name).iter_errors(instance)]


# --- polling ----------------------------------------------------------------------------


def test_items_are_newest_first(client: FlaskClient) -> None:
    """Events come newest first; of one call's events, call_analyzed precedes call_ended."""
    items = poll(client)
    assert keys(items) == ALL
    stamps = [item["created_at"] for item in items]
    assert stamps == sorted(stamps, reverse=True)


def test_each_item_fits_the_call_event_schema(client: FlaskClient) -> None:
    """Every polled item validates against call-event.json."""
    items = poll(client)
    assert [schema_errors(item) for item in items] == [[]] * len(ALL)


def test_ids_are_unique_and_stable_across_polls(client: FlaskClient) -> None:
    """Two polls give the same ids, and no two items share one."""
    first, second = poll(client), poll(client)
    ids = [item["id"] for item in first]
    assert ids == [item["id"] for item in second]
    assert len(set(ids)) == len(ids)


def test_ids_match_the_webhook_path(client: FlaskClient) -> None:
    """A polled event has the id its webhook delivery has, so switching modes adds no dups."""
    for item in poll(client):
        assert item["id"] == event_id(item["event"], item["call"])


def test_every_listed_call_is_fetched_in_full(client: FlaskClient, retell: FakeRetell) -> None:
    """get-call is asked once per listed call, and items carry the transcripts."""
    items = poll(client)
    fetched = sorted(r.url.path for r in retell.requests if r.method == "GET")
    assert fetched == ["/v2/get-call/call_new", "/v2/get-call/call_old"]
    for item in items:
        assert item["call"]["transcript_object"]
        assert item["flat"]["transcript_text"] == f"Agent: Hello from {item['call']['call_id']}"
        assert item["flat"]["recording_url"].endswith(".wav")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("event=call_analyzed", [("call_old", "call_analyzed")]),
        ("events=call_analyzed", [("call_old", "call_analyzed")]),
        ("event=call_ended", [("call_new", "call_ended"), ("call_old", "call_ended")]),
        ("events=call_ended,call_analyzed", ALL),
        ("events=call_analyzed, call_ended", ALL),
        ("event=call_ended&event=call_analyzed", ALL),
        ("event=call_analyzed&events=call_ended", ALL),
        ("event=", ALL),
        ("event=call_started", [("call_new", "call_started"), ("call_old", "call_started")]),
        ("event=transcript_updated", []),
    ],
)
def test_event_filter_is_respected(
    client: FlaskClient, query: str, expected: list[tuple[str, str]]
) -> None:
    """event= / events= (repeated or comma-separated) pick the events listed; default both."""
    assert keys(poll(client, query)) == expected


def test_analyzed_call_yields_ended_and_analyzed_items(client: FlaskClient) -> None:
    """An analyzed call gives a call_analyzed item with analysis and a call_ended one without."""
    items = {(i["call"]["call_id"], i["event"]): i for i in poll(client)}
    analyzed, ended = items["call_old", "call_analyzed"], items["call_old", "call_ended"]
    assert analyzed["call"]["call_analysis"]["call_summary"] == "Booked a cleaning."
    assert analyzed["flat"]["call_summary"] == "Booked a cleaning."
    assert "call_analysis" not in ended["call"]
    assert ended["flat"]["call_summary"] is None


def test_list_request_asks_for_finished_calls_newest_first(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """list-calls is asked for finished calls, descending, with the limit, no agent filter."""
    poll(client, {"limit": "7"})
    body = list_request(retell)
    assert (body["sort_order"], body["limit"]) == ("descending", 7)
    criteria = body["filter_criteria"]
    assert criteria["call_status"]["value"] == ["ended", "error", "not_connected"]
    assert "agent" not in criteria


def test_agent_filter_is_passed_to_retell(client: FlaskClient, retell: FakeRetell) -> None:
    """agent_id becomes list-calls filter_criteria.agent."""
    poll(client, {"agent_id": "agent_7"})
    assert list_request(retell)["filter_criteria"]["agent"] == [{"agent_id": "agent_7"}]


def test_limit_bounds_the_items(client: FlaskClient) -> None:
    """limit caps the number of items returned (newest kept)."""
    assert keys(poll(client, {"limit": "1"})) == ALL[:1]


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1", "2.5", "\u00b2", "1e2"])
def test_bad_limit_is_422(client: FlaskClient, retell: FakeRetell, limit: str) -> None:
    """limit outside 1..100 is a 422 problem naming limit, and Retell is not asked."""
    response = client.get(URL, query_string={"limit": limit}, headers=AUTH)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [e["path"] for e in response.json["errors"]] == ["limit"]
    assert retell.requests == []


@pytest.mark.parametrize("query", ["event=call_exploded", "events=call_ended,nope"])
def test_unknown_event_is_422(client: FlaskClient, retell: FakeRetell, query: str) -> None:
    """An unknown event name is a 422 problem naming event, and Retell is not asked."""
    response = client.get(URL, query_string=query, headers=AUTH)
    assert response.status_code == 422
    assert [e["path"] for e in response.json["errors"]] == ["event"]
    assert retell.requests == []


def test_retell_401_is_a_502_problem(client: FlaskClient, retell: FakeRetell) -> None:
    """Retell rejecting the API key is a 502 problem for the platform, with Retell's message."""
    retell.reply(*LIST, 401, {"status": "error", "message": "Invalid API key"})
    response = client.get(URL, headers=AUTH)
    assert response.status_code == 502
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/retell-unauthorized")
    assert "Invalid API key" in response.json["detail"]
    assert schema_errors(response.json, "problem.json") == []


def test_polling_needs_a_token(client: FlaskClient) -> None:
    """The polling endpoint is not open."""
    assert client.get(URL).status_code == 401


# --- samples ----------------------------------------------------------------------------


def test_sample_without_events_is_the_builtin_sample(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """With nothing received yet, the sample is the built-in one, valid, without asking Retell."""
    response = client.get(f"{URL}/sample", headers=AUTH)
    assert response.status_code == 200
    items = response.json
    assert 1 <= len(items) <= 3
    assert items == sample_events(DEFAULT_EVENTS)[:3]
    assert [schema_errors(item) for item in items] == [[]] * len(items)
    assert retell.requests == []


def test_sample_follows_the_event_filter(client: FlaskClient) -> None:
    """The built-in sample has the events asked for."""
    response = client.get(f"{URL}/sample", query_string={"event": "call_started"}, headers=AUTH)
    assert [item["event"] for item in response.json] == ["call_started"]


def test_sample_after_an_event_is_that_real_event(client: FlaskClient) -> None:
    """Once an event was received, the sample is that real event, exactly as forwarded."""
    body = retell_body("call_ended", call_id="call_real_1", call_status="ended")
    assert post_event(client, body).status_code == 204
    (item,) = client.get(f"{URL}/sample", headers=AUTH).json
    assert item["call"] == json.loads(body)["call"]
    assert item["id"] == event_id("call_ended", item["call"])
    assert schema_errors(item) == []


def test_sample_ignores_real_events_of_other_kinds(client: FlaskClient) -> None:
    """A received call_started does not stand in for a requested call_analyzed sample."""
    post_event(client, retell_body("call_started", call_status="ongoing"))
    response = client.get(f"{URL}/sample", query_string={"event": "call_analyzed"}, headers=AUTH)
    assert response.json == sample_events(["call_analyzed"])

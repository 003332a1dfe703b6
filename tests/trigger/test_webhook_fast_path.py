"""The call-event fast path beneath Flask: it answers exactly as the Flask route would, stores
the same, and leaves every refusal and every failure to Flask."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client, TestResponse

from connector.api.webhook_fast_path import CallEventFastPath
from connector.limits import MAX_WEBHOOK_BYTES
from connector.metrics import REQUESTS
from connector.services import Services
from connector.store.tables import deliveries, events
from tests.conftest import sample_call
from tests.trigger.test_ingest import URL, count, retell_body, signed, subscribe

Request = Callable[[str], dict[str, Any]]  # a call id -> werkzeug ``open`` keyword arguments


def _post(body: str, headers: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": URL,
        "data": body,
        "headers": signed(body) if headers is None else headers,
        **more,
    }


def _chunked(body: str) -> dict[str, Any]:
    """A chunked body, as gunicorn hands it to the app (de-chunked, the stream terminated)."""
    request = _post(body)
    request["headers"] = {**request["headers"], "Transfer-Encoding": "chunked"}
    request["environ_overrides"] = {"wsgi.input_terminated": True}
    return request


CASES: dict[str, Request] = {
    "stored": lambda call_id: _post(retell_body(call_id=call_id)),
    "call_analyzed": lambda call_id: _post(retell_body("call_analyzed", call_id=call_id)),
    "bad signature": lambda call_id: _post(
        retell_body(call_id=call_id), signed(retell_body(call_id="other"))
    ),
    "no signature": lambda call_id: _post(retell_body(call_id=call_id), {}),
    "not JSON": lambda call_id: _post(f"not json {call_id}"),
    "no call": lambda call_id: _post(json.dumps({"event": "call_ended", "id": call_id})),
    "call_id too long": lambda call_id: _post(retell_body(call_id=call_id * 40)),
    "NUL in call_id": lambda call_id: _post(retell_body(call_id=call_id + "\x00")),
    "NUL in the query": lambda call_id: {
        **_post(retell_body(call_id=call_id)),
        "query_string": "x=%00",
    },
    "over the limit": lambda call_id: _post(
        json.dumps({"event": "call_ended", "call": sample_call(call_id=call_id)})
        + " " * MAX_WEBHOOK_BYTES
    ),
    "chunked": lambda call_id: _chunked(retell_body(call_id=call_id)),
    "inbound call": lambda call_id: _post(
        json.dumps(
            {
                "event": "call_inbound",
                "call_inbound": {"from_number": "+14155550142", "to_number": "+14157774444"},
            }
        )
    ),
    "GET": lambda call_id: {"method": "GET", "path": URL},
}


def _answer(response: TestResponse) -> tuple[str, list[tuple[str, str]], Any]:
    """The status line, the headers and the body (parsed, if JSON)."""
    body = response.get_data()
    parsed = json.loads(body) if response.mimetype.endswith("json") else body
    return response.status, sorted(response.headers.items()), parsed


@pytest.mark.parametrize("case", CASES)
def test_the_fast_path_answers_as_flask_does(app: Flask, case: str) -> None:
    """Status, headers and body are what the Flask route alone answers for the same request."""
    fast_path = app.wsgi_app
    assert isinstance(fast_path, CallEventFastPath)
    through_fast_path = Client(app).open(**CASES[case]("fast"))
    flask_alone = Client(fast_path.flask_app).open(**CASES[case]("flask"))
    assert _answer(through_fast_path) == _answer(flask_alone)


def test_a_repeated_event_answers_as_flask_does(app: Flask) -> None:
    """Retell's retry of an event already stored is a 204 either way, stored once."""
    client = app.test_client()
    body = retell_body(call_id="retried")
    first = Client(app).open(**_post(body))
    again = Client(app.wsgi_app.flask_app).open(**_post(body))  # type: ignore[attr-defined]
    once_more = Client(app).open(**_post(body))
    assert _answer(first) == _answer(again) == _answer(once_more)
    assert count(client, events) == 1


@pytest.mark.parametrize(
    ("case", "flask_ran"),
    [("stored", False), ("not JSON", True), ("chunked", True), ("inbound call", True)],
)
def test_only_what_needs_flask_reaches_it(app: Flask, case: str, flask_ran: bool) -> None:
    """A stored event never enters Flask's request handling; refusals and the rest do."""
    entered: list[str] = []
    app.before_request(lambda: entered.append("flask") and None)
    Client(app).open(**CASES[case]("c1"))
    assert bool(entered) is flask_ran


def test_an_event_stored_here_queues_its_deliveries(app: Flask, svc: Services) -> None:
    """The fast path runs the route's own storing: event, deliveries, the worker woken."""
    client = app.test_client()
    subscribe(client, events=["call_ended"])
    woken: list[bool] = []
    svc.worker.wake = lambda: woken.append(True)  # type: ignore[method-assign]
    assert Client(app).open(**_post(retell_body(call_id="fan-out"))).status_code == 204
    assert (count(client, events), count(client, deliveries)) == (1, 1)
    assert woken == [True]


def test_an_event_stored_here_is_timed_like_the_route(app: Flask) -> None:
    """The request histogram counts it under the route's endpoint and status."""
    before = _count_of(URL, "204")
    Client(app).open(**_post(retell_body(call_id="timed")))
    assert _count_of(URL, "204") == before + 1


def _count_of(endpoint: str, status: str) -> float:
    for metric in REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels == {
                "endpoint": endpoint,
                "status": status,
            }:
                return sample.value
    return 0.0


def test_a_store_failure_is_flasks_503_and_tried_once(app: Flask, svc: Services) -> None:
    """When the store fails, Flask answers its 503 problem (retry later) for the error the
    fast path met, without storing the event a second time."""
    tried: list[str] = []
    accept = svc.inbox.accept
    svc.inbox.accept = lambda event, call: tried.append(event) or accept(event, call)  # type: ignore[method-assign]
    with svc.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE connector_events RENAME TO connector_events_away")
    try:
        response = Client(app).open(**_post(retell_body(call_id="no-store")))
    finally:
        with svc.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE connector_events_away RENAME TO connector_events")
    assert response.status_code == 503
    assert response.json is not None and response.json["type"].endswith("store-unavailable")
    assert tried == ["call_ended"]
    assert count(app.test_client(), events) == 0

"""POST /v1/webhooks/retell/inbound (and call_inbound on the call-event URL): signature,
shape, answers from rules and saved context, Retell's retries, and the forwarded event."""

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

from connector.inbound.service import InboundService
from connector.manifest import schema_validator
from connector.services import Services
from connector.store.tables import deliveries, events, inbound_answers
from tests.conftest import RETELL_KEY
from tests.inbound.conftest import AUTH, CALLER, SALES_LINE, Clock, inbound_body, signed_post
from tests.subscriber import Subscriber

URL = "/v1/webhooks/retell/inbound"
BODY = json.dumps(inbound_body())
MINUTE_MS = 60_000


def signed(body: str, key: str = RETELL_KEY, ts: int | None = None) -> dict[str, str]:
    """Headers as Retell's own SDK signs them."""
    ts = int(time.time() * 1000) if ts is None else ts
    return {
        "x-retell-signature": webhook_auth.symmetric["sign"](body, key, ts),
        "Content-Type": "application/json",
    }


def count(svc: Services, table: Any) -> int:
    with svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def now_ms() -> int:
    return int(time.time() * 1000)


def uppercase_hex() -> dict[str, str]:
    header = signed(BODY)["x-retell-signature"]
    return {"x-retell-signature": header.upper().replace("V=", "v=").replace(",D=", ",d=")}


SIGNATURES: list[tuple[str, Callable[[], dict[str, str]], bool]] = [
    ("valid", lambda: signed(BODY), True),
    ("tampered", lambda: signed(BODY.replace(CALLER, "+14155550199")), False),
    ("wrong-key", lambda: signed(BODY, key="wrong-key"), False),
    ("stale", lambda: signed(BODY, ts=now_ms() - 10 * MINUTE_MS), False),
    ("future", lambda: signed(BODY, ts=now_ms() + 10 * MINUTE_MS), False),
    ("missing", lambda: {}, False),
    ("garbled", lambda: {"x-retell-signature": "garbled"}, False),
    ("uppercase-hex", uppercase_hex, False),
]


@pytest.mark.parametrize("url", [URL, "/v1/webhooks/retell"])
@pytest.mark.parametrize(
    ("make_headers", "accepted"),
    [(make, accepted) for _, make, accepted in SIGNATURES],
    ids=[name for name, _, _ in SIGNATURES],
)
def test_signature_table(
    client: FlaskClient,
    svc: Services,
    url: str,
    make_headers: Callable[[], dict[str, str]],
    accepted: bool,
) -> None:
    """Only a signature Retell's SDK would make gets an answer; anything else is a 401
    problem with no answer in it and nothing stored."""
    response = client.post(url, data=BODY, headers=make_headers())
    assert response.status_code == (200 if accepted else 401)
    if accepted:
        assert response.json == {"call_inbound": {}}
    else:
        assert response.mimetype == "application/problem+json"
        assert "call_inbound" not in response.json
        assert count(svc, inbound_answers) == count(svc, events) == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("{", "body"),
        ("[]", "body"),
        (json.dumps({"event": "call_inbound"}), "call_inbound"),
        (json.dumps({"event": "call_inbound", "call_inbound": []}), "call_inbound"),
        (json.dumps(inbound_body(from_number=None)), "call_inbound.from_number"),
        (json.dumps({"event": "call_inbound", "call_inbound": {"from_number": CALLER}}),
         "call_inbound.to_number"),
        (json.dumps(inbound_body(to_number="+1" + "5" * 80)), "call_inbound.to_number"),
        (json.dumps(inbound_body(agent_id=7)), "call_inbound.agent_id"),
        ("[" * 200 + "]" * 200, "body"),
    ],
)  # fmt: skip
def test_bad_bodies_are_400_naming_the_field(
    client: FlaskClient, svc: Services, body: str, path: str
) -> None:
    """A signed body that is not Retell's inbound call is a 400 naming the field, never 5xx."""
    response = client.post(URL, data=body, headers=signed(body))
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert path in [e["path"] for e in response.json["errors"]]
    assert count(svc, inbound_answers) == 0


def test_oversize_is_413(client: FlaskClient) -> None:
    """A body over the webhook limit is refused before it is answered."""
    body = json.dumps(inbound_body(note="x" * (256 * 1024)))
    assert client.post(URL, data=body, headers=signed(body)).status_code == 413


def add_rule(client: FlaskClient, body: dict[str, Any]) -> str:
    response = client.post("/v1/inbound/rules", json=body, headers=AUTH)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def save_contact(client: FlaskClient, number: str, body: dict[str, Any]) -> None:
    response = client.put(f"/v1/inbound/contacts/{number}", json=body, headers=AUTH)
    assert response.status_code in (200, 201), response.json


def test_answer_from_rule_and_saved_contact(client: FlaskClient) -> None:
    """The matching rule's fields with the caller's saved context merged over them."""
    add_rule(client, {"match": {"caller_countries": ["GB"]}, "override_agent_id": "agent_uk"})
    add_rule(
        client,
        {
            "match": {"to_numbers": [SALES_LINE]},
            "override_agent_id": "agent_sales",
            "override_agent_version": 5,
            "dynamic_variables": {"department": "sales", "first_name": "there"},
        },
    )
    save_contact(client, CALLER, {"dynamic_variables": {"first_name": "Ada", "orders": 3}})
    response = signed_post(client, inbound_body(agent_id="agent_number", agent_version=1))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == {
        "call_inbound": {
            "override_agent_id": "agent_sales",
            "override_agent_version": 5,
            "dynamic_variables": {"department": "sales", "first_name": "Ada", "orders": "3"},
        }
    }
    assert schema_validator("inbound-answer.json").is_valid(response.json)


def test_contact_agent_overrides_rule_agent(client: FlaskClient) -> None:
    """A saved context's agent replaces the rule's, and the rule's version goes with it."""
    add_rule(client, {"override_agent_id": "agent_sales", "override_agent_version": 5})
    save_contact(client, CALLER, {"override_agent_id": "agent_vip"})
    answer = signed_post(client, inbound_body()).json["call_inbound"]
    assert answer == {"override_agent_id": "agent_vip"}


def test_declining_rule_answers_without_agent(client: FlaskClient) -> None:
    """A declining rule answers with no agent, and saved context cannot undo it."""
    add_rule(client, {"position": 0, "match": {"caller_prefixes": ["+1415"]}, "decline": True})
    add_rule(client, {"override_agent_id": "agent_sales"})
    save_contact(client, CALLER, {"override_agent_id": "agent_vip"})
    assert signed_post(client, inbound_body()).json == {"call_inbound": {}}
    other = signed_post(client, inbound_body(from_number="+16505550142"))
    assert other.json == {"call_inbound": {"override_agent_id": "agent_sales"}}


def test_time_window_uses_the_clock(client: FlaskClient, clock: Clock) -> None:
    """Business hours go to sales; after hours (a later call) to the after-hours agent."""
    hours = {"start": "09:00", "end": "17:00", "days": ["mon-fri"]}
    add_rule(client, {"match": {"window": hours}, "override_agent_id": "agent_sales"})
    add_rule(client, {"override_agent_id": "agent_after_hours"})
    day = signed_post(client, inbound_body()).json["call_inbound"]
    clock.now += 9 * 3600  # 19:30 in San Francisco
    night = signed_post(client, inbound_body(from_number="+16505550142")).json["call_inbound"]
    assert (day["override_agent_id"], night["override_agent_id"]) == (
        "agent_sales",
        "agent_after_hours",
    )


def test_retell_retry_gets_the_same_answer(client: FlaskClient, svc: Services) -> None:
    """A retry of the same request gets the first answer even after the rules changed,
    and the call is recorded once."""
    rule_id = add_rule(client, {"override_agent_id": "agent_sales"})
    first = signed_post(client, inbound_body()).json
    client.put(f"/v1/inbound/rules/{rule_id}", json={"decline": True}, headers=AUTH)
    second = signed_post(client, inbound_body(), path="/v1/webhooks/retell").json
    assert first == second == {"call_inbound": {"override_agent_id": "agent_sales"}}
    assert count(svc, events) == 1


def test_a_new_call_after_the_cache_gets_a_new_answer(
    client: FlaskClient, svc: Services, clock: Clock
) -> None:
    """Once the short-lived answer has run out, the same caller ringing again is a new call."""
    rule_id = add_rule(client, {"override_agent_id": "agent_sales"})
    signed_post(client, inbound_body())
    client.put(f"/v1/inbound/rules/{rule_id}", json={"decline": True}, headers=AUTH)
    clock.now += 600
    assert signed_post(client, inbound_body()).json == {"call_inbound": {}}
    assert count(svc, events) == 2


def test_call_inbound_forwarded_to_subscribers(
    client: FlaskClient, svc: Services, clock: Clock
) -> None:
    """After answering, call_inbound goes to its subscribers (signed, with the answer given),
    and not to subscribers of other events."""
    clock.now = time.time()  # the delivery is due at once by the worker's clock
    add_rule(client, {"name": "Sales", "override_agent_id": "agent_sales"})
    save_contact(client, CALLER, {"dynamic_variables": {"first_name": "Ada"}})
    with Subscriber() as inbound_hook, Subscriber() as ended_hook:
        subscription = client.post(
            "/v1/triggers/call-events/subscriptions",
            json={"target_url": inbound_hook.url, "events": ["call_inbound"]},
            headers=AUTH,
        ).json
        client.post(
            "/v1/triggers/call-events/subscriptions",
            json={"target_url": ended_hook.url, "events": ["call_ended"]},
            headers=AUTH,
        )
        signed_post(client, inbound_body())
        svc.worker.drain()
        (event,) = inbound_hook.verified(subscription["secret"])
        assert ended_hook.hits == []
    assert schema_validator("inbound-event.json").is_valid(event)
    assert event["event"] == "call_inbound"
    assert event["answer"] == {
        "call_inbound": {
            "override_agent_id": "agent_sales",
            "dynamic_variables": {"first_name": "Ada"},
        }
    }
    assert event["flat"] | {"dynamic_variables.first_name": "Ada"} == event["flat"]
    assert (event["flat"]["rule_name"], event["flat"]["contact_found"]) == ("Sales", True)
    assert event["call_inbound"] == inbound_body()["call_inbound"]
    assert count(svc, deliveries) == 1


def test_inbound_endpoint_is_open_but_rules_are_not(client: FlaskClient) -> None:
    """The webhook needs no bearer token (the signature is its auth); the rules API does."""
    assert signed_post(client, inbound_body()).status_code == 200
    assert client.get("/v1/inbound/rules").status_code == 401


def test_a_rule_that_no_longer_reads_is_skipped(
    client: FlaskClient, inbound: InboundService, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored rule whose window names a zone the system lost is skipped and logged; the
    call is still answered from the other rules."""
    broken = {"match": {"window": {"start": "09:00", "end": "17:00", "timezone": "Gone/Zone"}}}
    inbound.rules.create("owner", {**broken, "override_agent_id": "agent_broken", "position": 0})
    add_rule(client, {"override_agent_id": "agent_sales"})
    with caplog.at_level(logging.ERROR, logger="connector.inbound"):
        answer = signed_post(client, inbound_body())
    assert answer.json == {"call_inbound": {"override_agent_id": "agent_sales"}}
    assert any("no longer reads" in r.getMessage() for r in caplog.records)

"""POST /v1/actions/create-phone-call: validation first, never dial twice, clear failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from connector.retell.client import CONNECTOR_TAG
from tests.conftest import AUTH, FakeRetell, build_app, make_settings, sample_call

URL = "/v1/actions/create-phone-call"
CREATE = ("POST", "/v2/create-phone-call")
GOOD: dict[str, Any] = {"from_number": "+14157774444", "to_number": "+14155550123"}
LONG_METADATA = {"notes": "x" * 50_001}


def post(client: FlaskClient, body: Any, key: str | None = None) -> Any:
    headers = {**AUTH, **({"Idempotency-Key": key} if key else {})}
    return client.post(URL, json=body, headers=headers)


def test_creates_call_and_returns_retell_object_unchanged(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """A valid request is sent once and Retell's call object comes back as is with 201."""
    response = post(client, {**GOOD, "to_number": "+1 (415) 555-0123"}, key="k1")
    assert response.status_code == 201
    sent = json.loads(retell.sent(*CREATE)[0].content)
    assert response.json == sample_call(metadata=sent["metadata"])
    assert sent["to_number"] == "+14155550123"
    assert sent["idempotency_key"].startswith("rc-")
    assert sent["metadata"][CONNECTOR_TAG] == sent["idempotency_key"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"to_number": "+14155550123"}, "from_number"),
        ({"from_number": "+14157774444"}, "to_number"),
        ({**GOOD, "to_number": ""}, "to_number"),
        ({**GOOD, "to_number": "555-0123"}, "to_number"),
        ({**GOOD, "to_number": "+1415"}, "to_number"),
        ({**GOOD, "to_number": "+1415555012345678"}, "to_number"),
        ({**GOOD, "to_number": "+1-800-FLOWERS"}, "to_number"),
        ({**GOOD, "to_number": "+1415555abcd"}, "to_number"),
        ({**GOOD, "to_number": 14155550123}, "to_number"),
        ({**GOOD, "to_number": None}, "to_number"),
        ({**GOOD, "to_number": ["+14155550123"]}, "to_number"),
        ({**GOOD, "from_number": "+999123456"}, "from_number"),
        ({**GOOD, "from_number": "+10000000000"}, "from_number"),
        ({**GOOD, "override_agent_id": 7}, "override_agent_id"),
        ({**GOOD, "override_agent_version": -1}, "override_agent_version"),
        ({**GOOD, "override_agent_version": {"v": 1}}, "override_agent_version"),
        ({**GOOD, "metadata": "customer 7"}, "metadata"),
        ({**GOOD, "metadata": LONG_METADATA}, "metadata"),
        (
            {**GOOD, "retell_llm_dynamic_variables": {"name": {"first": "Ada"}}},
            "retell_llm_dynamic_variables.name",
        ),
        (
            {**GOOD, "retell_llm_dynamic_variables": {"tags": ["a", "b"]}},
            "retell_llm_dynamic_variables.tags",
        ),
        ({**GOOD, "retell_llm_dynamic_variables": "name=Ada"}, "retell_llm_dynamic_variables"),
        ({**GOOD, "custom_sip_headers": {"X-Bad Header": "v"}}, "custom_sip_headers"),
        ({**GOOD, "custom_sip_headers": {"X-Ok": 5}}, "custom_sip_headers.X-Ok"),
        ({**GOOD, "ignore_e164_validation": "maybe"}, "ignore_e164_validation"),
        ({**GOOD, "honor_internal_dnc": 3}, "honor_internal_dnc"),
        ({**GOOD, "agent_override": "fast"}, "agent_override"),
        ({**GOOD, "idempotency_key": ""}, "idempotency_key"),
        ({**GOOD, "idempotency_key": "k" * 300}, "idempotency_key"),
        ({**GOOD, "call_me_maybe": True}, "call_me_maybe"),
        ({**GOOD, "from": "+14157774444"}, "from"),
        ([GOOD], "body"),
        ("call +14155550123", "body"),
        (42, "body"),
    ],
)
def test_bad_input_is_422_naming_field_and_sends_nothing(
    client: FlaskClient, retell: FakeRetell, body: Any, path: str
) -> None:
    """Each invalid request is a 422 problem naming the field, and Retell is not called."""
    response = post(client, body, key="k-bad")
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    paths = [e["path"] for e in response.json["errors"]]
    assert any(p == path or p.startswith(path + ".") for p in paths), paths
    assert retell.requests == []


def test_header_and_body_keys_must_agree(client: FlaskClient, retell: FakeRetell) -> None:
    """Different keys in the header and the body are refused before any upstream call."""
    response = post(client, {**GOOD, "idempotency_key": "a"}, key="b")
    assert response.status_code == 422
    assert retell.requests == []


def test_same_key_same_body_replays_without_dialling(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """A replay returns the stored response and makes no new upstream call."""
    first = post(client, GOOD, key="k2")
    second = post(client, GOOD, key="k2")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.data == first.data
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(retell.sent(*CREATE)) == 1


def test_server_timing_shows_time_spent_at_retell(client: FlaskClient, retell: FakeRetell) -> None:
    """A call that went to Retell says how long Retell took; a replay, which did not, says nothing."""
    first = post(client, GOOD, key="k-timing")
    second = post(client, GOOD, key="k-timing")
    name, duration, description = first.headers["Server-Timing"].split(";")
    assert name == "retell" and description == 'desc="Retell API"'
    assert float(duration.removeprefix("dur=")) > 0
    assert "Server-Timing" not in second.headers


def test_body_field_key_works_like_the_header(client: FlaskClient, retell: FakeRetell) -> None:
    """``idempotency_key`` in the body is the same key as the header."""
    post(client, {**GOOD, "idempotency_key": "k3"})
    replay = post(client, GOOD, key="k3")
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert len(retell.sent(*CREATE)) == 1


def test_same_key_different_body_is_422(client: FlaskClient, retell: FakeRetell) -> None:
    """Reusing a key for a different call is refused."""
    post(client, GOOD, key="k4")
    response = post(client, {**GOOD, "to_number": "+14155550124"}, key="k4")
    assert response.status_code == 422
    assert response.json["type"].endswith("idempotency-key-reused")
    assert len(retell.sent(*CREATE)) == 1


def _fail_with(retell: FakeRetell, failure: httpx.Response | Exception) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    retell.on(*CREATE, handler)


@pytest.mark.parametrize(
    ("failure", "status", "slug", "sends"),
    [
        (
            httpx.Response(
                401, json={"status": "error", "message": "API key is missing or invalid."}
            ),
            502,
            "retell-unauthorized",
            1,
        ),
        (
            httpx.Response(
                402,
                json={"status": "error", "message": "Trial has ended, please add payment method."},
            ),
            402,
            "retell-payment-required",
            1,
        ),
        (
            httpx.Response(422, json={"status": "error", "message": "from_number is not owned"}),
            422,
            "retell-rejected",
            1,
        ),
        (
            httpx.Response(
                400, json={"status": "error", "message": "contact is on the do-not-call list"}
            ),
            422,
            "retell-rejected",
            1,
        ),
        (
            httpx.Response(
                429,
                json={"status": "error", "message": "Account rate limited"},
                headers={"Retry-After": "7"},
            ),
            429,
            "retell-rate-limited",
            3,
        ),
        (
            httpx.Response(
                500, json={"status": "error", "message": "An unexpected server error occurred."}
            ),
            502,
            "call-outcome-unknown",
            1,
        ),
        (
            httpx.Response(408, json={"status": "error", "message": "Request timed out."}),
            502,
            "call-outcome-unknown",
            1,
        ),
        (
            httpx.Response(409, json={"status": "error", "message": "Request in progress."}),
            502,
            "call-outcome-unknown",
            1,
        ),
        (httpx.ConnectError("connection refused"), 502, "retell-unavailable", 3),
        (httpx.ReadTimeout("timed out"), 502, "call-outcome-unknown", 1),
        (httpx.RemoteProtocolError("server disconnected"), 502, "call-outcome-unknown", 1),
    ],
)
def test_upstream_failures_map_to_problems(
    client: FlaskClient,
    retell: FakeRetell,
    failure: httpx.Response | Exception,
    status: int,
    slug: str,
    sends: int,
) -> None:
    """Each Retell failure is its documented problem; ambiguous ones are never re-sent."""
    _fail_with(retell, failure)
    response = post(client, GOOD, key="k-fail")
    assert response.status_code == status
    assert response.json["type"].endswith(slug)
    assert len(retell.sent(*CREATE)) == sends
    if isinstance(failure, httpx.Response) and failure.status_code < 500:
        assert failure.json()["message"] in response.json["detail"]
    if status == 429:
        assert response.headers["Retry-After"] == "7"


def test_definitive_failure_frees_the_key(client: FlaskClient, retell: FakeRetell) -> None:
    """After Retell provably refused, the same key may be sent again."""
    _fail_with(retell, httpx.Response(402, json={"message": "Trial has ended"}))
    post(client, GOOD, key="k5")
    retell.on(*CREATE, lambda _r: httpx.Response(201, json=sample_call()))
    assert post(client, GOOD, key="k5").status_code == 201
    assert len(retell.sent(*CREATE)) == 2


def test_ambiguous_failure_then_retry_finds_the_call(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """A retry after an ambiguous failure looks the call up instead of dialling again."""
    _fail_with(retell, httpx.ReadTimeout("timed out"))
    assert post(client, GOOD, key="k6").status_code == 502
    tag = json.loads(retell.sent(*CREATE)[0].content)["idempotency_key"]
    retell.reply(
        "POST",
        "/v3/list-calls",
        200,
        {"items": [sample_call(call_id="c-found")], "has_more": False},
    )
    retell.reply(
        "GET", "/v2/get-call/c-found", 200, sample_call(call_id="c-found", call_status="ongoing")
    )
    retry = post(client, GOOD, key="k6")
    assert retry.status_code == 201
    assert retry.json["call_id"] == "c-found"
    assert len(retell.sent(*CREATE)) == 1
    lookup = json.loads(retell.sent("POST", "/v3/list-calls")[0].content)
    assert lookup["filter_criteria"]["metadata"][0]["value"] == tag
    assert post(client, GOOD, key="k6").data == retry.data


def test_ambiguous_failure_not_found_resends_with_same_retell_key(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """Inside Retell's hour, a call not found is re-sent with the same Retell idempotency key."""
    _fail_with(retell, httpx.Response(503, json={"message": "unavailable"}))
    post(client, GOOD, key="k7")
    retell.reply("POST", "/v3/list-calls", 200, {"items": [], "has_more": False})
    retell.on(*CREATE, lambda _r: httpx.Response(201, json=sample_call()))
    assert post(client, GOOD, key="k7").status_code == 201
    first, second = (json.loads(r.content) for r in retell.sent(*CREATE))
    assert first["idempotency_key"] == second["idempotency_key"]


def test_concurrent_retry_during_reconciliation_conflicts(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """While a key's first request is in flight, another gets 409 with Retry-After."""
    holder: dict[str, Any] = {}

    def slow_create(request: httpx.Request) -> httpx.Response:
        holder["inner"] = post(client, GOOD, key="k8")
        return httpx.Response(201, json=sample_call())

    retell.on(*CREATE, slow_create)
    assert post(client, GOOD, key="k8").status_code == 201
    assert holder["inner"].status_code == 409
    assert holder["inner"].headers["Retry-After"] == "1"


def test_keys_are_scoped_per_token(tmp_path: Any, retell: FakeRetell) -> None:
    """Two platform tokens using the same key place two different calls."""
    other = "other-token-0123456789abcdef"
    tokens = f"{AUTH['Authorization'][7:]},{other}"
    app = build_app(make_settings(tmp_path, connector_api_tokens=tokens), retell)
    c = app.test_client()
    c.post(URL, json=GOOD, headers={**AUTH, "Idempotency-Key": "shared"})
    c.post(
        URL, json=GOOD, headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "shared"}
    )
    assert len(retell.sent(*CREATE)) == 2


def _echo_numbers(request: httpx.Request) -> httpx.Response:
    """Retell answers with the numbers it was sent, as the real API does."""
    sent = json.loads(request.content)
    numbers = {"from_number": sent["from_number"], "to_number": sent["to_number"]}
    return httpx.Response(201, json=sample_call(**numbers))


@pytest.mark.parametrize(
    "to_number", ["(415) 555-0100", "001 415 555 0100", "415.555.0100", "+1 415 555 0100"]
)
def test_national_numbers_are_dialled_in_e164(
    client: FlaskClient, retell: FakeRetell, to_number: str
) -> None:
    """A number without +, read in the From number's country, is sent and returned in E.164."""
    retell.on(*CREATE, _echo_numbers)
    response = post(client, {**GOOD, "to_number": to_number})
    assert response.status_code == 201, response.json
    assert json.loads(retell.sent(*CREATE)[0].content)["to_number"] == "+14155550100"
    assert response.json is not None and response.json["to_number"] == "+14155550100"


def test_default_region_setting_reads_a_national_from_number(
    tmp_path: Path, retell: FakeRetell
) -> None:
    """With CONNECTOR_DEFAULT_REGION, a national From number is read in that region."""
    settings = make_settings(tmp_path, connector_default_region="us")
    app = build_app(settings, retell)
    retell.on(*CREATE, _echo_numbers)
    body = {"from_number": "(415) 777-4444", "to_number": "(415) 555-0100"}
    response = post(app.test_client(), body)
    assert response.status_code == 201, response.json
    assert response.json is not None
    numbers = (response.json["from_number"], response.json["to_number"])
    assert numbers == ("+14157774444", "+14155550100")

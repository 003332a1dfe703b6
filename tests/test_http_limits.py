"""Limits on what a client may send: nesting depth, body size whatever the framing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from retell.lib import webhook_auth

from connector.jsontext import MAX_DEPTH
from connector.sandbox import SandboxConfig, create_sandbox_app, sandbox_of
from tests.conftest import AUTH, RETELL_KEY

CREATE = "/v1/actions/create-phone-call"
SUBSCRIBE = "/v1/triggers/call-events/subscriptions"
WEBHOOK = "/v1/webhooks/retell"


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def retell_signed(body: bytes) -> dict[str, str]:
    ts = int(time.time() * 1000)
    signature = webhook_auth.symmetric["sign"](body.decode(), RETELL_KEY, ts)
    return {"x-retell-signature": signature}


def headers_for(path: str, body: bytes) -> dict[str, str]:
    """Credentials each route needs to get as far as reading the body."""
    extra = retell_signed(body) if path == WEBHOOK else AUTH
    return {**extra, "Content-Type": "application/json"}


DEEP_BODIES: list[tuple[str, bytes]] = [
    ("10,000 nested arrays", deep_array(10_000)),
    ("10,000 nested objects", deep_object(10_000)),
    ("one level over the cap", deep_array(MAX_DEPTH + 1)),
    ("over the cap with a 19-digit number", b"[" * 2000 + b"1234567890123456789" + b"]" * 2000),
]


@pytest.mark.parametrize("path", [CREATE, SUBSCRIBE, WEBHOOK])
@pytest.mark.parametrize(("label", "body"), DEEP_BODIES, ids=[b[0] for b in DEEP_BODIES])
def test_deeply_nested_body_is_400_naming_body(
    client: FlaskClient, path: str, label: str, body: bytes
) -> None:
    """JSON nested past the cap is a 400 problem naming ``body``, never a RecursionError."""
    response = client.post(path, data=body, headers=headers_for(path, body))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert response.json["errors"][0]["path"] == "body"
    assert "nested more than" in response.json["errors"][0]["message"]


def test_nesting_at_the_cap_is_parsed(client: FlaskClient) -> None:
    """Nesting exactly at the cap is read as JSON and judged on its fields (422, not 400)."""
    metadata = deep_object(MAX_DEPTH - 1)  # inside the body object: MAX_DEPTH levels in all
    body = b'{"from_number": "+14157774444", "metadata": ' + metadata + b"}"
    response = client.post(CREATE, data=body, headers=headers_for(CREATE, body))
    assert response.status_code == 422
    assert response.json is not None
    assert [e["path"] for e in response.json["errors"]] == ["to_number"]


@pytest.fixture
def connector_get_json_app(app: Flask) -> Flask:
    """The connector's app with one extra route that reads its body with ``get_json``."""

    @app.post("/probe")
    def probe() -> dict[str, Any]:
        return {"type": type(request.get_json()).__name__}

    return app


def test_get_json_refuses_deep_nesting_in_the_connector(connector_get_json_app: Flask) -> None:
    """Flask's own ``get_json`` in the connector answers 400 problem+json, not 500."""
    client = connector_get_json_app.test_client()
    response = client.post("/probe", data=deep_array(10_000), content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    ok = client.post("/probe", json={"a": [1]})
    assert ok.json == {"type": "dict"}


@pytest.fixture
def sandbox_client() -> Iterator[FlaskClient]:
    app = create_sandbox_app(SandboxConfig.fast())
    try:
        yield app.test_client()
    finally:
        sandbox_of(app).close()


@pytest.mark.parametrize("path", ["/v2/create-phone-call", "/v3/list-calls", "/v2/list-agents"])
def test_sandbox_refuses_deep_nesting_with_400(sandbox_client: FlaskClient, path: str) -> None:
    """The sandbox answers a too-deep body as Retell answers bad JSON: 400, not 500."""
    key = SandboxConfig.fast().api_key
    response = sandbox_client.post(
        path,
        data=deep_array(10_000),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert json.loads(response.get_data())["status"] == "error"

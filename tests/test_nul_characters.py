"""A NUL character in an id or a filter, or a stored field the store cannot hold, is bad input.

PostgreSQL text cannot hold NUL, so such input used to fail in the store, which answered
503 "retry" to a request that can never succeed. Run on both stores (the ``engine`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.conftest import AUTH, FakeRetell, build_app, make_settings


@pytest.fixture
def client(tmp_path: Path, retell: FakeRetell, engine: Engine) -> FlaskClient:
    return build_app(make_settings(tmp_path), retell, engine).test_client()


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("DELETE", "/v1/triggers/call-events/subscriptions/sub%00x", "subscription_id"),
        ("POST", "/v1/deliveries/dlv%00x/retry", "delivery_id"),
        ("GET", "/v1/deliveries?subscription_id=sub%00x", "subscription_id"),
        ("GET", "/v1/triggers/call-events/sample?agent_id=agent%00x", "agent_id"),
        ("GET", "/v1/inbound/rules/rule%00x", "rule_id"),
        ("DELETE", "/v1/inbound/rules/rule%00x", "rule_id"),
    ],
)
def test_nul_in_a_path_or_query_parameter_is_422_naming_it(
    client: FlaskClient, method: str, path: str, field: str
) -> None:
    """A NUL in a path or query parameter is a 422 naming that parameter, not a store error."""
    response = client.open(path, method=method, headers=AUTH)
    assert response.status_code == 422, response.json
    assert response.json is not None
    assert response.json["errors"] == [
        {"path": field, "message": "must not contain NUL characters"}
    ]


@pytest.mark.parametrize(
    ("agent_id", "message"),
    [
        ("agent\x00x", "must not contain NUL characters"),
        ("a" * 129, "must be at most 128 characters"),
    ],
)
def test_a_subscription_agent_id_the_store_cannot_hold_is_422(
    client: FlaskClient, agent_id: str, message: str
) -> None:
    """A subscription's agent filter with a NUL or past the column width is refused, unstored."""
    body = {"target_url": "https://example.com/hook", "agent_id": agent_id}
    response = client.post("/v1/triggers/call-events/subscriptions", json=body, headers=AUTH)
    assert response.status_code == 422, response.json
    assert response.json is not None
    assert response.json["errors"] == [{"path": "agent_id", "message": message}]
    listed = client.get("/v1/triggers/call-events/subscriptions", headers=AUTH).json
    assert listed is not None and listed["items"] == []

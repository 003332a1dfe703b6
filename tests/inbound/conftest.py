"""Fixtures for inbound calls: an app on both stores that may call loopback responders,
a signed-POST helper as Retell sends it, and a fixed clock for the rule windows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from connector.delivery.ssrf import guarded_transport
from connector.inbound.responder import Responders
from connector.inbound.service import InboundService
from connector.retell.signature import sign
from connector.services import Services
from tests.conftest import AUTH, RETELL_KEY, TOKEN, Clock, FakeRetell, build_app, make_settings

# A Wednesday, 10:30 in San Francisco (UTC-8): inside business hours at +1415 numbers.
WEDNESDAY_MORNING = 1_796_236_200.0  # 2026-12-02T18:30:00Z
SALES_LINE = "+14157774444"
CALLER = "+14155550142"
OTHER_TOKEN = "other-token-fedcba9876543210"
OTHER = {"Authorization": f"Bearer {OTHER_TOKEN}"}


def inbound_body(**fields: Any) -> dict[str, Any]:
    """Retell's inbound webhook body for a call from CALLER to SALES_LINE."""
    call: dict[str, Any] = {"from_number": CALLER, "to_number": SALES_LINE}
    call.update(fields)
    return {"event": "call_inbound", "call_inbound": call}


def signed_post(
    client: FlaskClient, body: dict[str, Any] | str, path: str = "/v1/webhooks/retell/inbound"
) -> TestResponse:
    """POST ``body`` signed with the Retell key, as Retell does."""
    text = body if isinstance(body, str) else json.dumps(body)
    headers = {"x-retell-signature": sign(text, RETELL_KEY), "content-type": "application/json"}
    return client.post(path, data=text, headers=headers)


@pytest.fixture
def clock() -> Clock:
    """The inbound service's clock (rule windows, ids, the answer cache), on a Wednesday morning."""
    return Clock(WEDNESDAY_MORNING)


@pytest.fixture
def app(tmp_path: Path, retell: FakeRetell, engine: Engine, clock: Clock) -> Iterator[Flask]:
    settings = make_settings(
        tmp_path,
        connector_api_tokens=f"{TOKEN},{OTHER_TOKEN}",
        connector_allow_private_targets=True,
        connector_retry_schedule="0,0,0",
        delivery_timeout_seconds=0.5,
    )
    built = build_app(settings, retell, engine)
    service = InboundService(engine, Responders(guarded_transport(allow_private=True)), clock=clock)
    services: Services = built.extensions["connector"]
    services.inbound.close()
    services.inbound = service  # the same service, on the test's clock
    yield built
    service.close()


@pytest.fixture
def inbound(svc: Services) -> InboundService:
    return svc.inbound


__all__ = ["AUTH", "CALLER", "OTHER", "SALES_LINE", "Clock", "inbound_body", "signed_post"]

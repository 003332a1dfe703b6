"""Ambiguous failures over real HTTP: the sandbox hangs or drops, the retry reconciles."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient

from connector.app import create_app
from connector.retell.retry import RetryPolicy
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import AUTH, make_settings

pytestmark = pytest.mark.slow

URL = "/v1/actions/create-phone-call"
BODY = {"from_number": "+14157774444", "to_number": "+14155550123"}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(api_key="sandbox-key", webhook_url=None)) as server:
        yield server


def connector_for(base_url: str, tmp_path: Path) -> FlaskClient:
    settings = make_settings(
        tmp_path, retell_api_key="sandbox-key", retell_base_url=base_url, retell_timeout_seconds=0.5
    )
    app = create_app(settings, retry=RetryPolicy.testing(), configure_logs=False)
    return app.test_client()


def fault(sandbox: SandboxServer, **spec: object) -> None:
    httpx.post(
        f"{sandbox.url}/_sandbox/faults", json={"path": "/v2/create-phone-call", "count": 1, **spec}
    ).raise_for_status()


def created(sandbox: SandboxServer) -> int:
    return int(httpx.get(f"{sandbox.url}/_sandbox/stats").json()["calls_created"])


@pytest.mark.parametrize(
    "spec",
    [
        {"mode": "hang", "seconds": 1.5},
        {"mode": "close"},
        {"mode": "acted", "status": 408},
        {"mode": "acted", "status": 409},
        {"mode": "status", "status": 408},
        {"mode": "status", "status": 409},
    ],
)
def test_ambiguous_failure_reconciles_to_one_call(
    sandbox: SandboxServer, tmp_path: Path, spec: dict[str, object]
) -> None:
    """A hang, a dropped connection, a 408 or a 409 (whether or not Retell went on to place
    the call) is 'outcome unknown'; the retry with the same key ends with exactly one call."""
    client = connector_for(sandbox.url, tmp_path)
    fault(sandbox, **spec)
    first = client.post(URL, json=BODY, headers={**AUTH, "Idempotency-Key": "amb-1"})
    assert first.status_code == 502
    assert first.json["type"].endswith("call-outcome-unknown")
    retry = client.post(URL, json=BODY, headers={**AUTH, "Idempotency-Key": "amb-1"})
    assert retry.status_code == 201, retry.json
    assert created(sandbox) == 1


def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    """A Retell that refuses connections is 502 retell-unavailable (nothing was placed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = connector_for(f"http://127.0.0.1:{port}", tmp_path)
    response = client.post(URL, json=BODY, headers={**AUTH, "Idempotency-Key": "refused"})
    assert response.status_code == 502
    assert response.json["type"].endswith("retell-unavailable")


@pytest.mark.parametrize(
    ("status", "slug"),
    [
        (500, "call-outcome-unknown"),
        (408, "call-outcome-unknown"),
        (409, "call-outcome-unknown"),
        (429, "retell-rate-limited"),
        (402, "retell-payment-required"),
    ],
)
def test_sandbox_faults_map_to_problems(
    sandbox: SandboxServer, tmp_path: Path, status: int, slug: str
) -> None:
    """Injected Retell error statuses arrive at the platform as their problem types."""
    client = connector_for(sandbox.url, tmp_path)
    fault(sandbox, status=status, count=5, retry_after=1)
    response = client.post(URL, json=BODY, headers={**AUTH, "Idempotency-Key": f"f-{status}"})
    assert response.status_code in {502, 429, 402}
    assert response.json["type"].endswith(slug)

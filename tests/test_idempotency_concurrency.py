"""Fifty simultaneous identical requests over real HTTP: one call, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import AUTH, make_settings

pytestmark = pytest.mark.slow

URL = "/v1/actions/create-phone-call"
BODY = {"from_number": "+14157774444", "to_number": "+14155550123"}
CONCURRENCY = 50


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    # A slow upstream keeps the first request in flight while the others arrive.
    with SandboxServer(
        SandboxConfig(api_key="sandbox-key", webhook_url=None, latency_ms=300)
    ) as server:
        yield server


def _fire_together(url: str, key: str) -> list[httpx.Response]:
    barrier = threading.Barrier(CONCURRENCY)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            barrier.wait()
            response = http.post(URL, json=BODY, headers={**AUTH, "Idempotency-Key": key})
        with lock:
            results.append(response)

    threads = [threading.Thread(target=one) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _stats(sandbox: SandboxServer) -> dict[str, Any]:
    return httpx.get(f"{sandbox.url}/_sandbox/stats").json()  # type: ignore[no-any-return]


def test_fifty_identical_requests_dial_once(
    engine: Engine, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Exactly one upstream call; every answer is that same 201 body or a 409."""
    settings = make_settings(tmp_path, retell_api_key="sandbox-key", retell_base_url=sandbox.url)
    with LoopbackServer(create_app(settings, engine=engine, configure_logs=False)) as server:
        results = _fire_together(server.url, "lead-42")
        statuses = sorted({r.status_code for r in results})
        created = {r.content for r in results if r.status_code == 201}
        assert len(results) == CONCURRENCY
        assert set(statuses) <= {201, 409}, statuses
        assert len(created) == 1
        assert _stats(sandbox)["calls_created"] == 1
        assert _stats(sandbox)["create_requests"] == 1

        with httpx.Client(base_url=server.url, headers=AUTH) as http:
            replay = http.post(URL, json=BODY, headers={"Idempotency-Key": "lead-42"})
            other = http.post(
                URL,
                json={**BODY, "to_number": "+14155550124"},
                headers={"Idempotency-Key": "lead-42"},
            )
        assert replay.status_code == 201 and replay.content in created
        assert other.status_code == 422
        assert _stats(sandbox)["calls_created"] == 1

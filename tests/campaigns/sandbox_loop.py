"""A campaign rig for end-to-end tests: the Retell sandbox and a connector on loopback.

The connector runs in this process (its API, webhook receiver and, unless told otherwise,
its dialer); tests queue calls through the HTTP API and read the sandbox's own record of
what was dialled (its concurrency report and list-calls) to judge the dialer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from flask import Flask

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import AUTH, make_settings

KEY = "sandbox-key"
SALES_LINE = "+14157774444"


@dataclass
class Rig:
    connector: httpx.Client
    sandbox: SandboxServer
    app: Flask
    url: str

    def queue(self, to_number: str, **fields: Any) -> dict[str, Any]:
        body = {"from_number": SALES_LINE, "to_number": to_number, "call_window": "anytime"}
        response = self.connector.post("/v1/actions/queue-phone-call", json={**body, **fields})
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    def campaign(self, name: str = "default") -> dict[str, Any]:
        response = self.connector.get(f"/v1/campaigns/{name}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
            time.sleep(0.1)

    def concurrency(self) -> dict[str, Any]:
        return httpx.get(f"{self.sandbox.url}/_sandbox/concurrency?calls=false").json()  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.sandbox.url}/_sandbox/stats").json()  # type: ignore[no-any-return]


def sandbox_calls(url: str) -> list[dict[str, Any]]:
    """Every call the sandbox placed, through its list-calls."""
    calls: list[dict[str, Any]] = []
    body: dict[str, Any] = {"limit": 1000}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        for _ in range(100):
            page = http.post("/v3/list-calls", json=body).json()
            calls += page["items"]
            if not page.get("has_more"):
                return calls
            body = {"limit": 1000, "pagination_key": page["pagination_key"]}
    raise AssertionError("list-calls did not end")


def dials_per_attempt(calls: list[dict[str, Any]]) -> Counter[str]:
    """How many distinct calls the sandbox holds per connector request id (queue id + dial)."""
    return Counter(
        str((c.get("metadata") or {}).get("retell_connector_request_id"))
        for c in calls
        if (c.get("metadata") or {}).get("retell_connector_queued_call_id")
    )


def queued_ids(calls: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        str((c.get("metadata") or {})["retell_connector_queued_call_id"])
        for c in calls
        if (c.get("metadata") or {}).get("retell_connector_queued_call_id")
    )


@contextmanager
def campaign_rig(
    tmp_path: Path,
    *,
    database_url: str | None = None,
    run_dialer: bool = True,
    sandbox: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> Iterator[Rig]:
    server = LoopbackServer()
    config = SandboxConfig.fast(
        api_key=KEY, webhook_url=f"{server.url}/v1/webhooks/retell", **(sandbox or {})
    )
    with SandboxServer(config) as retell:
        values: dict[str, Any] = {
            "retell_api_key": KEY,
            "retell_base_url": retell.url,
            "connector_allow_private_targets": True,
            "connector_retry_schedule": "0.1,0.2",
            "concurrency_refresh_seconds": 0.5,
        }
        if database_url is not None:
            values["connector_database_url"] = database_url
        values.update(settings or {})
        app = create_app(
            make_settings(tmp_path, **values), run_delivery=run_dialer, configure_logs=False
        )
        server.app = app
        try:
            with server, httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
                yield Rig(http, retell, app, server.url)
        finally:
            services = app.extensions["connector"]
            services.dialer.stop()
            services.worker.stop()

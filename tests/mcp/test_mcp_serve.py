"""``/mcp`` under ``retell-connector serve`` (gunicorn, threaded workers), with the SDK client."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import mcp_types as types
import pytest

from tests.conftest import TOKEN
from tests.mcp.conftest import CORE_TOOLS, SALES_LINE, client, http_transport, run, texts, wire
from tests.processes import free_port, is_ready, stop_group

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@dataclass
class Served:
    url: str
    sandbox_url: str

    def calls_to(self, number: str) -> list[dict[str, Any]]:
        headers = {"Authorization": "Bearer sandbox-key"}
        page = httpx.post(
            f"{self.sandbox_url}/v3/list-calls", json={"limit": 1000}, headers=headers
        ).json()
        return [c for c in page["items"] if c.get("to_number") == number]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``serve --sandbox --workers 2`` on a loopback port, until the module ends."""
    work = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RETELL_", "CONNECTOR_"))},
        "RETELL_API_KEY": "unused-replaced-by-sandbox",
        "CONNECTOR_API_TOKENS": TOKEN,
        "CONNECTOR_DATABASE_URL": f"sqlite:///{work / 'connector.db'}",
        "CONNECTOR_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "connector.cli", "serve", "--sandbox", "--port", str(port)]
    log = work / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--workers", "2", "--threads", "4"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not is_ready(url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        found = re.search(r"Retell sandbox on (http://\S+),", log.read_text())
        assert found, log.read_text()
        yield Served(url, found[1])
    finally:
        stop_group(process)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_served_mcp_lists_and_calls_tools(served: Served, mode: str) -> None:
    """Under gunicorn the SDK client lists the tools and a create dials once per key."""
    number = "+14155551401" if mode == "auto" else "+14155551402"
    arguments = {"from_number": SALES_LINE, "to_number": number, "idempotency_key": f"serve-{mode}"}

    async def body() -> tuple[list[str], types.CallToolResult, types.CallToolResult]:
        async with client(http_transport(served.url), mode) as connected:
            names = [tool.name for tool in (await connected.list_tools()).tools]
            first = await connected.call_tool("create_phone_call", arguments)
            again = await connected.call_tool("create_phone_call", arguments)
            return names, first, again

    names, first, again = run(body)
    assert set(names) >= CORE_TOOLS
    assert not first.is_error, texts(first)
    assert again.structured_content == first.structured_content
    assert len(served.calls_to(number)) == 1


def test_served_mcp_retried_request_dials_once(served: Served) -> None:
    """A session's retried request (same id) reaches either worker and still dials once."""
    number = "+14155551403"
    arguments = {"from_number": SALES_LINE, "to_number": number}

    async def body() -> list[types.CallToolResult]:
        async with wire(http_transport(served.url)) as session:
            return [
                await session.call_tool("create_phone_call", arguments, request_id=7)
                for _ in range(3)
            ]

    results = run(body)
    assert len({r.structured_content["call_id"] for r in results}) == 1
    assert len(served.calls_to(number)) == 1


def test_served_mcp_refuses_a_wrong_token(served: Served) -> None:
    """Without a known token /mcp answers 401 in problem+json, as the API does."""
    answer = httpx.post(
        f"{served.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": "Bearer wrong-token-0123456789"},
    )
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/unauthenticated")

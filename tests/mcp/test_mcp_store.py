"""Never dialling twice through /mcp holds on both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mcp_types as types
import pytest
from sqlalchemy import Engine

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import make_settings
from tests.mcp.conftest import KEY, SALES_LINE, Rig, http_transport, run, wire

pytestmark = pytest.mark.slow


@pytest.fixture
def store_rig(tmp_path: Path, engine: Engine) -> Iterator[Rig]:
    server = LoopbackServer()
    with SandboxServer(SandboxConfig.fast(api_key=KEY)) as sandbox:
        settings = make_settings(tmp_path, retell_api_key=KEY, retell_base_url=sandbox.url)
        server.app = app = create_app(settings, engine=engine, configure_logs=False)
        with server:
            yield Rig(server.url, sandbox, app)


def test_a_retried_request_dials_once_on_each_store(store_rig: Rig) -> None:
    """The derived key lands in the connector's idempotency store: the resent request is
    answered from it, whichever database holds it."""
    number = "+14155551601"
    arguments = {"from_number": SALES_LINE, "to_number": number}

    async def body() -> list[types.CallToolResult]:
        async with wire(http_transport(store_rig.url)) as session:
            return [
                await session.call_tool("create_phone_call", arguments, request_id=3)
                for _ in range(2)
            ]

    first, again = run(body)
    assert not first.is_error
    assert again.structured_content == first.structured_content
    assert len(store_rig.calls_to(number)) == 1

"""One running sandbox per test module, and clients for it (modules may override)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connector.sandbox import SandboxConfig, SandboxServer


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig.fast()) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.config.api_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client

"""The agent and agent-version dropdowns: labels from real Retell fields, voice agents only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from connector.api.options import agent_options, agent_version_options
from connector.app import create_app
from connector.retell.retry import RetryPolicy
from connector.sandbox import SandboxConfig, SandboxServer
from connector.sandbox.catalog import AGENTS
from tests.conftest import AUTH, FakeRetell, make_settings


def agent(agent_id: str, name: str, **fields: Any) -> dict[str, Any]:
    """A list-agents item with the fields the SDK declares as required."""
    item = {
        "agent_id": agent_id,
        "agent_name": name,
        "channel": "voice",
        "is_suspended": False,
        "tags": {},
        "user_modified_timestamp": 1,
    }
    return item | fields


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([agent("a1", "Support")], [("a1", "Support")]),
        (
            [agent("a1", "Support", tags={"production": {"version": 3}})],
            [("a1", "Support · production v3")],
        ),
        (
            [agent("a1", "Sales", tags={"staging": {"version": 6}, "production": {"version": 5}})],
            [("a1", "Sales · production v5, staging v6")],
        ),
        ([agent("a1", "Sales", tags={"beta": {}})], [("a1", "Sales · beta")]),
        ([agent("a1", "Support", version=3)], [("a1", "Support")]),
        ([agent("a1", "Chat", channel="chat")], []),
        ([agent("a1", "Old", is_suspended=True)], []),
        ([agent("a1", "Support"), agent("a1", "Support")], [("a1", "Support")]),
        (
            [agent("a2", "Support"), agent("a1", "Support")],
            [("a1", "Support (a1)"), ("a2", "Support (a2)")],
        ),
        ([agent("a1", "")], [("a1", "a1")]),
        ([agent("b", "beta"), agent("a", "Alpha")], [("a", "Alpha"), ("b", "beta")]),
        ([{"agent_name": "no id"}, agent("", "empty id")], []),
    ],
)
def test_agent_labels(items: list[dict[str, Any]], expected: list[tuple[str, str]]) -> None:
    """Voice agents that can take calls, labelled by name and tag versions, sorted by label."""
    assert agent_options(items) == [{"value": v, "label": label} for v, label in expected]


def version(number: Any, **fields: Any) -> dict[str, Any]:
    """A list-agent-versions item."""
    return {"version": number, "is_published": True, "last_modification_timestamp": 1} | fields


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([version(0), version(2), version(1)], [("2", "v2"), ("1", "v1"), ("0", "v0")]),
        ([version(3, version_title="Spanish handoff")], [("3", "v3 · Spanish handoff")]),
        ([version(4, is_published=False)], [("4", "v4 · draft")]),
        ([version(1), version(1, version_title="again")], [("1", "v1")]),
        ([version(True), version("2"), version(None)], []),
    ],
)
def test_agent_version_labels(items: list[dict[str, Any]], expected: list[tuple[str, str]]) -> None:
    """Each version once, newest first, with its title, drafts marked; value is the number."""
    assert agent_version_options(items) == [{"value": v, "label": label} for v, label in expected]


def test_agent_versions_endpoint_asks_retell_for_that_agent(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """GET /v1/options/agent-versions?agent_id= reads every page of that agent's versions."""
    path = "/list-agent-versions/agent_1"
    pages = iter(
        [
            {"items": [version(2)], "has_more": True, "pagination_key": "k2"},
            {"items": [version(1), version(0)], "has_more": False},
        ]
    )
    retell.on("GET", path, lambda _r: httpx.Response(200, json=next(pages)))
    response = client.get("/v1/options/agent-versions?agent_id=agent_1", headers=AUTH)
    assert response.status_code == 200
    assert [o["value"] for o in response.json] == ["2", "1", "0"]
    assert [r.url.params.get("pagination_key") for r in retell.sent("GET", path)] == [None, "k2"]


@pytest.mark.parametrize("query", ["", "?agent_id=", "?agent_id=%20", "?agent_id=../v2/x"])
def test_agent_versions_need_an_agent(client: FlaskClient, retell: FakeRetell, query: str) -> None:
    """Without a usable agent_id the answer is 422 naming agent_id, and Retell is not asked."""
    response = client.get(f"/v1/options/agent-versions{query}", headers=AUTH)
    assert response.status_code == 422
    assert response.json["errors"][0]["path"] == "agent_id"
    assert retell.requests == []


def test_agent_versions_of_an_unknown_agent_are_404(
    client: FlaskClient, retell: FakeRetell
) -> None:
    """Retell's 'cannot find' 422 for the agent becomes a 404 naming the agent."""
    retell.reply(
        "GET",
        "/list-agent-versions/agent_gone",
        422,
        {"status": "error", "message": "Cannot find requested asset under given api key."},
    )
    response = client.get("/v1/options/agent-versions?agent_id=agent_gone", headers=AUTH)
    assert response.status_code == 404 and "agent_gone" in response.json["detail"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig.fast()) as server:
        yield server


@pytest.fixture
def live(sandbox: SandboxServer, tmp_path: Path) -> FlaskClient:
    """The connector pointed at the real sandbox over HTTP."""
    settings = make_settings(
        tmp_path, retell_api_key=sandbox.config.api_key, retell_base_url=sandbox.url
    )
    app = create_app(settings, retry=RetryPolicy.testing(), configure_logs=False)
    return app.test_client()


def test_sandbox_agents_dropdown_offers_callable_voice_agents(live: FlaskClient) -> None:
    """Against the sandbox, the chat agent and the suspended agent are not offered."""
    options = live.get("/v1/options/agents", headers=AUTH).json
    assert options == [
        {"value": AGENTS[2].agent_id, "label": "Appointment reminders · production v1"},
        {"value": AGENTS[1].agent_id, "label": "Sales agent · production v5"},
        {"value": AGENTS[0].agent_id, "label": "Support agent · production v3"},
    ]


def test_sandbox_agent_versions_dropdown(live: FlaskClient) -> None:
    """Against the sandbox, the Support agent's versions come newest first, with titles."""
    response = live.get(f"/v1/options/agent-versions?agent_id={AGENTS[0].agent_id}", headers=AUTH)
    assert response.json == [
        {"value": "3", "label": "v3 · Spanish handoff"},
        {"value": "2", "label": "v2 · Handles billing questions"},
        {"value": "1", "label": "v1 · Friendlier greeting"},
        {"value": "0", "label": "v0 · First draft"},
    ]

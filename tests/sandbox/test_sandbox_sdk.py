"""The official retell-sdk, unchanged, against the sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
import retell
from retell import Retell, omit
from retell.types import (
    AgentListResponse,
    AgentListVersionsResponse,
    PhoneCallResponse,
    PhoneNumberListResponse,
)

from connector.sandbox import SandboxServer
from connector.sandbox.catalog import AGENTS, PHONE_NUMBERS

SALES_LINE = "+14157774444"
ANSWERS = "+14155550123"


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> Iterator[Retell]:
    with Retell(api_key=server.config.api_key, base_url=server.url, max_retries=0) as sdk:
        yield sdk


def test_create_phone_call_returns_a_registered_typed_call(client: Retell) -> None:
    """create_phone_call answers 201 with a PhoneCallResponse echoing the request."""
    call = client.call.create_phone_call(
        from_number=SALES_LINE,
        to_number=ANSWERS,
        metadata={"lead_id": "L-1"},
        retell_llm_dynamic_variables={"customer_name": "Ada"},
        custom_sip_headers={"X-Lead": "L-1"},
    )
    assert isinstance(call, PhoneCallResponse)
    assert (call.call_type, call.direction, call.call_status) == (
        "phone_call",
        "outbound",
        "registered",
    )
    assert len(call.call_id) == 32 and call.call_id.isalnum()
    assert call.agent_id == PHONE_NUMBERS[0].outbound_agent.agent_id
    assert call.agent_version == PHONE_NUMBERS[0].outbound_agent.version
    assert (call.from_number, call.to_number) == (SALES_LINE, ANSWERS)
    assert call.metadata == {"lead_id": "L-1"}
    assert call.retell_llm_dynamic_variables == {"customer_name": "Ada"}
    assert call.custom_sip_headers == {"X-Lead": "L-1"}


def test_override_agent_and_version_are_used(client: Retell) -> None:
    """override_agent_id and override_agent_version pick the agent for this call only."""
    support = AGENTS[0]
    call = client.call.create_phone_call(
        from_number=SALES_LINE,
        to_number=ANSWERS,
        override_agent_id=support.agent_id,
        override_agent_version=2,
        agent_override={"retell_llm": {"begin_message": "Hello!"}},
        ignore_e164_validation=False,
        honor_internal_dnc=True,
    )
    assert (call.agent_id, call.agent_version, call.agent_name) == (
        support.agent_id,
        2,
        "Support agent",
    )


def test_retrieve_returns_the_analyzed_call(client: Retell, server: SandboxServer) -> None:
    """retrieve returns the full call, with transcript and analysis, once analyzed."""
    placed = client.call.create_phone_call(
        from_number=SALES_LINE,
        to_number=ANSWERS,
        retell_llm_dynamic_variables={"customer_name": "Ada"},
    )
    server.state.wait_for(placed.call_id, "analyzed")
    call = client.call.retrieve(placed.call_id)
    assert isinstance(call, PhoneCallResponse)
    assert call.call_status == "ended" and call.disconnection_reason == "agent_hangup"
    assert call.transcript and "Hi Ada" in call.transcript
    assert call.call_analysis and call.call_analysis.call_successful is True
    assert call.start_timestamp and call.end_timestamp
    assert call.duration_ms == call.end_timestamp - call.start_timestamp


def test_list_calls_returns_typed_items_newest_first(client: Retell) -> None:
    """call.list (POST /v3/list-calls) returns typed items, newest first by default."""
    first = client.call.create_phone_call(from_number=SALES_LINE, to_number=ANSWERS)
    second = client.call.create_phone_call(from_number=SALES_LINE, to_number=ANSWERS)
    page = client.call.list(
        filter_criteria={
            "call_id": {"type": "enum", "op": "in", "value": [first.call_id, second.call_id]}
        },
        include_total=True,
    )
    assert [c.call_id for c in page.items] == [second.call_id, first.call_id]
    assert page.has_more is False and page.total == 2


def test_phone_numbers_list_starts_with_the_sales_line(client: Retell) -> None:
    """phone_number.list returns every number, the Sales line first."""
    page = client.phone_number.list()
    assert isinstance(page, PhoneNumberListResponse)
    assert [n.phone_number for n in page.items] == [n.phone_number for n in PHONE_NUMBERS]
    first = page.items[0]
    assert (first.phone_number, first.nickname, first.area_code) == (SALES_LINE, "Sales line", 415)
    assert first.phone_number_pretty == "+1 (415) 777-4444" and page.has_more is False


def test_agents_list_returns_voice_agents(client: Retell) -> None:
    """agent.list returns the account's agents with Retell's fields."""
    page = client.agent.list()
    assert isinstance(page, AgentListResponse)
    assert [a.agent_name for a in page.items] == [a.agent_name for a in AGENTS]
    support = page.items[0]
    assert support.channel == "voice" and support.is_suspended is False
    assert support.tags["production"].version == 3


def test_agent_versions_list_returns_typed_versions(client: Retell) -> None:
    """agent.list_versions (GET /list-agent-versions/{id}) returns each version, newest first."""
    sales = AGENTS[1]
    page = client.agent.list_versions(sales.agent_id)
    assert isinstance(page, AgentListVersionsResponse)
    assert [v.version for v in page.items] == list(range(sales.version, -1, -1))
    assert page.items[0].is_published is True and page.items[0].version_title == "Summer offer"


@pytest.mark.parametrize("sort_order", ["descending", "ascending"])
def test_agents_paginate_one_at_a_time(
    client: Retell, sort_order: Literal["descending", "ascending"]
) -> None:
    """Paging agents with limit=1 visits each agent exactly once, in either order."""
    seen: list[str] = []
    key: str | None = None
    while True:
        page = client.agent.list(limit=1, sort_order=sort_order, pagination_key=key or omit)
        seen += [a.agent_id for a in page.items]
        if not page.has_more:
            break
        key = page.pagination_key
    expected = [a.agent_id for a in AGENTS]
    assert seen == (expected if sort_order == "descending" else expected[::-1])


def test_identity_and_concurrency_answer(client: Retell) -> None:
    """The auth-test endpoints answer with typed bodies."""
    assert client.identity.retrieve().org_name == "Retell Sandbox"
    assert client.concurrency.retrieve().concurrency_limit == 20


def test_bad_api_key_is_401(server: SandboxServer) -> None:
    """A wrong key raises the SDK's AuthenticationError."""
    with (
        Retell(api_key="wrong", base_url=server.url, max_retries=0) as sdk,
        pytest.raises(retell.AuthenticationError) as caught,
    ):
        sdk.agent.list()
    assert caught.value.body == {"status": "error", "message": "API key is missing or invalid."}


def test_unknown_call_is_422(client: Retell) -> None:
    """An unknown call id raises the SDK's UnprocessableEntityError with Retell's message."""
    with pytest.raises(retell.UnprocessableEntityError) as caught:
        client.call.retrieve("no-such-call")
    assert caught.value.body == {
        "status": "error",
        "message": "Cannot find requested asset under given api key.",
    }


def test_idempotency_key_returns_the_same_call(client: Retell, server: SandboxServer) -> None:
    """A repeated idempotency_key gets the first call back, and no second call is placed."""
    before = server.state.stats.snapshot()
    calls = [
        client.call.create_phone_call(
            from_number=SALES_LINE, to_number=ANSWERS, idempotency_key=key
        )
        for key in ("run-1", "run-1", "run-2")
    ]
    after = server.state.stats.snapshot()
    assert calls[0].call_id == calls[1].call_id != calls[2].call_id
    assert after["calls_created"] - before["calls_created"] == 2
    assert after["idempotent_replays"] - before["idempotent_replays"] == 1

"""Webhooks: Retell's events, in order, signed so the official SDK verifies them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from retell.lib import webhook_auth

from connector.retell.signature import verify
from connector.sandbox import SandboxConfig, SandboxServer, WebhookRecorder
from connector.sandbox.receiver import Received

SALES_LINE = "+14157774444"


@pytest.fixture
def recorder() -> Iterator[WebhookRecorder]:
    with WebhookRecorder() as running:
        yield running


def sandbox(recorder: WebhookRecorder, **config: Any) -> SandboxServer:
    return SandboxServer(SandboxConfig.fast(webhook_url=recorder.url, **config))


def place(server: SandboxServer, to_number: str = "+14155550123", **fields: Any) -> str:
    response = httpx.post(
        f"{server.url}/v2/create-phone-call",
        json={"from_number": SALES_LINE, "to_number": to_number, **fields},
        headers={"Authorization": f"Bearer {server.config.api_key}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["call_id"])


def events(received: list[Received]) -> list[str]:
    return [r.json()["event"] for r in received]


def test_answered_call_sends_three_signed_events_in_order(recorder: WebhookRecorder) -> None:
    """call_started, call_ended, call_analyzed arrive in order and pass the SDK's verify."""
    with sandbox(recorder) as server:
        call_id = place(server, retell_llm_dynamic_variables={"customer_name": "José"})
        got = recorder.wait_for(3)
    assert events(got) == ["call_started", "call_ended", "call_analyzed"]
    for hook in got:
        signature = hook.headers["x-retell-signature"]
        oracle = webhook_auth.verify(hook.body, server.config.api_key, signature)  # type: ignore[no-untyped-call]
        assert oracle is True
        assert verify(hook.body, server.config.api_key, signature) > 0
        assert hook.headers["content-type"] == "application/json"
        assert hook.json()["call"]["call_id"] == call_id
    started, ended, analyzed = (h.json()["call"] for h in got)
    assert started["call_status"] == "ongoing" and "transcript" not in started
    assert "call_analysis" not in ended and "José" in ended["transcript"]
    assert analyzed["call_analysis"]["call_successful"] is True
    assert "José" in got[1].body  # raw UTF-8, as Retell's JSON.stringify sends it


@pytest.mark.parametrize("to_number", ["+14155550001", "+14155550002", "+14155550004"])
def test_never_connected_call_skips_call_started(recorder: WebhookRecorder, to_number: str) -> None:
    """No answer, busy and failed calls get call_ended and call_analyzed only."""
    with sandbox(recorder) as server:
        call_id = place(server, to_number)
        server.state.wait_for(call_id, "analyzed")
        got = recorder.wait_for(2)
    assert events(got) == ["call_ended", "call_analyzed"]


def test_transcript_updates_arrive_per_turn(recorder: WebhookRecorder) -> None:
    """With transcript_updates on, each turn sends a growing transcript before call_ended."""
    with sandbox(recorder, transcript_updates=True) as server:
        call_id = place(server)
        call = server.state.wait_for(call_id, "analyzed")
        got = recorder.wait_for(len(call["transcript_object"]) + 3)
    names = events(got)
    turns = len(call["transcript_object"])
    assert names == ["call_started", *["transcript_updated"] * turns, "call_ended", "call_analyzed"]
    sizes = [len(h.json()["call"]["transcript_object"]) for h in got[1 : turns + 1]]
    assert sizes == list(range(1, turns + 1))


def test_failed_delivery_is_retried_in_order(recorder: WebhookRecorder) -> None:
    """Two 500s are retried; the event still lands before the next one of the same call."""
    recorder.respond_with(500, 500)
    with sandbox(recorder) as server:
        place(server)
        got = recorder.wait_for(5)
    stats = server.state.stats.snapshot()  # final once the senders have stopped
    assert events(got) == ["call_started"] * 3 + ["call_ended", "call_analyzed"]
    assert [h.status for h in got[:3]] == [500, 500, 204]
    assert (stats["webhooks_sent"], stats["webhooks_failed"], stats["webhook_attempts"]) == (
        3,
        0,
        5,
    )


def test_delivery_gives_up_after_three_retries(recorder: WebhookRecorder) -> None:
    """Four failures drop the event, counted as failed; later events still go out."""
    recorder.respond_with(503, 503, 503, 503)
    with sandbox(recorder) as server:
        call_id = place(server, "+14155550001")
        server.state.wait_for(call_id, "analyzed")
        got = recorder.wait_for(5)
    stats = server.state.stats.snapshot()
    assert events(got) == ["call_ended"] * 4 + ["call_analyzed"]
    assert (stats["webhooks_sent"], stats["webhooks_failed"]) == (1, 1)


def test_agent_webhook_url_replaces_the_account_url(recorder: WebhookRecorder) -> None:
    """agent_override.agent.webhook_url and webhook_events route and filter one call's events."""
    with WebhookRecorder() as agent_hook, sandbox(recorder) as server:
        override = {"agent": {"webhook_url": agent_hook.url, "webhook_events": ["call_analyzed"]}}
        call_id = place(server, agent_override=override)
        server.state.wait_for(call_id, "analyzed")
        got = agent_hook.wait_for(1)
    assert events(got) == ["call_analyzed"] and recorder.received == []


def test_no_webhook_url_sends_nothing() -> None:
    """Without a webhook URL the lifecycle runs and nothing is posted."""
    with SandboxServer(SandboxConfig.fast()) as server:
        server.state.wait_for(place(server), "analyzed")
        assert server.state.stats.snapshot()["webhook_attempts"] == 0

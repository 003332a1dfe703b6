"""Calls walk registered → ongoing → ended → analyzed, scripted by their to_number."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connector.sandbox import SCRIPTS, SandboxConfig, SandboxServer, script_for

SALES_LINE = "+14157774444"
CLOCK = ("ring_seconds", "talk_seconds", "analysis_seconds")


def place(http: httpx.Client, to_number: str, **fields: Any) -> dict[str, Any]:
    response = http.post(
        "/v2/create-phone-call", json={"from_number": SALES_LINE, "to_number": to_number, **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_answered_call_walks_every_phase(server: SandboxServer, http: httpx.Client) -> None:
    """get-call shows registered, then ongoing, then ended, then the analysis."""
    server.state.configure(ring_seconds=0.2, talk_seconds=0.3, analysis_seconds=0.2)
    try:
        call_id = place(http, "+14155550100")["call_id"]
        seen = [http.get(f"/v2/get-call/{call_id}").json()]
        for phase in ("ongoing", "ended", "analyzed"):
            server.state.wait_for(call_id, phase, timeout=5)
            seen.append(http.get(f"/v2/get-call/{call_id}").json())
    finally:
        server.state.configure(**{k: getattr(SandboxConfig.fast(), k) for k in CLOCK})
    assert [c["call_status"] for c in seen] == ["registered", "ongoing", "ended", "ended"]
    assert "start_timestamp" not in seen[0] and "start_timestamp" in seen[1]
    assert "transcript" not in seen[1] and "transcript" in seen[2]
    assert "call_analysis" not in seen[2] and seen[3]["call_analysis"]["call_successful"] is True


@pytest.mark.parametrize("script", [*SCRIPTS, script_for("+14155550123")], ids=lambda s: s.outcome)
def test_each_script_produces_its_documented_outcome(
    script: Any, server: SandboxServer, http: httpx.Client
) -> None:
    """Each row of the outcome table yields its status, reason and analysis."""
    to_number = f"+1415555{script.suffix or '0123'}"
    call = server.state.wait_for(place(http, to_number)["call_id"], "analyzed", timeout=5)
    assert call["call_status"] == script.call_status
    assert call["disconnection_reason"] == script.disconnection_reason
    analysis = call["call_analysis"]
    assert analysis["user_sentiment"] == script.user_sentiment
    assert analysis["call_successful"] is script.call_successful
    assert analysis["in_voicemail"] is script.in_voicemail
    assert ("transcript" in call) is script.connects
    assert ("recording_url" in call) is script.connects
    assert call["duration_ms"] == call["end_timestamp"] - call["start_timestamp"]


def test_answered_call_carries_realistic_content(server: SandboxServer, http: httpx.Client) -> None:
    """An answered call has timed words, tool calls, latency, cost and token usage."""
    placed = place(http, "+14155550123", retell_llm_dynamic_variables={"customer_name": "Grace"})
    call = server.state.wait_for(placed["call_id"], "analyzed", timeout=5)
    words = [w for turn in call["transcript_object"] for w in turn["words"]]
    assert all(0 <= w["start"] < w["end"] <= call["duration_ms"] / 1000 for w in words)
    roles = [item["role"] for item in call["transcript_with_tool_calls"]]
    assert "tool_call_invocation" in roles and "tool_call_result" in roles
    assert {"e2e", "llm", "tts"} <= set(call["latency"])
    assert set(call["latency"]["e2e"]) == {
        "p50",
        "p90",
        "p95",
        "p99",
        "max",
        "min",
        "num",
        "values",
    }
    cost = call["call_cost"]
    assert cost["combined_cost"] == pytest.approx(sum(p["cost"] for p in cost["product_costs"]))
    assert call["llm_token_usage"]["num_requests"] == len(call["llm_token_usage"]["values"])
    assert "Grace" in call["call_analysis"]["call_summary"]
    assert call["call_analysis"]["custom_analysis_data"]["appointment_booked"] is True


def test_recording_and_public_log_urls_work(server: SandboxServer, http: httpx.Client) -> None:
    """recording_url serves a WAV and public_log_url the turn log, from the sandbox itself."""
    call = server.state.wait_for(place(http, "+14155550123")["call_id"], "ended", timeout=5)
    recording = httpx.get(call["recording_url"])
    log = httpx.get(call["public_log_url"])
    assert recording.headers["content-type"] == "audio/wav" and recording.content[:4] == b"RIFF"
    assert call["call_id"] in log.text and "agent:" in log.text


def test_concurrency_counts_live_calls(server: SandboxServer, http: httpx.Client) -> None:
    """get-concurrency counts calls that are registered or ongoing."""
    server.state.configure(ring_seconds=5.0)
    try:
        before = http.get("/get-concurrency").json()["current_concurrency"]
        place(http, "+14155550123")
        after = http.get("/get-concurrency").json()["current_concurrency"]
    finally:
        server.state.configure(ring_seconds=SandboxConfig.fast().ring_seconds)
    assert after == before + 1

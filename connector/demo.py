"""``retell-connector demo``: the whole product on this machine, no Retell account needed.

Starts the Retell sandbox and the connector on loopback ports, then does what a platform
does: checks the connection, loads the dropdowns, places a call with an idempotency key,
replays it (no second dial), and follows the call until Retell's analysis is in.
"""

from __future__ import annotations

import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from connector.settings import Settings

__all__ = ["run_demo"]

SANDBOX_KEY = "sandbox-key"


def _say(text: str) -> None:
    print(text, flush=True)


def _follow(api: httpx.Client, call_id: str, *, deadline_seconds: float) -> dict[str, Any]:
    """Poll get-call, printing each state change, until analysis arrives."""
    deadline = time.monotonic() + deadline_seconds
    last = None
    call: dict[str, Any] = {}
    while time.monotonic() < deadline:
        call = (
            api.get("/v1/actions/get-call", params={"call_id": call_id}).raise_for_status().json()
        )
        state = "analyzed" if call.get("call_analysis") else call["call_status"]
        if state != last:
            _say(f"  call {call_id[:8]}… is {state}")
            last = state
        if state == "analyzed":
            break
        time.sleep(0.2)
    return call


def run_demo(*, to_number: str = "+14155550123", speed: float = 1.0) -> int:
    token = secrets.token_urlsafe(24)
    config = SandboxConfig(
        api_key=SANDBOX_KEY,
        webhook_url=None,
        ring_seconds=1.0 / speed,
        talk_seconds=3.0 / speed,
        analysis_seconds=1.0 / speed,
    )
    with (
        tempfile.TemporaryDirectory(prefix="retell-demo-") as tmp,
        SandboxServer(config) as sandbox,
    ):
        settings = Settings(
            retell_api_key=SANDBOX_KEY,
            retell_base_url=sandbox.url,
            connector_api_tokens=token,
            connector_database_url=f"sqlite:///{Path(tmp) / 'demo.db'}",
            connector_log_level="WARNING",
            sandbox=True,
        )
        with LoopbackServer(create_app(settings)) as connector:
            _say(f"Retell sandbox on {sandbox.url}; connector on {connector.url}")
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=connector.url, headers=headers, timeout=30) as api:
                return _walk_through(api, to_number)


def _walk_through(api: httpx.Client, to_number: str) -> int:
    me = api.get("/v1/me").raise_for_status().json()
    _say(f"Connection test (GET /v1/me): {me['label']}")
    numbers = api.get("/v1/options/phone-numbers").raise_for_status().json()
    agents = api.get("/v1/options/agents").raise_for_status().json()
    _say("From-number dropdown: " + "; ".join(o["label"] for o in numbers))
    _say("Agent dropdown:       " + "; ".join(o["label"] for o in agents))
    request = {
        "from_number": numbers[0]["value"],
        "to_number": to_number,
        "override_agent_id": agents[0]["value"],
        "retell_llm_dynamic_variables": {"customer_name": "Ada", "order_total": 42.5},
        "metadata": {"crm_lead_id": "lead-1001"},
    }
    key = str(uuid.uuid4())
    created = api.post(
        "/v1/actions/create-phone-call", json=request, headers={"Idempotency-Key": key}
    )
    created.raise_for_status()
    call = created.json()
    _say(f"POST /v1/actions/create-phone-call -> {created.status_code}, call {call['call_id']}")
    replay = api.post(
        "/v1/actions/create-phone-call", json=request, headers={"Idempotency-Key": key}
    )
    same = replay.json().get("call_id") == call["call_id"]
    _say(
        f"Platform retry with the same Idempotency-Key -> {replay.status_code}, "
        f"same call: {same} (replayed: {replay.headers.get('Idempotent-Replayed') == 'true'})"
    )
    final = _follow(api, call["call_id"], deadline_seconds=30)
    analysis = final.get("call_analysis") or {}
    _say("Transcript:")
    for line in (final.get("transcript") or "").splitlines():
        _say(f"  {line}")
    _say(f"Summary:   {analysis.get('call_summary')}")
    sentiment, successful = analysis.get("user_sentiment"), analysis.get("call_successful")
    _say(f"Sentiment: {sentiment}; successful: {successful}")
    ok = same and bool(analysis)
    _say("Demo finished." if ok else "Demo did not complete as expected.")
    return 0 if ok else 1

"""``retell-connector demo``: the whole product on this machine, no Retell account needed.

Starts the Retell sandbox, the connector and a local subscriber on loopback ports, then
does what a platform does: checks the connection, loads the dropdowns, subscribes to call
events, places a call with an idempotency key, replays it (no second dial), and prints
each call event as the subscriber receives it — signed by the connector and verified with
the ``standardwebhooks`` library — until Retell's analysis arrives. Then a caller rings in:
their context was saved first (Save Caller Context), the sandbox asks the connector's
inbound webhook as Retell would, and the agent greets them by name.
"""

from __future__ import annotations

import json
import queue
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.wrappers import Request, Response

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from connector.settings import Settings

__all__ = ["run_demo"]

SANDBOX_KEY = "sandbox-key"
EVENT_TIMEOUT_SECONDS = 30.0
INBOUND_CALLER = "+14155550142"  # fictional (555-01xx)
SUPPORT_LINE = "+16505550123"  # the sandbox's Support line


def _say(text: str) -> None:
    print(text, flush=True)


class _Subscriber:
    """The automation platform's webhook endpoint: verifies each delivery, queues it."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            payload = Webhook(self.secret or "").verify(request.get_data(), dict(request.headers))
        except WebhookVerificationError:
            return Response("bad signature", status=401)(environ, start_response)
        self.events.put(payload)
        return Response(status=204)(environ, start_response)


def run_demo(*, to_number: str = "+14155550123", speed: float = 1.0) -> int:
    token = secrets.token_urlsafe(24)
    connector, receiver = LoopbackServer(), _Subscriber()
    config = SandboxConfig(
        api_key=SANDBOX_KEY,
        webhook_url=f"{connector.url}/v1/webhooks/retell",
        inbound_webhook_url=f"{connector.url}/v1/webhooks/retell/inbound",
        ring_seconds=1.0 / speed,
        talk_seconds=3.0 / speed,
        analysis_seconds=1.0 / speed,
    )
    with (
        tempfile.TemporaryDirectory(prefix="retell-demo-") as tmp,
        SandboxServer(config) as sandbox,
        LoopbackServer(receiver) as subscriber,
    ):
        settings = Settings(
            retell_api_key=SANDBOX_KEY,
            retell_base_url=sandbox.url,
            connector_api_tokens=token,
            connector_database_url=f"sqlite:///{Path(tmp) / 'demo.db'}",
            connector_allow_private_targets=True,
            connector_log_level="WARNING",
            # A delivery that fails once is tried again within the demo's few seconds, not
            # after the production schedule's first minute.
            connector_retry_schedule=(0.5, 1.0, 2.0),
            sandbox=True,
        )
        app = create_app(settings, run_delivery=True)
        connector.app = app
        try:
            with connector:
                _say(f"Retell sandbox {sandbox.url} → connector {connector.url}")
                _say(f"Subscriber (your automation platform) {subscriber.url}")
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=connector.url, headers=headers, timeout=30) as api:
                    code = _walk_through(api, receiver, f"{subscriber.url}/hook", to_number)
                    return code or _inbound_call(api, receiver, sandbox.url, speed)
        finally:
            app.extensions["connector"].stop_background()


def _walk_through(api: httpx.Client, receiver: _Subscriber, hook_url: str, to_number: str) -> int:
    me = api.get("/v1/me").raise_for_status().json()
    _say(f"Connection test (GET /v1/me): {me['label']}")
    numbers = api.get("/v1/options/phone-numbers").raise_for_status().json()
    agents = api.get("/v1/options/agents").raise_for_status().json()
    _say("From-number dropdown: " + "; ".join(o["label"] for o in numbers))
    _say("Agent dropdown:       " + "; ".join(o["label"] for o in agents))
    subscription = (
        api.post(
            "/v1/triggers/call-events/subscriptions",
            json={
                "target_url": hook_url,
                "events": ["call_started", "call_ended", "call_analyzed", "call_inbound"],
            },
        )
        .raise_for_status()
        .json()
    )
    receiver.secret = subscription["secret"]
    _say(f"Trigger subscribed ({subscription['id']}): {', '.join(subscription['events'])}")

    request = {
        "from_number": numbers[0]["value"],
        "to_number": to_number,
        "override_agent_id": agents[0]["value"],
        "retell_llm_dynamic_variables": {"customer_name": "Ada", "order_total": 42.5},
        "metadata": {"crm_lead_id": "lead-1001"},
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    created = api.post("/v1/actions/create-phone-call", json=request, headers=key)
    created.raise_for_status()
    call = created.json()
    _say(f"POST /v1/actions/create-phone-call → {created.status_code}, call {call['call_id']}")
    replay = api.post("/v1/actions/create-phone-call", json=request, headers=key)
    same = replay.json().get("call_id") == call["call_id"]
    replayed = replay.headers.get("Idempotent-Replayed") == "true"
    _say(f"Platform retry, same Idempotency-Key → {replay.status_code}, same call: {same}")
    _say(f"  (Idempotent-Replayed: {replayed}; Retell was not asked to dial again)")
    analyzed = _print_events(receiver)
    if not (same and analyzed):
        _say("Demo did not complete as expected.")
        return 1
    return 0


def _inbound_call(api: httpx.Client, receiver: _Subscriber, sandbox_url: str, speed: float) -> int:
    """A caller whose context a CRM flow saved rings in and is greeted by name (a shorter
    call than the first, so the whole demo stays within about 15 s)."""
    _say("")
    context = {"dynamic_variables": {"first_name": "Ada"}, "metadata": {"crm_contact_id": "c-1001"}}
    api.put(f"/v1/inbound/contacts/{INBOUND_CALLER}", json=context).raise_for_status()
    _say("Save Caller Context (PUT /v1/inbound/contacts/<caller>): first_name = Ada")
    with httpx.Client(base_url=sandbox_url, timeout=60) as control:
        clock = {
            "ring_seconds": 0.5 / speed,
            "talk_seconds": 2 / speed,
            "analysis_seconds": 0.5 / speed,
        }
        control.patch("/_sandbox/config", json=clock).raise_for_status()
        rang = control.post(
            "/_sandbox/inbound-calls",
            json={"from_number": INBOUND_CALLER, "to_number": SUPPORT_LINE},
        ).raise_for_status()
    found = rang.json()
    answer = found["inbound_webhook"]["answer"]
    _say(f"Inbound call rings the Support line; Retell asks the connector → {json.dumps(answer)}")
    _say(f"  call {found['call']['call_id']}: agent {found['call']['agent_name']}")
    ok = _print_events(receiver)
    _say("Demo finished." if ok else "Demo did not complete as expected.")
    return 0 if ok else 1


def _print_events(receiver: _Subscriber) -> bool:
    """Print forwarded events until call_analyzed (True) or the timeout (False)."""
    deadline = time.monotonic() + EVENT_TIMEOUT_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = receiver.events.get(timeout=left)
        except queue.Empty:
            break
        flat = event["flat"]
        _say(f"Subscriber received {event['event']} ({event['id']}), signature verified")
        if event["event"] == "call_inbound":
            _say(f"  answer given: {json.dumps(event['answer']['call_inbound'])}")
            continue
        if event["event"] == "call_ended":
            status, reason = flat["call_status"], flat["disconnection_reason"]
            _say(f"  status {status}, {flat['duration_seconds']} s, {reason}")
            for line in (flat.get("transcript_text") or "").splitlines():
                _say(f"  | {line}")
        if event["event"] == "call_analyzed":
            _say(f"  summary:   {flat['call_summary']}")
            _say(f"  sentiment: {flat['user_sentiment']}; successful: {flat['call_successful']}")
            return True
    return False

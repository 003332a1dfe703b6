"""End to end with the sandbox: a simulated inbound call asks the connector's inbound webhook,
plays with the answer (agent, variables, greeting by name) and is forwarded as call events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from retell import Retell
from retell.lib import webhook_auth

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from connector.sandbox.catalog import SALES, SUPPORT
from tests.conftest import AUTH, RETELL_KEY, make_settings
from tests.subscriber import Reply, Subscriber

pytestmark = pytest.mark.slow

SUPPORT_LINE = "+16505550123"  # its inbound agent is the Support agent
CALLER = "+14155550142"


@dataclass
class Stack:
    """A sandbox whose numbers' inbound webhook is the connector's, and clients for both."""

    sandbox: SandboxServer
    api: httpx.Client
    control: httpx.Client

    def ring(self, **body: Any) -> httpx.Response:
        return self.control.post("/_sandbox/inbound-calls", json=body)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    connector = LoopbackServer()
    config = SandboxConfig.fast(
        api_key=RETELL_KEY,
        webhook_url=f"{connector.url}/v1/webhooks/retell",
        inbound_webhook_url=f"{connector.url}/v1/webhooks/retell/inbound",
    )
    with SandboxServer(config) as sandbox:
        settings = make_settings(
            tmp_path, retell_base_url=sandbox.url, connector_allow_private_targets=True
        )
        app = create_app(settings, run_delivery=True, configure_logs=False)
        connector.app = app
        try:
            with (
                connector,
                httpx.Client(base_url=connector.url, headers=AUTH, timeout=15) as api,
                httpx.Client(base_url=sandbox.url, timeout=60) as control,
            ):
                yield Stack(sandbox, api, control)
        finally:
            app.extensions["connector"].stop_background()


def test_saved_contact_overrides_agent_and_greets_by_name(stack: Stack) -> None:
    """Saved context → the call runs on the overridden agent, the greeting uses the name,
    and subscribers get call_inbound (with the answer) and the inbound call's events."""
    saved = stack.api.put(
        f"/v1/inbound/contacts/{CALLER}",
        json={"dynamic_variables": {"first_name": "Ada"}, "override_agent_id": SALES.agent_id},
    )
    assert saved.status_code == 201
    with Subscriber() as hook:
        subscription = stack.api.post(
            "/v1/triggers/call-events/subscriptions",
            json={"target_url": hook.url, "events": ["call_inbound", "call_analyzed"]},
        ).json()
        rang = stack.ring(from_number=CALLER, to_number=SUPPORT_LINE)
        assert rang.status_code == 201, rang.text
        call = rang.json()["call"]
        assert (call["direction"], call["agent_id"]) == ("inbound", SALES.agent_id)
        assert call["retell_llm_dynamic_variables"] == {"first_name": "Ada"}
        assert rang.json()["inbound_webhook"]["attempts"] == 1
        analyzed = stack.sandbox.state.wait_for(call["call_id"], "analyzed")
        assert analyzed["transcript"].startswith("Agent: Hi Ada, thanks for calling")
        hook.wait_for(2, timeout=15)
        events = {e["event"]: e for e in hook.verified(subscription["secret"])}
    assert events["call_inbound"]["answer"]["call_inbound"]["override_agent_id"] == SALES.agent_id
    assert events["call_inbound"]["flat"]["contact_found"] is True
    assert events["call_analyzed"]["call"]["call_id"] == call["call_id"]
    assert events["call_analyzed"]["flat"]["direction"] == "inbound"
    sdk = Retell(api_key=RETELL_KEY, base_url=stack.sandbox.url)
    fetched = sdk.call.retrieve(call["call_id"])  # the SDK's own types read the call
    assert (fetched.direction, fetched.agent_id) == ("inbound", SALES.agent_id)


def test_declined_call_is_not_placed(stack: Stack) -> None:
    """A declining rule and a number without its own inbound agent: no call at all."""
    rule = stack.api.post(
        "/v1/inbound/rules", json={"match": {"caller_prefixes": ["+1415"]}, "decline": True}
    )
    assert rule.status_code == 201
    rang = stack.ring(from_number=CALLER, to_number=SUPPORT_LINE, number_has_agent=False)
    assert rang.status_code == 200
    assert (rang.json()["call"], rang.json()["declined"]) == (None, True)
    assert sum(stack.sandbox.state.book.phases().values()) == 0


def test_no_answer_keeps_the_numbers_agent(stack: Stack) -> None:
    """Without rules or context the answer is empty: the number's inbound agent takes it."""
    call = stack.ring(from_number=CALLER, to_number=SUPPORT_LINE).json()["call"]
    assert call["agent_id"] == SUPPORT.agent_id
    assert "retell_llm_dynamic_variables" not in call


def test_sandbox_retries_the_inbound_webhook() -> None:
    """The sandbox signs the inbound request, retries a failing webhook, applies the answer."""
    answer = (
        '{"call_inbound": {"override_agent_id": "%s", "dynamic_variables": {"first_name": "Bo"}}}'
    )
    with Subscriber(
        Reply(status=500), Reply(status=503), Reply(body=answer % SALES.agent_id)
    ) as webhook:
        config = SandboxConfig.fast(api_key=RETELL_KEY, inbound_webhook_url=webhook.url)
        with SandboxServer(config) as sandbox, httpx.Client(base_url=sandbox.url) as control:
            rang = control.post(
                "/_sandbox/inbound-calls", json={"from_number": CALLER, "to_number": SUPPORT_LINE}
            ).json()
        hits = webhook.hits
    assert rang["inbound_webhook"]["attempts"] == 3
    assert rang["call"]["retell_llm_dynamic_variables"] == {"first_name": "Bo"}
    for hit in hits:
        assert webhook_auth.symmetric["verify"](
            hit.body, RETELL_KEY, hit.headers["x-retell-signature"]
        )


def test_sandbox_falls_back_when_every_attempt_fails() -> None:
    """Four failed attempts: the number's inbound agent takes the call, without variables."""
    with Subscriber(*[Reply(status=500)] * 4) as webhook:
        config = SandboxConfig.fast(api_key=RETELL_KEY, inbound_webhook_url=webhook.url)
        with SandboxServer(config) as sandbox, httpx.Client(base_url=sandbox.url) as control:
            rang = control.post(
                "/_sandbox/inbound-calls", json={"from_number": CALLER, "to_number": SUPPORT_LINE}
            ).json()
    assert (rang["inbound_webhook"]["attempts"], rang["inbound_webhook"]["error"]) == (
        4,
        "HTTP 500",
    )
    assert rang["call"]["agent_id"] == SUPPORT.agent_id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"from_number": CALLER}, 400),
        ({"from_number": CALLER, "to_number": "+14155550100"}, 422),
        ({"from_number": CALLER, "to_number": SUPPORT_LINE, "number_has_agent": "no"}, 400),
        ({"from_number": CALLER, "to_number": SUPPORT_LINE, "agent": "x"}, 400),
    ],
)
def test_bad_simulation_requests(body: dict[str, Any], status: int) -> None:
    """The control refuses what it cannot simulate, in Retell's error shape."""
    with SandboxServer(SandboxConfig.fast()) as sandbox, httpx.Client(base_url=sandbox.url) as c:
        response = c.post("/_sandbox/inbound-calls", json=body)
    assert response.status_code == status
    assert response.json()["status"] == "error"

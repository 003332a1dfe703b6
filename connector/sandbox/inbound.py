"""Simulated inbound calls: ask the number's inbound webhook as Retell does, then play the call.

``POST /_sandbox/inbound-calls {"from_number", "to_number", "number_has_agent"?}`` (a control,
not Retell's API): ``to_number`` must be one of the account's numbers. When
``inbound_webhook_url`` is configured, the sandbox POSTs ``{"event": "call_inbound",
"call_inbound": {"agent_id", "agent_version", "from_number", "to_number"}}`` to it, signed
with ``x-retell-signature`` like every webhook, waits ``webhook_timeout_seconds`` (10 s) and
retries up to ``webhook_retries`` (3) times on an error, a non-2xx or a reply that is not a
usable answer. It then applies the answer: ``override_agent_id`` / ``override_agent_version``
pick the agent, ``dynamic_variables`` and ``metadata`` go into the call object, and the agent
greets the caller by ``first_name`` in the transcript. The call then walks the usual phases
and sends the usual call events.

As Retell documents: an answer without ``override_agent_id`` leaves the call to the number's
inbound agent; when the number has none (``number_has_agent: false`` simulates one without),
the call is declined and never placed; when every attempt fails, the number's inbound agent
takes the call, or nobody does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from connector.retell.signature import sign
from connector.sandbox.calls import SandboxCall, registered_call
from connector.sandbox.catalog import Agent, PhoneNumber, agent_by_id, number_by_e164
from connector.sandbox.config import SandboxConfig
from connector.sandbox.conversations import conversation
from connector.sandbox.errors import ApiError
from connector.sandbox.scripts import INBOUND
from connector.sandbox.stats import Stats
from connector.sandbox.validation import CreateRequest

__all__ = ["InboundRouting", "Routed", "inbound_call", "parse_simulation", "simulate_inbound"]

log = logging.getLogger(__name__)

_ANSWER_FIELDS = frozenset(
    {
        "override_agent_id",
        "override_agent_version",
        "dynamic_variables",
        "metadata",
        "agent_override",
    }
)


@dataclass(frozen=True)
class InboundRouting:
    """One simulated inbound call as the control request asked for it."""

    from_number: str
    number: PhoneNumber
    number_has_agent: bool = True

    @property
    def number_agent(self) -> Agent | None:
        return self.number.inbound_agent if self.number_has_agent else None

    def payload(self) -> dict[str, Any]:
        """The body Retell sends to the inbound webhook."""
        call: dict[str, Any] = {}
        if (agent := self.number_agent) is not None:
            call |= {"agent_id": agent.agent_id, "agent_version": agent.version}
        call |= {"from_number": self.from_number, "to_number": self.number.phone_number}
        return {"event": "call_inbound", "call_inbound": call}


@dataclass(frozen=True)
class Routed:
    """Where the call went: its agent (None: declined) and the webhook's story."""

    agent: Agent | None
    version: int
    variables: dict[str, str] | None
    metadata: dict[str, Any] | None
    attempts: int
    answer: dict[str, Any] | None
    error: str | None = None


def parse_simulation(body: object) -> InboundRouting:
    """The control request, or ``ApiError`` (400 shape, 422 a number not on the account)."""
    if not isinstance(body, dict):
        raise ApiError.bad_request('Send {"from_number": "+1...", "to_number": "+1..."}.')
    caller, called = body.get("from_number"), body.get("to_number")
    has_agent = body.get("number_has_agent", True)
    if not (isinstance(caller, str) and caller and isinstance(called, str)):
        raise ApiError.bad_request("from_number and to_number are required text.")
    if not isinstance(has_agent, bool) or set(body) - {
        "from_number",
        "to_number",
        "number_has_agent",
    }:
        raise ApiError.bad_request("Only from_number, to_number and number_has_agent are known.")
    number = number_by_e164(called)
    if number is None:
        raise ApiError(422, "to_number is not a phone number on this account.")
    return InboundRouting(caller, number, has_agent)


def simulate_inbound(
    routing: InboundRouting, config: SandboxConfig, stats: Stats, stop: threading.Event
) -> tuple[CreateRequest | None, Routed]:
    """Ask the inbound webhook (if any) and decide the call; None when it is declined."""
    routed = _route(routing, config, stats, stop)
    if routed.agent is None:
        return None, routed
    request = CreateRequest(
        from_number=routing.from_number,
        to_number=routing.number.phone_number,
        agent=routed.agent,
        agent_version=routed.version,
        metadata=routed.metadata,
        dynamic_variables=routed.variables,
        custom_sip_headers=None,
        idempotency_key=None,
        webhook_url=None,
        webhook_events=None,
    )
    return request, routed


def inbound_call(request: CreateRequest) -> SandboxCall:
    """The call to play: an answered inbound call greeting the caller."""
    call = registered_call(request)
    call.data["direction"] = "inbound"
    return dataclasses.replace(
        call, script=INBOUND, turns=conversation("inbound", request.dynamic_variables or {})
    )


def _route(
    routing: InboundRouting, config: SandboxConfig, stats: Stats, stop: threading.Event
) -> Routed:
    fallback = routing.number_agent
    version = fallback.version if fallback else 0
    url = config.inbound_webhook_url
    if not url:
        return Routed(fallback, version, None, None, 0, None)
    body = json.dumps(routing.payload())
    attempts, error = 0, None
    with httpx.Client(follow_redirects=False) as client:
        for attempt in range(config.webhook_retries + 1):
            delay = config.webhook_backoff_seconds * 2 ** (attempt - 1) if attempt else 0.0
            if stop.wait(delay):
                break
            attempts += 1
            stats.incr("inbound_webhook_attempts")
            answer, error = _ask(client, url, body, config)
            if answer is None:
                continue
            routed = _apply(answer, routing, attempts)
            if routed is not None:
                return routed
            error = "the answer names an agent or version this account does not have"
    log.info("sandbox inbound webhook gave no usable answer: %s", error)
    return Routed(fallback, version, None, None, attempts, None, error)


def _ask(
    client: httpx.Client, url: str, body: str, config: SandboxConfig
) -> tuple[dict[str, Any] | None, str | None]:
    """One signed attempt: the ``call_inbound`` answer, or why there is none."""
    headers = {
        "content-type": "application/json",
        "user-agent": "retell-sandbox",
        "x-retell-signature": sign(body, config.api_key),
    }
    try:
        response = client.post(
            url, content=body.encode(), headers=headers, timeout=config.webhook_timeout_seconds
        )
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    if not response.is_success:
        return None, f"HTTP {response.status_code}"
    try:
        parsed = response.json()
    except ValueError:
        return None, "the answer is not JSON"
    answer = parsed.get("call_inbound") if isinstance(parsed, dict) else None
    if not isinstance(answer, dict) or set(answer) - _ANSWER_FIELDS:
        return None, 'the answer is not {"call_inbound": {...}} with known fields'
    variables, metadata = answer.get("dynamic_variables"), answer.get("metadata")
    if variables is not None and not (
        isinstance(variables, dict) and all(isinstance(v, str) for v in variables.values())
    ):
        return None, "dynamic_variables must be text values"
    if metadata is not None and not isinstance(metadata, dict):
        return None, "metadata must be an object"
    return answer, None


def _apply(answer: dict[str, Any], routing: InboundRouting, attempts: int) -> Routed | None:
    """The routing an answer asks for; None when it names what the account lacks."""
    agent = routing.number_agent
    if (agent_id := answer.get("override_agent_id")) is not None:
        agent = agent_by_id(agent_id) if isinstance(agent_id, str) else None
        if agent is None:
            return None
    raw = answer.get("override_agent_version")
    version = agent.version if agent is not None else 0
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and agent is not None:
        if not 0 <= raw <= agent.version:
            return None
        version = raw
    return Routed(
        agent,
        version,
        answer.get("dynamic_variables"),
        answer.get("metadata"),
        attempts,
        answer,
    )

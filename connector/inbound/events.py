"""The ``call_inbound`` event (``schemas/inbound-event.json``): what responders and
subscribers receive, with the answer proposed (to a responder) or given (to subscribers).

Its ``id`` is made from the request's key and the moment it was first seen, so Retell's
retries of one call share it, and a caller who rings again later gets a new one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from connector.flatten import iso_from_ms
from connector.inbound.answer import wire_answer
from connector.inbound.request import INBOUND_EVENT, InboundCall

__all__ = ["Decision", "inbound_event", "inbound_event_id", "sample_inbound_event"]


@dataclass(frozen=True)
class Decision:
    """How the answer came about, for the event's ``flat`` view."""

    rule_id: str | None = None
    rule_name: str | None = None
    declined: bool = False
    contact_found: bool = False
    answered_by: str = "rules"


def inbound_event_id(key: str, first_seen_ms: int) -> str:
    digest = hashlib.sha256(f"{key}:{first_seen_ms}".encode()).hexdigest()
    return "evt_" + digest[:24]


def inbound_event(
    event_id: str,
    call: InboundCall,
    fields: dict[str, Any],
    decision: Decision,
    *,
    received_at_ms: int,
) -> dict[str, Any]:
    """The event body for ``call`` with the answer ``fields``."""
    agent = None if decision.declined else (fields.get("override_agent_id") or call.agent_id)
    flat: dict[str, Any] = {
        "call_id": call.call_id,
        "direction": "inbound",
        "from_number": call.from_number,
        "to_number": call.to_number,
        "agent_id": agent,
        "declined": decision.declined,
        "rule_id": decision.rule_id,
        "rule_name": decision.rule_name,
        "contact_found": decision.contact_found,
        "answered_by": decision.answered_by,
    }
    for name, value in (fields.get("dynamic_variables") or {}).items():
        flat[f"dynamic_variables.{name}"] = value
    return {
        "id": event_id,
        "event": INBOUND_EVENT,
        "created_at": iso_from_ms(received_at_ms),
        "call_inbound": call.raw,
        "answer": wire_answer(fields),
        "flat": flat,
    }


_SAMPLE_CALL = InboundCall(
    from_number="+14155550142",
    to_number="+14155550123",
    agent_id="agent_1c7e2d9b4a6f8e0c2b4d6f8a0c",
    agent_version=5,
    call_id=None,
    raw={
        "agent_id": "agent_1c7e2d9b4a6f8e0c2b4d6f8a0c",
        "agent_version": 5,
        "from_number": "+14155550142",
        "to_number": "+14155550123",
    },
)


def sample_inbound_event() -> dict[str, Any]:
    """A realistic built-in ``call_inbound`` event, for platform field mapping before any
    real inbound call arrived (fictional numbers, stable ids)."""
    fields = {
        "override_agent_id": "agent_1c7e2d9b4a6f8e0c2b4d6f8a0c",
        "dynamic_variables": {"first_name": "Ada", "account_tier": "gold"},
        "metadata": {"crm_contact_id": "c-1001"},
    }
    decision = Decision("rule_3f9a1c7e5b2d4a6c8e0f1a2b", "Business hours → Sales", False, True)
    event_id = inbound_event_id("sample", 1_795_541_440_000)
    return inbound_event(event_id, _SAMPLE_CALL, fields, decision, received_at_ms=1_795_541_440_000)

"""Call events as the trigger forwards them: ``{id, event, created_at, call, flat}``.

The ``id`` is derived from what identifies the event at Retell — the call and the event
name, plus the turn count for ``transcript_updated`` (one per turn) — so a Retell retry,
a redelivery and a manual replay all carry the same id, and platforms dedupe on it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from connector.flatten import flatten_call, iso_from_ms

__all__ = [
    "CALL_EVENTS",
    "DEFAULT_EVENTS",
    "INBOUND_EVENTS",
    "SUBSCRIBABLE_EVENTS",
    "build_event",
    "dedupe_key",
    "event_id",
]

CALL_EVENTS = (
    "call_started",
    "call_ended",
    "call_analyzed",
    "transcript_updated",
    "transfer_started",
    "transfer_bridged",
    "transfer_cancelled",
    "transfer_ended",
)
DEFAULT_EVENTS = ("call_ended", "call_analyzed")
INBOUND_EVENTS = ("call_inbound",)
"""Not Retell call events but the connector's own: an inbound call it answered (issue 13,
``connector.inbound``). Subscriptions may ask for them; polling does not list them."""
SUBSCRIBABLE_EVENTS = CALL_EVENTS + INBOUND_EVENTS


def dedupe_key(event: str, call: dict[str, Any]) -> str:
    """What makes two deliveries from Retell the same event."""
    key = f"{call.get('call_id')}:{event}"
    if event == "transcript_updated":
        turns = call.get("transcript_with_tool_calls") or call.get("transcript_object") or []
        key += f":{len(turns) if isinstance(turns, list) else 0}"
    return key


def event_id(event: str, call: dict[str, Any]) -> str:
    return "evt_" + hashlib.sha256(dedupe_key(event, call).encode()).hexdigest()[:24]


def build_event(event: str, call: dict[str, Any], *, received_at_ms: int) -> dict[str, Any]:
    """The forwarded body: Retell's call object unchanged, plus the no-code ``flat`` view."""
    return {
        "id": event_id(event, call),
        "event": event,
        "created_at": iso_from_ms(received_at_ms),
        "call": call,
        "flat": flatten_call(call),
    }

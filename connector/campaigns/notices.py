"""Connector events about queued calls, put in the outbox with the state change that causes them.

``queued_call.failed`` (retries used up, or Retell refused the call for good) and
``queued_call.expired`` (``expires_at`` passed before the call could be placed) are stored in
the same events table as Retell's call events, with one delivery per matching subscription,
in the transaction that moves the queued call to its final state: the delivery workers then
send them with the same signing, retries and delivery log. Only the subscriptions of the
token that queued the call receive them.

Body: ``{id, event, created_at, queued_call: <queued-call object>, flat: {...}}``; ``id`` is
derived from the queued call and the event, so a redelivery carries the same id.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Final

from sqlalchemy import Connection, select

from connector import jsontext
from connector.flatten import iso_from_ms
from connector.manifest import load_schema
from connector.store.engine import InsertIfNew
from connector.store.subscriptions import Subscription
from connector.store.tables import deliveries, events, subscriptions

__all__ = [
    "EXPIRED",
    "FAILED",
    "QUEUED_CALL_EVENTS",
    "queue_event",
    "queued_event_body",
    "sample_queued_events",
]

FAILED: Final = "queued_call.failed"
EXPIRED: Final = "queued_call.expired"
QUEUED_CALL_EVENTS: Final = (FAILED, EXPIRED)

_INSERT_NEW = InsertIfNew(events, events.c.id)


def sample_queued_events(names: list[str], now: float) -> list[dict[str, Any]]:
    """A built-in event per requested queued-call event name, for platform field mapping:
    the example queued call of ``schemas/queued-call.json`` in the final state of each."""
    example = load_schema("queued-call.json")["examples"][0]
    finals = {
        FAILED: ("failed", "retries used up: 3 attempts, the last ended with dial_no_answer"),
        EXPIRED: ("expired", "expires_at passed before it was dialled"),
    }
    samples = []
    for name in dict.fromkeys(names):
        state, reason = finals[name]
        view = {**example, "state": state, "reason": reason, "next_attempt_at": None}
        samples.append(queued_event_body(name, view, now))
    return samples


def queued_event_body(event: str, view: dict[str, Any], now: float) -> dict[str, Any]:
    """The forwarded body for ``event`` about the queued call shown as ``view``."""
    attempts = view.get("attempts") or []
    last = attempts[-1] if attempts else {}
    flat = {
        "queued_call_id": view["id"],
        "campaign": view["campaign"],
        "state": view["state"],
        "reason": view.get("reason"),
        "to_number": view["to_number"],
        "from_number": view.get("from_number"),
        "agent_id": view.get("agent_id"),
        "attempts_used": view.get("attempts_used"),
        "last_outcome": view.get("last_outcome"),
        "call_id": view.get("call_id") or last.get("call_id"),
        "created_at": view.get("created_at"),
    }
    digest = hashlib.sha256(f"queued:{view['id']}:{event}".encode()).hexdigest()[:24]
    return {
        "id": "evt_" + digest,
        "event": event,
        "created_at": iso_from_ms(now * 1000),
        "queued_call": view,
        "flat": flat,
    }


def queue_event(conn: Connection, owner: str, event: str, view: dict[str, Any], now: float) -> int:
    """Store the event and its deliveries in ``conn``'s transaction; how many deliveries."""
    body = queued_event_body(event, view, now)
    agent_id = view.get("agent_id")
    row = {
        "id": body["id"],
        "dedupe_key": f"queued:{view['id']}:{event}",
        "event": event,
        "call_id": view["id"],
        "agent_id": agent_id,
        "body": jsontext.dumps(body),
        "received_at": now,
    }
    if conn.execute(_INSERT_NEW.on(conn), row).first() is None:
        return 0  # already stored (an earlier transition of the same call)
    mine = select(subscriptions).where(
        subscriptions.c.owner == owner, subscriptions.c.status == "active"
    )
    matching = [
        sub
        for sub in (Subscription.from_row(r) for r in conn.execute(mine))
        if sub.matches(event, agent_id)
    ]
    if matching:
        conn.execute(
            deliveries.insert(),
            [
                {
                    "id": "dlv_" + secrets.token_hex(12),
                    "event_id": body["id"],
                    "subscription_id": sub.id,
                    "owner": sub.owner,
                    "state": "pending",
                    "attempts": 0,
                    "cycle_start": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for sub in matching
            ],
        )
    return len(matching)

"""Accepting Retell events: dedupe, then the event and its deliveries in ONE transaction.

Nothing is acknowledged to Retell before this commit returns, so an event that got a 2xx
is durably queued for every subscription that matched at that moment (DESIGN §5).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connector.events import build_event, dedupe_key
from connector.store.subscriptions import Subscription
from connector.store.tables import deliveries, events, subscriptions

__all__ = ["Accepted", "EventInbox"]


@dataclass(frozen=True)
class Accepted:
    """What ingest did with one Retell event."""

    event_id: str
    duplicate: bool
    deliveries: int


class EventInbox:
    """The connector's record of every call event Retell sent."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def accept(self, event: str, call: dict[str, Any]) -> Accepted:
        now = self._clock()
        body = build_event(event, call, received_at_ms=int(now * 1000))
        agent_id = call.get("agent_id") if isinstance(call.get("agent_id"), str) else None
        with self._engine.begin() as conn:
            if not _insert_once(conn, body, dedupe_key(event, call), agent_id, now):
                return Accepted(body["id"], duplicate=True, deliveries=0)
            active = conn.execute(select(subscriptions).where(subscriptions.c.status == "active"))
            matching = [s for s in map(Subscription.from_row, active) if s.matches(event, agent_id)]
            if matching:
                conn.execute(
                    deliveries.insert(), [_delivery(body["id"], sub, now) for sub in matching]
                )
        return Accepted(body["id"], duplicate=False, deliveries=len(matching))

    def recent(
        self, names: Sequence[str], *, agent_id: str | None = None, limit: int = 3
    ) -> list[dict[str, Any]]:
        """The newest stored events of these kinds (for samples), newest first."""
        query = select(events.c.body).where(events.c.event.in_(list(names)))
        if agent_id:
            query = query.where(events.c.agent_id == agent_id)
        query = query.order_by(events.c.received_at.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [json.loads(text) for text in conn.execute(query).scalars()]


def _insert_once(
    conn: Connection, body: dict[str, Any], key: str, agent_id: str | None, now: float
) -> bool:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(events)
        .values(
            id=body["id"],
            dedupe_key=key,
            event=body["event"],
            call_id=str(body["call"].get("call_id")),
            agent_id=agent_id,
            body=json.dumps(body, separators=(",", ":")),
            received_at=now,
        )
        .on_conflict_do_nothing()
        .returning(events.c.id)
    )
    return conn.execute(statement).first() is not None


def _delivery(event_id: str, subscription: Subscription, now: float) -> dict[str, Any]:
    return {
        "id": "dlv_" + secrets.token_hex(12),
        "event_id": event_id,
        "subscription_id": subscription.id,
        "owner": subscription.owner,
        "state": "pending",
        "attempts": 0,
        "cycle_start": 0,
        "next_attempt_at": now,
        "lease_until": None,
        "leased_by": None,
        "last_status": None,
        "last_error": None,
        "created_at": now,
        "delivered_at": None,
    }

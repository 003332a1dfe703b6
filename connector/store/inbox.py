"""Accepting Retell events: dedupe, then the event and its deliveries in ONE transaction.

Nothing is acknowledged to Retell before this commit returns, so an event that got a 2xx
is durably queued for every subscription that matched at that moment (DESIGN §5).

Events are group-committed (``connector.store.group_commit``): under load many events share
one transaction, one INSERT and one look-up of the subscriptions; alone, an event is
committed at once; one bad event cannot fail its neighbours. The transaction runs on the
driver (``connector.store.driver_transaction``): every webhook pays for it, and
SQLAlchemy's transaction and compiled statements cost more CPU than SQLite's work in it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, select

from connector import jsontext
from connector.events import build_event, dedupe_key
from connector.store.driver_transaction import DriverCursor, driver_transaction
from connector.store.group_commit import GroupCommit
from connector.store.subscriptions import Subscription
from connector.store.tables import deliveries, events, subscriptions

__all__ = ["Accepted", "EventInbox", "new_delivery"]

_EVENT_COLUMNS = tuple(column.name for column in events.columns)
# The subscription's fields by name, as ``Subscription.from_row`` reads a row (the field
# list is the dataclass's, so mypy cannot see it).
_SubscriptionRow = namedtuple("_SubscriptionRow", tuple(Subscription.__dataclass_fields__))  # type: ignore[misc]
_ACTIVE = (
    f"SELECT {', '.join(_SubscriptionRow._fields)} FROM {subscriptions.name}"
    " WHERE status = 'active'"
)
# PostgreSQL: the insert and the look-up as one statement, a round trip fewer (a fifth of the
# transaction's CPU, client and server, ``bench/README.md`` P1). Rows with an id are the
# events inserted; rows without one are the active subscriptions, read only if any was.
# The look-up sees the subscriptions as of the statement's start, as the insert does.
_WITH_ACTIVE = (
    "WITH new AS ({insert})"
    f" SELECT id, {', '.join(['NULL'] * len(_SubscriptionRow._fields))} FROM new"
    f" UNION ALL SELECT NULL, {', '.join(_SubscriptionRow._fields)} FROM {subscriptions.name}"
    " WHERE status = 'active' AND EXISTS (SELECT FROM new)"
)


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
        self._writes: GroupCommit[DriverCursor, dict[str, Any], Accepted] = GroupCommit(
            lambda: driver_transaction(engine), _store_events, name="event-committer"
        )

    def accept(self, event: str, call: dict[str, Any]) -> Accepted:
        """Store the event and its deliveries; returns once they are committed."""
        now = self._clock()
        body = build_event(event, call, received_at_ms=int(now * 1000))
        agent_id = call.get("agent_id")
        # Serialised here, in the request's thread, so the write lock is held for less.
        row = {
            "id": body["id"],
            "dedupe_key": dedupe_key(event, call),
            "event": event,
            "call_id": str(call.get("call_id")),
            "agent_id": agent_id if isinstance(agent_id, str) else None,
            "body": jsontext.dumps(body),
            "received_at": now,
        }
        return self._writes.submit(row)

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


def _store_events(cursor: DriverCursor, rows: list[dict[str, Any]]) -> list[Accepted]:
    """Insert the new events with one statement, then every matching subscription's delivery."""
    first: dict[str, dict[str, Any]] = {}  # the first of any same-id events in this batch
    for row in rows:
        first.setdefault(row["id"], row)
    # RETURNING, not rowcount, tells which rows were new: drivers disagree on rowcount for
    # ON CONFLICT DO NOTHING (and a concurrent writer on PostgreSQL may win any of them).
    new = [[row[name] for name in _EVENT_COLUMNS] for row in first.values()]
    insert = _insert(events, _EVENT_COLUMNS, len(new)) + " ON CONFLICT DO NOTHING RETURNING id"
    params = [value for row in new for value in row]
    if cursor.postgres:  # one round trip: the new ids, then the subscriptions
        found = cursor.execute(_WITH_ACTIVE.format(insert=insert), params)
        stored = {row[0] for row in found if row[0] is not None}
        listed = [row[1:] for row in found if row[0] is None]
    else:
        stored = {event_id for (event_id,) in cursor.execute(insert, params)}
        listed = cursor.execute(_ACTIVE) if stored else []
    active = [Subscription.from_row(_SubscriptionRow(*found)) for found in listed]
    outcomes, queued = [], []
    for row in rows:
        if row["id"] not in stored or first[row["id"]] is not row:
            outcomes.append(Accepted(row["id"], duplicate=True, deliveries=0))
            continue
        matching = [s for s in active if s.matches(row["event"], row["agent_id"])]
        queued += [new_delivery(row["id"], sub, row["received_at"]) for sub in matching]
        outcomes.append(Accepted(row["id"], duplicate=False, deliveries=len(matching)))
    if queued:
        columns = tuple(queued[0])
        cursor.execute_many(
            _insert(deliveries, columns), [[row[name] for name in columns] for row in queued]
        )
    return outcomes


def _insert(table: Table, columns: tuple[str, ...], rows: int = 1) -> str:
    values = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * rows)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {values}"


def new_delivery(event_id: str, subscription: Subscription, now: float) -> dict[str, Any]:
    """A pending delivery row of ``event_id`` to ``subscription``, due at once."""
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

"""Accepting Retell events: dedupe, then the event and its deliveries in ONE transaction.

Nothing is acknowledged to Retell before this commit returns, so an event that got a 2xx
is durably queued for every subscription that matched at that moment (DESIGN §5).

Group commit: request threads hand their events to one committer thread per process, which
commits every event waiting at that moment in a single transaction and then wakes their
threads. Under load many events share one commit (and one look-up of the subscriptions);
alone, an event is committed at once. If a shared transaction fails, each of its events is
retried in a transaction of its own, so one bad event cannot fail its neighbours.
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connector import jsontext
from connector.events import build_event, dedupe_key
from connector.store.subscriptions import Subscription
from connector.store.tables import deliveries, events, subscriptions

__all__ = ["Accepted", "EventInbox"]

_COMMIT_BATCH = 256

_ACTIVE = select(subscriptions).where(subscriptions.c.status == "active")
# Built once (keyed by "is PostgreSQL"): executed for a whole batch, skipping known events.
_INSERT_NEW = {
    postgres: (pg_insert if postgres else sqlite_insert)(events)
    .on_conflict_do_nothing()
    .returning(events.c.id)
    for postgres in (False, True)
}


@dataclass(frozen=True)
class Accepted:
    """What ingest did with one Retell event."""

    event_id: str
    duplicate: bool
    deliveries: int


@dataclass
class _Pending:
    """One event waiting for the committer (its row ready), and where its outcome goes."""

    row: dict[str, Any]
    result: Future[Accepted] = field(default_factory=Future)

    @property
    def id(self) -> str:
        return str(self.row["id"])


class EventInbox:
    """The connector's record of every call event Retell sent."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        self._waiting: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._committer: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def accept(self, event: str, call: dict[str, Any]) -> Accepted:
        """Store the event and its deliveries; returns once they are committed."""
        now = self._clock()
        body = build_event(event, call, received_at_ms=int(now * 1000))
        agent_id = call.get("agent_id")
        # Serialised here, in the request's thread, so the write lock is held for less.
        pending = _Pending(
            {
                "id": body["id"],
                "dedupe_key": dedupe_key(event, call),
                "event": event,
                "call_id": str(call.get("call_id")),
                "agent_id": agent_id if isinstance(agent_id, str) else None,
                "body": jsontext.dumps(body),
                "received_at": now,
            }
        )
        self._ensure_committer()
        self._waiting.put(pending)
        return pending.result.result()

    def _ensure_committer(self) -> None:
        if self._committer is None:
            with self._start_lock:
                if self._committer is None:
                    self._committer = threading.Thread(
                        target=self._commit_loop, name="event-committer", daemon=True
                    )
                    self._committer.start()

    def _commit_loop(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < _COMMIT_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                outcomes = self._commit(batch)
            except Exception:  # retry each alone: one bad event must not fail the others
                for item in batch:
                    try:
                        item.result.set_result(self._commit([item])[0])
                    except Exception as exc:
                        item.result.set_exception(exc)
                continue
            for item, outcome in zip(batch, outcomes, strict=True):
                item.result.set_result(outcome)

    def _commit(self, batch: list[_Pending]) -> list[Accepted]:
        first: dict[str, _Pending] = {}  # the first of any same-id events in this batch
        for item in batch:
            first.setdefault(item.id, item)
        outcomes = []
        with self._engine.begin() as conn:
            insert = _INSERT_NEW[conn.dialect.name == "postgresql"]
            rows = [item.row for item in first.values()]
            stored = set(conn.execute(insert, rows).scalars())
            active: list[Subscription] = []
            if stored:
                active = [Subscription.from_row(row) for row in conn.execute(_ACTIVE)]
            queued: list[dict[str, Any]] = []
            for item in batch:
                row = item.row
                if row["id"] not in stored or first[row["id"]] is not item:
                    outcomes.append(Accepted(row["id"], duplicate=True, deliveries=0))
                    continue
                matching = [s for s in active if s.matches(row["event"], row["agent_id"])]
                queued += [_delivery(row["id"], sub, row["received_at"]) for sub in matching]
                outcomes.append(Accepted(row["id"], duplicate=False, deliveries=len(matching)))
            if queued:
                conn.execute(deliveries.insert(), queued)
        return outcomes

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

"""The delivery log page by page, newest first, for the console (issue 12).

Keyset pagination on ``(created_at, id)``: a page is one index range read however deep the
reader pages, never an OFFSET over the rows before it. Each filter picks an index made for
it (migration 0004): by owner; by owner and state; by subscription. The event name lives
on the event row, so an event filter joins and keeps walking the owner's newest deliveries
until the page is full.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, tuple_

from connector.store.delivery_rows import delivery_rows
from connector.store.tables import deliveries, delivery_attempts, events, subscriptions

__all__ = ["DeliveryFilter", "DeliveryPage", "DeliveryPages", "decode_cursor", "encode_cursor"]


@dataclass(frozen=True)
class DeliveryFilter:
    """What the reader narrowed the log to; every field optional."""

    state: str | None = None
    event: str | None = None
    subscription_id: str | None = None
    since: float | None = None  # created at or after (unix seconds)
    until: float | None = None  # created before


@dataclass(frozen=True)
class DeliveryPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(created_at: float, delivery_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{delivery_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """ValueError for anything that is not a cursor this module made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, delivery_id = raw.partition("|")
        value = float(created)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("is not a cursor from an earlier page") from None
    if not delivery_id or value != value:  # NaN is no position
        raise ValueError("is not a cursor from an earlier page")
    return value, delivery_id


class DeliveryPages:
    """Read-only, owner-scoped pages of deliveries and single deliveries with every attempt."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def page(
        self,
        owner: str,
        where: DeliveryFilter,
        *,
        cursor: str | None = None,
        limit: int = 50,
    ) -> DeliveryPage:
        """Up to ``limit`` deliveries older than ``cursor`` (ValueError for a bad cursor)."""
        c = deliveries.c
        query = delivery_rows(
            c.id,
            c.event_id,
            c.subscription_id,
            c.state,
            c.attempts,
            c.next_attempt_at,
            c.last_status,
            c.last_error,
            c.created_at,
            c.delivered_at,
            events.c.event,
            events.c.call_id,
            subscriptions.c.target_url,
        ).where(c.owner == owner)
        if where.state:
            query = query.where(c.state == where.state)
        if where.subscription_id:
            query = query.where(c.subscription_id == where.subscription_id)
        if where.event:
            query = query.where(events.c.event == where.event)
        if where.since is not None:
            query = query.where(c.created_at >= where.since)
        if where.until is not None:
            query = query.where(c.created_at < where.until)
        if cursor:
            created, last_id = decode_cursor(cursor)
            query = query.where(tuple_(c.created_at, c.id) < tuple_(created, last_id))
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [dict(row._mapping) for row in rows]
        last = rows[-1] if rows else None
        next_cursor = encode_cursor(last.created_at, last.id) if more and last else None
        return DeliveryPage(items, next_cursor)

    def one(self, owner: str, delivery_id: str) -> dict[str, Any] | None:
        """One delivery with its event, subscription and every attempt, oldest first."""
        c = deliveries.c
        query = delivery_rows(
            deliveries,
            events.c.event,
            events.c.call_id,
            events.c.received_at,
            subscriptions.c.target_url,
        ).where(c.owner == owner, c.id == delivery_id)
        a = delivery_attempts.c
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            attempts = conn.execute(
                select(delivery_attempts).where(a.delivery_id == delivery_id).order_by(a.attempt)
            ).all()
        found = dict(row._mapping)
        found["history"] = [dict(attempt._mapping) for attempt in attempts]
        return found

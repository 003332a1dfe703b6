"""The delivery log a platform user reads: each delivery with every attempt it took."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from connector.flatten import iso_from_ms
from connector.store.delivery_rows import delivery_rows
from connector.store.tables import deliveries, delivery_attempts, events, subscriptions

__all__ = ["DeliveryLog"]


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else iso_from_ms(seconds * 1000)


class DeliveryLog:
    """Read-only views of deliveries, scoped to the platform token that owns them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def find(
        self,
        owner: str,
        *,
        state: str | None = None,
        subscription_id: str | None = None,
        delivery_id: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        c = deliveries.c
        query = (
            delivery_rows(
                deliveries,
                events.c.event,
                events.c.call_id,
                subscriptions.c.target_url,
            )
            .where(c.owner == owner)
            .order_by(c.created_at.desc(), c.id)
            .limit(limit)
        )
        if state:
            query = query.where(c.state == state)
        if subscription_id:
            query = query.where(c.subscription_id == subscription_id)
        if delivery_id:
            query = query.where(c.id == delivery_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            history = self._history(conn, [row.id for row in rows])
        return [
            {
                "id": row.id,
                "event_id": row.event_id,
                "event": row.event,
                "call_id": row.call_id,
                "subscription_id": row.subscription_id,
                "target_url": row.target_url,
                "state": row.state,
                "attempts": row.attempts,
                "next_attempt_at": _iso(row.next_attempt_at) if row.state == "pending" else None,
                "last_status": row.last_status,
                "last_error": row.last_error,
                "created_at": _iso(row.created_at),
                "delivered_at": _iso(row.delivered_at),
                "history": history.get(row.id, []),
            }
            for row in rows
        ]

    @staticmethod
    def _history(conn: Any, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        if not ids:
            return {}
        a = delivery_attempts.c
        query = (
            select(delivery_attempts)
            .where(a.delivery_id.in_(ids))
            .order_by(a.delivery_id, a.attempt)
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in conn.execute(query):
            found.setdefault(row.delivery_id, []).append(
                {
                    "attempt": row.attempt,
                    "at": _iso(row.at),
                    "status_code": row.status_code,
                    "error": row.error,
                    "duration_ms": row.duration_ms,
                    "response_body": row.response_body,
                }
            )
        return found

"""REST-hook subscriptions: who wants which call events, where, signed with which secret.

Each subscription belongs to the platform token that created it (``owner``), so one
connector can serve several agencies' automations without them seeing each other's hooks.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.engine import Row

from connector.flatten import iso_from_ms
from connector.store.tables import deliveries, subscriptions

__all__ = ["Subscription", "SubscriptionStore", "new_secret"]


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class Subscription:
    """One subscription as stored."""

    id: str
    owner: str
    target_url: str
    events: tuple[str, ...]
    agent_id: str | None
    secret: str
    status: str
    disabled_reason: str | None
    created_at: float
    mode: str = "deliver"
    """deliver: events are queued for it; respond: it answers inbound calls while they ring
    (``connector.inbound.responder``) and is never queued for."""
    respond_timeout_seconds: float | None = None

    def matches(self, event: str, agent_id: str | None) -> bool:
        if self.status != "active" or self.mode != "deliver" or event not in self.events:
            return False
        return self.agent_id is None or self.agent_id == agent_id

    def public(self, *, with_secret: bool = False) -> dict[str, Any]:
        """The API view; the secret only at creation."""
        view: dict[str, Any] = {
            "id": self.id,
            "target_url": self.target_url,
            "events": list(self.events),
            "agent_id": self.agent_id,
            "status": self.status,
            "created_at": iso_from_ms(self.created_at * 1000),
            "disabled_reason": self.disabled_reason,
        }
        if self.mode != "deliver":
            view["mode"] = self.mode
            view["respond_timeout_seconds"] = self.respond_timeout_seconds
        if with_secret:
            view["secret"] = self.secret
        return view

    @classmethod
    def from_row(cls, row: Row[Any] | Any) -> Subscription:
        """From anything with the fields as attributes: a Core row, or a driver's row named."""
        return cls(
            id=row.id,
            owner=row.owner,
            target_url=row.target_url,
            events=tuple(json.loads(row.events)),
            agent_id=row.agent_id,
            secret=row.secret,
            status=row.status,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
            mode=row.mode,
            respond_timeout_seconds=row.respond_timeout_seconds,
        )


class SubscriptionStore:
    """Create, list and delete subscriptions."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def create(
        self,
        owner: str,
        target_url: str,
        events: Sequence[str],
        agent_id: str | None,
        *,
        mode: str = "deliver",
        respond_timeout_seconds: float | None = None,
    ) -> Subscription:
        subscription = Subscription(
            id="sub_" + secrets.token_hex(12),
            owner=owner,
            target_url=target_url,
            events=tuple(events),
            agent_id=agent_id,
            secret=new_secret(),
            status="active",
            disabled_reason=None,
            created_at=self._clock(),
            mode=mode,
            respond_timeout_seconds=respond_timeout_seconds,
        )
        values = {**asdict(subscription), "events": json.dumps(list(events))}
        with self._engine.begin() as conn:
            conn.execute(subscriptions.insert().values(**values, failing_since=None))
        return subscription

    def of_owner(self, owner: str) -> list[Subscription]:
        query = (
            select(subscriptions)
            .where(subscriptions.c.owner == owner)
            .order_by(subscriptions.c.created_at)
        )
        with self._engine.connect() as conn:
            return [Subscription.from_row(row) for row in conn.execute(query)]

    def active(self) -> list[Subscription]:
        """Every token's active subscriptions, oldest first (inbound calls ask all of them)."""
        query = (
            select(subscriptions)
            .where(subscriptions.c.status == "active")
            .order_by(subscriptions.c.created_at, subscriptions.c.id)
        )
        with self._engine.connect() as conn:
            return [Subscription.from_row(row) for row in conn.execute(query)]

    def delete(self, owner: str, subscription_id: str) -> bool:
        """Remove it and cancel what it still had queued; False if it was not there."""
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.id == subscription_id, subscriptions.c.owner == owner
                )
            )
            if not gone.rowcount:
                return False
            cancel_queued(conn, subscription_id)
            return True


def cancel_queued(conn: Any, subscription_id: str) -> None:
    """Cancel a removed subscription's deliveries that have not been made."""
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.subscription_id == subscription_id,
            deliveries.c.state.in_(("pending", "delivering")),
        )
        .values(state="cancelled", lease_until=None, leased_by=None)
    )

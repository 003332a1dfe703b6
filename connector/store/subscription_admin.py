"""What the console does to subscriptions beyond the API's create/list/delete (issue 12):
their health, turning them off and on, a test event, and replaying all their dead letters.

Every method is scoped to the owner: another token's subscription is "not found".
"""

from __future__ import annotations

import secrets as random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from connector import jsontext
from connector.events import build_event
from connector.store.subscriptions import Subscription
from connector.store.tables import deliveries, events, subscriptions

__all__ = ["HEALTH_WINDOW", "Health", "SubscriptionAdmin"]

HEALTH_WINDOW = 100  # success rate over a subscription's newest deliveries
DISABLED_BY_HAND = "disabled in the console"


@dataclass(frozen=True)
class Health:
    """A subscription's recent record: newest ``HEALTH_WINDOW`` finished deliveries."""

    finished: int
    succeeded: int
    dead_letters: int
    last_error: str | None
    last_status: int | None

    @property
    def success_rate(self) -> float | None:
        return None if not self.finished else self.succeeded / self.finished


class SubscriptionAdmin:
    """Owner-scoped changes and health reads for subscriptions."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, owner: str, subscription_id: str) -> Subscription | None:
        query = select(subscriptions).where(
            subscriptions.c.id == subscription_id, subscriptions.c.owner == owner
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Subscription.from_row(row)

    def health(self, subscription_id: str) -> Health:
        """One index range read (subscription, newest first), at most ``HEALTH_WINDOW`` rows."""
        c = deliveries.c
        query = (
            select(c.state, c.last_error, c.last_status)
            .where(c.subscription_id == subscription_id)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(HEALTH_WINDOW)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        done = [r for r in rows if r.state in ("succeeded", "dead")]
        errors = [r for r in rows if r.last_error or (r.last_status and r.last_status >= 300)]
        last = errors[0] if errors else None
        return Health(
            finished=len(done),
            succeeded=sum(1 for r in done if r.state == "succeeded"),
            dead_letters=sum(1 for r in rows if r.state == "dead"),
            last_error=None if last is None else (last.last_error or f"HTTP {last.last_status}"),
            last_status=None if last is None else last.last_status,
        )

    def set_enabled(self, owner: str, subscription_id: str, enabled: bool) -> bool:
        """Turn deliveries to it on or off; False if the owner has no such subscription.

        Disabled, its queued deliveries become dead letters when their turn comes (as when
        the connector disables a failing one), so nothing is lost: replay them later.
        """
        values: dict[str, Any] = (
            {"status": "active", "disabled_reason": None, "failing_since": None}
            if enabled
            else {"status": "disabled", "disabled_reason": DISABLED_BY_HAND}
        )
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id, subscriptions.c.owner == owner)
                .values(**values)
            )
            return bool(changed.rowcount)

    def replay_dead(self, owner: str, subscription_id: str) -> int | None:
        """Queue every dead letter of the subscription again for a full new cycle, and
        re-enable it; the number queued, or None if the owner has no such subscription."""
        now = self._clock()
        c = deliveries.c
        with self._engine.begin() as conn:
            found = conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id, subscriptions.c.owner == owner)
                .values(status="active", disabled_reason=None, failing_since=None)
            )
            if not found.rowcount:
                return None
            queued = conn.execute(
                update(deliveries)
                .where(c.subscription_id == subscription_id, c.owner == owner, c.state == "dead")
                .values(state="pending", next_attempt_at=now, cycle_start=c.attempts)
            )
            return int(queued.rowcount)

    def send_test(self, owner: str, subscription_id: str, call: dict[str, Any]) -> str | None:
        """Queue one test event (``call`` a sample call) to this subscription only; the
        delivery id, or None if the owner has no such subscription."""
        subscription = self.get(owner, subscription_id)
        if subscription is None:
            return None
        now = self._clock()
        name = next((e for e in subscription.events if e != "call_inbound"), "call_ended")
        call = {**call, "call_id": "call_test_" + random.token_hex(8)}
        body = build_event(name, call, received_at_ms=int(now * 1000))
        delivery_id = "dlv_" + random.token_hex(12)
        with self._engine.begin() as conn:
            conn.execute(
                events.insert().values(
                    id=body["id"],
                    dedupe_key=f"{call['call_id']}:{name}",
                    event=name,
                    call_id=call["call_id"],
                    agent_id=call.get("agent_id")
                    if isinstance(call.get("agent_id"), str)
                    else None,
                    body=jsontext.dumps(body),
                    received_at=now,
                )
            )
            conn.execute(
                deliveries.insert().values(
                    id=delivery_id,
                    event_id=body["id"],
                    subscription_id=subscription.id,
                    owner=owner,
                    state="pending",
                    attempts=0,
                    cycle_start=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return delivery_id

    def latest_event_at(self) -> float | None:
        """When the newest Retell event arrived (any token's: events are the account's)."""
        query = (
            select(events.c.received_at)
            .where(~events.c.call_id.startswith("call_test_"))  # not the console's test events
            .order_by(events.c.received_at.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else float(found)
